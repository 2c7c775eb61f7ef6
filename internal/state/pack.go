package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
)

// Pack files of the Dir store (see doc.go for the whole layout). A PutMany
// of packThreshold entries or more writes them all to ONE new file,
// pack-<seq>.pack, instead of a file per key: creating and renaming a file
// per key is what made a flush of 20,000 SLOs take seconds. A pack is
//
//	meshwatch-pack v1\n                           magic, 18 bytes
//	entry…                                        from offset 18, back to back
//	index record…                                 one per entry, in file order
//	trailer                                       32 bytes
//
// An entry is kind (1 byte: 'P' a value, 'D' a tombstone), the key's
// length and the body's length (uint32 each, big-endian), a CRC-32C of
// those 9 bytes and the key (uint32), the key, and the body: for 'P' the
// value framed as in a per-key file (header line with CRC-32C and length,
// then the value), for 'D' nothing. An index record is kind (1), key
// length (uint32), the entry's offset (uint64) and length (uint32), and the
// key. The trailer is "mwpack\x00\x01", the index's offset (uint64), the
// number of entries (uint64), the index's CRC-32C and the CRC-32C of the
// trailer's first 28 bytes (uint32 each).
//
// A pack is written to a temporary file, fsynced and only then renamed to
// its name, so a pack that is not complete (trailer, checksums, the index
// records covering the entries back to back up to the index) is damage,
// not a crash; NewDir sets it aside whole. An entry is checked when it is
// read (Get, SetAside): a damaged entry in a complete pack is one corrupt
// value, like a damaged per-key file.
const (
	packPrefix     = "pack-"
	packSuffix     = ".pack"
	packMagic      = "meshwatch-pack v1\n"
	trailerMagic   = "mwpack\x00\x01"
	trailerLen     = 32
	entryHeaderLen = 13
	indexRecLen    = 17

	kindPut = 'P'
	kindDel = 'D'

	// packThreshold is the smallest PutMany written as a pack. Below it
	// each key keeps its own file, readable by hand, as before packs (an
	// agent with a few SLOs, the alert outbox and the cost ledger never
	// see a pack); from it on, the per-key cost (about 0.2-0.6 ms to
	// create and rename a file, whatever its size) dominates. A batch
	// smaller than this that holds a key already in a pack is written as a
	// pack too (see Dir.PutMany).
	packThreshold = 16
	// maxPacks bounds the packs on disk: a PutMany that would leave more
	// folds the ones with the fewest live bytes into its new pack.
	maxPacks = 8
	// maxEntry is the largest entry a pack can hold (lengths are uint32).
	maxEntry = 1<<32 - 1
)

// pack is a pack file in the index. Its file is open for ReadAt from
// NewDir (or its writing) until it is removed; it is closed under d.ix's
// write lock, so that no Get reads it meanwhile.
type pack struct {
	seq   uint64
	f     *os.File
	bytes int64    // bytes of its entries
	live  int64    // bytes of the entries the index points to (values and tombstones)
	keys  []string // the keys of its entries, in file order
}

// loc is where the newest record of a key in a pack is.
type loc struct {
	seq uint64
	off int64 // of the entry in the pack
	n   int64 // the entry's length
	del bool  // a tombstone: the key was deleted or set aside
}

// indexRec is an index record of a pack.
type indexRec struct {
	key string
	loc loc
}

// garbagePack is a pack no longer in the index, still on disk until it
// can be removed.
type garbagePack struct {
	seq  uint64
	name string
}

func packName(seq uint64) string { return fmt.Sprintf("%s%016x%s", packPrefix, seq, packSuffix) }

// parsePackName reports the sequence number of a pack's name, or of a pack
// set aside (<pack name>.corrupt-<time>), and whether it is a pack in use.
func parsePackName(name string) (seq uint64, inUse, ok bool) {
	rest, found := strings.CutPrefix(name, packPrefix)
	if !found || len(rest) < 16+len(packSuffix) {
		return 0, false, false
	}
	for _, c := range rest[:16] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return 0, false, false
		}
	}
	seq, err := strconv.ParseUint(rest[:16], 16, 64)
	if err != nil || !strings.HasPrefix(rest[16:], packSuffix) {
		return 0, false, false
	}
	tail := rest[16+len(packSuffix):]
	switch {
	case tail == "":
		return seq, true, true
	case strings.HasPrefix(tail, asideInfix):
		return seq, false, true
	}
	return 0, false, false
}

