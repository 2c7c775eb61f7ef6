package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDurationFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{"90m": 90 * time.Minute, "2h": 2 * time.Hour, "3d": 72 * time.Hour, "1d12h": 36 * time.Hour} {
		var d durationFlag
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	var d durationFlag
	if err := d.Set("two hours"); err == nil || !strings.Contains(err.Error(), "e.g. 90m, 2h, 3d") {
		t.Errorf("Set of a bad duration: %v, want an error with examples", err)
	}
}

// TestSilenceHelp: silence -h lists the flags, and says -comment is
// required.
func TestSilenceHelp(t *testing.T) {
	code, _, errOut := runCmd(t, context.Background(), "silence", "-h")
	if code != exitOK {
		t.Fatalf("silence -h: exit %d", code)
	}
	for _, want := range []string{"-match value", "-for value", "3d", "-comment string", "required", "-config string", "(default 2h)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("silence -h lacks %q:\n%s", want, errOut)
		}
	}
}

// TestVersionOfGoBuild: a binary built with plain go build says which
// revision it is, not "dev".
func TestVersionOfGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	bin := filepath.Join(t.TempDir(), "meshwatch")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if fi, err := os.Stat("../../.git"); err != nil || !fi.IsDir() {
		t.Skip("not a clone (or a git worktree, where go build stamps nothing): nothing to stamp")
	}
	// -buildvcs=true: the default of go build, which this machine's
	// GOFLAGS may turn off.
	if out, err := exec.CommandContext(ctx, "go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	head, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("git rev-parse: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got == "meshwatch dev" || !strings.Contains(got, string(head[:12])) {
		t.Errorf("version of a go build binary: %q, want one naming revision %s", got, head[:12])
	}
}
