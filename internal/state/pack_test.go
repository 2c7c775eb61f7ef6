package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// openDir opens dir with a logger whose lines the test can read.
func openDir(t *testing.T, dir string) (*Dir, *logBuffer) {
	t.Helper()
	log, lb := newLogger()
	d, err := NewDir(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	return d, lb
}

// dirFiles returns the names in dir that match the kind: "pack" (packs in
// use), "state" (per-key files), "aside" (anything set aside), "temp".
func dirFiles(t *testing.T, dir, kind string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		_, inUse, isPack := parsePackName(n)
		var match bool
		switch kind {
		case "pack":
			match = isPack && inUse
		case "state":
			match = strings.HasSuffix(n, fileSuffix) && !strings.HasPrefix(n, tempPrefix)
		case "aside":
			match = strings.Contains(n, asideInfix)
		case "temp":
			match = strings.HasPrefix(n, tempPrefix)
		default:
			t.Fatalf("kind %q", kind)
		}
		if match {
			out = append(out, n)
		}
	}
	return out
}

// batch returns n keys sla/pNNN/latency with values of size bytes that
// differ by key and by gen.
func batch(n, size, gen int) map[string][]byte {
	m := make(map[string][]byte, n)
	for i := range n {
		pat := fmt.Appendf(nil, "%d:%d;", gen, i)
		v := bytes.Repeat(pat, size/len(pat)+1)[:size]
		m[fmt.Sprintf("sla/p%03d/latency", i)] = v
	}
	return m
}

// wantValues checks that d holds exactly want under the prefix sla/.
func wantValues(t *testing.T, d *Dir, want map[string][]byte) {
	t.Helper()
	ctx := t.Context()
	for k, v := range want {
		got, ok, err := d.Get(ctx, k)
		if err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("Get(%q) = %.20q %v %v, want %.20q", k, got, ok, err, v)
		}
	}
	keys, err := d.Keys(ctx, "sla/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(want)), keys); diff != "" {
		t.Fatalf("Keys (-want +got):\n%s", diff)
	}
}