// frameHeader is the header line of a framed value (see frame).
func frameHeader(value []byte) string {
	return fmt.Sprintf("%s crc32c=%08x len=%d\n", headerMagic, crc32.Checksum(value, castagnoli), len(value))
}

// appendEntryHeader appends an entry's header and key.
func appendEntryHeader(b []byte, kind byte, key string, bodyLen int) []byte {
	start := len(b)
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	b = binary.BigEndian.AppendUint32(b, uint32(bodyLen))
	b = binary.BigEndian.AppendUint32(b, entryCRC(b[start:start+9], key))
	return append(b, key...)
}

func entryCRC(head []byte, key string) uint32 {
	return crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, []byte(key))
}

// decodeEntry checks a whole entry as read from a pack and returns its
// value, or del for a tombstone. The error says what is wrong with it.
func decodeEntry(raw []byte, key string) (value []byte, del bool, err error) {
	if len(raw) < entryHeaderLen {
		return nil, false, fmt.Errorf("pack entry of %d bytes (truncated?)", len(raw))
	}
	kind := raw[0]
	kl := int64(binary.BigEndian.Uint32(raw[1:5]))
	bl := int64(binary.BigEndian.Uint32(raw[5:9]))
	if entryHeaderLen+kl+bl != int64(len(raw)) {
		return nil, false, fmt.Errorf("pack entry of %d bytes, its header says %d (garbled)", len(raw), entryHeaderLen+kl+bl)
	}
	k := string(raw[entryHeaderLen : entryHeaderLen+kl])
	if got, want := entryCRC(raw[:9], k), binary.BigEndian.Uint32(raw[9:13]); got != want {
		return nil, false, fmt.Errorf("pack entry header checksum %08x, header says %08x", got, want)
	}
	if k != key {
		return nil, false, fmt.Errorf("pack entry holds key %q", k)
	}
	switch kind {
	case kindDel:
		if bl != 0 {
			return nil, false, fmt.Errorf("pack tombstone with a body of %d bytes", bl)
		}
		return nil, true, nil
	case kindPut:
	default:
		return nil, false, fmt.Errorf("pack entry of kind %q", kind)
	}
	v, err := unframe(raw[entryHeaderLen+kl:])
	if err != nil {
		return nil, false, err
	}
	return v, false, nil
}

// readPackIndex checks that the pack in f (of size bytes) is complete and
// returns its index records and the bytes of its entries. The error is the
// reason the pack is damaged.
func readPackIndex(f io.ReaderAt, size int64) ([]indexRec, int64, error) {
	if size < int64(len(packMagic))+trailerLen {
		return nil, 0, fmt.Errorf("%d bytes, too short for a pack (truncated?)", size)
	}
	magic := make([]byte, len(packMagic))
	if _, err := f.ReadAt(magic, 0); err != nil {
		return nil, 0, fmt.Errorf("unreadable: %w", err)
	}
	if string(magic) != packMagic {
		return nil, 0, fmt.Errorf("bad magic %q", magic)
	}
	tr := make([]byte, trailerLen)
	if _, err := f.ReadAt(tr, size-trailerLen); err != nil {
		return nil, 0, fmt.Errorf("unreadable: %w", err)
	}
	if string(tr[:8]) != trailerMagic {
		return nil, 0, errors.New("no trailer (truncated?)")
	}
	if got, want := crc32.Checksum(tr[:28], castagnoli), binary.BigEndian.Uint32(tr[28:]); got != want {
		return nil, 0, fmt.Errorf("trailer checksum %08x, trailer says %08x", got, want)
	}
	indexOff := int64(binary.BigEndian.Uint64(tr[8:16]))
	count := binary.BigEndian.Uint64(tr[16:24])
	if indexOff < int64(len(packMagic)) || indexOff > size-trailerLen {
		return nil, 0, fmt.Errorf("index at %d in a pack of %d bytes (truncated?)", indexOff, size)
	}
	idx := make([]byte, size-trailerLen-indexOff)
	if _, err := f.ReadAt(idx, indexOff); err != nil {
		return nil, 0, fmt.Errorf("unreadable: %w", err)
	}
	if got, want := crc32.Checksum(idx, castagnoli), binary.BigEndian.Uint32(tr[24:28]); got != want {
		return nil, 0, fmt.Errorf("index checksum %08x, trailer says %08x", got, want)
	}
	if count > uint64(len(idx))/indexRecLen {
		return nil, 0, fmt.Errorf("%d entries do not fit an index of %d bytes", count, len(idx))
	}
	recs := make([]indexRec, 0, count)
	next := int64(len(packMagic)) // where the next entry must start
	for i := range count {
		if len(idx) < indexRecLen {
			return nil, 0, fmt.Errorf("index record %d truncated", i)
		}
		kind := idx[0]
		kl := int(binary.BigEndian.Uint32(idx[1:5]))
		off := int64(binary.BigEndian.Uint64(idx[5:13]))
		n := int64(binary.BigEndian.Uint32(idx[13:17]))
		if kl > len(idx)-indexRecLen {
			return nil, 0, fmt.Errorf("index record %d truncated", i)
		}
		key := string(idx[indexRecLen : indexRecLen+kl])
		idx = idx[indexRecLen+kl:]
		switch {
		case kind != kindPut && kind != kindDel:
			return nil, 0, fmt.Errorf("index record %d of kind %q", i, kind)
		case checkKey(key) != nil:
			return nil, 0, fmt.Errorf("index record %d has an invalid key", i)
		case off != next || n < entryHeaderLen+int64(kl) || off+n > indexOff:
			return nil, 0, fmt.Errorf("index record %d (%q) at %d+%d does not follow the entry before", i, key, off, n)
		}
		next = off + n
		recs = append(recs, indexRec{key: key, loc: loc{off: off, n: n, del: kind == kindDel}})
	}
	if len(idx) != 0 || next != indexOff {
		return nil, 0, fmt.Errorf("index does not cover the entries (%d bytes left over)", indexOff-next+int64(len(idx)))
	}
	return recs, indexOff - int64(len(packMagic)), nil
}

