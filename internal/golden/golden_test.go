package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that records failures instead of stopping.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(...any)          { r.failed = true }

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.golden")
	r := &recorder{TB: t}
	Check(r, path, "a\n", false)
	if !r.failed {
		t.Error("a missing golden file passed")
	}
	r = &recorder{TB: t}
	Check(r, path, "a\n", true)
	if b, _ := os.ReadFile(path); r.failed || string(b) != "a\n" {
		t.Errorf("update: failed %v, file %q", r.failed, b)
	}
	r = &recorder{TB: t}
	Check(r, path, "b\n", false)
	if !r.failed {
		t.Error("a different output passed")
	}
	r = &recorder{TB: t}
	Check(r, path, "a\n", false)
	if r.failed {
		t.Error("the same output failed")
	}
}
