package sla

import (
	"sync"
	"time"

	"github.com/meshwatch/meshwatch"
)

// fineKs are the minute buckets of the burn windows 5m, 30m and 1h; midKs
// the 5-minute buckets of 2h and 6h.
var (
	fineKs = [...]int64{5, 30, 60}
	midKs  = [...]int64{24, 72}
)

// sloKey identifies an SLO in SLIEvents.
type sloKey struct{ product, slo string }

// tracker accounts one SLO: its buckets and what it needs to evaluate them.
type tracker struct {
	// Immutable after newTracker.
	key       sloKey
	domain    string
	owner     string
	sli       string
	objective float64
	threshold time.Duration // 0 for an indicator without one
	promise   string
	minEvents int64
	noDataFor time.Duration // how long no_data must last before SLONoData fires
	win       window
	labels    []string // product, domain, owner, slo, sli
	stateKey  string

	mu      sync.Mutex
	fine    ring   // minutes, for 5m … 1h
	mid     ring   // 5 minutes, for 2h and 6h
	coarse  ring   // the coarse resolution (an hour up to 32 days), for 1d, 3d and a window not summed from blocks
	block   ring   // 6 hours, for a rolling window of 4 to 32 days; empty (no buckets) otherwise
	total   Counts // since the agent started, for the _total counters
	dirty   bool   // changed since the last flush
	dropped int64  // events older than the buckets hold
}

func newTracker(p *meshwatch.Product, s *meshwatch.SLO, loc *time.Location, now time.Time) (*tracker, error) {
	w, err := parseWindow(s.Window, loc)
	if err != nil {
		return nil, err
	}
	th, _ := Threshold(s)
	return &tracker{
		key:       sloKey{p.Name, s.Name},
		domain:    p.Domain,
		owner:     p.Owner,
		sli:       s.SLI,
		objective: float64(s.Objective),
		threshold: th,
		promise:   Promise(p, s),
		minEvents: int64(s.MinEvents),
		noDataFor: noDataFor(s),
		win:       w,
		labels:    []string{p.Name, p.Domain, p.Owner, s.Name, s.SLI},
		stateKey:  StateKey(p.Name, s.Name),
		fine:      newRing(fineResolution, fineSlots, 0),
		mid:       newRing(midResolution, midSlots, 0),
		coarse:    newRing(w.coarseRes, w.coarseN, w.origin(now)),
		block:     newRing(blockResolution, w.blockN, 0),
	}, nil
}

// StateKey is the key under which the state of one SLO is stored.
func StateKey(product, slo string) string { return "sla/" + product + "/" + slo }

// buckets returns how many buckets the tracker holds.
func (t *tracker) buckets() int {
	return int(t.fine.size() + t.mid.size() + t.coarse.size() + t.block.size())
}

// bucketBytes returns the memory of the tracker's buckets. The caller holds
// t.mu.
func (t *tracker) bucketBytes() int64 {
	return t.fine.bytes() + t.mid.bytes() + t.coarse.bytes() + t.block.bytes()
}

// observe adds c at time at. The caller holds t.mu.
func (t *tracker) observe(at time.Time, c Counts) {
	okFine := t.fine.add(t.fine.index(at), c)
	okMid := t.mid.add(t.mid.index(at), c)
	okCoarse := t.coarse.add(t.coarse.index(at), c)
	okBlock := t.win.blockN > 0 && t.block.add(t.block.index(at), c)
	if !okFine && !okMid && !okCoarse && !okBlock {
		t.dropped++
		return
	}
	t.total = t.total.add(c)
	t.dirty = true
}

// evaluation is what one pass reads of a tracker.
type evaluation struct {
	in          Input
	windowStart time.Time
	windowEnd   time.Time
	total       Counts
	dropped     int64
	bucketBytes int64 // the memory of the tracker's buckets
}

// read sums the tracker's buckets into the burn windows and the SLO window
// as of now. A rolling window is the current coarse bucket and the ones
// before it, or with blocks the current 6-hour block and the windowK − 1
// before it: it starts on a block boundary, between window − 6h and window
// before now, and leaves out the rest of the block that straddles
// now − window. Safe for concurrent use.
func (t *tracker) read(now time.Time) evaluation {
	ev := evaluation{in: Input{Objective: t.objective, Window: t.win.length(), MinEvents: t.minEvents}}
	var fine [len(fineKs)]Counts
	var mid [len(midKs)]Counts
	var coarse [2]Counts
	fi, mi, ci, bi := t.fine.index(now), t.mid.index(now), t.coarse.index(now), t.block.index(now)
	var monthFrom int64
	if t.win.days == 0 {
		var start time.Time
		start, ev.windowEnd = t.win.monthBounds(now)
		ev.windowStart = start.UTC()
		monthFrom = t.coarse.index(start)
		if t.coarse.start(monthFrom).Before(start) {
			monthFrom++ // a bucket straddling the 1st belongs to the month before
		}
	} else if t.win.blockN > 0 {
		ev.windowStart, ev.windowEnd = t.block.start(bi-t.win.windowK+1), now
	} else {
		ev.windowStart, ev.windowEnd = t.coarse.start(ci-t.win.windowK+1), now
	}

	t.mu.Lock()
	t.fine.sumsLast(fi, fineKs[:], fine[:])
	t.mid.sumsLast(mi, midKs[:], mid[:])
	t.coarse.sumsLast(ci, t.win.burnK[:], coarse[:])
	switch {
	case t.win.days == 0:
		ev.in.Total = t.coarse.sum(monthFrom, ci)
	case t.win.blockN > 0:
		ev.in.Total = t.block.sum(bi-t.win.windowK+1, bi)
	default:
		ev.in.Total = t.coarse.sum(ci-t.win.windowK+1, ci)
	}
	ev.total, ev.dropped, ev.bucketBytes = t.total, t.dropped, t.bucketBytes()
	t.mu.Unlock()

	copy(ev.in.Burn[:Burn2h], fine[:])
	ev.in.Burn[Burn2h], ev.in.Burn[Burn6h] = mid[0], mid[1]
	ev.in.Burn[Burn1d], ev.in.Burn[Burn3d] = coarse[0], coarse[1]
	return ev
}
