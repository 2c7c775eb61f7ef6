package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// logBuffer collects log lines for assertions; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSpace(l.b.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func newLogger() (*slog.Logger, *logBuffer) {
	var lb logBuffer
	return slog.New(slog.NewTextHandler(&lb, nil)), &lb
}

// storeContract runs the behaviour every Store must have.
func storeContract(t *testing.T, s Store) {
	t.Helper()
	ctx := t.Context()
	keys := []string{"sla/checkout.orders.placed/latency", "sla/a b/c%d", "../../etc/passwd", "alert/outbox/1"}
	for i, k := range keys {
		if err := s.Put(ctx, k, []byte{byte('a' + i), 0, '\n'}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	for i, k := range keys {
		v, ok, err := s.Get(ctx, k)
		if err != nil || !ok || !bytes.Equal(v, []byte{byte('a' + i), 0, '\n'}) {
			t.Fatalf("get %q: %q %v %v", k, v, ok, err)
		}
	}
	if err := s.Put(ctx, keys[0], []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.Get(ctx, keys[0]); string(v) != "v2" {
		t.Fatalf("overwritten value %q, want v2", v)
	}
	if err := s.PutMany(ctx, map[string][]byte{"sla/x/1": []byte("1"), "sla/x/2": {}}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Get(ctx, "sla/x/2"); !ok || err != nil || len(v) != 0 {
		t.Fatalf("empty value: %q %v %v", v, ok, err)
	}
	got, err := s.Keys(ctx, "sla/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"sla/a b/c%d", "sla/checkout.orders.placed/latency", "sla/x/1", "sla/x/2"}, got); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if err := s.Delete(ctx, "sla/x/1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "sla/never"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, ok, _ := s.Get(ctx, "sla/x/1"); ok {
		t.Error("deleted key exists")
	}
	if err := s.SetAside(ctx, "alert/outbox/1", "test"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "alert/outbox/1"); ok {
		t.Error("key set aside still exists")
	}
	if got, _ := s.Keys(ctx, ""); len(got) != 4 {
		t.Errorf("keys after delete and set aside: %q", got)
	}
	if err := s.Put(ctx, "", nil); err == nil {
		t.Error("empty key accepted")
	}
	if _, _, err := s.Get(ctx, ""); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Get with an empty key: %v, want ErrInvalidKey", err)
	}
}

func TestDirContract(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, s)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "etc")); err == nil {
		t.Error("a key escaped the directory")
	}

	// A new Dir on the same directory sees the same values.
	s2, err := NewDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s2.Get(t.Context(), "sla/checkout.orders.placed/latency"); !ok || string(v) != "v2" {
		t.Errorf("after reopening: %q %v", v, ok)
	}
}

func TestDirCorrupt(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(b []byte) []byte
		reason string
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-3] }, "truncated"},
		{"bit flip", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "checksum"},
		{"garbage", func([]byte) []byte { return []byte("\x00\x01garbage") }, "no header"},
		{"not ours", func([]byte) []byte { return []byte("{}\n{}") }, "bad header"},
		{"empty", func([]byte) []byte { return nil }, "no header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			log, lb := newLogger()
			s, err := NewDir(dir, log)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			const key = "sla/p/latency"
			if err := s.Put(ctx, key, []byte(`{"version":1}`)); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(s.Path(key))
			if err := os.WriteFile(s.Path(key), tc.mangle(b), 0o600); err != nil {
				t.Fatal(err)
			}
			// The first read reports it, so that the consumer counts it
			// as corrupt; the error says which key, why and where it went.
			v, ok, err := s.Get(ctx, key)
			if !errors.Is(err, ErrCorrupt) || ok || v != nil {
				t.Fatalf("corrupt file read as %q %v %v, want ErrCorrupt", v, ok, err)
			}
			aside, _ := filepath.Glob(s.Path(key) + asideInfix + "*")
			if len(aside) != 1 {
				t.Fatalf("files set aside: %v", aside)
			}
			for _, want := range []string{key, tc.reason, aside[0]} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			// The second start does not see it again.
			if v, ok, err := s.Get(ctx, key); ok || err != nil || v != nil {
				t.Fatalf("corrupt file read again as %q %v %v, want missing", v, ok, err)
			}
			lines := lb.lines()
			if len(lines) != 1 || !strings.Contains(lines[0], "set aside") || !strings.Contains(lines[0], tc.reason) || !strings.Contains(lines[0], key) {
				t.Fatalf("log lines %q, want one naming the key and %q", lines, tc.reason)
			}
			if keys, _ := s.Keys(ctx, ""); len(keys) != 0 {
				t.Errorf("keys %q include the file set aside", keys)
			}
			// The key can be written again.
			if err := s.Put(ctx, key, []byte("fresh")); err != nil {
				t.Fatal(err)
			}
			if v, ok, _ := s.Get(ctx, key); !ok || string(v) != "fresh" {
				t.Errorf("rewritten: %q %v", v, ok)
			}
		})
	}
}

