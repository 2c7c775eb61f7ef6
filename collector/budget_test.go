package collector

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// budgetReading is what a product had measured by the time its budget had
// seen the clock up to at (Unix ns), read in one go.
type budgetReading struct {
	at                      int64
	sampled, bytes, skipped int64
}

// readBudget reads what ps measured, and the latest time its records budget
// saw, under ps's lock.
func readBudget(ps *productState) budgetReading {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return budgetReading{at: ps.rec.last, sampled: ps.totalSampled, bytes: ps.totalBytes, skipped: ps.totalSkipped}
}

// budgetExcess returns what was measured between readings a and b, and
// whether it is more than rate·T + burst + slack, T being the time between
// them. slack is nothing for records; for bytes, one record's size less one
// byte (a record larger than the tokens left gets through once).
func budgetExcess(a, b budgetReading, rate float64, slack int64, measured func(budgetReading) int64) (got int64, secs, limit float64, over bool) {
	secs = float64(b.at-a.at) / 1e9
	got = measured(b) - measured(a)
	limit = rate*secs + max(rate*burstSeconds, 1) + float64(slack)
	return got, secs, limit, float64(got) > limit+1e-6
}

// checkBudgetWindows fails the test if, between any two readings, more was
// measured than the budget allows.
func checkBudgetWindows(t *testing.T, what string, rs []budgetReading, rate float64, slack int64, measured func(budgetReading) int64) {
	t.Helper()
	for j := range rs {
		for k := j + 1; k < len(rs); k++ {
			if got, secs, limit, over := budgetExcess(rs[j], rs[k], rate, slack, measured); over {
				t.Errorf("%s: measured %d in %.3fs (readings %d..%d); the budget allows %.1f (%v/s and a burst of %v)",
					what, got, secs, j, k, limit, rate, max(rate*burstSeconds, 1))
				return
			}
		}
	}
}

// TestBudgetWindows drives a product's budget on a fake clock. Fed more than
// it may measure, it measures at most rate·T + burst in any window T — after
// an idle spell too — and, spent at every step, what the clock refilled
// since the last step within one record. A time older than one seen
// already (the poll loop's reading, taken before the resume loop's refill)
// credits nothing.
func TestBudgetWindows(t *testing.T) {
	const start = int64(1_800_000_000) * int64(time.Second)
	type step struct {
		ms   int // how far the clock moves first; negative: the batch is observed at a time this much older than the latest
		recs int // records fetched; 0: none (an idle poll)
	}
	records := func(r budgetReading) int64 { return r.sampled }
	bytes := func(r budgetReading) int64 { return r.bytes }
	tests := []struct {
		name    string
		budget  meshwatch.Budget
		size    int // key+value bytes of each record
		steps   []step
		rate    float64 // what the budget holds to
		slack   int64   // how much a window may exceed rate·T + burst
		measure func(budgetReading) int64
	}{
		{
			name: "records", budget: meshwatch.Budget{MaxRecordsPerSecond: 100}, size: 10,
			steps: []step{{0, 200}, {1, 200}, {7, 200}, {20, 200}, {50, 200}, {113, 200}, {250, 200}, {400, 200}, {499, 200},
				{3, 200}, {3, 200}, {90, 200}, {10_000, 0}, {0, 200}, {180, 200}, {333, 200}, {2000, 0}, {1, 200}, {460, 200}, {77, 200}},
			rate: 100, measure: records,
		},
		{
			name: "bytes", budget: meshwatch.Budget{MaxBytesPerSecond: 1000}, size: 300,
			steps: []step{{0, 50}, {5, 50}, {40, 50}, {200, 50}, {301, 50}, {499, 50}, {17, 50}, {250, 50}, {5000, 0},
				{0, 50}, {250, 50}, {250, 50}, {1, 50}, {430, 50}, {60, 50}},
			rate: 1000, slack: 300 - 1, measure: bytes,
		},
		{
			name: "times seen already", budget: meshwatch.Budget{MaxRecordsPerSecond: 100}, size: 10,
			steps: []step{{0, 200}, {100, 200}, {-60, 200}, {-2000, 200}, {100, 200}, {-99, 200}, {0, 200}, {250, 200},
				{-3000, 200}, {-1, 200}, {300, 200}, {-5, 200}, {20, 200}},
			rate: 100, measure: records,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testProduct(0)
			p.Sampling = tc.budget
			ps := newProductState(p, NewMetrics(prometheus.NewRegistry()))
			now := start // the latest time the budget was shown
			var rs []budgetReading
			for i, s := range tc.steps {
				at := now + int64(s.ms)*int64(time.Millisecond)
				if s.ms >= 0 {
					now = at
				}
				recs := make([]*kgo.Record, s.recs)
				for j := range recs {
					recs[j] = &kgo.Record{Timestamp: time.Unix(0, start), Value: make([]byte, tc.size)}
				}
				if n := ps.observeBatch(recs, at); n > 0 && n == len(recs) {
					t.Fatalf("step %d: a batch of %d was measured whole: the budget let it all through, or the test feeds less than the budget", i, n)
				}
				r := readBudget(ps)
				if tc.budget.MaxRecordsPerSecond > 0 && r.at != now {
					t.Fatalf("step %d: the budget's clock is at %v, want the latest time shown, %v", i, time.Unix(0, r.at), time.Unix(0, now))
				}
				r.at = now // windows are measured on the clock the test moves
				rs = append(rs, r)
			}
			checkBudgetWindows(t, tc.name, rs, tc.rate, tc.slack, tc.measure)
			for k := 1; k < len(rs); k++ {
				secs := float64(rs[k].at-rs[k-1].at) / 1e9
				if tc.steps[k].recs == 0 || tc.steps[k-1].recs == 0 || secs > burstSeconds {
					continue // not spent before and after, or refilled to the cap
				}
				got := float64(tc.measure(rs[k]) - tc.measure(rs[k-1]))
				if want, tol := tc.rate*secs, float64(tc.slack+1); got <= want-tol || got >= want+tol {
					t.Errorf("step %d: measured %.0f in %.3fs; spent before and after, want %.1f ± %v", k, got, secs, want, tol)
				}
			}
		})
	}
}

