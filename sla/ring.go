package sla

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bucket layout. The burn windows 5m, 30m and 1h are summed from minute
// buckets, 2h and 6h from 5-minute buckets (so they span the last 115 to
// 120 minutes and 5h55m to 6h), 1d and 3d from coarse buckets of an hour
// (or more for windows over 32 days, so that a window has at most
// maxCoarseSlots of them). The SLO window is summed from the coarse buckets
// too, except for a rolling window longer than 3 days of hourly coarse
// buckets (4d to 32d): the coarse ring then holds only the 3 days the burn
// windows need, and the window is summed from a second ring of 6-hour
// "block" buckets aligned like the hourly ones (at 00, 06, 12 and 18 UTC),
// so that it spans window − 6h to window, its start moving in 6-hour steps.
// A month window keeps hourly coarse buckets for all of it: a month must
// start on a bucket boundary, which 6-hour buckets cannot guarantee across
// zones and DST.
//
// Memory per SLO is fixed by its window: 61 + 73 + 74 + window/6h + 2
// buckets for a rolling window of 4 to 32 days (322, about 2.5 KiB, for
// 28d; 330 for 30d), 61 + 73 + window hours + 2 otherwise (880, about
// 7 KiB, for a month), and never more than fineSlots + midSlots +
// maxCoarseSlots + 2. A bucket is 8 bytes, 16 in a ring whose span holds
// 2^32 events or more (see ring).
//
// The stored state keeps the first layout's form (minute buckets for 6
// hours, see saveFine; hourly coarse buckets for the window, see
// saveLayered), so that either layout reads what the other wrote.
const (
	fineResolution  = time.Minute
	fineSlots       = 61 // 1h, the longest window of minute buckets, and the base of its sum
	midResolution   = 5 * time.Minute
	midSlots        = 73  // 6h, the longest short window, and the base of its sum
	maxCoarseSlots  = 768 // coarse buckets per window before they widen past an hour
	blockResolution = 6 * time.Hour
	burnCoarseHours = 72 // 3d, the longest burn window of coarse buckets
	monthDays       = 31
	windowMonth     = "month"
)

// ring holds Counts in time buckets of res seconds, the newest at head. A
// bucket's index is floor((unix + origin) / res); origin aligns buckets to a
// zone's sub-hour offset so that a month starts on a bucket boundary.
//
// Each slot holds the cumulative counts of every bucket up to and including
// its own since the ring began, so that the sum over any span of the last
// len(slots)−1 buckets is one subtraction: an evaluation pass costs the same
// for a 5m window as for a 28d one. Adding to the head bucket — the usual
// case — touches one slot. Not safe for concurrent use.
//
// A slot is 8 bytes: good and valid modulo 2^32 (narrow), with the head's
// counts exact in top. As counts are never negative, the slots the ring
// holds never decrease from the oldest to the head, so a slot's exact
// counts are top less the difference of the head's slot and its own,
// modulo 2^32, as long as the oldest differs from the head by less than
// 2^32: 4 billion events in the ring's span (an hour of minute buckets,
// 28 days of blocks). Before an add would break that, the ring widens to
// exact 16-byte slots (wide) until it is rebuilt (addMany, as a load
// does). Sums are the same either way.
type ring struct {
	res    int64 // seconds per bucket
	origin int64 // seconds added before dividing
	head   int64 // index of the newest bucket, valid once used
	first  int64 // index of the oldest bucket ever added; cumulative counts before it are 0
	used   bool
	top    Counts     // cumulative counts of bucket head, valid once used
	narrow []counts32 // cumulative counts modulo 2^32, while the ring is narrow
	wide   []Counts   // cumulative counts, once the ring is wide; nil while narrow
}

// counts32 is a narrow slot: cumulative counts modulo 2^32.
type counts32 struct{ good, valid uint32 }

// The memory of a narrow and of a wide slot.
const (
	narrowBucketBytes = 8
	wideBucketBytes   = 16
)

func newRing(res time.Duration, n int, origin int64) ring {
	return ring{res: int64(res / time.Second), origin: origin, narrow: make([]counts32, n)}
}

func (r *ring) index(t time.Time) int64 { return floorDiv(t.Unix()+r.origin, r.res) }

func (r *ring) start(idx int64) time.Time { return time.Unix(idx*r.res-r.origin, 0).UTC() }

// size returns how many buckets the ring holds.
func (r *ring) size() int64 { return int64(len(r.narrow) + len(r.wide)) }

// bytes returns the memory of the ring's slots.
func (r *ring) bytes() int64 {
	return int64(len(r.narrow))*narrowBucketBytes + int64(len(r.wide))*wideBucketBytes
}