func putMany(t *testing.T, d *Dir, m map[string][]byte) {
	t.Helper()
	if err := d.PutMany(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

func TestPackPutMany(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	want := batch(100, 300, 1)
	want["sla/p000/latency"] = nil                     // empty
	want["sla/p001/latency"] = []byte("a\nb\x00c\n\n") // newlines and NUL
	putMany(t, d, want)
	if packs := dirFiles(t, dir, "pack"); len(packs) != 1 {
		t.Fatalf("packs after one PutMany: %v", packs)
	}
	if files := dirFiles(t, dir, "state"); len(files) != 0 {
		t.Errorf("per-key files: %v", files)
	}
	if tmp := dirFiles(t, dir, "temp"); len(tmp) != 0 {
		t.Errorf("temporary files: %v", tmp)
	}
	wantValues(t, d, want)
	again, lb := openDir(t, dir)
	wantValues(t, again, want)
	if lines := lb.lines(); len(lines) != 0 {
		t.Errorf("log lines on reopening: %q", lines)
	}
}

// TestPackThreshold checks where PutMany switches from files to a pack.
func TestPackThreshold(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	small := batch(packThreshold-1, 10, 1)
	putMany(t, d, small)
	if packs, files := dirFiles(t, dir, "pack"), dirFiles(t, dir, "state"); len(packs) != 0 || len(files) != packThreshold-1 {
		t.Fatalf("PutMany of %d: packs %v, %d files; want a file each", packThreshold-1, packs, len(files))
	}
	large := batch(packThreshold, 10, 2)
	putMany(t, d, large)
	if packs, files := dirFiles(t, dir, "pack"), dirFiles(t, dir, "state"); len(packs) != 1 || len(files) != 0 {
		t.Fatalf("PutMany of %d: packs %v, files %v; want one pack and the stale files removed", packThreshold, packs, files)
	}
	wantValues(t, d, large)
}

// TestPackSteadyState is the SLO pattern: the same keys every flush.
func TestPackSteadyState(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	var want map[string][]byte
	for gen := range 10 {
		want = batch(200, 1000, gen)
		putMany(t, d, want)
		packs := dirFiles(t, dir, "pack")
		if len(packs) != 1 {
			t.Fatalf("flush %d: packs %v, want one", gen, packs)
		}
		st, err := os.Stat(filepath.Join(dir, packs[0]))
		if err != nil {
			t.Fatal(err)
		}
		// One copy of the data: the values and about 110 bytes per key.
		if data := int64(200 * 1000); st.Size() > data+200*128 {
			t.Fatalf("flush %d: a pack of %d bytes for %d bytes of values", gen, st.Size(), data)
		}
		wantValues(t, d, want)
	}
	again, _ := openDir(t, dir)
	wantValues(t, again, want)
}

// TestPackPartialRewrite rewrites a part of the keys each time: values
// stay reachable, and the packs' dead bytes stay below their live ones.
func TestPackPartialRewrite(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	want := batch(200, 1000, 0)
	putMany(t, d, want)
	for round := 1; round <= 40; round++ {
		part := map[string][]byte{}
		for i := range 30 {
			k := fmt.Sprintf("sla/p%03d/latency", (round*37+i*7)%200)
			part[k] = fmt.Appendf(nil, "round %d key %s", round, k)
			want[k] = part[k]
		}
		putMany(t, d, part)
		wantValues(t, d, want)
		if packs := dirFiles(t, dir, "pack"); len(packs) > maxPacks {
			t.Fatalf("round %d: %d packs, at most %d", round, len(packs), maxPacks)
		}
		var onDisk, live int64
		for _, p := range d.packs {
			onDisk += p.bytes
			live += p.live
		}
		if onDisk-live > live {
			t.Fatalf("round %d: %d dead bytes, %d live", round, onDisk-live, live)
		}
	}
	again, _ := openDir(t, dir)
	wantValues(t, again, want)
}

// TestPackCompaction: a pack most of whose bytes are overridden by smaller
// values is folded into the next PutMany and removed, its live values
// carried over.
func TestPackCompaction(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	want := batch(100, 4000, 0)
	putMany(t, d, want)
	first := dirFiles(t, dir, "pack")[0]
	part := map[string][]byte{}
	for k := range want {
		if k >= "sla/p020" {
			part[k] = []byte("small " + k)
		}
	}
	maps.Copy(want, part)
	putMany(t, d, part)
	if packs := dirFiles(t, dir, "pack"); len(packs) != 1 || packs[0] == first {
		t.Fatalf("packs %v, want one other than %s: the first folded into the second", packs, first)
	}
	wantValues(t, d, want)
	again, _ := openDir(t, dir)
	wantValues(t, again, want)

	// Many small batches of new keys: at most maxPacks packs.
	for i := range 3 * maxPacks {
		b := map[string][]byte{}
		for j := range packThreshold {
			k := fmt.Sprintf("sla/q%02d/%02d", i, j)
			b[k] = []byte(k)
			want[k] = b[k]
		}
		putMany(t, d, b)
		if packs := dirFiles(t, dir, "pack"); len(packs) > maxPacks {
			t.Fatalf("after %d batches: %d packs, at most %d", i+1, len(packs), maxPacks)
		}
	}
	wantValues(t, d, want)
	again, _ = openDir(t, dir)
	wantValues(t, again, want)
}

// TestPackPutDeleteSetAside checks single writes to keys in a pack: they
// stay in packs, and a restart does not bring a deleted or set-aside value
// back, not even after the packs are compacted.
func TestPackPutDeleteSetAside(t *testing.T) {
	dir := t.TempDir()
	d, lb := openDir(t, dir)
	ctx := t.Context()
	want := batch(20, 100, 0)
	putMany(t, d, want)
	const put, del, aside = "sla/p000/latency", "sla/p001/latency", "sla/p002/latency"
	if err := d.Put(ctx, put, []byte("put")); err != nil {
		t.Fatal(err)
	}
	want[put] = []byte("put")
	if err := d.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	delete(want, del)
	asideValue := want[aside]
	if err := d.SetAside(ctx, aside, "cannot decode"); err != nil {
		t.Fatal(err)
	}
	delete(want, aside)
	if files := dirFiles(t, dir, "state"); len(files) != 0 {
		t.Errorf("per-key files of keys in packs: %v", files)
	}
	wantValues(t, d, want)
	copies, _ := filepath.Glob(d.Path(aside) + asideInfix + "*")
	if len(copies) != 1 {
		t.Fatalf("copies set aside: %v", copies)
	}
	if b, _ := os.ReadFile(copies[0]); !bytes.Equal(b, frame(asideValue)) {
		t.Errorf("copy set aside holds %.40q, want the framed value", b)
	}
	if lines := lb.lines(); len(lines) != 1 || !strings.Contains(lines[0], "set aside") || !strings.Contains(lines[0], "cannot decode") || !strings.Contains(lines[0], aside) {
		t.Errorf("log lines %q, want one naming the key and the reason", lines)
	}
	for _, k := range []string{del, aside} {
		if v, ok, err := d.Get(ctx, k); ok || err != nil {
			t.Errorf("Get(%s) = %q %v %v, want missing", k, v, ok, err)
		}
	}

	again, _ := openDir(t, dir)
	wantValues(t, again, want)

	// Flushes of the other keys compact the packs; the tombstones keep
	// the old values out until no older pack holds them, then go.
	for gen := 1; gen <= 3; gen++ {
		for k := range want {
			want[k] = fmt.Appendf(nil, "gen %d %s", gen, k)
		}
		putMany(t, again, want)
		wantValues(t, again, want)
		wantValues(t, openDir2(t, dir), want)
	}
	if packs := dirFiles(t, dir, "pack"); len(packs) != 1 {
		t.Errorf("packs after the flushes: %v, want one", packs)
	}
	if again.isPacked(del) || again.isPacked(aside) {
		t.Errorf("tombstones kept after every older pack went: %v %v", again.index[del], again.index[aside])
	}
	// Keys no longer in a pack are per-key keys again.
	if err := again.Put(ctx, del, []byte("back")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(again.Path(del)); err != nil {
		t.Errorf("a key out of the packs is not written to its file: %v", err)
	}
	want[del] = []byte("back")
	wantValues(t, openDir2(t, dir), want)
}

func openDir2(t *testing.T, dir string) *Dir {
	t.Helper()
	d, _ := openDir(t, dir)
	return d
}

// TestPackTombstoneOverOlderPack checks that a tombstone folded into a new
// pack while an older pack still holds a value of its key is kept.
func TestPackTombstoneOverOlderPack(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	ctx := t.Context()
	want := batch(40, 100, 0)
	putMany(t, d, want) // pack 1
	const gone = "sla/p005/latency"
	if err := d.Delete(ctx, gone); err != nil { // pack 2, tombstone only
		t.Fatal(err)
	}
	delete(want, gone)
	// New keys only: pack 1 stays (mostly live); pack 2 is folded.
	b := batch(0, 0, 0)
	for i := range packThreshold {
		k := fmt.Sprintf("sla/r%02d", i)
		b[k] = []byte(k)
		want[k] = b[k]
	}
	putMany(t, d, b)
	if _, err := os.Stat(filepath.Join(dir, packName(2))); !os.IsNotExist(err) {
		t.Fatalf("the tombstone's pack was not folded: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, packName(1))); err != nil {
		t.Fatalf("pack 1: %v", err)
	}
	wantValues(t, openDir2(t, dir), want)
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// oldFormat writes key's file the way every version has: header line with
// CRC-32C and length, then the value.
func oldFormat(t *testing.T, dir, key string, value []byte) {
	t.Helper()
	b := fmt.Appendf(nil, "meshwatch-state v1 crc32c=%08x len=%d\n", crc32.Checksum(value, crc32.MakeTable(crc32.Castagnoli)), len(value))
	if err := os.WriteFile(filepath.Join(dir, encodeKey(key)+".state"), append(b, value...), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPackCrash(t *testing.T) {
	ctx := context.Background()

	t.Run("temporary pack left", func(t *testing.T) {
		dir := t.TempDir()
		d, _ := openDir(t, dir)
		want := batch(20, 100, 1)
		putMany(t, d, want)
		half, _ := os.ReadFile(filepath.Join(dir, dirFiles(t, dir, "pack")[0]))
		tmp := filepath.Join(dir, tempPrefix+"pack-123")
		if err := os.WriteFile(tmp, half[:len(half)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		again, lb := openDir(t, dir)
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("temporary pack kept: %v", err)
		}
		wantValues(t, again, want)
		if lines := lb.lines(); len(lines) != 0 {
			t.Errorf("log lines %q", lines)
		}
	})

	// A pack damaged as a whole is set aside; its keys read as their
	// values in an older pack (a crash before it was removed) or in
	// per-key files (a crash before they were removed as stale).
	damages := []struct {
		name   string
		mangle func(b []byte) []byte
		reason string
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }, "trailer"},
		{"truncated to nothing", func([]byte) []byte { return nil }, "too short"},
		{"index byte flipped", func(b []byte) []byte { b[len(b)-trailerLen-3] ^= 0x10; return b }, "index checksum"},
		{"trailer byte flipped", func(b []byte) []byte { b[len(b)-12] ^= 1; return b }, "trailer checksum"},
		{"not a pack", func(b []byte) []byte { return []byte("meshwatch-state v1 crc32c=00000000 len=0\n" + string(b[50:])) }, "bad magic"},
	}
	for _, tc := range damages {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, _ := openDir(t, dir)
			keys := slices.Sorted(maps.Keys(batch(30, 0, 0)))
			// keys[:10] in per-key files, then all in pack 1, then all
			// in pack 2; the files and pack 1 are kept as a crash would.
			old := map[string][]byte{}
			for _, k := range keys[:10] {
				old[k] = []byte("file " + k)
				if err := d.Put(ctx, k, old[k]); err != nil {
					t.Fatal(err)
				}
			}
			saved := t.TempDir()
			for _, k := range keys[:10] {
				copyFile(t, d.Path(k), filepath.Join(saved, filepath.Base(d.Path(k))))
			}
			v1 := map[string][]byte{}
			for _, k := range keys[10:20] {
				v1[k] = []byte("pack 1 " + k)
			}
			for _, k := range keys[:10] {
				v1[k] = []byte("pack 1 " + k)
			}
			putMany(t, d, v1)
			copyFile(t, filepath.Join(dir, packName(1)), filepath.Join(saved, packName(1)))
			v2 := batch(30, 50, 2)
			putMany(t, d, v2)
			if packs := dirFiles(t, dir, "pack"); !slices.Equal(packs, []string{packName(2)}) {
				t.Fatalf("packs %v", packs)
			}
			entries, _ := os.ReadDir(saved)
			for _, e := range entries {
				copyFile(t, filepath.Join(saved, e.Name()), filepath.Join(dir, e.Name()))
			}
			// Undamaged, the newest pack wins over the older pack and
			// the per-key files.
			wantValues(t, openDir2(t, dir), v2)

			p2 := filepath.Join(dir, packName(2))
			b, _ := os.ReadFile(p2)
			if err := os.WriteFile(p2, tc.mangle(b), 0o600); err != nil {
				t.Fatal(err)
			}
			again, lb := openDir(t, dir)
			// Pack 1 wins over the per-key files; keys only in pack 2 are gone.
			wantValues(t, again, v1)
			lines := lb.lines()
			if len(lines) != 1 || !strings.Contains(lines[0], "damaged and was set aside") || !strings.Contains(lines[0], packName(2)) || !strings.Contains(lines[0], tc.reason) {
				t.Fatalf("log lines %q, want one naming the pack and %q", lines, tc.reason)
			}
			aside := dirFiles(t, dir, "aside")
			if len(aside) != 1 || !strings.HasPrefix(aside[0], packName(2)+asideInfix) {
				t.Fatalf("set aside: %v", aside)
			}
			// The next write, after another start, does not reuse its
			// number, and it stays aside; the next start finds nothing
			// damaged.
			again, _ = openDir(t, dir)
			putMany(t, again, v2)
			if packs := dirFiles(t, dir, "pack"); !slices.Equal(packs, []string{packName(3)}) {
				t.Errorf("packs after the next write: %v", packs)
			}
			if files := dirFiles(t, dir, "state"); len(files) != 0 {
				t.Errorf("stale per-key files kept after a write: %v", files)
			}
			third, lb := openDir(t, dir)
			wantValues(t, third, v2)
			if lines := lb.lines(); len(lines) != 0 {
				t.Errorf("log lines at the next start: %q", lines)
			}
		})
	}

	// An entry damaged in a complete pack is one corrupt value: Get
	// reports ErrCorrupt once, sets a copy aside and writes a tombstone.
	entryDamages := []struct {
		name   string
		at     func(l loc) int64 // the byte to flip
		reason string
	}{
		{"value byte flipped", func(l loc) int64 { return l.off + l.n - 1 }, "checksum"},
		{"key byte flipped", func(l loc) int64 { return l.off + entryHeaderLen }, "header checksum"},
		{"length byte flipped", func(l loc) int64 { return l.off + 8 }, "garbled"},
	}
	for _, tc := range entryDamages {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, _ := openDir(t, dir)
			want := batch(20, 100, 1)
			putMany(t, d, want)
			const key = "sla/p007/latency"
			l := d.index[key]
			path := filepath.Join(dir, packName(l.seq))
			b, _ := os.ReadFile(path)
			b[tc.at(l)] ^= 0x01
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			again, lb := openDir(t, dir)
			v, ok, err := again.Get(ctx, key)
			if !errors.Is(err, ErrCorrupt) || ok || v != nil {
				t.Fatalf("damaged entry read as %q %v %v, want ErrCorrupt", v, ok, err)
			}
			copies, _ := filepath.Glob(again.Path(key) + asideInfix + "*")
			if len(copies) != 1 {
				t.Fatalf("copies set aside: %v", copies)
			}
			for _, w := range []string{key, tc.reason, copies[0]} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if b, _ := os.ReadFile(copies[0]); int64(len(b)) != l.n {
				t.Errorf("copy of %d bytes, want the entry's %d", len(b), l.n)
			}
			if v, ok, err := again.Get(ctx, key); ok || err != nil || v != nil {
				t.Fatalf("read again as %q %v %v, want missing", v, ok, err)
			}
			lines := lb.lines()
			if len(lines) != 1 || !strings.Contains(lines[0], "set aside") || !strings.Contains(lines[0], key) || !strings.Contains(lines[0], tc.reason) {
				t.Fatalf("log lines %q, want one naming the key and %q", lines, tc.reason)
			}
			delete(want, key)
			wantValues(t, again, want)
			third, lb := openDir(t, dir)
			wantValues(t, third, want)
			if lines := lb.lines(); len(lines) != 0 {
				t.Errorf("log lines at the next start: %q", lines)
			}
			if err := third.Put(ctx, key, []byte("fresh")); err != nil {
				t.Fatal(err)
			}
			want[key] = []byte("fresh")
			wantValues(t, openDir2(t, dir), want)
		})
	}

	t.Run("old pack left", func(t *testing.T) {
		dir := t.TempDir()
		d, _ := openDir(t, dir)
		putMany(t, d, batch(20, 100, 1))
		saved := filepath.Join(t.TempDir(), "p1")
		copyFile(t, filepath.Join(dir, packName(1)), saved)
		want := batch(20, 100, 2)
		putMany(t, d, want)
		copyFile(t, saved, filepath.Join(dir, packName(1)))
		again, _ := openDir(t, dir)
		wantValues(t, again, want)
		if packs := dirFiles(t, dir, "pack"); len(packs) != 2 {
			t.Fatalf("NewDir removed a pack: %v", packs)
		}
		if err := again.Put(ctx, "alert/x", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if packs := dirFiles(t, dir, "pack"); !slices.Equal(packs, []string{packName(2)}) {
			t.Errorf("packs after the first write: %v, want the old one removed", packs)
		}
	})

	t.Run("per-key directory", func(t *testing.T) {
		dir := t.TempDir()
		want := map[string][]byte{}
		for k, v := range batch(40, 200, 0) {
			oldFormat(t, dir, k, v)
			want[k] = v
		}
		oldFormat(t, dir, "alert/outbox", []byte(`{"a":1}`))
		d, lb := openDir(t, dir)
		wantValues(t, d, want)
		if v, ok, err := d.Get(ctx, "alert/outbox"); !ok || err != nil || string(v) != `{"a":1}` {
			t.Fatalf("alert/outbox = %q %v %v", v, ok, err)
		}
		want = batch(40, 200, 1)
		putMany(t, d, want)
		if files := dirFiles(t, dir, "state"); !slices.Equal(files, []string{encodeKey("alert/outbox") + fileSuffix}) {
			t.Errorf("per-key files after the first pack: %v, want the one not in it", files)
		}
		wantValues(t, openDir2(t, dir), want)
		if lines := lb.lines(); len(lines) != 0 {
			t.Errorf("log lines %q", lines)
		}
	})
}

// TestPackContract runs the contract on keys that are all in packs.
func TestPackContract(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	keys := []string{"sla/checkout.orders.placed/latency", "sla/a b/c%d", "../../etc/passwd", "alert/outbox/1", "sla/x/1", "sla/x/2"}
	m := map[string][]byte{}
	for _, k := range keys {
		m[k] = []byte("before")
	}
	for i := len(m); i < packThreshold; i++ {
		m[fmt.Sprintf("other/%d", i)] = nil
	}
	putMany(t, d, m)
	for k := range m {
		if strings.HasPrefix(k, "other/") {
			if err := d.Delete(t.Context(), k); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range keys {
		if !d.isPacked(k) {
			t.Fatalf("%s is not in a pack", k)
		}
	}
	if err := d.Delete(t.Context(), "alert/outbox/1"); err != nil {
		t.Fatal(err)
	}
	storeContract(t, d)
	if files := dirFiles(t, dir, "state"); len(files) != 0 {
		t.Errorf("per-key files: %v", files)
	}
}

// TestPackReadOnly opens a directory with packs, a stale per-key file and
// a pack to be removed that this process cannot write: it reads, and
// nothing changes.
func TestPackReadOnly(t *testing.T) {
	dir := t.TempDir()
	want := prepareForReading(t, dir)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if f, err := os.CreateTemp(dir, "probe"); err == nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		t.Skip("this process writes to a 0500 directory (root, or CAP_DAC_OVERRIDE); TestPackReadOnlyMount covers it on a read-only file system")
	}
	readOnly(t, dir, want)
}

// prepareForReading leaves in dir two packs, the older without a live
// record, and a stale per-key file, and returns what dir holds.
func prepareForReading(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	d, _ := openDir(t, dir)
	putMany(t, d, batch(20, 100, 1))
	saved := filepath.Join(t.TempDir(), "p1")
	copyFile(t, filepath.Join(dir, packName(1)), saved)
	want := batch(20, 100, 2)
	putMany(t, d, want)
	copyFile(t, saved, filepath.Join(dir, packName(1)))
	oldFormat(t, dir, "sla/p003/latency", []byte("stale"))
	oldFormat(t, dir, "cost/ledger", []byte("ledger"))
	return want
}

// readOnly checks reads of what prepareForReading left, in a directory
// that cannot be written.
func readOnly(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	before, _ := os.ReadDir(dir)
	d, lb := openDir(t, dir)
	wantValues(t, d, want)
	if v, ok, err := d.Get(t.Context(), "cost/ledger"); !ok || err != nil || string(v) != "ledger" {
		t.Errorf("cost/ledger = %q %v %v", v, ok, err)
	}
	after, _ := os.ReadDir(dir)
	if diff := cmp.Diff(names(before), names(after)); diff != "" {
		t.Errorf("NewDir and Get changed the directory (-before +after):\n%s", diff)
	}
	if lines := lb.lines(); len(lines) != 0 {
		t.Errorf("log lines %q", lines)
	}
	if err := d.Put(t.Context(), "sla/p001/latency", []byte("x")); err == nil {
		t.Error("a write to a read-only directory succeeded")
	}
	wantValues(t, d, want)
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestPackCanceled checks that a PutMany whose context ends leaves
// nothing behind.
func TestPackCanceled(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	want := batch(20, 100, 1)
	putMany(t, d, want)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := d.PutMany(ctx, batch(20, 100, 2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutMany = %v, want context.Canceled", err)
	}
	// Ended halfway through the pack.
	if err := d.PutMany(&endingCtx{Context: t.Context(), left: 10}, batch(20, 100, 3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutMany = %v, want context.Canceled", err)
	}
	if packs, tmp := dirFiles(t, dir, "pack"), dirFiles(t, dir, "temp"); len(packs) != 1 || len(tmp) != 0 {
		t.Errorf("packs %v, temporary files %v", packs, tmp)
	}
	wantValues(t, d, want)
}

// endingCtx ends after its Err has been asked left times.
type endingCtx struct {
	context.Context
	mu   sync.Mutex
	left int
}

func (c *endingCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left--; c.left < 0 {
		return context.Canceled
	}
	return nil
}

// TestPackConcurrent reads keys in packs while they are rewritten, moved
// between packs by compaction, deleted and put back: a reader sees a
// whole value of some generation, or (for the key deleted) none.
func TestPackConcurrent(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	ctx := t.Context()
	putMany(t, d, batch(50, 200, 0))
	valid := func(k string, v []byte) bool {
		var gen, i int
		_, err := fmt.Sscanf(string(v), "%d:%d;", &gen, &i)
		return err == nil && bytes.Equal(v, batch(50, 200, gen)[k]) || string(v) == "single"
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				k := fmt.Sprintf("sla/p%03d/latency", (n*7+r)%50)
				v, ok, err := d.Get(ctx, k)
				if err != nil || ok && !valid(k, v) || !ok && k != "sla/p049/latency" {
					errs <- fmt.Errorf("Get(%s) = %.30q %v %s", k, v, ok, fmt.Sprint(err))
					return
				}
				if _, err := d.Keys(ctx, "sla/"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for gen := 1; gen <= 30; gen++ {
		b := batch(50, 200, gen)
		if gen%3 == 0 { // a part: compaction moves the rest
			for k := range b {
				if k > "sla/p030" {
					delete(b, k)
				}
			}
		}
		delete(b, "sla/p049/latency")
		putMany(t, d, b)
		if err := d.Put(ctx, "sla/p048/latency", []byte("single")); err != nil {
			t.Fatal(err)
		}
		if err := d.Delete(ctx, "sla/p049/latency"); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPackRaces checks Get when a key moves to a pack between its look at
// the index and its read of the key's file.
func TestPackRaces(t *testing.T) {
	ctx := t.Context()
	const key = "sla/p003/latency"
	packed := batch(20, 100, 2)

	t.Run("file removed as stale", func(t *testing.T) {
		dir := t.TempDir()
		d, _ := openDir(t, dir)
		if err := d.Put(ctx, key, []byte("file")); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		d.testHook = func(point string) {
			if point == "file" {
				once.Do(func() { putMany(t, d, packed) })
			}
		}
		if v, ok, err := d.Get(ctx, key); err != nil || !ok || !bytes.Equal(v, packed[key]) {
			t.Fatalf("Get = %.20q %v %v, want the packed value", v, ok, err)
		}
	})

	t.Run("damaged file replaced", func(t *testing.T) {
		dir := t.TempDir()
		d, lb := openDir(t, dir)
		if err := os.WriteFile(d.Path(key), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		d.testHook = func(point string) {
			if point == "damaged" {
				once.Do(func() { putMany(t, d, packed) })
			}
		}
		if v, ok, err := d.Get(ctx, key); err != nil || !ok || !bytes.Equal(v, packed[key]) {
			t.Fatalf("Get = %.20q %v %v, want the packed value", v, ok, err)
		}
		if aside := dirFiles(t, dir, "aside"); len(aside) != 0 {
			t.Errorf("set aside: %v", aside)
		}
		if lines := lb.lines(); len(lines) != 0 {
			t.Errorf("log lines %q", lines)
		}
		wantValues(t, openDir2(t, dir), packed)
	})
}

// TestPackTombstoneDropOrder checks every state the directory passes
// through while a write drops a tombstone and removes the packs: a crash
// at any of them must not bring the deleted key back.
func TestPackTombstoneDropOrder(t *testing.T) {
	dir := t.TempDir()
	d, _ := openDir(t, dir)
	ctx := t.Context()
	want := batch(20, 100, 1)
	putMany(t, d, want) // pack 1
	const gone = "sla/p004/latency"
	if err := d.Delete(ctx, gone); err != nil { // pack 2
		t.Fatal(err)
	}
	delete(want, gone)
	want = batch(20, 100, 2)
	delete(want, gone)
	states := 0
	d.testHook = func(point string) {
		if point != "pack removed" {
			return
		}
		states++
		crashed := t.TempDir()
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			copyFile(t, filepath.Join(dir, e.Name()), filepath.Join(crashed, e.Name()))
		}
		wantValues(t, openDir2(t, crashed), want)
	}
	putMany(t, d, want) // pack 3: pack 1 is overridden, pack 2 folded
	if states != 2 {
		t.Fatalf("%d packs removed, want 2", states)
	}
	if d.isPacked(gone) {
		t.Errorf("the tombstone was not dropped")
	}
	wantValues(t, openDir2(t, dir), want)
}