func TestDirRemovesTempFiles(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, tempPrefix+"123")
	if err := os.WriteFile(stale, []byte("half a write"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
}

func TestKeyEncoding(t *testing.T) {
	for _, k := range []string{"a", "sla/p.q/r", "../x", "%41", "ü/ö", "a.state", ".tmp-x"} {
		name := encodeKey(k)
		if strings.ContainsAny(name, "/.\\") {
			t.Errorf("%q encodes to %q", k, name)
		}
		back, err := decodeKey(name)
		if err != nil || back != k {
			t.Errorf("%q → %q → %q, %v", k, name, back, err)
		}
	}
	if _, err := decodeKey("bad%4"); err == nil {
		t.Error("short escape accepted")
	}
}

// TestDirCorruptNotSetAside checks that a corrupt file that cannot be
// renamed aside is an error that does not wrap ErrCorrupt: the value is
// still in place, and a consumer that started without it would overwrite
// it at its next flush.
func TestDirCorruptNotSetAside(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return at }
	const key = "cost/meter"
	if err := os.WriteFile(s.Path(key), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The name it would be set aside as is a non-empty directory, which a
	// rename cannot replace, even as root.
	blocker := s.Path(key) + asideInfix + at.Format("20060102T150405.000000000Z")
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.Get(t.Context(), key)
	if err == nil || errors.Is(err, ErrCorrupt) || ok || v != nil {
		t.Fatalf("Get = %q %v %v, want an error that is not ErrCorrupt", v, ok, err)
	}
	for _, want := range []string{key, "could not be set aside", "make " + dir + " writable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if b, _ := os.ReadFile(s.Path(key)); string(b) != "garbage" {
		t.Errorf("the corrupt value was not left in place: %q", b)
	}
}

func TestDirCheck(t *testing.T) {
	ctx := t.Context()
	open := func(t *testing.T, dir string) *Dir {
		t.Helper()
		s, err := NewDir(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	names := func(t *testing.T, dir string) []string {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	wantErr := func(t *testing.T, err error, dir string, says ...string) {
		t.Helper()
		if err == nil {
			t.Fatal("Check = nil, want an error")
		}
		for _, want := range append([]string{"cannot write to the directory " + dir}, says...) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}

	t.Run("writable", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		if err := s.Put(ctx, "sla/p/latency", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := s.Check(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{encodeKey("sla/p/latency") + fileSuffix}, names(t, dir)); diff != "" {
			t.Errorf("files after Check (-want +got):\n%s", diff)
		}
	})

	// A rename onto a directory fails even as root: the error path of the
	// write itself, and recovery once it is fixed.
	t.Run("probe name taken", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		if err := os.MkdirAll(filepath.Join(dir, probeName, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.Check(ctx), dir, probeName)
		if diff := cmp.Diff([]string{probeName}, names(t, dir)); diff != "" {
			t.Errorf("files after a failed Check (-want +got):\n%s", diff)
		}
		if err := os.RemoveAll(filepath.Join(dir, probeName)); err != nil {
			t.Fatal(err)
		}
		if err := s.Check(ctx); err != nil {
			t.Errorf("after the fix: %v", err)
		}
	})

	t.Run("directory removed", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		s := open(t, dir)
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		err := s.Check(ctx)
		wantErr(t, err, dir, "no such file or directory", "create it again")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %q does not wrap fs.ErrNotExist", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := s.Check(ctx); err != nil {
			t.Errorf("after the fix: %v", err)
		}
	})

	t.Run("read-only directory", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		if err := s.Put(ctx, "sla/p/latency", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) }) // so that TempDir can remove it
		if f, err := os.CreateTemp(dir, "probe"); err == nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			t.Skip("this process writes to a 0500 directory (root, or CAP_DAC_OVERRIDE): permission bits cannot make it read-only here; " +
				"the other subtests, TestWriteHint and TestDirCheckMounts (a read-only and a full file system) cover the error path")
		}
		// NewDir still opens it, and reads work: meshwatch report needs
		// no more.
		ro := open(t, dir)
		if v, ok, err := ro.Get(ctx, "sla/p/latency"); err != nil || !ok || string(v) != "v" {
			t.Fatalf("Get from a read-only directory = %q %v %v", v, ok, err)
		}
		err := ro.Check(ctx)
		wantErr(t, err, dir, "permission denied", "give the agent's user write permission")
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("error %q does not wrap fs.ErrPermission", err)
		}
		if err := s.Put(ctx, "sla/p/latency", []byte("w")); err == nil {
			t.Error("Put succeeded where Check failed")
		}
	})
}

func TestWriteHint(t *testing.T) {
	tests := []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.ENOSPC, "free space"},
		{syscall.EDQUOT, "raise the quota"},
		{syscall.EROFS, "mount it read-write"},
		{syscall.EACCES, "write permission"},
		{syscall.EPERM, "write permission"},
		{syscall.ENOENT, "create it again"},
		{syscall.EISDIR, "state.backend: kafka"},
	}
	for _, tc := range tests {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &fs.PathError{Op: "write", Path: "/state/.tmp-1", Err: tc.errno})
			if got := writeHint(err); !strings.Contains(got, tc.want) {
				t.Errorf("writeHint(%v) = %q, want it to say %q", err, got, tc.want)
			}
		})
	}
}

// BenchmarkPutMany is the SLO state flush of 1,000 products with 2 SLOs
// each: 2,000 entries of 600 bytes, written as one pack (a file per SLO
// before packs; BenchmarkPutManyFiles measures that path, and
// BenchmarkPutManySLA the flush of 10,000 products).
func BenchmarkPutMany(b *testing.B) {
	d, err := NewDir(b.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	entries := map[string][]byte{}
	for i := range 2000 {
		entries[fmt.Sprintf("slo/p%05d.entity.event/latency", i)] = bytes.Repeat([]byte{byte(i)}, 600)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := d.PutMany(ctx, entries); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(entries)), "ns/entry")
}
