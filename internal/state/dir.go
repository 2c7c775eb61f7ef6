package state

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// File layout of the Dir store (doc.go has the whole of it). A key that was
// never in a pack is one file, named by the key with every byte outside
// [A-Za-z0-9_-] written as %XX and the suffix .state. A file is a header
// line and the value:
//
//	meshwatch-state v1 crc32c=1a2b3c4d len=123\n<value>
//
// so that a truncated or garbled file is told from a valid one. A large
// PutMany writes pack files instead (pack.go).
const (
	fileSuffix  = ".state"
	tempPrefix  = ".tmp-"
	asideInfix  = ".corrupt-"
	headerMagic = "meshwatch-state v1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Dir is a Store in a local directory, the default backend. Writes are
// atomic (a temporary file, fsync, rename, fsync of the directory). A
// PutMany of packThreshold (16) entries or more writes one pack file for
// all of them, and a key once in a pack stays in packs (see doc.go); what
// a caller sees does not change. A value that cannot be read or fails its
// checksum is set aside to <name>.corrupt-<time> with one log line, and
// Get reports it once with an error wrapping ErrCorrupt; afterwards the
// key is missing. Check tells whether the directory can be written. Safe
// for concurrent use within one process; two processes must not share a
// directory.
type Dir struct {
	dir string
	log *slog.Logger
	now func() time.Time
	mu  sync.Mutex // serialises writes, renames and removals: held for a whole write

	// ix guards index and packs. A writer (holding mu) changes them under
	// ix's write lock, briefly; Get and Keys read under its read lock, and
	// a pack's file is closed only under the write lock, so that no ReadAt
	// is under way on it.
	ix    sync.RWMutex
	index map[string]loc   // every key in a pack: its newest record
	packs map[uint64]*pack // the packs in the index, by sequence number

	// Under mu only.
	nextSeq uint64          // of the next pack
	files   map[string]bool // keys known to have a per-key file
	stale   map[string]bool // keys in packs whose per-key file is to be removed
	garbage []garbagePack   // packs out of the index to remove, oldest first

	testHook func(point string) // tests: called where a race can strike, if set
}

// NewDir opens the state directory dir, creating it (0700) if needed,
// removes temporary files a crash left behind, reads the index of every
// pack, and sets aside a pack that fails its checks (one log line; its
// keys read as their older records). log may be nil. It fails if dir
// cannot be created or listed, but not if it cannot be written: a
// read-only directory still serves reads (meshwatch report), and a full
// disk may get space back. Those removals and renames are best effort;
// removing the per-key files and packs that newer packs made stale waits
// for the first write. An agent calls Check to learn that writes fail.
func NewDir(dir string, log *slog.Logger) (*Dir, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	d := &Dir{dir: dir, log: log.With("component", "state", "backend", "dir"), now: time.Now}
	// A pack removed between the listing and its opening (another
	// process wrote the directory meanwhile): list it again.
	for attempt := 1; ; attempt++ {
		err := d.load()
		if errors.Is(err, errPackGone) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		return d, nil
	}
}

// Path returns the per-key file of key: the file that holds it when it is
// not in a pack. A key in a pack (see doc.go) has no file of its own; Path
// then names where it would be (a file a tool puts there is ignored and
// removed as stale at the next write), and Path(key)+".corrupt-<time>" is
// still where SetAside and Get put a copy of its value set aside.
func (d *Dir) Path(key string) string { return filepath.Join(d.dir, encodeKey(key)+fileSuffix) }

// Get implements Store. A value that is truncated, fails its checksum or
// cannot be read is set aside with one log line, and Get returns an error
// wrapping ErrCorrupt that names the key, the reason and the file it was
// moved to; the next Get finds the key missing. If the value cannot be set
// aside either, the error does not wrap ErrCorrupt: the value is still in
// place and the directory needs fixing.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	v, ok, reason := d.read(key)
	if reason == "" {
		return v, ok, nil
	}
	if d.testHook != nil {
		d.testHook("damaged")
	}
	// Damaged. Under the write lock nothing moves: read it again (a
	// write may have replaced it meanwhile) and set it aside.
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok, reason = d.read(key); reason == "" {
		return v, ok, nil
	}
	return nil, false, d.corrupt(key, reason)
}

