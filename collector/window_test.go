package collector

import (
	"math/rand/v2"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// TestBucketsAreHDRs: bucketOf and bucketValue are the bucket arithmetic
// of an hdr.Histogram of the window's geometry, for every value it holds:
// a value and its bucket's value are equivalent, the bucket's value is its
// lowest, and buckets are in value order.
func TestBucketsAreHDRs(t *testing.T) {
	h := hdr.New(histLowestMs, histHighestMs, histDigits)
	prev := -1
	for v := int64(0); v <= histHighestMs; v++ {
		i := bucketOf(v)
		if i < prev || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d buckets)", v, i, prev, numBuckets)
		}
		if i != prev {
			// The first value of a new bucket is its value.
			if got := bucketValue(i); got != v {
				t.Fatalf("bucketValue(%d) = %d, want %d, the first value of the bucket", i, got, v)
			}
			if v > 0 && h.ValuesAreEquivalent(v-1, v) {
				t.Fatalf("%d and %d are one HDR bucket, but buckets %d and %d here", v-1, v, prev, i)
			}
			prev = i
		} else if !h.ValuesAreEquivalent(v, bucketValue(i)) {
			t.Fatalf("%d is in bucket %d of value %d, which HDR does not hold equivalent", v, i, bucketValue(i))
		}
	}
}

// TestLatencyWindowMatchesHDR records random latencies slot by slot and
// checks that merging the last slots gives the very histogram of recording
// the same values into an hdr.Histogram: same counts, same quantiles.
func TestLatencyWindowMatchesHDR(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := newLatencyWindow()
	var slots [][]int64 // values per slot, the current one last
	for round := range 3 * slotsPer5m {
		var vals []int64
		n := rng.IntN(300)
		if round%7 == 3 {
			n = 0 // an empty slot
		}
		for range n {
			// Log-uniform from sub-ms to beyond the top, and a few out of range.
			v := int64(rng.ExpFloat64() * float64(int64(1)<<rng.IntN(23)))
			if rng.IntN(50) == 0 {
				v = -v - 1
			}
			vals = append(vals, v)
			w.record(v)
		}
		slots = append(slots, vals)
		for _, win := range Windows {
			got := hdr.New(histLowestMs, histHighestMs, histDigits)
			w.merge(got, win.Slots)
			want := hdr.New(histLowestMs, histHighestMs, histDigits)
			for _, vals := range slots[max(len(slots)-win.Slots, 0):] {
				for _, v := range vals {
					_ = want.RecordValue(min(max(v, 0), histHighestMs))
				}
			}
			if !got.Equals(want) {
				t.Fatalf("round %d, window %s: %d records, p50 %d, p99 %d, max %d; HDR: %d, %d, %d, %d", round, win.Name,
					got.TotalCount(), got.ValueAtQuantile(50), got.ValueAtQuantile(99), got.Max(),
					want.TotalCount(), want.ValueAtQuantile(50), want.ValueAtQuantile(99), want.Max())
			}
		}
		w.rotate()
	}
}

// TestLatencyWindowOverflow: a bucket that takes more records within one
// slot than its uint16 counter holds loses none.
func TestLatencyWindowOverflow(t *testing.T) {
	w := newLatencyWindow()
	const n = 3*(1<<16) + 17
	for range n {
		w.record(250)
	}
	w.record(1000)
	count := func() int64 {
		h := hdr.New(histLowestMs, histHighestMs, histDigits)
		w.merge(h, slotsPer5m)
		if h.ValueAtQuantile(50) != 250 {
			t.Errorf("p50 %d, want 250", h.ValueAtQuantile(50))
		}
		return h.TotalCount()
	}
	if got := count(); got != n+1 {
		t.Fatalf("current slot holds %d, want %d", got, n+1)
	}
	w.rotate()
	if got := count(); got != n+1 {
		t.Fatalf("completed slot holds %d, want %d", got, n+1)
	}
	if len(w.spill) != 0 {
		t.Errorf("spill not emptied by the rotation: %d entries", len(w.spill))
	}
}

// TestLatencyWindowMemory: an idle window holds nothing; a busy one holds
// the current slot's counters and 4 bytes per populated bucket of each
// completed slot, and gives back what a burst spread once.
func TestLatencyWindowMemory(t *testing.T) {
	w := newLatencyWindow()
	for range slotsPer5m {
		w.rotate()
	}
	h := hdr.New(histLowestMs, histHighestMs, histDigits)
	w.merge(h, slotsPer5m)
	if b := w.bytes(); b != 0 || w.cur != nil || h.TotalCount() != 0 {
		t.Fatalf("idle window holds %d bytes (current slot allocated: %v, %d records)", b, w.cur != nil, h.TotalCount())
	}

	// The spread of the memory benchmark: 5 ms to 2.5 s, ~60 buckets.
	typical := func() {
		for i := range 64 {
			w.record(int64(5 + i*i*i/100))
		}
	}
	for range slotsPer5m {
		typical()
		w.rotate()
	}
	typical()
	const curBytes = numBuckets * 2
	if b := w.bytes(); b > curBytes+ringEntries*64*4 {
		t.Errorf("a busy window holds %d bytes, want at most %d", b, curBytes+ringEntries*64*4)
	}
	t.Logf("busy window: %d bytes (a dense hdr.Histogram alone: %d)", w.bytes(), hdr.New(histLowestMs, histHighestMs, histDigits).ByteSize())

	// A burst over 1,000 buckets, then the typical spread again.
	for v := range int64(1000) {
		w.record(v * 3)
	}
	w.rotate()
	burst := w.bytes()
	for range slotsPer5m {
		typical()
		w.rotate()
	}
	if b := w.bytes(); b > curBytes+ringEntries*64*4 || b >= burst {
		t.Errorf("after a burst (%d bytes) and %d typical slots the window holds %d bytes", burst, slotsPer5m, b)
	}
}

// TestRecordDoesNotAllocate: once the current slot exists, recording is
// allocation-free.
func TestRecordDoesNotAllocate(t *testing.T) {
	w := newLatencyWindow()
	w.record(1)
	v := int64(0)
	if a := testing.AllocsPerRun(10000, func() { v = (v*7 + 13) % (2 * histHighestMs); w.record(v) }); a != 0 {
		t.Errorf("record allocates %v times", a)
	}
}
