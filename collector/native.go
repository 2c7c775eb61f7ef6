package collector

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch/internal/expo"
)

// The native buckets of meshwatch_latency_seconds, as the client_golang
// histogram it replaces had them: NativeHistogramBucketFactor 1.1 (schema
// 3), the default zero threshold, at most 160 buckets, no reset
// (NativeHistogramMinResetDuration 0) and no widening of the zero bucket
// (NativeHistogramMaxZeroThreshold 0).
const (
	nativeSchema     = 3
	nativeMinSchema  = -4 // the lowest resolution client_golang goes down to
	nativeMaxBuckets = 160
	nativeZero       = prometheus.DefNativeHistogramZeroThreshold
	// nativeSlack is how many buckets beyond the one that needs them a
	// histogram's bucket window grows by (one power of two at schema 3),
	// so that a product whose latencies wander a little reaches a steady
	// window, and measuring a record then allocates nothing.
	nativeSlack = 8
)

// nativeBounds3 are the upper bounds, as fractions of a power of two, of
// the 8 buckets per power of two of schema 3: client_golang's
// nativeHistogramBounds[3], literally, so that a value on a boundary lands
// in the bucket client_golang puts it in. The bounds of schemas 2 and 1 are
// every second and fourth of them in client_golang too.
var nativeBounds3 = [8]float64{
	0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
	0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711,
}

// nativeKey3 is the schema-3 bucket of v > 0 as client_golang computes it:
// with frac, exp = math.Frexp(v), the first bound ≥ frac plus 8 buckets per
// power of two. Bucket k holds (2^((k-1)/8), 2^(k/8)].
func nativeKey3(v float64) int32 {
	frac, exp := math.Frexp(v)
	// sort.SearchFloat64s(nativeBounds3[:], frac), unrolled.
	i := int32(0)
	if frac > nativeBounds3[3] {
		i = 4
	}
	if frac > nativeBounds3[i+1] {
		i += 2
	}
	if frac > nativeBounds3[i] {
		i++
		if frac > nativeBounds3[i] {
			i++
		}
	}
	return i + int32(exp-1)*8
}

// nativeKey is the bucket of v > 0 at schema ≤ 3. A bucket of schema s-1
// is buckets 2k-1 and 2k of schema s together, so the key is the schema-3
// key divided by 2^(3-s), rounded up: what client_golang computes for
// every schema (the first bound ≥ frac for schemas 1 and 2, whose bounds
// are among those of schema 3; exp, less one for a frac of 0.5, for schema
// 0, divided by 2^-s rounded up below it).
func nativeKey(v float64, schema int32) int32 {
	k := nativeKey3(v)
	if shift := nativeSchema - schema; shift > 0 {
		k = (k + 1<<shift - 1) >> shift // rounded up: >> floors
	}
	return k
}

// nativeHist is a product's meshwatch_latency_seconds: a Prometheus native
// histogram of positive values (latencies are ≥ 0), with the classic
// buckets of MetricsOptions.LatencyBuckets beside it. The product's lock
// guards it: values are counted in plain fields.
//
// It keeps exactly what the client_golang histogram it replaces exposed.
// The native buckets are a window of counts, consecutive from the bucket
// offset, grown to take in each new bucket (latencies from a millisecond
// to hours are about 176 buckets at most): a few hundred bytes where
// client_golang held two sync.Maps of pointers. When more than 160 buckets
// hold values, the resolution halves (schema 3 to 2, ...), the buckets
// merging in pairs, as client_golang does with the options it had; it
// never goes back up. The sum is the running sum in the order the values
// came, as client_golang's is unless values race its scrape (it then adds
// the values of the scrape's moment before the others, which may differ in
// the last bits).
type nativeHist struct {
	count, zero uint64 // all values; values ≤ the zero threshold
	sum         float64
	schema      int32
	offset      int32    // the bucket of buckets[0]
	buckets     []uint64 // nil before the first value above the zero threshold
	populated   int      // buckets with a value: client_golang's bucket number
	// classic counts the values of each classic bucket alone (not
	// cumulative); the +Inf bucket is count.
	classic []uint64
}

