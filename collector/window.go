package collector

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Geometry of the latency histograms: milliseconds from 1 ms to 1 h with two
// significant digits (a value is reported within 1 % of what was recorded).
// Longer latencies are recorded as 1 h; the native histogram keeps their
// true value.
const (
	histLowestMs  = 1
	histHighestMs = int64(time.Hour / time.Millisecond)
	histDigits    = 2
)

// Rolling windows of the HDR quantiles. Time is cut into slots of
// SlotLength; a window is the current, partial slot plus the completed slots
// before it, so the 1m window covers the last 45–60 s and the 5m window the
// last 4m45s–5m (the age-bucket semantics of a Prometheus summary).
const (
	SlotLength  = 15 * time.Second
	slotsPer1m  = int(time.Minute / SlotLength)
	slotsPer5m  = int(5 * time.Minute / SlotLength)
	ringEntries = slotsPer5m - 1 // completed slots kept
)

// Windows are the rolling windows the HDR quantiles are exported for, with
// the number of slots each spans.
var Windows = []struct {
	Name  string
	Slots int
}{{"1m", slotsPer1m}, {"5m", slotsPer5m}}

// Quantiles are the quantiles exported from the HDR windows.
var Quantiles = []float64{0.5, 0.9, 0.99, 0.999}

// quantilePercentiles are Quantiles in the percent form hdrhistogram wants.
var quantilePercentiles = func() []float64 {
	p := make([]float64, len(Quantiles))
	for i, q := range Quantiles {
		p[i] = q * 100
	}
	return p
}()

// latencyWindow records latencies into a dense histogram for the current
// slot (fast, allocation-free recording) and keeps the completed slots as
// sparse packed histograms, which hold only populated buckets. Memory is
// bounded: one dense histogram (~16 KiB) and at most ringEntries packed ones,
// each no larger than its populated buckets.
//
// latencyWindow is not safe for concurrent use; productState guards it.
type latencyWindow struct {
	cur  *hdr.Histogram
	ring [ringEntries]*hdr.PackedHistogram
	head int // index of the newest completed slot in ring
}

func newLatencyWindow() *latencyWindow {
	w := &latencyWindow{cur: hdr.New(histLowestMs, histHighestMs, histDigits)}
	for i := range w.ring {
		w.ring[i] = hdr.NewPacked(histLowestMs, histHighestMs, histDigits)
	}
	return w
}

// record adds one latency in milliseconds.
func (w *latencyWindow) record(ms int64) {
	if ms > histHighestMs {
		ms = histHighestMs
	} else if ms < 0 {
		ms = 0
	}
	// The value is within the histogram's range, so RecordValue cannot fail.
	_ = w.cur.RecordValue(ms)
}

// rotate closes the current slot: it becomes the newest completed slot and
// the oldest completed slot is forgotten.
func (w *latencyWindow) rotate() {
	w.head = (w.head + 1) % len(w.ring)
	slot := w.ring[w.head]
	slot.Reset()
	slot.MergeFrom(w.cur)
	w.cur.Reset()
}

// merge adds the last slots slots (the current one included) into dst.
func (w *latencyWindow) merge(dst *hdr.Histogram, slots int) {
	dst.Merge(w.cur)
	for i := 0; i < slots-1 && i < len(w.ring); i++ {
		w.ring[(w.head-i+len(w.ring))%len(w.ring)].MergeInto(dst)
	}
}
