package sla

import (
	"context"
	"encoding/json"
	"fmt"
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
	// The 30d latency SLO sums its window from 6-hour blocks, restored
	// from the hourly buckets of the fixture; the month one from hours.
	for _, tr := range loaded.e.trackers {
		if blocks := tr.win.blockN > 0; blocks != (tr.key.slo == testSLO) || blocks != tr.block.used {
			t.Errorf("%s: window of blocks %v, blocks restored %v", tr.key.slo, blocks, tr.block.used)
		}
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
			randomEvent(rng, tr, now, 7*time.Hour, also...)
		}
	}
	return now
}

// mustTracker returns a new tracker of s at start, in UTC.
func mustTracker(t *testing.T, p *meshwatch.Product, s *meshwatch.SLO, start time.Time) *tracker {
	t.Helper()
	tr, err := newTracker(p, s, time.UTC, start)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// randomEvent observes one event of random counts on tr at now, or, one
// time in five, late by up to late; the event also goes to each of also.
func randomEvent(rng *rand.Rand, tr *tracker, now time.Time, late time.Duration, also ...*ring) {
	at := now
	if rng.IntN(5) == 0 {
		at = now.Add(-time.Duration(rng.Int64N(int64(late))))
	}
	c := Counts{Valid: 1 + rng.Int64N(100)}
	c.Good = rng.Int64N(c.Valid + 1)
	tr.observe(at, c)
	for _, r := range also {
		r.add(r.index(at), c)
	}
}

// TestStateRoundTrip checks that a tracker restored from what another
// wrote sums every window alike, then and later on.
func TestStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cfg := testConfig(latencySLO(0.999, "28d"))
	p, s := &cfg.Products[0], &cfg.Products[0].SLOs[0]
	for round := range 20 {
		start := t0.Add(time.Duration(rng.Int64N(int64(day))))
		a := mustTracker(t, p, s, start)
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
		tr := mustTracker(t, p, s, start)
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

// prevCoarse returns the coarse ring of the previous layout of a rolling
// window of days (hourly buckets for the whole window), and how many of
// its buckets the window sums.
func prevCoarse(days int) (ring, int64) {
	return newRing(time.Hour, days*24+2, 0), int64(days * 24)
}

// longTraffic observes events on tr for 10 days from start, one every 5 to
// 25 minutes, a fifth of them late by up to span (older than the hourly
// buckets, the window, or neither), and returns the last time. Each event
// also goes to each of also.
func longTraffic(rng *rand.Rand, tr *tracker, start time.Time, span time.Duration, also ...*ring) time.Time {
	now := start
	for range 10 * 24 * 4 {
		now = now.Add(time.Duration(5+rng.IntN(21)) * time.Minute)
		randomEvent(rng, tr, now, span, also...)
	}
	return now
}

// TestStateV1LoadsBlocks checks that the coarse state the previous layout
// wrote (hourly buckets for the whole window) loads into the hourly ring
// and the 6-hour blocks of a 28d window: the 1d and 3d windows exactly,
// and the window as the previous layout summed it, short by at most the
// events of the block that straddles its start.
func TestStateV1LoadsBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cfg := testConfig(latencySLO(0.999, "28d"))
	p, s := &cfg.Products[0], &cfg.Products[0].SLOs[0]
	for round := range 10 {
		start := t0.Add(time.Duration(rng.Int64N(int64(day))))
		a := mustTracker(t, p, s, start)
		prev, windowK := prevCoarse(28)
		now := longTraffic(rng, a, start, 30*day, &prev)
		sv := saved{Version: stateVersion, Product: p.Name, SLO: s.Name, SLI: s.SLI, Window: s.Window, SavedAt: now,
			Fine: saveFine(&a.fine, &a.mid), Coarse: saveRing(&prev)}
		b, err := json.Marshal(sv)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := newTracker(p, s, time.UTC, now)
		if err := r.decode(b, now); err != nil {
			t.Fatal(err)
		}
		for _, later := range []time.Duration{0, time.Hour, 5 * time.Hour, 2 * day} {
			at := now.Add(later)
			got, want := r.read(at).in, a.read(at).in
			if got.Burn != want.Burn {
				t.Fatalf("round %d, %v after the save: burn windows %+v, want %+v", round, later, got.Burn, want.Burn)
			}
			ci := prev.index(at)
			old := prev.sum(ci-windowK+1, ci)
			edge := blockEdge(&prev, r.block.index(at), windowK)
			if short := old.Valid - got.Total.Valid; short < 0 || short > edge.Valid || old.Good-got.Total.Good > edge.Good {
				t.Fatalf("round %d, %v after the save: window %+v, want the previous layout's %+v less at most %+v", round, later, got.Total, old, edge)
			}
		}
	}
}

// blockEdge returns the counts, in hourly ring hr, of the 6-hour block
// before the window of blocks that ends with block bi: the block holding
// the start of a window of windowK hours.
func blockEdge(hr *ring, bi, windowK int64) Counts {
	from := (bi - windowK/6) * 6
	return hr.sum(from, from+5)
}

// TestStateBlocksRoundTrip checks that a 28d tracker restored from what
// another wrote sums every window alike, 1d, 3d and the window of blocks
// included, then and later on, with events of 30 days.
func TestStateBlocksRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	cfg := testConfig(latencySLO(0.999, "28d"))
	p, s := &cfg.Products[0], &cfg.Products[0].SLOs[0]
	for round := range 10 {
		start := t0.Add(time.Duration(rng.Int64N(int64(day))))
		a := mustTracker(t, p, s, start)
		now := longTraffic(rng, a, start, 30*day)
		b, err := a.encode(now)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := newTracker(p, s, time.UTC, now)
		if err := r.decode(b, now); err != nil {
			t.Fatal(err)
		}
		for _, later := range []time.Duration{0, 17 * time.Minute, 5*time.Hour + 31*time.Minute, 7 * time.Hour, day, 3 * day} {
			if got, want := r.read(now.Add(later)), a.read(now.Add(later)); got.in != want.in || !got.windowStart.Equal(want.windowStart) {
				t.Fatalf("round %d, %v after the save:\n got  %+v\n want %+v", round, later, got.in, want.in)
			}
		}
	}
}

