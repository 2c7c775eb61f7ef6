//go:build linux

package state

import (
	"syscall"
	"testing"
)

// TestPackReadOnlyMount is TestPackReadOnly on a file system mounted
// read-only, which stops root's writes too.
func TestPackReadOnlyMount(t *testing.T) {
	dir := t.TempDir()
	mountTmpfs(t, dir, 1<<20)
	want := prepareForReading(t, dir)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	readOnly(t, dir, want)
}
