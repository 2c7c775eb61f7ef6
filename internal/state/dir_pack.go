package state

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// How Dir keeps packs consistent with per-key files and with each other.
//
// Precedence. The index holds every key that is in a valid pack, at its
// record in the newest pack that has one (NewDir reads the packs oldest
// first, a newer record overrides). A key in the index is decided by the
// index alone: its record is a value or a tombstone (deleted or set
// aside), and a per-key file of that key is stale, never read, listed or
// set aside. A key not in the index is its per-key file, as before packs.
// So that this rule holds after any crash, a key once in a pack is only
// ever written to packs again: Put writes it as a pack of one entry,
// Delete and SetAside write a tombstone, and a small PutMany that holds it
// becomes a pack. A tombstone leaves the packs (and the key becomes a
// per-key key again) only where no per-key file and no older pack can
// hold the key (see compactionPlan).
//
// Removal. What newer data made stale (the per-key file of a key in a
// pack, a pack none of whose records the index points to) is removed only
// after a directory sync that made the newer data durable, by tidy after a
// write; NewDir removes nothing but temporary files (and renames a damaged
// pack aside), best effort, so that a read-only directory opens.
//
// Crash points, and why each is safe:
//
//  1. While a pack is written (temporary file .tmp-pack-*): nothing
//     refers to it; NewDir removes it, every key reads its older value.
//  2. After the pack's fsync and rename, before the directory sync: after
//     a power loss the pack is there, whole, or not at all (its contents
//     were durable before the rename made it visible); each of its keys
//     reads the new value or the old, never a part.
//  3. After the directory sync, before stale per-key files are removed
//     (or before their removal is synced): the pack wins over them; the
//     next start lists them as stale and the first write removes them.
//     A pack whose directory sync failed is in the index all the same (it
//     is what the directory shows) and the write returns the error; no
//     removal follows until a later write's sync succeeds.
//  4. After the directory sync, before packs left without a live record
//     (all overridden, or all folded into the new pack) are removed: their
//     records are older than the newer pack's and lose to them; the next
//     start finds them without a live record and the first write removes
//     them.
//  5. During compaction (the new pack took in the live records of older
//     packs, which are removed once it is durable): as 4, the new pack
//     has the newest record of every key the folded packs held. A
//     tombstone a folded pack held is dropped (not copied) only if every
//     older pack goes in the same write and the key has no per-key file
//     (whose removal was synced before); the packs are removed oldest
//     first with a directory sync after each, so a crash never leaves an
//     older pack with a value of that key without the pack whose
//     tombstone hides it.
//  6. While a value of a key in a pack is set aside (Get of a damaged
//     entry, SetAside): the copy <file>.corrupt-<time> is written first,
//     then the tombstone; a crash between leaves the value in place and a
//     copy of it (the next start loads or sets it aside again).
//  7. A pack that fails its checks (trailer, checksums, index) cannot be
//     a crash of ours (it became visible complete): NewDir sets it aside
//     whole with one log line, and its keys read as their older records,
//     in older packs or per-key files, or missing.

// errPackGone is a pack removed between NewDir's listing and its opening.
var errPackGone = errors.New("a pack was removed while the directory was read")

// op is one record a pack is written with.
type op struct {
	key   string
	value []byte
	del   bool
}

// load builds the index from the directory: d's fields start over.
func (d *Dir) load() error {
	for _, p := range d.packs {
		_ = p.f.Close() // of an earlier attempt; only read
	}
	d.index, d.packs = map[string]loc{}, map[uint64]*pack{}
	d.files, d.stale, d.garbage = map[string]bool{}, map[string]bool{}, nil
	d.nextSeq = 1
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	var seqs []uint64
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tempPrefix) {
			_ = os.Remove(filepath.Join(d.dir, name)) // best effort; a leftover is harmless
			continue
		}
		if seq, inUse, ok := parsePackName(name); ok {
			d.nextSeq = max(d.nextSeq, seq+1) // set-aside packs too: a sequence number is never reused
			if inUse && e.Type().IsRegular() {
				seqs = append(seqs, seq)
			}
			continue
		}
		if base, ok := strings.CutSuffix(name, fileSuffix); ok && e.Type().IsRegular() {
			if key, err := decodeKey(base); err == nil {
				d.files[key] = true
			}
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		if err := d.loadPack(seq); err != nil {
			return err
		}
	}
	for seq, p := range d.packs {
		if p.live == 0 {
			_ = p.f.Close() // only read
			delete(d.packs, seq)
			d.garbage = append(d.garbage, garbagePack{seq: seq, name: packName(seq)})
		}
	}
	slices.SortFunc(d.garbage, func(a, b garbagePack) int { return cmp.Compare(a.seq, b.seq) })
	for key := range d.files {
		if _, ok := d.index[key]; ok {
			d.stale[key] = true
		}
	}
	return nil
}