// oldest returns the index of the oldest bucket whose cumulative counts the
// ring still holds.
func (r *ring) oldest() int64 { return r.head - r.size() + 1 }

// slot returns the cumulative counts of bucket j, which the ring holds
// (max(first, oldest) ≤ j ≤ head).
func (r *ring) slot(j int64) Counts {
	n := r.size()
	if r.wide != nil {
		return r.wide[mod(j, n)]
	}
	h, s := r.narrow[mod(r.head, n)], r.narrow[mod(j, n)]
	return Counts{Good: r.top.Good - int64(h.good-s.good), Valid: r.top.Valid - int64(h.valid-s.valid)}
}

// fits reports whether the ring can stay narrow through add(idx, c): after
// it, the head's counts would differ from the oldest held bucket's by less
// than 2^32 (see ring). c must not be negative; a negative c does not fit.
func (r *ring) fits(idx int64, c Counts) bool {
	if c.Good < 0 || c.Valid < 0 {
		return false
	}
	top, head, first := c, idx, idx
	if r.used {
		top, head, first = r.top.add(c), max(r.head, idx), min(r.first, idx)
	}
	low := max(first, head-r.size()+1) // the oldest bucket held after the add
	lo := r.at(low)                    // its counts before the add: 0 before first, the carry after head
	if low >= idx {
		lo = lo.add(c)
	}
	return top.Good-lo.Good <= math.MaxUint32 && top.Valid-lo.Valid <= math.MaxUint32
}

// widen turns the ring's slots into exact ones.
func (r *ring) widen() {
	n := r.size()
	w := make([]Counts, n)
	if r.used {
		for j := max(r.first, r.oldest()); j <= r.head; j++ {
			w[mod(j, n)] = r.slot(j)
		}
	}
	r.wide, r.narrow = w, nil
}

// zero sets the slots of buckets from to to (inclusive) to no counts.
func (r *ring) zero(from, to int64) {
	n := r.size()
	for j := from; j <= to; j++ {
		if r.wide != nil {
			r.wide[mod(j, n)] = Counts{}
		} else {
			r.narrow[mod(j, n)] = counts32{}
		}
	}
}

// carry sets the slots of buckets from to to (inclusive) to the head's.
func (r *ring) carry(from, to int64) {
	n := r.size()
	if r.wide != nil {
		c := r.wide[mod(r.head, n)]
		for j := from; j <= to; j++ {
			r.wide[mod(j, n)] = c
		}
		return
	}
	c := r.narrow[mod(r.head, n)]
	for j := from; j <= to; j++ {
		r.narrow[mod(j, n)] = c
	}
}

// addTo adds c to the slots of buckets from to to (inclusive); a narrow
// slot modulo 2^32.
func (r *ring) addTo(from, to int64, c Counts) {
	n := r.size()
	if r.wide != nil {
		for j := from; j <= to; j++ {
			s := &r.wide[mod(j, n)]
			s.Good += c.Good
			s.Valid += c.Valid
		}
		return
	}
	g, v := uint32(c.Good), uint32(c.Valid) // modulo 2^32
	for j := from; j <= to; j++ {
		s := &r.narrow[mod(j, n)]
		s.good += g
		s.valid += v
	}
}

// add adds c to bucket idx. Buckets older than the ring holds are dropped
// and reported false.
func (r *ring) add(idx int64, c Counts) bool {
	n := r.size()
	if r.used && idx <= r.head && idx < r.oldest()+1 {
		// The oldest slot is only the base of sums; a bucket there
		// could not be told from the one before it.
		return false
	}
	if r.wide == nil && !r.fits(idx, c) {
		r.widen()
	}
	switch {
	case !r.used:
		r.used, r.head, r.first, r.top = true, idx, idx, Counts{}
		r.zero(idx, idx)
	case idx > r.head:
		r.carry(max(r.head+1, idx-n+1), idx)
		r.head = idx
	case idx < r.first:
		r.zero(idx, r.first-1)
		r.first = idx
	}
	r.addTo(idx, r.head, c)
	r.top = r.top.add(c)
	return true
}

// at returns the cumulative counts up to and including bucket j. A bucket
// older than the ring holds reads as the oldest it holds.
func (r *ring) at(j int64) Counts {
	switch {
	case !r.used || j < r.first:
		return Counts{}
	case j >= r.head:
		return r.top
	}
	return r.slot(max(j, r.oldest()))
}

// sum returns the counts of the buckets with index in [from, to].
func (r *ring) sum(from, to int64) Counts {
	if from > to {
		return Counts{}
	}
	a, b := r.at(from-1), r.at(to)
	return Counts{Good: b.Good - a.Good, Valid: b.Valid - a.Valid}
}