// read returns key's value and whether it exists, or the reason it is
// damaged. It takes no write lock.
func (d *Dir) read(key string) (value []byte, ok bool, reason string) {
	if v, ok, reason, packed := d.readPacked(key); packed {
		return v, ok, reason
	}
	if d.testHook != nil {
		d.testHook("file")
	}
	b, err := os.ReadFile(d.Path(key))
	if errors.Is(err, fs.ErrNotExist) {
		// The key may have moved to a pack meanwhile, and its file been
		// removed as stale.
		if v, ok, reason, packed := d.readPacked(key); packed {
			return v, ok, reason
		}
		return nil, false, ""
	}
	if err != nil {
		return nil, false, fmt.Sprintf("unreadable: %v", err)
	}
	v, err := unframe(b)
	if err != nil {
		return nil, false, err.Error()
	}
	return v, true, ""
}

// corrupt sets key aside and returns the error Get reports for it: one
// wrapping ErrCorrupt, or the reason it could not be set aside. A value set
// aside whose directory sync failed counts as set aside: at worst a crash
// undoes it and the next start sets it aside again. d.mu is held.
func (d *Dir) corrupt(key, reason string) error {
	to, err := d.setAsideLocked(key, reason)
	if err != nil && to == "" {
		return fmt.Errorf("state: %s is corrupt (%s) and could not be set aside: %w; make %s writable by the agent", key, reason, err, d.dir)
	}
	if to == "" { // gone meanwhile: nothing was moved
		return fmt.Errorf("%w: %s (%s)", ErrCorrupt, key, reason)
	}
	return fmt.Errorf("%w: %s (%s), moved to %s", ErrCorrupt, key, reason, to)
}

// Put implements Store. A key in a pack is written as a pack of one entry
// (as costly as a file), any other key to its own file.
func (d *Dir) Put(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.isPacked(key) {
		return d.writePack(ctx, []op{{key: key, value: value}}, false)
	}
	if err := d.write(key, value); err != nil {
		return err
	}
	d.tidy(ctx)
	return nil
}

// PutMany implements Store. packThreshold (16) entries or more, or any
// entry whose key is in a pack, are written as one pack (pack.go): one
// file written, synced, renamed and the directory synced; it may also take
// in the live records of older packs to free them (compactionPlan). The
// batch is then all or nothing. BenchmarkPutManySLA, 20,000 entries of
// 8 KB as the SLO flush of 10,000 products writes them: 14-16 µs per
// entry (0.3 s), where a file per key took 250-360 µs (5-7 s) on the same
// 2-core VM.
//
// A smaller batch writes every entry to a temporary file, makes them all
// durable at once (syncFiles: one syncfs on Linux rather than an fsync
// per file), renames each over its key's file and syncs the directory
// (BenchmarkPutManyFiles: 0.3-0.8 ms per entry; what costs is the file
// system creating and renaming a file per key). A key is either its old
// or its new value after a crash; an entry that fails leaves the others
// written, and its error is returned.
func (d *Dir) PutMany(ctx context.Context, entries map[string][]byte) error {
	for k := range entries {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := slices.Sorted(maps.Keys(entries))
	if len(keys) >= packThreshold || slices.ContainsFunc(keys, d.isPacked) {
		ops := make([]op, len(keys))
		for i, k := range keys {
			ops[i] = op{key: k, value: entries[k]}
		}
		return d.writePack(ctx, ops, true)
	}
	if err := d.putFiles(ctx, keys, entries); err != nil {
		return err
	}
	d.tidy(ctx)
	return nil
}

// putFiles writes entries to a file per key (PutMany's small batch).
func (d *Dir) putFiles(ctx context.Context, keys []string, entries map[string][]byte) error {
	type pending struct{ tmp, path, key string }
	var written []pending
	defer func() { // what was not renamed
		for _, p := range written {
			_ = os.Remove(p.tmp)
		}
	}()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		tmp, err := d.writeTemp(frame(entries[k]), false) // syncFiles syncs them all
		if err != nil {
			return fmt.Errorf("state: put %s: %w", k, err)
		}
		written = append(written, pending{tmp: tmp, path: d.Path(k), key: k})
	}
	tmps := make([]string, len(written))
	for i, p := range written {
		tmps[i] = p.tmp
	}
	if err := syncFiles(d.dir, tmps); err != nil {
		return fmt.Errorf("state: sync: %w", err)
	}
	for len(written) > 0 {
		p := written[0]
		if err := os.Rename(p.tmp, p.path); err != nil {
			return fmt.Errorf("state: put %s: %w", p.key, err)
		}
		d.files[p.key] = true
		written = written[1:]
	}
	return d.syncDir()
}

