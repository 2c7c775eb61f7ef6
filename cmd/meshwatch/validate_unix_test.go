//go:build unix

package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestValidateFIFO: validate of a named pipe used to block for ever in
// the read (and ignore SIGTERM, which only cancels the context); it must
// say what the file is instead.
func TestValidateFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "config.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	type result struct {
		code int
		out  string
	}
	done := make(chan result, 1)
	go func() {
		code, out, _ := runCmd(t, context.Background(), "validate", "-config", fifo)
		done <- result{code, out}
	}()
	// The deadline only catches a read that blocks for ever.
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	select {
	case r := <-done:
		want := `load config: cannot read "` + fifo + `": it is a named pipe (FIFO), not a regular file`
		if r.code != exitFailed || !strings.Contains(r.out, want) {
			t.Errorf("validate of a FIFO: exit %d, output lacks %q:\n%s", r.code, want, r.out)
		}
	case <-deadline.C:
		t.Fatal("validate of a FIFO still blocked after a minute")
	}
}
