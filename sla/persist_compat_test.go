package sla

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
)

// memStore is a Store in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	return b, ok, nil
}

func (s *memStore) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = value
	return nil
}

func (s *memStore) SetAside(_ context.Context, key, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// v1Start is when the traffic of the state-v1 fixtures begins.
var v1Start = time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)

// v1Feed is the traffic of the state-v1 fixtures (restartConfig): 4 days of
// hourly ticks, 0.01 % errors for latency and 5 % for freshness, then 2
// hours of minute ticks, 1 % errors for latency and none for freshness.
func v1Feed(h *harness) {
	tick := func(d time.Duration, latGood, latValid, freshGood, freshValid int64) {
		from := h.clk.Now()
		to := h.clk.Advance(d)
		h.e.ObserveSLI([]meshwatch.SLIEvents{
			{Product: testProduct, SLO: testSLO, Good: latGood, Valid: latValid, From: from, To: to},
			{Product: testProduct, SLO: "freshness", Good: freshGood, Valid: freshValid, From: from, To: to},
		})
	}
	for range 4 * 24 {
		tick(time.Hour, 99_990, 100_000, 95, 100)
	}
	for range 2 * 60 {
		tick(time.Minute, 990, 1000, 1, 1)
	}
}

// TestStateV1Loads loads state as the first bucket layout (minute buckets
// for 6 hours, hourly ones for the window; state version 1) wrote it, in
// testdata/state-v1, and checks that every budget and window continues
// where it was: an agent upgraded over its old state must not lose its
// budget. The fixtures were written once and must never be regenerated;
// a new layout has to read them.
func TestStateV1Loads(t *testing.T) {
	store := &memStore{}
	for _, slo := range []string{testSLO, "freshness"} {
		b, err := os.ReadFile(filepath.Join("testdata", "state-v1", slo+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(t.Context(), StateKey(testProduct, slo), b); err != nil {
			t.Fatal(err)
		}
	}
	end := v1Start.Add(4*day + 2*time.Hour)
	loaded := newHarness(t, restartConfig(), end, Options{Store: store})
	if err := loaded.e.load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, loaded.reg, "meshwatch_slo_state_loads_total", map[string]string{"result": "loaded"}); got != 2 {
		t.Fatalf("%v SLOs loaded, want 2", got)
	}
	live := newHarness(t, restartConfig(), v1Start, Options{})
	v1Feed(live)
	if !live.clk.Now().Equal(end) {
		t.Fatalf("the feed ends at %v, want %v", live.clk.Now(), end)
	}
	loaded.e.Evaluate()
	live.e.Evaluate()
	got, want := loaded.e.Statuses(), live.e.Statuses()
	for i := range want {
		g, w := got[i], want[i]
		if g.Good != w.Good || g.Valid != w.Valid || g.Remaining != w.Remaining || g.Windows != w.Windows ||
			g.Decision != w.Decision || !g.WindowStart.Equal(w.WindowStart) {
			t.Errorf("%s loaded from v1 state:\n got  %+v\n want %+v", w.SLO, g, w)
		}
	}
	// The numbers themselves, lest both sides change alike.
	lat := got[0]
	if lat.Valid != 9_720_000 || lat.Good != 9_717_840 || lat.Windows[Burn1h].BurnRate != 10 || lat.Windows[Burn6h].Valid != 4*100_000+120*1000 {
		t.Errorf("latency loaded from v1 state: %+v", lat)
	}
	if fresh := got[1]; fresh.Valid != 9720 || fresh.Good != 9240 {
		t.Errorf("freshness loaded from v1 state: %+v", fresh)
	}
}

// randomTraffic observes events on tr for 8 hours from start, a few a
// minute, some of them late by up to 7 hours (older than the minute
// buckets, the 5-minute ones, or neither), and returns the last time. Each
// event also goes to each of also, as the ring of another layout would
// get it.
func randomTraffic(rng *rand.Rand, tr *tracker, start time.Time, also ...*ring) time.Time {
	now := start
	for range 8 * 60 {
		now = now.Add(time.Duration(30+rng.IntN(61)) * time.Second)
		for range rng.IntN(4) {
			at := now
			if rng.IntN(5) == 0 {
				at = now.Add(-time.Duration(rng.Int64N(int64(7 * time.Hour))))
			}
			c := Counts{Valid: 1 + rng.Int64N(100)}
			c.Good = rng.Int64N(c.Valid + 1)
			tr.observe(at, c)
			for _, r := range also {
				r.add(r.index(at), c)
			}
		}
	}
	return now
}

// TestStateRoundTrip checks that a tracker restored from what another
// wrote sums every window alike, then and later on.
func TestStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cfg := testConfig(latencySLO(0.999, "28d"))
	p, s := &cfg.Products[0], &cfg.Products[0].SLOs[0]
	for round := range 20 {
		start := t0.Add(time.Duration(rng.Int64N(int64(day))))
		a, err := newTracker(p, s, time.UTC, start)
		if err != nil {
			t.Fatal(err)
		}
		now := randomTraffic(rng, a, start)
		b, err := a.encode(now)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := newTracker(p, s, time.UTC, now)
		if err := r.decode(b, now); err != nil {
			t.Fatal(err)
		}
		for _, later := range []time.Duration{0, 3 * time.Minute, 17 * time.Minute, 59 * time.Minute, 2 * time.Hour, 5*time.Hour + 31*time.Minute} {
			if got, want := r.read(now.Add(later)).in, a.read(now.Add(later)).in; got != want {
				t.Fatalf("round %d, %v after the save:\n got  %+v\n want %+v", round, later, got, want)
			}
		}
	}
}

