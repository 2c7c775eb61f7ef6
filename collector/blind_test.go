package collector

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPartitionBlind drives one partition's blind-spot bookkeeping tick by
// tick: what the sampler fetched, re-adds at the tail and fetch errors
// against the end offsets each tick lists.
func TestPartitionBlind(t *testing.T) {
	const tick = int64(time.Second)
	const after = 5 * tick
	type step struct {
		end     int64 // listed at this tick
		fetched int64 // fetchedNext by then (0: unchanged)
		tail    bool  // re-added at the tail during the tick
		errs    int64 // fetch errors during the tick
		want    string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"keeps up", []step{
			{end: 10, fetched: 10}, {end: 20, fetched: 19}, {end: 30, fetched: 30},
			{end: 40, fetched: 40}, {end: 50, fetched: 50}, {end: 60, fetched: 60}, {end: 70, fetched: 70},
		}},
		{"records listed a tick ago unread for 5 s: stalled", []step{
			{end: 10, fetched: 10}, {end: 20}, {end: 30}, {end: 40}, {end: 50}, {end: 60},
			{end: 70, want: BlindStalled}, {end: 80, want: BlindStalled},
			{end: 90, fetched: 90}, // read again
		}},
		{"records skipped by a re-add at the tail are not unread", []step{
			{end: 10, fetched: 10}, {end: 20, tail: true}, {end: 20}, {end: 20}, {end: 20}, {end: 20}, {end: 20}, {end: 20},
		}},
		{"records after a re-add are read", []step{
			{end: 10, fetched: 10}, {end: 20, tail: true}, {end: 30, fetched: 30}, {end: 40, fetched: 40},
			{end: 50, fetched: 50}, {end: 60, fetched: 60}, {end: 70, fetched: 70},
		}},
		{"fetches fail while records arrive: fetch_errors", []step{
			{end: 10, fetched: 10}, {end: 20, errs: 3, tail: true}, {end: 30, tail: true}, {end: 40, errs: 1, tail: true},
			{end: 50, errs: 2, tail: true}, {end: 60, errs: 1, tail: true}, {end: 70, errs: 1, tail: true, want: BlindFetchErrors},
			{end: 80, fetched: 80}, // fetched again
		}},
		{"fetches fail on a quiet partition: nothing is missed", []step{
			{end: 10, fetched: 10}, {end: 10, errs: 3}, {end: 10, errs: 1}, {end: 10, errs: 1},
			{end: 10, errs: 1}, {end: 10, errs: 1}, {end: 10, errs: 1}, {end: 10, errs: 1},
		}},
		{"a leader election: errors, then records again", []step{
			{end: 10, fetched: 10}, {end: 20, errs: 2, tail: true}, {end: 30, fetched: 30}, {end: 40, fetched: 40},
			{end: 50, errs: 1, tail: true}, {end: 60, fetched: 60}, {end: 70, fetched: 70}, {end: 80, fetched: 80},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			part := &partState{end: -1, probe: -1}
			var prevListAt int64
			for i, s := range tc.steps {
				listAt := int64(i+1) * tick
				if s.tail {
					part.tailAt.Store(listAt - tick/2)
				}
				if s.fetched != 0 {
					part.fetchedNext.Store(s.fetched)
				}
				part.errs.Add(s.errs)
				part.checkUnread(s.end, prevListAt, listAt)
				part.end = s.end
				prevListAt = listAt
				if got := part.blind(listAt, after, true); got != s.want {
					t.Fatalf("tick %d (end %d): blind %q, want %q", i, s.end, got, s.want)
				}
			}
		})
	}
}

// TestDropControl: transaction markers are removed in place; a batch
// without them is returned as it is.
func TestDropControl(t *testing.T) {
	data := func(o int64) *kgo.Record { return &kgo.Record{Offset: o} }
	ctl := func(o int64) *kgo.Record {
		return &kgo.Record{Offset: o, Attrs: kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true, Transactional: true})}
	}
	recs := []*kgo.Record{data(1), ctl(2), data(3), ctl(4)}
	got := dropControl(recs)
	if len(got) != 2 || got[0].Offset != 1 || got[1].Offset != 3 {
		t.Errorf("dropControl = %v, want offsets 1 and 3", got)
	}
	plain := []*kgo.Record{data(1), data(2)}
	if got := dropControl(plain); &got[0] != &plain[0] || len(got) != 2 {
		t.Error("a batch without control records was copied or changed")
	}
	if n := testing.AllocsPerRun(100, func() { dropControl(plain) }); n != 0 {
		t.Errorf("dropControl allocates %v times", n)
	}
}

// TestRetriedAgain drives the retryable-error bookkeeping of a product's
// partitions tick by tick: errors count against availability only when one
// partition's persist, not when a leader election's errors on several
// partitions arrive on either side of a tick.
func TestRetriedAgain(t *testing.T) {
	tests := []struct {
		name  string
		ticks [][]int64 // per tick, the retryable errors of each partition
		want  []bool    // per tick, whether the product counts them
	}{
		{"a leader election straddling a tick", [][]int64{{1, 0}, {0, 1}, {0, 0}},
			[]bool{false, false, false}},
		{"one partition failing tick after tick", [][]int64{{1, 0}, {1, 0}, {1, 0}},
			[]bool{false, true, true}},
		{"held back through a tick in between", [][]int64{{0, 1}, {0, 0}, {0, 1}, {0, 0}, {0, 1}},
			[]bool{false, false, true, false, true}},
		{"two elections far apart", [][]int64{{1, 1}, {0, 0}, {0, 0}, {0, 0}, {2, 1}},
			[]bool{false, false, false, false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parts := []*partState{{}, {}}
			for i, errs := range tc.ticks {
				got := false
				for p, n := range errs {
					parts[p].retryErrs.Add(n)
					if parts[p].retriedAgain() {
						got = true
					}
				}
				if got != tc.want[i] {
					t.Errorf("tick %d (errors %v): persisting = %v, want %v", i, errs, got, tc.want[i])
				}
			}
		})
	}
}