// TestStateBlocksReadAsPreviousLayout checks that an agent of the previous
// layout (hourly buckets for the whole window), run again after a
// downgrade, reads the coarse state this one writes: the last 73 hours
// exactly, every span of whole 6-hour blocks exactly, and any other span
// short by at most the events of its oldest block.
func TestStateBlocksReadAsPreviousLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, win := range []int{28, 30} {
		cfg := testConfig(latencySLO(0.999, fmt.Sprintf("%dd", win)))
		p, s := &cfg.Products[0], &cfg.Products[0].SLOs[0]
		for round := range 10 {
			start := t0.Add(time.Duration(rng.Int64N(int64(day))))
			tr := mustTracker(t, p, s, start)
			ref, windowK := prevCoarse(win) // the previous layout, fed alike
			now := longTraffic(rng, tr, start, time.Duration(win+2)*day, &ref)
			b, err := tr.encode(now)
			if err != nil {
				t.Fatal(err)
			}
			var sv saved
			if err := json.Unmarshal(b, &sv); err != nil {
				t.Fatal(err)
			}
			if sv.Coarse.Resolution != 3600 {
				t.Fatalf("coarse state in buckets of %d seconds, want 3600", sv.Coarse.Resolution)
			}
			old, _ := prevCoarse(win)
			restore(&old, sv.Coarse, now)
			head := ref.head
			for k := int64(1); k <= windowK; k++ {
				got, want := old.sum(head-k+1, head), ref.sum(head-k+1, head)
				o := head - k + 1 // the oldest hour
				if k <= 73 || mod(o, 6) == 0 {
					if got != want {
						t.Fatalf("%dd round %d: the last %d hours read %+v, want %+v", win, round, k, got, want)
					}
					continue
				}
				edge := ref.sum(o, o-mod(o, 6)+5)
				if short := want.Valid - got.Valid; short < 0 || short > edge.Valid || want.Good-got.Good > edge.Good {
					t.Fatalf("%dd round %d: the last %d hours read %+v, want %+v less at most the %+v of the oldest block", win, round, k, got, want, edge)
				}
			}
		}
	}
}

// TestWindowOfBlocks checks the budget over a 28d window of 6-hour blocks
// against the previous layout's hourly one: equal while every event is
// younger than the hourly buckets when observed, until the oldest is
// 27d18h old (window − 6h, the shortest the window spans), and otherwise
// short by at most the events of the block that straddles the start of the
// previous layout's window.
func TestWindowOfBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	cfg := testConfig(latencySLO(0.999, "28d"))
	p, s := &cfg.Products[0], &cfg.Products[0].SLOs[0]
	for round := range 20 {
		start := t0.Add(time.Duration(rng.Int64N(int64(day))))
		tr := mustTracker(t, p, s, start)
		prev, windowK := prevCoarse(28)
		recent := round%2 == 0
		now, oldest := start, start.Add(day)
		for range 3 * 24 * 4 { // 3 days
			now = now.Add(time.Duration(5+rng.IntN(21)) * time.Minute)
			at := now
			if !recent && rng.IntN(3) == 0 {
				at = now.Add(-time.Duration(rng.Int64N(int64(29 * day))))
			}
			c := Counts{Valid: 1 + rng.Int64N(100)}
			c.Good = rng.Int64N(c.Valid + 1)
			tr.observe(at, c)
			prev.add(prev.index(at), c)
			oldest = minTime(oldest, at)
		}
		for later := time.Duration(0); later < 29*day; later += time.Duration(1+rng.IntN(300)) * time.Minute {
			at := now.Add(later)
			ev := tr.read(at)
			ci := prev.index(at)
			want := prev.sum(ci-windowK+1, ci)
			if start := prev.start(ci - windowK + 1); ev.windowStart.Before(start) || ev.windowStart.After(start.Add(5*time.Hour)) {
				t.Fatalf("round %d at %v: window start %v, want within 5h after %v", round, at, ev.windowStart, start)
			}
			if recent && !oldest.Before(at.Add(-27*day-18*time.Hour)) {
				if ev.in.Total != want {
					t.Fatalf("round %d at %v: window %+v, want %+v", round, at, ev.in.Total, want)
				}
				continue
			}
			edge := blockEdge(&prev, tr.block.index(at), windowK)
			if short := want.Valid - ev.in.Total.Valid; short < 0 || short > edge.Valid || want.Good-ev.in.Total.Good > edge.Good {
				t.Fatalf("round %d at %v: window %+v, want %+v less at most the %+v of the edge block", round, at, ev.in.Total, want, edge)
			}
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
