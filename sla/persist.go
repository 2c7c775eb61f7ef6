package sla

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/meshwatch/meshwatch/internal/state"
)

// stateVersion is the version of the stored encoding; another version is
// set aside as corrupt rather than misread.
const stateVersion = 1

// saved is the stored form of one SLO's buckets: JSON, so that a state file
// can be read by hand. Only non-empty buckets are written, each as [start
// (Unix seconds), good, valid]. Fine is in minutes (saveFine) and Coarse
// at the coarse resolution (saveCoarse), whatever rings hold them.
type saved struct {
	Version int       `json:"version"`
	Product string    `json:"product"`
	SLO     string    `json:"slo"`
	SLI     string    `json:"sli"`
	Window  string    `json:"window"`
	SavedAt time.Time `json:"saved_at"`
	Fine    savedRing `json:"fine"`
	Coarse  savedRing `json:"coarse"`
}

type savedRing struct {
	Resolution int64      `json:"resolution_seconds"`
	Buckets    [][3]int64 `json:"buckets"`
}

func saveRing(r *ring) savedRing {
	s := savedRing{Resolution: r.res, Buckets: [][3]int64{}}
	for _, b := range r.buckets() {
		s.Buckets = append(s.Buckets, [3]int64{r.start(b.idx).Unix(), b.c.Good, b.c.Valid})
	}
	return s
}

// saveFine returns the short windows' buckets in the stored form of the
// first layout, minute buckets for 6 hours: the minute buckets fine can
// tell apart and, before them, mid's 5-minute buckets at their start
// minute (see saveLayered). The minute ring restores the last hour of it
// and the 5-minute ring all of it exactly; an agent of the first layout
// reads it whole, with what is older than an hour at the start of its 5
// minutes.
func saveFine(fine, mid *ring) savedRing { return saveLayered(fine, mid) }

// saveCoarse returns the coarse buckets in the stored form of the first
// layout, coarse buckets for the whole window. With blocks (a rolling
// window of 4 to 32 days) that is the hourly form: the last 73 hours
// exactly from the hourly ring and, before them, each 6-hour block as one
// hourly bucket at its start hour (see saveLayered). This layout restores
// the hourly ring (1d and 3d) and the blocks (the window) exactly. An
// agent of the previous layout (hourly buckets for the whole window)
// reads its 1d and 3d windows exactly, and its window short by at most
// the events of the one block that straddles its window start, as it
// counts that block's older events at the block's first hour: events
// older than 73 hours at the save leave its window up to 5 hours early.
func saveCoarse(t *tracker) savedRing {
	if t.win.blockN > 0 {
		return saveLayered(&t.coarse, &t.block)
	}
	return saveRing(&t.coarse)
}

// saveLayered returns the buckets of fine and, before them, wide's wider
// buckets at their start in fine's resolution: the buckets fine can tell
// apart, and the wide buckets older than them, the one that overlaps fine
// less what fine holds of it. wide must hold every event fine does, as it
// does when it covers a longer span and both get each event; fine's
// resolution must divide wide's and their buckets be aligned. A ring of
// fine's layout restores the span of fine exactly and the wide buckets
// at their start; one of wide's restores all of it exactly.
func saveLayered(fine, wide *ring) savedRing {
	s := saveRing(fine)
	if !wide.used {
		return s
	}
	from := int64(math.MaxInt64) // the start of the oldest bucket fine holds
	if fine.used {
		from = fine.start(fine.oldest() + 1).Unix()
	}
	var older [][3]int64
	for _, b := range wide.buckets() {
		start := wide.start(b.idx).Unix()
		if start >= from {
			break
		}
		c := b.c
		if end := wide.start(b.idx + 1).Unix(); end > from {
			for _, fb := range s.Buckets {
				if fb[0] < end {
					c.Good -= fb[1]
					c.Valid -= fb[2]
				}
			}
		}
		// c is never negative nor more good than valid; should it be,
		// it is left out rather than make decode set the whole state,
		// budget included, aside.
		if c != (Counts{}) && c.Good >= 0 && c.Good <= c.Valid {
			older = append(older, [3]int64{start, c.Good, c.Valid})
		}
	}
	s.Buckets = append(older, s.Buckets...)
	return s
}

// encode returns the tracker's stored form and clears its dirty flag.
func (t *tracker) encode(now time.Time) ([]byte, error) {
	t.mu.Lock()
	s := saved{
		Version: stateVersion, Product: t.key.product, SLO: t.key.slo, SLI: t.sli, Window: t.win.name,
		SavedAt: now.UTC(), Fine: saveFine(&t.fine, &t.mid), Coarse: saveCoarse(t),
	}
	t.dirty = false
	t.mu.Unlock()
	return json.Marshal(s)
}