// loadPack adds pack seq to the index, newer than every pack in it. A pack
// that fails its checks is set aside.
func (d *Dir) loadPack(seq uint64) error {
	name := packName(seq)
	f, err := os.Open(filepath.Join(d.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return errPackGone
	}
	var recs []indexRec
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			recs, size, err = readPackIndex(f, st.Size())
		}
		if err != nil {
			_ = f.Close() // only read
		}
	}
	if err != nil {
		d.setAsidePack(name, err.Error())
		return nil
	}
	p := &pack{seq: seq, f: f, bytes: size, keys: make([]string, len(recs))}
	d.packs[seq] = p
	for i, r := range recs {
		r.loc.seq = seq
		d.place(r.key, r.loc)
		p.keys[i] = r.key
	}
	return nil
}

// place makes l key's newest record and keeps the live bytes.
func (d *Dir) place(key string, l loc) {
	if old, ok := d.index[key]; ok {
		d.packs[old.seq].live -= old.n
	}
	d.index[key] = l
	d.packs[l.seq].live += l.n
}

// setAsidePack renames a damaged pack aside, with one log line; its keys
// read as their older records. On a directory it cannot write, the pack
// stays where it is, unread, and the next start tries again.
func (d *Dir) setAsidePack(name, reason string) {
	from := filepath.Join(d.dir, name)
	to := from + asideInfix + d.now().UTC().Format(asideTimeLayout)
	if err := os.Rename(from, to); err != nil {
		d.log.Error("state pack is damaged and could not be set aside; its keys read as their older values, if any",
			"pack", name, "reason", reason, "err", err)
		return
	}
	_ = fsyncDir(d.dir) // best effort: a crash that undoes the rename finds it damaged again
	d.log.Error("state pack is damaged and was set aside; its keys read as their older values, if any",
		"pack", name, "reason", reason, "file", to)
}

// isPacked reports whether key is in a pack (a value or a tombstone). The
// caller holds d.mu, so the index does not change under it.
func (d *Dir) isPacked(key string) bool {
	_, ok := d.index[key]
	return ok
}

// isDeleted reports whether key's newest record is a tombstone; d.mu is held.
func (d *Dir) isDeleted(key string) bool {
	l, ok := d.index[key]
	return ok && l.del
}

// readPacked reads key from its pack, if it is in one (packed).
func (d *Dir) readPacked(key string) (value []byte, ok bool, reason string, packed bool) {
	d.ix.RLock()
	defer d.ix.RUnlock()
	l, packed := d.index[key]
	if !packed || l.del {
		return nil, false, "", packed
	}
	raw, err := d.readEntry(l)
	if err != nil {
		return nil, false, fmt.Sprintf("unreadable: %v", err), true
	}
	v, del, err := decodeEntry(raw, key)
	if err == nil && del {
		err = errors.New("pack entry is a tombstone, its index says a value")
	}
	if err != nil {
		return nil, false, fmt.Sprintf("%v, in %s at offset %d", err, packName(l.seq), l.off), true
	}
	return v, true, "", true
}

// readEntry reads the entry at l. The caller holds d.mu or d.ix.
func (d *Dir) readEntry(l loc) ([]byte, error) {
	b := make([]byte, l.n)
	if _, err := d.packs[l.seq].f.ReadAt(b, l.off); err != nil {
		return nil, err
	}
	return b, nil
}

// plan is what a pack write takes in from older packs.
type plan struct {
	fold     []*pack         // packs whose live records the new pack takes in, oldest first
	dropTomb map[uint64]bool // folded packs whose tombstones may be dropped
}

