package sla

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRingAgainstNaive checks the cumulative ring against a map of buckets
// under random adds: in order, late, after gaps longer than the ring; with
// small counts (the ring stays narrow), counts whose sums pass 2^32 (narrow
// slots wrap, and some rings widen) and counts of 2^32 or more (rings
// widen), and saves and restores between them.
func TestRingAgainstNaive(t *testing.T) {
	for _, tc := range []struct {
		name               string
		valid              func(*rand.Rand) int64
		wantWide, wantWrap bool // whether some add leaves the ring wide, and some narrow with counts past 2^32
	}{
		{"small", func(*rand.Rand) int64 { return 5 }, false, false},
		{"wrapping", func(rng *rand.Rand) int64 { return 1 + rng.Int64N(1<<28) }, true, true},
		{"huge", func(rng *rand.Rand) int64 { return 1 + rng.Int64N(1<<34) }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var wide, wrapped int
			for round := range 100 {
				n := 2 + rng.IntN(20)
				r := newRing(time.Minute, n, 0)
				naive := map[int64]Counts{}
				head := int64(rng.IntN(1000)) - 500
				first := true
				for range 300 {
					var idx int64
					switch x := rng.IntN(10); {
					case x < 6:
						idx = head
					case x < 8:
						idx = head + int64(rng.IntN(3))
					case x < 9:
						idx = head - int64(rng.IntN(n+2))
					default:
						idx = head + int64(rng.IntN(3*n))
					}
					v := tc.valid(rng)
					c := Counts{Good: rng.Int64N(v + 1), Valid: v}
					ok := r.add(idx, c)
					if first || idx > head {
						head, first = idx, false
					}
					if want := idx > head-int64(n)+1; ok != want {
						t.Fatalf("round %d: add(%d) with head %d, n %d: %v, want %v", round, idx, head, n, ok, want)
					}
					if ok {
						naive[idx] = naive[idx].add(c)
					}
					switch {
					case r.wide != nil:
						wide++
					case r.top.Valid > math.MaxUint32:
						wrapped++
					}
					if rng.IntN(20) == 0 { // a save and a restore change nothing
						restored := newRing(time.Minute, n, 0)
						restored.addMany(r.buckets())
						r = restored
					}
					now := head + int64(rng.IntN(3))
					for k := int64(1); k < int64(n); k++ {
						var want Counts
						for j := now - k + 1; j <= now; j++ {
							want = want.add(naive[j])
						}
						var got [1]Counts
						r.sumsLast(now, []int64{k}, got[:])
						if got[0] != want {
							t.Fatalf("round %d: last %d buckets at %d (head %d, n %d, wide %v): %+v, want %+v",
								round, k, now, head, n, r.wide != nil, got[0], want)
						}
					}
					if r.size() != int64(n) || r.bytes() != int64(n)*map[bool]int64{false: narrowBucketBytes, true: wideBucketBytes}[r.wide != nil] {
						t.Fatalf("round %d: %d buckets of %d bytes, want %d", round, r.size(), r.bytes(), n)
					}
				}
			}
			if (wide > 0) != tc.wantWide || (wrapped > 0) != tc.wantWrap {
				t.Errorf("%d adds left the ring wide, %d narrow past 2^32; want some wide %v, some wrapped %v", wide, wrapped, tc.wantWide, tc.wantWrap)
			}
		})
	}
}

// TestRingWidens checks the narrow ring's bound exactly: the head's
// cumulative counts may exceed the oldest held bucket's by 2^32 − 1 and
// the ring stays narrow; one more widens it; a restore of a ring whose
// span no longer holds that many is narrow again.
func TestRingWidens(t *testing.T) {
	const n = 5
	r := newRing(time.Minute, n, 0)
	r.add(10, Counts{Good: 1, Valid: 1})
	r.add(11, Counts{Good: math.MaxUint32, Valid: math.MaxUint32})
	if r.wide != nil {
		t.Fatal("a difference of 2^32 − 1 widened the ring")
	}
	if got := r.sum(10, 11); got != (Counts{Good: 1 << 32, Valid: 1 << 32}) {
		t.Fatalf("sum of 10 and 11: %+v", got)
	}
	r.add(11, Counts{Valid: 1})
	if r.wide == nil {
		t.Fatal("a difference of 2^32 left the ring narrow")
	}
	if got := r.sum(10, 11); got != (Counts{Good: 1 << 32, Valid: 1<<32 + 1}) {
		t.Fatalf("sum of 10 and 11 once wide: %+v", got)
	}
	if got := r.sum(11, 11); got != (Counts{Good: math.MaxUint32, Valid: 1 << 32}) {
		t.Fatalf("sum of 11 once wide: %+v", got)
	}
	// Moving on until 11 is the oldest slot, the base of sums, the span
	// holds one event: a restore rebuilds the ring narrow.
	r.add(11+n-1, Counts{Good: 1, Valid: 1})
	r.addMany(nil)
	if r.wide != nil {
		t.Fatal("a restore of a span of one event left the ring wide")
	}
	if got := r.sum(12, 11+n-1); got != (Counts{Good: 1, Valid: 1}) {
		t.Fatalf("sum after the restore: %+v", got)
	}
}

