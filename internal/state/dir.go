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
// <name>.corrupt-<time> with one log line, and reads as missing. Safe for
// concurrent use within one process; two processes must not share a
// directory.
type Dir struct {
	dir string
	log *slog.Logger
	now func() time.Time
	mu  sync.Mutex // serialises writes and renames
}

// NewDir opens the state directory dir, creating it (0700) if needed, and
// removes temporary files a crash left behind. log may be nil.
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

// Get implements Store. A corrupt file is set aside and reported missing.
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

// corrupt sets key aside; it returns an error only if that fails too.
func (d *Dir) corrupt(key, reason string) error {
	if err := d.SetAside(context.Background(), key, reason); err != nil {
		return fmt.Errorf("state: %s is corrupt (%s) and could not be set aside: %w", key, reason, err)
	}
	return nil
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

// PutMany implements Store, writing the entries one by one and syncing the
// directory once.
func (d *Dir) PutMany(ctx context.Context, entries map[string][]byte) error {
	for k := range entries {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.writeFile(k, entries[k]); err != nil {
			return err
		}
	}
	return d.syncDir()
}

func (d *Dir) write(key string, value []byte) error {
	if err := d.writeFile(key, value); err != nil {
		return err
	}
	return d.syncDir()
}

// writeFile writes key through a temporary file renamed over the old one.
func (d *Dir) writeFile(key string, value []byte) (err error) {
	f, err := os.CreateTemp(d.dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("state: put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(frame(value)); err != nil {
		return fmt.Errorf("state: put %s: %w", key, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("state: put %s: %w", key, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("state: put %s: %w", key, err)
	}
	if err = os.Rename(f.Name(), d.Path(key)); err != nil {
		return fmt.Errorf("state: put %s: %w", key, err)
	}
	return nil
}

// syncDir makes the renames durable.
func (d *Dir) syncDir() error {
	f, err := os.Open(d.dir)
	if err != nil {
		return fmt.Errorf("state: sync %s: %w", d.dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("state: sync %s: %w", d.dir, err)
	}
	return nil
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
func (d *Dir) SetAside(ctx context.Context, key, reason string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	from := d.Path(key)
	to := from + asideInfix + d.now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(from, to); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("state: set aside %s: %w", key, err)
	}
	d.log.Error("state entry is corrupt and was set aside; starting without it", "key", key, "reason", reason, "file", to)
	return d.syncDir()
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
