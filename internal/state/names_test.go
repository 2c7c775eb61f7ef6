package state

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileNameLen checks FileNameLen against the names Dir really makes:
// a key whose set-aside name is MaxFileName bytes is kept and set aside,
// one byte more and the file cannot be set aside.
func TestFileNameLen(t *testing.T) {
	ctx := context.Background()
	fixed := FileNameLen("")
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"a", fixed + 1},
		{"sla/p/latency", fixed + len("sla%2Fp%2Flatency")},
		{"ü", fixed + 6},
	} {
		if got := FileNameLen(tc.key); got != tc.want {
			t.Errorf("FileNameLen(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	// "sla/" takes 6 bytes of the name.
	fits := "sla/" + strings.Repeat("a", MaxFileName-fixed-6)
	tooLong := fits + "a"
	if n := FileNameLen(fits); n != MaxFileName {
		t.Fatalf("FileNameLen(fits) = %d, want %d", n, MaxFileName)
	}
	for _, tc := range []struct {
		key     string
		setAway bool
	}{{fits, true}, {tooLong, false}} {
		s, err := NewDir(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, tc.key, []byte("v")); err != nil {
			t.Fatalf("Put of a %d-byte name: %v", FileNameLen(tc.key), err)
		}
		if err := os.WriteFile(s.Path(tc.key), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, getErr := s.Get(ctx, tc.key)
		aside, _ := filepath.Glob(s.Path(tc.key) + asideInfix + "*")
		switch {
		case tc.setAway && (len(aside) != 1 || len(filepath.Base(aside[0])) != FileNameLen(tc.key)):
			t.Errorf("set aside as %q (Get: %v), want one file of %d bytes", aside, getErr, FileNameLen(tc.key))
		case !tc.setAway && (len(aside) != 0 || getErr == nil):
			t.Errorf("a %d-byte name was set aside as %q (Get: %v), want an error: it is longer than NAME_MAX", FileNameLen(tc.key), aside, getErr)
		}
	}
}