// decode checks a stored value against t and adds its buckets to t's: events
// observed before the load are kept. A bucket newer than now is added at now.
func (t *tracker) decode(b []byte, now time.Time) error {
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("not a stored SLO: %w", err)
	}
	switch {
	case s.Version != stateVersion:
		return fmt.Errorf("version %d, want %d", s.Version, stateVersion)
	case s.Product != t.key.product || s.SLO != t.key.slo:
		return fmt.Errorf("holds SLO %q of product %q", s.SLO, s.Product)
	case s.Fine.Resolution <= 0 || s.Coarse.Resolution <= 0:
		return errors.New("bucket resolution must be > 0")
	}
	for _, r := range []savedRing{s.Fine, s.Coarse} {
		for _, b := range r.Buckets {
			if b[1] < 0 || b[2] < 0 || b[1] > b[2] {
				return fmt.Errorf("bucket at %d has good %d and valid %d", b[0], b[1], b[2])
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	restore(&t.fine, s.Fine, now)
	restore(&t.mid, s.Fine, now)
	restore(&t.coarse, s.Coarse, now)
	if t.win.blockN > 0 {
		restore(&t.block, s.Coarse, now)
	}
	return nil
}

func restore(r *ring, s savedRing, now time.Time) {
	nowUnix := now.Unix()
	bs := make([]bucket, 0, len(s.Buckets))
	for _, b := range s.Buckets {
		bs = append(bs, bucket{r.index(time.Unix(min(b[0], nowUnix), 0)), Counts{Good: b[1], Valid: b[2]}})
	}
	r.addMany(bs)
}

// load reads every SLO's state from the store. A value the store found
// corrupt (state.ErrCorrupt: set aside and logged by the store) or that
// cannot be decoded (set aside here; the store logs it) is counted as
// corrupt and the SLO starts empty; any other error of the store is
// returned.
func (e *Evaluator) load(ctx context.Context) error {
	if e.store == nil {
		return nil
	}
	now := e.now()
	var loaded, missing, corrupt int
	for _, t := range e.trackers {
		b, ok, err := e.store.Get(ctx, t.stateKey)
		if errors.Is(err, state.ErrCorrupt) {
			corrupt++
			continue
		}
		if err != nil {
			e.m.loads.WithLabelValues("error").Inc()
			return fmt.Errorf("sla: load state of %s: %w", t.stateKey, err)
		}
		if !ok {
			missing++
			continue
		}
		if err := t.decode(b, now); err != nil {
			// The store logs the one line that says so, with the reason.
			corrupt++
			reason := fmt.Sprintf("SLO %s of product %s cannot be decoded (%v); it starts with an empty budget history", t.key.slo, t.key.product, err)
			if err := e.store.SetAside(ctx, t.stateKey, reason); err != nil {
				e.log.Error("SLO state is corrupt and could not be set aside; it starts with an empty budget history and is overwritten at the next flush",
					"product", t.key.product, "slo", t.key.slo, "key", t.stateKey, "err", err)
			}
			continue
		}
		loaded++
	}
	e.m.loads.WithLabelValues("loaded").Add(float64(loaded))
	e.m.loads.WithLabelValues("missing").Add(float64(missing))
	e.m.loads.WithLabelValues("corrupt").Add(float64(corrupt))
	e.log.Info("SLO state loaded", "loaded", loaded, "missing", missing, "corrupt", corrupt)
	return nil
}

// flush writes the state of every SLO that changed since the last flush.
// SLOs whose write failed stay dirty and are written at the next flush.
func (e *Evaluator) flush(ctx context.Context) error {
	if e.store == nil {
		return nil
	}
	now := e.now()
	entries := make(map[string][]byte)
	var dirty []*tracker
	for _, t := range e.trackers {
		t.mu.Lock()
		d := t.dirty
		t.mu.Unlock()
		if !d {
			continue
		}
		b, err := t.encode(now)
		if err != nil {
			return fmt.Errorf("encode %s: %w", t.stateKey, err)
		}
		entries[t.stateKey] = b
		dirty = append(dirty, t)
	}
	if len(entries) == 0 {
		return nil
	}
	var err error
	if bs, ok := e.store.(batchStore); ok {
		err = bs.PutMany(ctx, entries)
	} else {
		for _, t := range dirty {
			if perr := e.store.Put(ctx, t.stateKey, entries[t.stateKey]); perr != nil {
				err = perr
				break
			}
		}
	}
	if err != nil {
		for _, t := range dirty {
			t.mu.Lock()
			t.dirty = true
			t.mu.Unlock()
		}
		e.m.flushes.WithLabelValues("error").Inc()
		return err
	}
	e.m.flushes.WithLabelValues("ok").Inc()
	e.m.lastFlush.Set(float64(now.UnixNano()) / 1e9)
	return nil
}