func newNativeHist(bounds []float64) nativeHist {
	h := nativeHist{schema: nativeSchema}
	if len(bounds) > 0 {
		h.classic = make([]uint64, len(bounds))
	}
	return h
}

// observe counts v ≥ 0 (seconds) as Histogram.Observe did; bounds are the
// classic upper bounds.
func (h *nativeHist) observe(v float64, bounds []float64) {
	h.count++
	h.sum += v
	for i, b := range bounds { // client_golang's linear search for fewer than 35
		if v <= b {
			h.classic[i]++
			break
		}
	}
	if v <= nativeZero {
		h.zero++
	} else {
		h.add(nativeKey(v, h.schema))
	}
	// client_golang checks its limit after each value, and halves the
	// resolution once per value while over it.
	if h.populated > nativeMaxBuckets && h.schema > nativeMinSchema {
		h.halve()
	}
}

// add counts one value in bucket k.
func (h *nativeHist) add(k int32) {
	i := int(k) - int(h.offset)
	if i < 0 || i >= len(h.buckets) {
		h.grow(k)
		i = int(k) - int(h.offset)
	}
	if h.buckets[i] == 0 {
		h.populated++
	}
	h.buckets[i]++
}

// grow widens the bucket window to take in bucket k, and nativeSlack
// buckets beyond it.
func (h *nativeHist) grow(k int32) {
	lo, hi := h.offset, h.offset+int32(len(h.buckets)) // [lo, hi)
	switch {
	case len(h.buckets) == 0:
		lo, hi = k-nativeSlack/2, k+nativeSlack/2+1
	case k < lo:
		lo = k - nativeSlack
	default:
		hi = k + nativeSlack + 1
	}
	b := make([]uint64, hi-lo)
	if len(h.buckets) > 0 {
		copy(b[h.offset-lo:], h.buckets)
	}
	h.offset, h.buckets = lo, b
}

// halve lowers the schema by one: bucket k becomes bucket ⌈k/2⌉, as
// client_golang's doubleBucketWidth merges them. The window shrinks in
// place.
func (h *nativeHist) halve() {
	h.schema--
	if len(h.buckets) == 0 {
		return
	}
	half := func(k int32) int32 { return (k + 1) >> 1 }
	lo := half(h.offset)
	n := int(half(h.offset+int32(len(h.buckets))-1)-lo) + 1
	// Bucket i moves to j ≤ i: every j < i has given its count already.
	for i, c := range h.buckets {
		h.buckets[i] = 0
		h.buckets[half(h.offset+int32(i))-lo] += c
	}
	h.offset, h.buckets = lo, h.buckets[:n]
	h.populated = 0
	for _, c := range h.buckets {
		if c != 0 {
			h.populated++
		}
	}
}

// snapshotInto copies the histogram into v, reusing v's slices: the native
// buckets from the first to the last that holds a value, and the classic
// buckets made cumulative. bounds are the classic upper bounds; v keeps
// them.
func (h *nativeHist) snapshotInto(v *expo.HistogramValue, bounds []float64) {
	lo, hi := 0, len(h.buckets)
	for lo < hi && h.buckets[lo] == 0 {
		lo++
	}
	for hi > lo && h.buckets[hi-1] == 0 {
		hi--
	}
	cum := v.Cumulative[:0]
	var n uint64
	for _, c := range h.classic {
		n += c
		cum = append(cum, n)
	}
	*v = expo.HistogramValue{
		Count: h.count, Sum: h.sum,
		Bounds: bounds, Cumulative: cum,
		Native: true, Schema: h.schema, ZeroThreshold: nativeZero, ZeroCount: h.zero,
		Offset:  h.offset + int32(lo),
		Buckets: append(v.Buckets[:0], h.buckets[lo:hi]...),
	}
}
