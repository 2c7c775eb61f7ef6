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

// File layout of the Dir store. Each key is one file, named by the key with
// every byte outside [A-Za-z0-9_-] written as %XX and the suffix .state. A
// file is a header line and the value:
//
//	meshwatch-state v1 crc32c=1a2b3c4d len=123\n<value>
//
// so that a truncated or garbled file is told from a valid one.
const (
	fileSuffix  = ".state"
	tempPrefix  = ".tmp-"
	asideInfix  = ".corrupt-"
	headerMagic = "meshwatch-state v1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Dir is a Store in a local directory, the default backend. Writes are
// atomic (a temporary file, fsync, rename, fsync of the directory). A file
// that cannot be read or fails its checksum is renamed aside to
// <name>.corrupt-<time> with one log line, and Get reports it once with an
// error wrapping ErrCorrupt; afterwards the key is missing. Check tells
// whether the directory can be written. Safe for concurrent use within one
// process; two processes must not share a directory.
type Dir struct {
	dir string
	log *slog.Logger
	now func() time.Time
	mu  sync.Mutex // serialises writes and renames
}

// NewDir opens the state directory dir, creating it (0700) if needed, and
// removes temporary files a crash left behind. log may be nil. It fails if
// dir cannot be created or listed, but not if it cannot be written: a
// read-only directory still serves reads (meshwatch report), and a full
// disk may get space back. An agent calls Check to learn that writes fail.
func NewDir(dir string, log *slog.Logger) (*Dir, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			_ = os.Remove(filepath.Join(dir, e.Name())) // best effort; a leftover is harmless
		}
	}
	return &Dir{dir: dir, log: log.With("component", "state", "backend", "dir"), now: time.Now}, nil
}

// Path returns the file that holds key.
func (d *Dir) Path(key string) string { return filepath.Join(d.dir, encodeKey(key)+fileSuffix) }

// Get implements Store. A file that is truncated, fails its checksum or
// cannot be read is set aside with one log line, and Get returns an error
// wrapping ErrCorrupt that names the key, the reason and the file it was
// moved to; the next Get finds the key missing. If the file cannot be set
// aside either, the error does not wrap ErrCorrupt: the value is still in
// place and the directory needs fixing.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(d.Path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, d.corrupt(key, fmt.Sprintf("unreadable: %v", err))
	}
	v, err := unframe(b)
	if err != nil {
		return nil, false, d.corrupt(key, err.Error())
	}
	return v, true, nil
}

// corrupt sets key aside and returns the error Get reports for it: one
// wrapping ErrCorrupt, or the reason it could not be set aside. A renamed
// file whose directory sync failed counts as set aside: at worst a crash
// undoes the rename and the next start sets it aside again.
func (d *Dir) corrupt(key, reason string) error {
	to, err := d.setAside(key, reason)
	if err != nil && to == "" {
		return fmt.Errorf("state: %s is corrupt (%s) and could not be set aside: %w; make %s writable by the agent", key, reason, err, d.dir)
	}
	if to == "" { // gone meanwhile: nothing was moved
		return fmt.Errorf("%w: %s (%s)", ErrCorrupt, key, reason)
	}
	return fmt.Errorf("%w: %s (%s), moved to %s", ErrCorrupt, key, reason, to)
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.write(key, value)
}

// PutMany implements Store: it writes every entry to a temporary file,
// makes them all durable at once (syncFiles: one syncfs on Linux rather
// than an fsync per file), renames each over its key's file and syncs the
// directory. BenchmarkPutMany: 0.62 ms per entry, 0.89 with an fsync per
// file; what remains is the file system creating and renaming a file per
// key. A key is either its old or its new value after a crash; an entry
// that fails leaves the others written, and its error is returned.
func (d *Dir) PutMany(ctx context.Context, entries map[string][]byte) error {
	for k := range entries {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	type pending struct{ tmp, path, key string }
	var written []pending
	defer func() { // what was not renamed
		for _, p := range written {
			_ = os.Remove(p.tmp)
		}
	}()
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		tmp, err := d.writeTemp(entries[k], false) // syncFiles syncs them all
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
		written = written[1:]
	}
	return d.syncDir()
}

// writeTemp writes value, framed, to a new temporary file of the
// directory, synced when sync is set, and returns its name; on error the
// file is removed.
func (d *Dir) writeTemp(value []byte, sync bool) (name string, err error) {
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
	if _, err = f.Write(frame(value)); err != nil {
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
	return nil
}

// writeAtomic writes value, framed, to a temporary file in the directory,
// syncs it and renames it to path. On error the temporary file is removed
// and the error is the os package's, which names the file and the cause.
func (d *Dir) writeAtomic(path string, value []byte) error {
	tmp, err := d.writeTemp(value, true)
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

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.Remove(d.Path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: delete %s: %w", key, err)
	}
	return d.syncDir()
}

// Keys implements Store. Files set aside and temporary files are not keys.
func (d *Dir) Keys(ctx context.Context, prefix string) ([]string, error) {
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
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys, nil
}

// SetAside implements Store: the file is renamed to
// <name>.corrupt-<UTC time>, which Keys and Get ignore.
func (d *Dir) SetAside(_ context.Context, key, reason string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := d.setAside(key, reason)
	return err
}

// setAside renames key's file aside and returns where to, "" if there was
// no file.
func (d *Dir) setAside(key, reason string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	from := d.Path(key)
	to := from + asideInfix + d.now().UTC().Format(asideTimeLayout)
	if err := os.Rename(from, to); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("state: set aside %s: %w", key, err)
	}
	d.log.Error("state entry is corrupt and was set aside; starting without it", "key", key, "reason", reason, "file", to)
	return to, d.syncDir()
}

func frame(value []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s crc32c=%08x len=%d\n", headerMagic, crc32.Checksum(value, castagnoli), len(value))
	b.Write(value)
	return b.Bytes()
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
