//go:build !race

package collector

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// TestBudgetBoundsSampling feeds a topic at up to 20k rec/s and checks that a
// 1k rec/s budget holds. It is a load test: the race detector slows the
// in-process broker about tenfold, so it runs without it (make test runs it
// in a separate pass); the budget's logic is race-tested by the unit tests.
func TestBudgetBoundsSampling(t *testing.T) {
	if testing.Short() {
		t.Skip("produces ~100k records")
	}
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "payments.transactions.settled", 4, 1, nil)
	p := product("payments.transactions.settled", named("payments.transactions.settled")...)
	p.Sampling = meshwatch.Budget{MaxRecordsPerSecond: 1000, MaxBytesPerSecond: 10 << 20}
	cfg := testConfig(kc, p)
	cfg.Collector.Tick = meshwatch.Duration(time.Second)
	h := start(t, kc, cfg)
	h.waitSampling(t, p.Name, "payments.transactions.settled", nil)

	// Feed the topic as fast as this machine allows up to 20k rec/s, async.
	prod := kc.Client(t, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(50000))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		val := []byte(`{"tx":"t-1","amount":12.5}`)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				for range 200 { // 200 per 10ms = 20k/s
					prod.Produce(ctx, &kgo.Record{Topic: "payments.transactions.settled", Value: val, Timestamp: time.Now()}, nil)
				}
			}
		}
	})
	ps := h.c.byName[p.Name]
	sampled := func() float64 { return float64(ps.sampledTotal()) }
	produced := func() float64 { return testutil.ToFloat64(ps.m.produced) }
	// Warm up past the first burst and the first ticks.
	warm := time.Now()
	kafkatest.WaitFor(t, 10*time.Second, func() bool { return produced() > 0 && time.Since(warm) > 2*time.Second }, "no throughput measured")
	s0, p0, t0 := sampled(), produced(), time.Now()
	kafkatest.WaitFor(t, 30*time.Second, func() bool { return time.Since(t0) >= 5*time.Second }, "")
	s1, p1, t1 := sampled(), produced(), time.Now()
	ratio := testutil.ToFloat64(ps.m.sampleRatio) // of the last tick, while producing
	stop()
	wg.Wait()
	secs := t1.Sub(t0).Seconds()
	sRate, pRate := (s1-s0)/secs, (p1-p0)/secs
	t.Logf("produced %.0f rec/s, sampled %.0f rec/s, ratio metric %.3f", pRate, sRate, ratio)
	if sRate > 1100 {
		t.Errorf("sampled %.0f rec/s with a budget of 1000", sRate)
	}
	if sRate < 500 {
		t.Errorf("sampled only %.0f rec/s of a 1000 budget while %.0f rec/s were produced", sRate, pRate)
	}
	// The feed must be far above the budget for the test to say anything;
	// this machine reaches 16–20k rec/s without the race detector.
	if pRate < 10000 {
		t.Fatalf("the topic was fed only %.0f rec/s; the test needs ≥ 10k (is the machine overloaded?)", pRate)
	}
	want := sRate / pRate
	if ratio < want*0.5 || ratio > want*1.5 {
		t.Errorf("sample ratio %.3f, want ≈ %.3f (sampled/produced)", ratio, want)
	}
	if pRate >= 18000 && (ratio < 0.03 || ratio > 0.07) {
		t.Errorf("sample ratio %.3f at %.0f rec/s with a 1k budget, want 5%% ± 2%%", ratio, pRate)
	}
	if testutil.ToFloat64(ps.m.throttled) == 0 {
		t.Error("budget never throttled")
	}
}