// writeTemp writes data to a new temporary file of the directory, synced
// when sync is set, and returns its name; on error the file is removed.
func (d *Dir) writeTemp(data []byte, sync bool) (name string, err error) {
	f, err := os.CreateTemp(d.dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return "", err
	}
	if sync {
		if err = f.Sync(); err != nil {
			return "", err
		}
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

func (d *Dir) write(key string, value []byte) error {
	if err := d.writeFile(key, value); err != nil {
		return err
	}
	return d.syncDir()
}

// writeFile writes key through a temporary file renamed over the old one.
func (d *Dir) writeFile(key string, value []byte) error {
	if err := d.writeAtomic(d.Path(key), value); err != nil {
		return fmt.Errorf("state: put %s: %w", key, err)
	}
	d.files[key] = true
	return nil
}

// writeAtomic writes value, framed, to a temporary file in the directory,
// syncs it and renames it to path. On error the temporary file is removed
// and the error is the os package's, which names the file and the cause.
func (d *Dir) writeAtomic(path string, value []byte) error {
	return d.writeRawAtomic(path, frame(value))
}

// writeRawAtomic is writeAtomic of data as it is.
func (d *Dir) writeRawAtomic(path string, data []byte) error {
	tmp, err := d.writeTemp(data, true)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// syncDir makes the renames durable.
func (d *Dir) syncDir() error {
	if err := fsyncDir(d.dir); err != nil {
		return fmt.Errorf("state: sync %s: %w", d.dir, err)
	}
	return nil
}

func fsyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // opened to sync, nothing written through it
	return f.Sync()
}

// probeName is the file Check writes. It has the temporary prefix, so
// Keys never lists it and NewDir removes one a crash left behind, and no
// key encodes to it (an encoded key has no '.').
const probeName = tempPrefix + "check" + fileSuffix

// Check reports whether values can be written to the directory: it writes
// a small probe file the way Put writes a value (a temporary file, fsync,
// rename, fsync of the directory) and removes it. NewDir succeeds on a
// directory it cannot write, so an agent calls Check at start and after
// every state flush to report readiness, instead of learning it from a
// lost flush. The error names the directory, wraps the cause (permission
// denied, read-only file system, no space left on device, …; errors.Is
// with syscall.ENOSPC works) and says what to do. Safe for concurrent use;
// it holds the write lock for one small write.
func (d *Dir) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	path := filepath.Join(d.dir, probeName)
	err := d.writeAtomic(path, []byte("meshwatch write check\n"))
	if err == nil {
		err = fsyncDir(d.dir)
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil {
		return fmt.Errorf("state: cannot write to the directory %s: %w; %s", d.dir, err, writeHint(err))
	}
	return nil
}

// writeHint says what to do about err, a failed write to the state
// directory.
func writeHint(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "free space on its file system (or raise the quota), or give it a larger volume"
	case errors.Is(err, syscall.EROFS):
		return "mount it read-write, or set state.dir to a directory on a writable volume"
	case errors.Is(err, fs.ErrPermission):
		return "give the agent's user write permission on it (chown it, or set the pod's fsGroup)"
	case errors.Is(err, fs.ErrNotExist):
		return "it was removed while the agent ran; create it again, writable by the agent's user"
	}
	return "set state.dir to a writable directory, or use state.backend: kafka"
}

// Delete implements Store. A key in a pack gets a tombstone: a pack of one
// entry that says it is gone, so that no older record of it comes back.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.isPacked(key) {
		if d.isDeleted(key) {
			return nil
		}
		return d.writePack(ctx, []op{{key: key, del: true}}, false)
	}
	if err := os.Remove(d.Path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: delete %s: %w", key, err)
	}
	delete(d.files, key)
	if err := d.syncDir(); err != nil {
		return err
	}
	d.tidy(ctx)
	return nil
}

