package collector

import (
	"math/bits"
	"time"
	"unsafe"

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

// Windows are the rolling windows Collector.Latency answers for, with the
// number of slots each spans. Only MetricWindow is exported as metrics.
var Windows = []struct {
	Name  string
	Slots int
}{{"1m", slotsPer1m}, {"5m", slotsPer5m}}

// MetricWindow is the window of meshwatch_latency_hdr_seconds (its window
// label, kept for compatibility).
const MetricWindow = "5m"

// metricSlots are the slots MetricWindow spans.
const metricSlots = slotsPer5m

// Quantiles are the quantiles of meshwatch_latency_hdr_seconds.
var Quantiles = []float64{0.5, 0.99}

// quantilePercentiles are Quantiles in the percent form hdrhistogram wants.
var quantilePercentiles = func() []float64 {
	p := make([]float64, len(Quantiles))
	for i, q := range Quantiles {
		p[i] = q * 100
	}
	return p
}()

// numBuckets is the number of buckets of the HDR geometry above: values
// below 2^8 ms have their own bucket; above, each power of two is cut into
// 128 buckets (2 significant digits), up to 2^22 ms > 1 h. bucketOf and
// bucketValue are HDR's own index arithmetic for it (hdr.Histogram keeps it
// unexported), so that a window can count by bucket without holding an
// hdr.Histogram and still merge into one exactly; TestBucketsAreHDRs checks
// them against hdrhistogram for every value of the geometry.
const (
	subBucketBits = 7 // log2 of the half sub-bucket count of 2 digits (128)
	numBuckets    = 16 << subBucketBits
)

// bucketOf returns the HDR bucket of v ms, 0 ≤ v ≤ histHighestMs.
func bucketOf(v int64) int {
	b := bits.Len64(uint64(v)|(2<<subBucketBits-1)) - (subBucketBits + 1)
	return b<<subBucketBits + int(v>>b)
}

// bucketValue returns the lowest value of bucket i: recorded into an
// hdr.Histogram of the same geometry it lands in bucket i.
func bucketValue(i int) int64 {
	if i < 2<<subBucketBits {
		return int64(i)
	}
	b := i>>subBucketBits - 1
	return int64(i-b<<subBucketBits) << b
}

// A slot entry is a bucket and its count in one uint32: bucket<<16 | count.
const entryCountMask = 1<<16 - 1

// latencyWindow counts latencies by HDR bucket over the current slot and
// the ringEntries completed slots before it, and merges any number of the
// last slots into an hdr.Histogram: the quantiles are those of one HDR
// histogram of the same records.
//
// Memory follows what was recorded, not the geometry. The current slot
// counts in a dense array of uint16 (numBuckets·2 = 4 KiB), allocated at
// the first record: recording is an index and an increment, allocation-free.
// A bucket that reaches 65535 records within a slot moves that count to
// spill (amortised, reused across slots). A completed slot is the list of
// its populated buckets, 4 bytes each, its storage reused when the ring
// comes round. An idle product holds nothing but the struct.
//
// latencyWindow is not safe for concurrent use; productState guards it.
type latencyWindow struct {
	cur    *[numBuckets]uint16 // nil until the first record
	lo, hi int                 // populated range of cur; lo > hi while empty
	spill  []uint32            // entries of cur's overflowed counts
	ring   [ringEntries][]uint32
	head   int // index of the newest completed slot in ring
}

func newLatencyWindow() *latencyWindow {
	return &latencyWindow{lo: numBuckets, hi: -1}
}

// record adds one latency in milliseconds.
func (w *latencyWindow) record(ms int64) {
	if ms > histHighestMs {
		ms = histHighestMs
	} else if ms < 0 {
		ms = 0
	}
	if w.cur == nil {
		w.cur = new([numBuckets]uint16)
	}
	i := bucketOf(ms)
	if w.cur[i] == entryCountMask {
		w.spill = append(w.spill, uint32(i)<<16|entryCountMask)
		w.cur[i] = 0
	}
	w.cur[i]++
	w.lo, w.hi = min(w.lo, i), max(w.hi, i)
}

// rotate closes the current slot: it becomes the newest completed slot and
// the oldest completed slot is forgotten.
func (w *latencyWindow) rotate() {
	w.head = (w.head + 1) % len(w.ring)
	n := len(w.spill)
	for i := w.lo; i <= w.hi; i++ {
		if w.cur[i] != 0 {
			n++
		}
	}
	slot := w.ring[w.head][:0]
	if c := cap(slot); c < n || (c > 64 && c > 4*n) {
		// Sized to fit: the storage is reused when the ring comes round,
		// and given back if a burst once spread this slot far wider.
		slot = make([]uint32, 0, n)
	}
	for i := w.lo; i <= w.hi; i++ {
		if c := w.cur[i]; c != 0 {
			slot = append(slot, uint32(i)<<16|uint32(c))
			w.cur[i] = 0
		}
	}
	w.ring[w.head] = append(slot, w.spill...)
	w.spill = w.spill[:0]
	w.lo, w.hi = numBuckets, -1
}

// merge adds the last slots slots (the current one included) into dst, a
// histogram of the window's geometry.
func (w *latencyWindow) merge(dst *hdr.Histogram, slots int) {
	for i := w.lo; i <= w.hi; i++ {
		if c := w.cur[i]; c != 0 {
			_ = dst.RecordValues(bucketValue(i), int64(c))
		}
	}
	mergeEntries(dst, w.spill)
	for i := 0; i < slots-1 && i < len(w.ring); i++ {
		mergeEntries(dst, w.ring[(w.head-i+len(w.ring))%len(w.ring)])
	}
}

func mergeEntries(dst *hdr.Histogram, entries []uint32) {
	for _, e := range entries {
		// Within the geometry, RecordValues cannot fail.
		_ = dst.RecordValues(bucketValue(int(e>>16)), int64(e&entryCountMask))
	}
}

// bytes returns the memory the window holds beyond its struct.
func (w *latencyWindow) bytes() int {
	n := 4 * cap(w.spill)
	if w.cur != nil {
		n += int(unsafe.Sizeof(*w.cur))
	}
	for _, s := range w.ring {
		n += 4 * cap(s)
	}
	return n
}
