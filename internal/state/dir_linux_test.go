//go:build linux

package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes on dir until the end of the
// test. It skips the test where this process may not mount (a user
// without CAP_SYS_ADMIN, most CI containers).
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs to test on (%v): that needs CAP_SYS_ADMIN; TestDirCheck and TestWriteHint cover the error path without it", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// TestDirCheckMounts checks Check on the file systems an agent meets: one
// that is full and one mounted read-only, which stop root's writes too.
func TestDirCheckMounts(t *testing.T) {
	ctx := t.Context()
	const key = "sla/p/latency"

	t.Run("full", func(t *testing.T) {
		dir := t.TempDir()
		mountTmpfs(t, dir, 64<<10)
		s, err := NewDir(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Check(ctx); err != nil {
			t.Fatalf("Check before the disk is full: %v", err)
		}
		filler := filepath.Join(dir, "filler")
		if err := os.WriteFile(filler, make([]byte, 1<<20), 0o600); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("filling a 64 KiB tmpfs with 1 MiB: %v, want ENOSPC", err)
		}
		err = s.Check(ctx)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Check on a full file system = %v, want ENOSPC", err)
		}
		for _, want := range []string{"cannot write to the directory " + dir, "no space left on device", "free space"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), tempPrefix) {
				t.Errorf("a failed Check left %s", e.Name())
			}
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if err := s.Check(ctx); err != nil {
			t.Errorf("Check once there is space again: %v", err)
		}
	})

	t.Run("read-only", func(t *testing.T) {
		dir := t.TempDir()
		mountTmpfs(t, dir, 64<<10)
		s, err := NewDir(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount read-only: %v", err)
		}
		// It opens and reads as before; only Check tells.
		ro, err := NewDir(dir, nil)
		if err != nil {
			t.Fatalf("NewDir on a read-only file system: %v", err)
		}
		if v, ok, err := ro.Get(ctx, key); err != nil || !ok || string(v) != "v" {
			t.Fatalf("Get = %q %v %v", v, ok, err)
		}
		err = ro.Check(ctx)
		if !errors.Is(err, syscall.EROFS) {
			t.Fatalf("Check on a read-only file system = %v, want EROFS", err)
		}
		for _, want := range []string{"cannot write to the directory " + dir, "read-only file system", "mount it read-write"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
}