// Keys implements Store. Files set aside, temporary files and pack files
// are not keys; a key in a pack is one unless its newest record there is a
// tombstone, whatever per-key file it has.
func (d *Dir) Keys(ctx context.Context, prefix string) ([]string, error) {
	d.ix.RLock()
	defer d.ix.RUnlock()
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var keys []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), fileSuffix)
		if !ok || strings.HasPrefix(name, tempPrefix) || !e.Type().IsRegular() {
			continue
		}
		key, err := decodeKey(name)
		if err != nil || !strings.HasPrefix(key, prefix) {
			continue
		}
		if _, packed := d.index[key]; packed {
			continue // stale: the pack decides, below
		}
		keys = append(keys, key)
	}
	for key, l := range d.index {
		if !l.del && strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// SetAside implements Store: the file is renamed to
// <name>.corrupt-<UTC time>, which Keys and Get ignore. The value of a key
// in a pack is copied to that name (as a per-key file holds it) and the
// key gets a tombstone.
func (d *Dir) SetAside(_ context.Context, key, reason string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.setAsideLocked(key, reason)
	return err
}

// setAsideLocked moves key's value aside and returns where to, "" if there
// was none. d.mu is held.
func (d *Dir) setAsideLocked(key, reason string) (string, error) {
	if d.isPacked(key) {
		return d.setAsidePacked(key, reason)
	}
	from := d.Path(key)
	to := from + asideInfix + d.now().UTC().Format(asideTimeLayout)
	if err := os.Rename(from, to); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("state: set aside %s: %w", key, err)
	}
	delete(d.files, key)
	d.logAside(key, reason, to)
	if err := d.syncDir(); err != nil {
		return to, err
	}
	d.tidy(context.Background())
	return to, nil
}

func (d *Dir) logAside(key, reason, to string) {
	d.log.Error("state entry is corrupt and was set aside; starting without it", "key", key, "reason", reason, "file", to)
}

func frame(value []byte) []byte {
	h := frameHeader(value)
	b := make([]byte, 0, len(h)+len(value))
	return append(append(b, h...), value...)
}

func unframe(b []byte) ([]byte, error) {
	header, value, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return nil, errors.New("no header line (truncated?)")
	}
	var sum uint32
	var n int
	if _, err := fmt.Sscanf(string(header), headerMagic+" crc32c=%08x len=%d", &sum, &n); err != nil {
		return nil, fmt.Errorf("bad header %.40q", header)
	}
	if len(value) != n {
		return nil, fmt.Errorf("%d bytes of value, header says %d (truncated?)", len(value), n)
	}
	if got := crc32.Checksum(value, castagnoli); got != sum {
		return nil, fmt.Errorf("checksum %08x, header says %08x", got, sum)
	}
	return value, nil
}

// encodeKey turns a key into a file name: bytes outside [A-Za-z0-9_-]
// become %XX, so no key can name a path outside the directory.
func encodeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

func decodeKey(name string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '%' {
			b.WriteByte(name[i])
			continue
		}
		if i+3 > len(name) {
			return "", fmt.Errorf("bad escape in %q", name)
		}
		v, err := hex.DecodeString(name[i+1 : i+3])
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", name)
		}
		b.Write(v)
		i += 2
	}
	return b.String(), nil
}
