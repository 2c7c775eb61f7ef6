package sla

import (
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/expo"
)

// TestMetricsStream checks the SLO engine's streamed exposition against
// what its collectors gather, with every per-SLO family present: two
// products, an SLO with a threshold and one without, one that burns (time
// to exhaustion) and one with a late event.
func TestMetricsStream(t *testing.T) {
	cfg := testConfig(latencySLO(0.999, "30d"), meshwatch.SLO{Name: "freshness", SLI: meshwatch.SLIFreshness, Objective: 0.99, Window: "28d"})
	cfg.Products = append(cfg.Products, meshwatch.Product{Name: "payments.card.charged", Domain: "payments", Owner: "cards",
		SLOs: []meshwatch.SLO{latencySLO(0.99, "month")}})
	cfg.SetDefaults()
	reg := expo.NewRegistry()
	clk := newClock(t0)
	e, err := New(cfg, Options{Now: clk.Now, Metrics: NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Check(); err != nil {
		t.Errorf("before the first evaluation: %v", err)
	}
	for range 360 { // an hour of 1.5% errors: the latency SLO pages
		from := clk.Now()
		to := clk.Advance(10 * time.Second)
		e.ObserveSLI([]meshwatch.SLIEvents{
			{Product: testProduct, SLO: testSLO, SLI: meshwatch.SLILatency, Good: 9850, Valid: 10000, From: from, To: to},
			{Product: "payments.card.charged", SLO: testSLO, SLI: meshwatch.SLILatency, Good: 100, Valid: 100, From: from, To: to},
		})
	}
	now := clk.Now()
	e.ObserveSLI([]meshwatch.SLIEvents{
		{Product: testProduct, SLO: "freshness", Good: 1, Valid: 1, To: now},
		{Product: testProduct, SLO: "freshness", Good: 1, Valid: 1, To: now.Add(-40 * day)},
		{Product: "no.such.product", SLO: "x", Good: 1, Valid: 1, To: now},
	})
	e.Evaluate()

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, f := range fams {
		series[f.GetName()] = len(f.GetMetric())
	}
	for name, want := range map[string]int{
		"meshwatch_slo_objective_ratio":            3,
		"meshwatch_slo_threshold_seconds":          2,
		"meshwatch_slo_time_to_exhaustion_seconds": 1,
		"meshwatch_slo_late_events_total":          1,
		"meshwatch_slo_decision":                   3,
		"meshwatch_slo_unknown_events_total":       1,
	} {
		if series[name] != want {
			t.Errorf("%s: %d series, want %d", name, series[name], want)
		}
	}
	if err := reg.Check(); err != nil {
		t.Error(err)
	}
}
