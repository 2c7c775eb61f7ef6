package state

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
			for range 2 { // the second start does not see it again
				v, ok, err := s.Get(ctx, key)
				if ok || err != nil || v != nil {
					t.Fatalf("corrupt file read as %q %v %v", v, ok, err)
				}
			}
			lines := lb.lines()
			if len(lines) != 1 || !strings.Contains(lines[0], "set aside") || !strings.Contains(lines[0], tc.reason) || !strings.Contains(lines[0], key) {
				t.Fatalf("log lines %q, want one naming the key and %q", lines, tc.reason)
			}
			aside, _ := filepath.Glob(s.Path(key) + asideInfix + "*")
			if len(aside) != 1 {
				t.Fatalf("files set aside: %v", aside)
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