// packWriter writes a pack to a temporary file.
type packWriter struct {
	f    *os.File
	w    *bufio.Writer
	off  int64
	recs []indexRec
	buf  []byte
}

func newPackWriter(f *os.File) (*packWriter, error) {
	pw := &packWriter{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	if _, err := pw.w.WriteString(packMagic); err != nil {
		return nil, err
	}
	pw.off = int64(len(packMagic))
	return pw, nil
}

// put writes a value entry, del a tombstone.
func (pw *packWriter) put(key string, value []byte, del bool) error {
	kind, head := byte(kindDel), ""
	if !del {
		kind, head = kindPut, frameHeader(value)
	}
	bodyLen := len(head) + len(value)
	if int64(entryHeaderLen+len(key)+bodyLen) > maxEntry {
		return fmt.Errorf("%s: value of %d bytes is too large", key, len(value))
	}
	pw.buf = appendEntryHeader(pw.buf[:0], kind, key, bodyLen)
	pw.buf = append(pw.buf, head...)
	if _, err := pw.w.Write(pw.buf); err != nil {
		return err
	}
	if _, err := pw.w.Write(value); err != nil {
		return err
	}
	n := int64(len(pw.buf) + len(value))
	pw.recs = append(pw.recs, indexRec{key: key, loc: loc{off: pw.off, n: n, del: del}})
	pw.off += n
	return nil
}

// raw copies an entry of another pack as it is: a damaged one stays
// detectable where it lands.
func (pw *packWriter) raw(key string, entry []byte, del bool) error {
	if _, err := pw.w.Write(entry); err != nil {
		return err
	}
	pw.recs = append(pw.recs, indexRec{key: key, loc: loc{off: pw.off, n: int64(len(entry)), del: del}})
	pw.off += int64(len(entry))
	return nil
}

// finish writes the index and the trailer and syncs the file.
func (pw *packWriter) finish() error {
	indexOff := pw.off
	crc := crc32.New(castagnoli)
	w := io.MultiWriter(pw.w, crc)
	for _, r := range pw.recs {
		kind := byte(kindPut)
		if r.loc.del {
			kind = kindDel
		}
		b := append(pw.buf[:0], kind)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.key)))
		b = binary.BigEndian.AppendUint64(b, uint64(r.loc.off))
		b = binary.BigEndian.AppendUint32(b, uint32(r.loc.n))
		b = append(b, r.key...)
		pw.buf = b
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	tr := make([]byte, 0, trailerLen)
	tr = append(tr, trailerMagic...)
	tr = binary.BigEndian.AppendUint64(tr, uint64(indexOff))
	tr = binary.BigEndian.AppendUint64(tr, uint64(len(pw.recs)))
	tr = binary.BigEndian.AppendUint32(tr, crc.Sum32())
	tr = binary.BigEndian.AppendUint32(tr, crc32.Checksum(tr, castagnoli))
	if _, err := pw.w.Write(tr); err != nil {
		return err
	}
	if err := pw.w.Flush(); err != nil {
		return err
	}
	return pw.f.Sync()
}
