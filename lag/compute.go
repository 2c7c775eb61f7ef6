package lag

import (
	"sort"
	"time"
)

// NoOffset is the committed offset of a partition the group never committed.
const NoOffset int64 = -1

// Methods of a time lag.
const (
	// MethodExact is now minus the timestamp of the record at the committed
	// offset, read from the partition (or 0 for a caught-up partition).
	MethodExact = "exact"
	// MethodInterpolated is estimated from sampled (end offset, time) points.
	MethodInterpolated = "interpolated"
)

// Offsets are what one pass knows of one partition for one group.
type Offsets struct {
	// Committed is the group's committed offset, the next record it will
	// read; NoOffset when it never committed the partition.
	Committed int64
	// End is the log end offset (high watermark): one past the last record.
	End int64
	// LogStart is the first offset still in the log.
	LogStart int64
}

// Point is an end offset sampled at a time: the records below Offset had
// been appended by Time.
type Point struct {
	Offset int64
	Time   time.Time
}

// Lag is the lag of one group on one partition.
type Lag struct {
	// Committed is false when the group never committed the partition; the
	// other fields are then zero: such a partition has no lag, not a lag of
	// 0 or -1.
	Committed bool
	// Records is End - Committed, never negative.
	Records int64
	// Time is how long the record at the committed offset has been waiting:
	// never negative, 0 for a caught-up partition.
	Time time.Duration
	// Method is MethodExact or MethodInterpolated.
	Method string
	// LowerBound says the committed offset predates the sampled history, so
	// Time is the least lag consistent with it (the age of the oldest point).
	LowerBound bool
	// Lost is LogStart - Committed when positive: records that expired (or
	// were deleted) before the group read them.
	Lost int64
}

// Compute returns the lag of a group on a partition at now. history holds
// the partition's sampled end offsets, oldest first, ending with the sample
// of the same pass as o; record is the timestamp of the record at the
// committed offset when it was read, the zero time when not. Compute is
// pure and never returns a negative or undefined value.
func Compute(o Offsets, history []Point, record, now time.Time) Lag {
	if o.Committed < 0 {
		return Lag{}
	}
	l := Lag{Committed: true, Method: MethodExact}
	// End offsets and committed offsets come from two requests to two
	// brokers (the partition leader and the group coordinator) at two
	// moments: a consumer that commits between them can be ahead of the end
	// we listed. That is no lag, not negative lag.
	l.Records = max(o.End-o.Committed, 0)
	if o.Committed < o.LogStart {
		l.Lost = o.LogStart - o.Committed
	}
	switch {
	case l.Records == 0:
		// Caught up: nothing is waiting, whatever the age of the last
		// record. An idle topic does not make a caught-up group late.
	case !record.IsZero():
		// A producer clock running ahead gives a record from the future:
		// it has waited 0, not a negative time.
		l.Time = max(now.Sub(record), 0)
	default:
		l.Method = MethodInterpolated
		l.Time, l.LowerBound = interpolate(history, o.Committed, now)
	}
	return l
}

// interpolate estimates when the record at offset c was appended from the
// sampled end offsets, and returns now minus that time. Between two samples
// (e0, t0) and (e1, t1) with e0 <= c < e1, record c was appended when the
// end offset passed c+1, somewhere in (t0, t1]; assuming the e1-e0 records
// arrived evenly, that is t0 + (c+1-e0)/(e1-e0) of the way. The estimate is
// never later than the latest possible time, so it never overstates the lag
// by more than the interval between the samples, and a burst between two
// samples cannot make it spike: the error is bounded by one interval
// whatever the rate. A committed offset below the oldest sample gives the
// age of that sample, a lower bound.
func interpolate(history []Point, c int64, now time.Time) (time.Duration, bool) {
	if len(history) == 0 {
		return 0, true
	}
	i := sort.Search(len(history), func(i int) bool { return history[i].Offset > c })
	if i == len(history) {
		return 0, false // the history says caught up
	}
	if i == 0 {
		return max(now.Sub(history[0].Time), 0), true
	}
	p, q := history[i-1], history[i]
	frac := float64(c+1-p.Offset) / float64(q.Offset-p.Offset)
	at := p.Time.Add(time.Duration(frac * float64(q.Time.Sub(p.Time))))
	return max(now.Sub(at), 0), false
}

// maxPoints bounds the sampled end offsets kept per partition.
const maxPoints = 64

// history is the sampled end offsets of one partition, oldest first, with
// bounded memory: a run of samples with the same end offset (an idle
// partition) is kept as its first and last sample only, and when the
// history is full every other point of its older half is dropped, so recent
// samples stay dense and older ones get coarser instead of being forgotten.
type history struct {
	points []Point
	seen   uint64 // the last pass that sampled it
}

// add appends the end offset sampled at t.
func (h *history) add(end int64, t time.Time) {
	n := len(h.points)
	switch {
	case n > 0 && (end < h.points[n-1].Offset || !t.After(h.points[n-1].Time)):
		if end >= h.points[n-1].Offset && !t.After(h.points[n-1].Time) {
			return // a sample from the past (a clock step back): ignore it
		}
		// The end went backwards: the topic was deleted and created again.
		h.points = append(h.points[:0], Point{end, t})
		return
	case n >= 2 && h.points[n-1].Offset == end && h.points[n-2].Offset == end:
		h.points[n-1].Time = t // extend the plateau
		return
	}
	if n == maxPoints {
		h.thin()
	}
	h.points = append(h.points, Point{end, t})
}

// thin drops every other point of the older half, keeping the oldest.
func (h *history) thin() {
	half := len(h.points) / 2
	out := h.points[:1]
	for i := 1; i < len(h.points); i++ {
		if i < half && i%2 == 1 {
			continue
		}
		out = append(out, h.points[i])
	}
	h.points = out
}