// compactionPlan decides which packs a PutMany's new pack folds in, so
// that garbage stays bounded:
//
//   - a pack whose live records are all tombstones (cheap, and its
//     tombstones may then go);
//   - while the dead bytes of the packs that stay exceed the live bytes
//     of all (the new pack's included), the pack with the smallest share
//     of live bytes, so that the disk holds at most about twice the data;
//   - while more than maxPacks packs would remain, the pack with the
//     fewest live bytes.
//
// Packs all of whose records the new pack overrides are not folded: they
// are removed anyway. In the SLO pattern (the same keys every flush) the
// old pack is wholly overridden: nothing is folded and one pack remains.
// skip are packs that could not be read: never folded.
func (d *Dir) compactionPlan(ops []op, skip map[uint64]bool) plan {
	liveAfter := make(map[uint64]int64, len(d.packs))
	delAfter := make(map[uint64]int64, len(d.packs)) // live bytes of tombstones
	for seq, p := range d.packs {
		liveAfter[seq] = p.live
	}
	for _, k := range d.index {
		if k.del {
			delAfter[k.seq] += k.n
		}
	}
	live := int64(0)
	for _, o := range ops {
		live += int64(entryHeaderLen + len(o.key) + len(o.value) + 64) // about: the frame header
		if l, ok := d.index[o.key]; ok {
			liveAfter[l.seq] -= l.n
			if l.del {
				delAfter[l.seq] -= l.n
			}
		}
	}
	var stay []*pack
	dead := int64(0)
	for seq, p := range d.packs {
		if liveAfter[seq] > 0 {
			stay = append(stay, p)
			live += liveAfter[seq]
			dead += p.bytes - liveAfter[seq]
		}
	}
	slices.SortFunc(stay, func(a, b *pack) int { return cmp.Compare(a.seq, b.seq) })
	folded := map[uint64]bool{}
	fold := func(p *pack) {
		folded[p.seq] = true
		dead -= p.bytes - liveAfter[p.seq]
	}
	// best returns the pack that stays and is not folded with the least
	// of by, the oldest of equals, or nil.
	best := func(by func(p *pack) float64) *pack {
		var b *pack
		for _, p := range stay {
			if folded[p.seq] || skip[p.seq] {
				continue
			}
			if b == nil || by(p) < by(b) {
				b = p
			}
		}
		return b
	}
	for _, p := range stay {
		if !skip[p.seq] && liveAfter[p.seq] == delAfter[p.seq] {
			fold(p)
		}
	}
	for dead > live {
		p := best(func(p *pack) float64 { return float64(liveAfter[p.seq]) / float64(p.bytes) })
		if p == nil {
			break
		}
		fold(p)
	}
	for len(stay)-len(folded)+1 > maxPacks {
		p := best(func(p *pack) float64 { return float64(liveAfter[p.seq]) })
		if p == nil {
			break
		}
		fold(p)
	}
	var pl plan
	pl.dropTomb = map[uint64]bool{}
	older := true // every pack older than this one goes in this write
	for _, p := range stay {
		if !folded[p.seq] {
			older = false
			continue
		}
		pl.fold = append(pl.fold, p)
		pl.dropTomb[p.seq] = older
	}
	return pl
}

// foldError is a pack whose records could not be read to fold it.
type foldError struct {
	seq uint64
	err error
}

func (e *foldError) Error() string { return fmt.Sprintf("read %s: %v", packName(e.seq), e.err) }

// writePack writes ops as a new pack, with compaction when fold is set
// (PutMany), installs it in the index and tidies. d.mu is held. A pack
// renamed into place is installed even if the directory sync then fails
// (its error is returned): it is what the directory holds.
func (d *Dir) writePack(ctx context.Context, ops []op, fold bool) error {
	skip := map[uint64]bool{}
	for {
		var pl plan
		if fold {
			pl = d.compactionPlan(ops, skip)
		}
		err := d.tryWritePack(ctx, ops, pl)
		var fe *foldError
		if errors.As(err, &fe) {
			// Written without it: its records stay where they are.
			skip[fe.seq] = true
			continue
		}
		return err
	}
}

func (d *Dir) tryWritePack(ctx context.Context, ops []op, pl plan) (err error) {
	f, err := os.CreateTemp(d.dir, tempPrefix+"pack-*")
	if err != nil {
		return fmt.Errorf("state: write pack: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close() // abandoned
			_ = os.Remove(f.Name())
		}
	}()
	pw, err := newPackWriter(f)
	if err != nil {
		return fmt.Errorf("state: write pack: %w", err)
	}
	inOps := make(map[string]bool, len(ops))
	for _, o := range ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := pw.put(o.key, o.value, o.del); err != nil {
			return fmt.Errorf("state: write pack: %w", err)
		}
		inOps[o.key] = true
	}
	var dropped []string
	for _, p := range pl.fold {
		for _, k := range p.keys {
			l := d.index[k]
			if l.seq != p.seq || inOps[k] {
				continue // overridden
			}
			if l.del && pl.dropTomb[p.seq] && d.noFile(k) {
				dropped = append(dropped, k)
				continue
			}
			raw, err := d.readEntry(l)
			if err != nil {
				return &foldError{seq: p.seq, err: err}
			}
			if err := pw.raw(k, raw, l.del); err != nil {
				return fmt.Errorf("state: write pack: %w", err)
			}
		}
	}
	if err := pw.finish(); err != nil {
		return fmt.Errorf("state: write pack: %w", err)
	}
	seq := d.nextSeq
	path := filepath.Join(d.dir, packName(seq))
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("state: write pack: %w", err)
	}
	renamed = true
	d.nextSeq++
	// Read through a read-only file from now on: a file open for writing
	// stops the file system from being remounted read-only. Should that
	// open fail, the file written serves.
	if rf, err := os.Open(path); err == nil {
		_ = f.Close() // synced by finish
		f = rf
	}
	d.install(seq, f, pw, dropped)
	if err := d.syncDir(); err != nil {
		return err
	}
	d.tidy(ctx)
	return nil
}