// TestStateReadsAsFirstLayout checks that an agent of the first layout
// (one ring of 361 minute buckets), run again after a downgrade, reads the
// short windows from the state this one writes: the last hour exactly,
// every span of whole 5 minutes up to 6h exactly, and any other span short
// by at most the events of its oldest 5 minutes.
func TestStateReadsAsFirstLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := testConfig(latencySLO(0.999, "30d"))
	p, s := &cfg.Products[0], &cfg.Products[0].SLOs[0]
	for round := range 20 {
		start := t0.Add(time.Duration(rng.Int64N(int64(day))))
		tr, err := newTracker(p, s, time.UTC, start)
		if err != nil {
			t.Fatal(err)
		}
		ref := newRing(time.Minute, 361, 0) // the first layout, fed alike
		randomTraffic(rng, tr, start, &ref)
		head := ref.head
		b, err := tr.encode(ref.start(head))
		if err != nil {
			t.Fatal(err)
		}
		var sv saved
		if err := json.Unmarshal(b, &sv); err != nil {
			t.Fatal(err)
		}
		old := newRing(time.Minute, 361, 0)
		restore(&old, sv.Fine, ref.start(head))
		sum := func(r *ring, now, k int64) Counts {
			var out [1]Counts
			r.sumsLast(now, []int64{k}, out[:])
			return out[0]
		}
		for k := int64(1); k <= 360; k++ {
			got, want := sum(&old, head, k), sum(&ref, head, k)
			if k <= 60 {
				if got != want {
					t.Fatalf("round %d: the last %d minutes read %+v, want %+v", round, k, got, want)
				}
				continue
			}
			edge := ref.sum(head-k+1, head-k+5)
			if short := want.Valid - got.Valid; short < 0 || short > edge.Valid {
				t.Fatalf("round %d: the last %d minutes read %+v, want %+v less at most the %+v of the oldest 5", round, k, got, want, edge)
			}
		}
		// Spans of whole 5-minute buckets end on the last minute of one.
		end := head + 4 - mod(head, 5)
		for k := int64(5); k <= 360; k += 5 {
			if got, want := sum(&old, end, k), sum(&ref, end, k); got != want {
				t.Fatalf("round %d: the last %d minutes to a 5-minute boundary read %+v, want %+v", round, k, got, want)
			}
		}
	}
}
