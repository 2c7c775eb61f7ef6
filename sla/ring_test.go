package sla

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestRingAgainstNaive checks the cumulative ring against a map of buckets
// under random adds: in order, late, after gaps longer than the ring.
func TestRingAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
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
			c := Counts{Good: int64(rng.IntN(5)), Valid: 5}
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
					t.Fatalf("round %d: last %d buckets at %d (head %d, n %d): %+v, want %+v", round, k, now, head, n, got[0], want)
				}
			}
		}
	}
}