// noFile reports whether key surely has no per-key file: none known, and
// none there. d.mu is held.
func (d *Dir) noFile(key string) bool {
	if d.files[key] {
		return false
	}
	_, err := os.Lstat(d.Path(key))
	return errors.Is(err, fs.ErrNotExist)
}

// install puts a pack just renamed into place in the index: its records
// override older ones, dropped tombstones leave the index, and packs left
// without a live record become garbage.
func (d *Dir) install(seq uint64, f *os.File, pw *packWriter, dropped []string) {
	p := &pack{seq: seq, f: f, bytes: pw.off - int64(len(packMagic)), keys: make([]string, len(pw.recs))}
	d.ix.Lock()
	defer d.ix.Unlock()
	d.packs[seq] = p
	for i, r := range pw.recs {
		r.loc.seq = seq
		d.place(r.key, r.loc)
		p.keys[i] = r.key
		if d.files[r.key] {
			d.stale[r.key] = true
		}
	}
	for _, k := range dropped {
		l := d.index[k]
		d.packs[l.seq].live -= l.n
		delete(d.index, k)
	}
	for s, q := range d.packs {
		if q.live == 0 && s != seq {
			_ = q.f.Close() // under the write lock: no ReadAt is under way
			delete(d.packs, s)
			d.garbage = append(d.garbage, garbagePack{seq: s, name: packName(s)})
		}
	}
	slices.SortFunc(d.garbage, func(a, b garbagePack) int { return cmp.Compare(a.seq, b.seq) })
}

// tidy removes what durable newer data made stale, after a write whose
// directory sync succeeded: packs without a live record, oldest first with
// a directory sync after each (see crash point 5), then the per-key files
// of keys in packs. It is best effort, and stops when ctx is done: what
// stays is tried again after the next write, or found again by the next
// start.
func (d *Dir) tidy(ctx context.Context) {
	for len(d.garbage) > 0 && ctx.Err() == nil {
		g := d.garbage[0]
		if err := os.Remove(filepath.Join(d.dir, g.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return // the newer packs wait for it, oldest first
		}
		if fsyncDir(d.dir) != nil {
			return
		}
		d.garbage = d.garbage[1:]
		if d.testHook != nil {
			d.testHook("pack removed")
		}
	}
	var removed []string
	for key := range d.stale {
		if ctx.Err() != nil {
			break
		}
		if err := os.Remove(d.Path(key)); err == nil || errors.Is(err, fs.ErrNotExist) {
			removed = append(removed, key)
		}
	}
	// A key's file counts as gone (its tombstone may be dropped) once
	// its removal is durable.
	if len(removed) > 0 && fsyncDir(d.dir) == nil {
		for _, key := range removed {
			delete(d.stale, key)
			delete(d.files, key)
		}
	}
}

// setAsidePacked sets aside the value of a key in a pack: a copy to
// Path(key)+".corrupt-<time>" (the framed value, as a per-key file holds
// it, or the entry as it is in the pack if it is damaged), then a
// tombstone. d.mu is held.
func (d *Dir) setAsidePacked(key, reason string) (string, error) {
	l := d.index[key]
	if l.del {
		return "", nil
	}
	var content []byte
	raw, err := d.readEntry(l)
	switch {
	case err != nil:
		content = fmt.Appendf(nil, "unreadable in %s at offset %d (%d bytes): %v\n", packName(l.seq), l.off, l.n, err)
	default:
		content = raw
		if v, del, err := decodeEntry(raw, key); err == nil && !del {
			content = frame(v)
		}
	}
	to := d.Path(key) + asideInfix + d.now().UTC().Format(asideTimeLayout)
	if err := d.writeRawAtomic(to, content); err != nil {
		return "", fmt.Errorf("state: set aside %s: %w", key, err)
	}
	if err := d.writePack(context.Background(), []op{{key: key, del: true}}, false); err != nil {
		if !d.isDeleted(key) { // not written: the value stays, and so need not its copy
			_ = os.Remove(to)
			return "", err
		}
		d.logAside(key, reason, to) // written, its directory sync failed
		return to, err
	}
	d.logAside(key, reason, to)
	return to, nil
}