// TestBudgetBoundsSampling feeds a topic far beyond a product's budget and
// checks the collector against its own clock: between any two moments, it
// measured at most rate·T + burst records, T being the time its budget saw
// pass between them; and it keeps sampling, paused when the budget is spent
// and resumed at the tail when it has refilled. Nothing depends on how fast
// the machine produces or fetches, as long as the feed beats 100 records/s.
func TestBudgetBoundsSampling(t *testing.T) {
	const (
		topic = "payments.transactions.settled"
		rate  = 100 // records/s: any machine feeds far more
	)
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, topic, 4, 1, nil)
	p := product(topic, named(topic)...)
	p.Sampling = meshwatch.Budget{MaxRecordsPerSecond: rate, MaxBytesPerSecond: 10 << 20}
	cfg := testConfig(kc, p)
	cfg.Collector.Tick = meshwatch.Duration(time.Second)
	h := start(t, kc, cfg)
	h.waitSampling(t, p.Name, topic, nil)
	ps := h.c.byName[p.Name]

	// Feed batches of 50 every 10 ms, each acknowledged before the next: up
	// to 5k records/s, and however slow the machine, far more than 100.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Go(func() {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		batch := make([]*kgo.Record, 50)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			for i := range batch {
				batch[i] = &kgo.Record{Topic: topic, Value: []byte(`{"tx":"t-1","amount":12.5}`), Timestamp: time.Now()}
			}
			_ = kc.Produce(ctx, batch...) // an error only thins the feed
		}
	})

	// Read what was measured against the collector's clock until it has
	// paused and resumed a few times over at least two seconds of that clock,
	// and a tick has seen it measure part of what was produced.
	// meshwatch_budget_throttled_total, 0 while it has no series.
	throttled := func() float64 {
		v, _ := seriesValue(t, h.reg, p.Name, "meshwatch_budget_throttled_total")
		return v
	}
	pausedBefore := throttled()
	first := readBudget(ps)
	rs := []budgetReading{first}
	var ratio float64
	sampled := func(r budgetReading) int64 { return r.sampled }
	kafkatest.WaitFor(t, hangGuard, func() bool {
		r := readBudget(ps)
		rs = append(rs, r)
		for _, earlier := range rs {
			if _, _, _, over := budgetExcess(earlier, r, rate, 0, sampled); over {
				return true // reported below
			}
		}
		ratio, _ = seriesValue(t, h.reg, p.Name, "meshwatch_sample_ratio")
		return throttled()-pausedBefore >= 3 && r.at-first.at >= int64(2*time.Second) && ratio > 0 && ratio < 1
	}, "the budget did not pause and resume the product three times over 2s of its clock while records flowed (paused %v times, last sample ratio %v)",
		lazy(func() any { return throttled() - pausedBefore }), lazy(func() any { return ratio }))
	stop()
	wg.Wait()
	rs = append(rs, readBudget(ps))

	last := rs[len(rs)-1]
	secs := float64(last.at-first.at) / 1e9
	t.Logf("measured %d records in %.2fs of the collector's clock (%.0f/s of a %d/s budget), skipped %d, over %d readings",
		last.sampled-first.sampled, secs, float64(last.sampled-first.sampled)/secs, rate, last.skipped-first.skipped, len(rs))
	checkBudgetWindows(t, "records", rs, rate, 0, sampled)
	// Paused three times: resumed twice, each time measuring again.
	if last.sampled-first.sampled <= int64(rate*burstSeconds) {
		t.Errorf("measured %d records while paused and resumed three times, want more than one burst (%v)", last.sampled-first.sampled, rate*burstSeconds)
	}
	if last.skipped == first.skipped {
		t.Error("the budget skipped nothing of a feed far beyond it")
	}
}