// sumsLast sets out[i] to the counts of the last ks[i] buckets up to and
// including bucket now.
func (r *ring) sumsLast(now int64, ks []int64, out []Counts) {
	for i, k := range ks {
		out[i] = r.sum(now-k+1, now)
	}
}

// bucket is one bucket's counts, for saving and restoring a ring.
type bucket struct {
	idx int64
	c   Counts
}

// buckets returns every non-empty bucket the ring can tell apart, oldest
// first.
func (r *ring) buckets() []bucket {
	if !r.used {
		return nil
	}
	var bs []bucket
	prev := r.at(max(r.first, r.oldest()+1) - 1)
	for j := max(r.first, r.oldest()+1); j <= r.head; j++ {
		cur := r.at(j)
		if c := (Counts{Good: cur.Good - prev.Good, Valid: cur.Valid - prev.Valid}); c != (Counts{}) {
			bs = append(bs, bucket{j, c})
		}
		prev = cur
	}
	return bs
}

// addMany adds buckets in any order, rebuilding the ring once (narrow,
// unless its counts need it wide); it returns how many were too old to
// keep.
func (r *ring) addMany(add []bucket) (dropped int) {
	all := append(r.buckets(), add...)
	slices.SortStableFunc(all, func(a, b bucket) int { return cmp.Compare(a.idx, b.idx) })
	r.used = false
	if r.wide != nil { // rebuilt narrow, widened again only if it must
		r.narrow, r.wide = make([]counts32, len(r.wide)), nil
	}
	for _, b := range all {
		if !r.add(b.idx, b.c) {
			dropped++
		}
	}
	return dropped
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// window is an SLO's window: rolling whole days, or the calendar month in a
// time zone.
type window struct {
	name      string // as configured: "28d" or "month"
	days      int    // 0 for month
	loc       *time.Location
	coarseRes time.Duration
	coarseN   int      // buckets in the coarse ring
	windowK   int64    // coarse buckets of a rolling window, or blocks when blockN > 0
	burnK     [2]int64 // coarse buckets of 1d and 3d
	blockN    int      // buckets in the ring of 6-hour blocks; 0 if the window is summed from coarse
}

// parseWindow reads "Nd" or "month"; loc is the zone of month windows.
func parseWindow(s string, loc *time.Location) (window, error) {
	w := window{name: s, loc: loc}
	hours := monthDays * 24
	if s != windowMonth {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || !strings.HasSuffix(s, "d") || n < 1 {
			return window{}, fmt.Errorf("window must be Nd (e.g. 28d) or month, got %q", s)
		}
		w.days, hours = n, n*24
	}
	resH := max(1, (hours+maxCoarseSlots-1)/maxCoarseSlots)
	w.coarseRes = time.Duration(resH) * time.Hour
	w.windowK = int64((hours + resH - 1) / resH)
	w.burnK = [2]int64{int64((24 + resH - 1) / resH), int64((burnCoarseHours + resH - 1) / resH)}
	if w.days != 0 && resH == 1 && hours > burnCoarseHours {
		// A rolling window longer than the hourly buckets the burn
		// windows need is summed from 6-hour blocks (Nd is a whole
		// number of them), with one more as the base of its sum and
		// one as in the coarse ring.
		blockH := int(blockResolution / time.Hour)
		w.windowK = int64(hours / blockH)
		w.blockN = int(w.windowK) + 2
		w.coarseN = int(w.burnK[1]) + 2
		return w, nil
	}
	// One more than the longest sum, as its base; a month needs one for
	// the bucket that may straddle the 1st.
	w.coarseN = int(max(w.windowK, w.burnK[1])) + 2
	return w, nil
}

// length is the window's nominal length: N days, or MonthWindow.
func (w window) length() time.Duration {
	if w.days == 0 {
		return MonthWindow
	}
	return time.Duration(w.days) * 24 * time.Hour
}

// monthBounds returns the first instant of now's month in the window's zone
// and of the next month.
func (w window) monthBounds(now time.Time) (start, end time.Time) {
	t := now.In(w.loc)
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, w.loc)
	return start, start.AddDate(0, 1, 0)
}

// origin returns the ring origin that puts month starts on bucket
// boundaries: the zone's offset modulo the coarse resolution.
func (w window) origin(now time.Time) int64 {
	if w.days != 0 {
		return 0
	}
	start, _ := w.monthBounds(now)
	_, off := start.Zone()
	return mod(int64(off), int64(w.coarseRes/time.Second))
}