// TestRingNarrowHoldsAMonthOfBlocks checks what the narrow slots are for:
// the counts of a busy SLO (1,000 valid events a second) summed over its
// 28d window of blocks, which pass 2^32 within two months, stay exact and
// narrow.
func TestRingNarrowHoldsAMonthOfBlocks(t *testing.T) {
	w, err := parseWindow("28d", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	r := newRing(blockResolution, w.blockN, 0)
	per := Counts{Good: 999 * 6 * 3600, Valid: 1000 * 6 * 3600}
	for i := range int64(4 * 60) { // 60 days of blocks
		r.add(i, per)
	}
	if r.wide != nil {
		t.Fatal("widened")
	}
	if r.top.Valid <= math.MaxUint32 {
		t.Fatalf("%d events in all: the test does not pass 2^32", r.top.Valid)
	}
	k := w.windowK
	if got, want := r.sum(4*60-k, 4*60-1), (Counts{Good: per.Good * k, Valid: per.Valid * k}); got != want {
		t.Errorf("window sum %+v, want %+v", got, want)
	}
}

// TestNarrowEvaluatesAsWide checks that narrow slots change nothing a
// tracker evaluates or saves: a tracker whose rings are wide from the
// start (exact int64 slots, as every ring had before narrow ones) and one
// of narrow rings get the same traffic — small counts, late and too-late
// events, and now and then a burst of billions that widens some rings —
// and read and encode alike at every step; what the narrow one saves
// restores to the same sums.
func TestNarrowEvaluatesAsWide(t *testing.T) {
	for _, window := range []string{"28d", "30d", "2d", "month", "400d"} {
		t.Run(window, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(window))))
			cfg := testConfig(latencySLO(0.999, window))
			p, s := &cfg.Products[0], &cfg.Products[0].SLOs[0]
			start := t0.Add(-time.Duration(rng.Int64N(int64(40 * day))))
			narrow, wide := mustTracker(t, p, s, start), mustTracker(t, p, s, start)
			for _, r := range []*ring{&wide.fine, &wide.mid, &wide.coarse, &wide.block} {
				r.widen()
			}
			now := start
			widened := false
			for step := range 600 {
				if rng.IntN(3) == 0 {
					now = now.Add(time.Duration(1+rng.IntN(4*60)) * time.Minute)
				} else {
					now = now.Add(time.Duration(10+rng.IntN(120)) * time.Second)
				}
				for range rng.IntN(4) {
					at := now
					if rng.IntN(5) == 0 {
						at = now.Add(-time.Duration(rng.Int64N(int64(35 * day))))
					}
					c := Counts{Valid: 1 + rng.Int64N(1000)}
					if rng.IntN(15) == 0 {
						c.Valid = 1 + rng.Int64N(1<<33)
					}
					c.Good = c.Valid - rng.Int64N(c.Valid/100+2)
					c.Good = max(c.Good, 0)
					narrow.observe(at, c)
					wide.observe(at, c)
				}
				for _, r := range []*ring{&narrow.fine, &narrow.mid, &narrow.coarse, &narrow.block} {
					widened = widened || r.wide != nil
				}
				got, want := narrow.read(now), wide.read(now)
				got.bucketBytes, want.bucketBytes = 0, 0
				if got != want {
					t.Fatalf("step %d at %v: narrow read\n%+v\nwide read\n%+v", step, now, got, want)
				}
				if step%50 != 49 {
					continue
				}
				gb, err := narrow.encode(now)
				if err != nil {
					t.Fatal(err)
				}
				wb, _ := wide.encode(now)
				if string(gb) != string(wb) {
					t.Fatalf("step %d: narrow saves\n%s\nwide saves\n%s", step, gb, wb)
				}
				restored := mustTracker(t, p, s, now)
				if err := restored.decode(gb, now); err != nil {
					t.Fatal(err)
				}
				if got, want := restored.read(now).in, wide.read(now).in; got != want {
					t.Fatalf("step %d: restored reads\n%+v\nwant\n%+v", step, got, want)
				}
			}
			if !widened {
				t.Error("no ring widened: the bursts are too small to test it")
			}
		})
	}
}
