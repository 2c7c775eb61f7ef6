package sla

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
)

// TestCondition is the table of SLO condition rules: which decision raises
// which alert, with which severity, delay and numbers.
func TestCondition(t *testing.T) {
	base := Status{
		Product: testProduct, SLO: testSLO, SLI: meshwatch.SLILatency, Objective: 0.99, Window: "28d",
		Promise: "99% of records within 1s", Valid: 1000, MinEvents: 100,
		Remaining: -0.5, Why: "the why", TimeToExhaustion: some(0),
	}
	base.Windows[Burn1h].BurnRate = 20
	base.Windows[NumBurnWindows].SLI = some(0.985)
	tests := []struct {
		decision string
		ok       bool
		name     string
		severity string
		holdFor  time.Duration
		summary  string
		budget   bool // remaining and burn rates shown
	}{
		{DecisionPage, true, meshwatch.AlertSLOBurnRate, meshwatch.SeverityPage, 0, "is burning its error budget", true},
		{DecisionTicket, true, meshwatch.AlertSLOBurnRate, meshwatch.SeverityTicket, 0, "is burning its error budget", true},
		{DecisionExhausted, true, meshwatch.AlertSLOBudgetExhausted, meshwatch.SeverityTicket, 0, "the error budget of SLO latency (99% of records within 1s) is spent", true},
		{DecisionNoData, true, meshwatch.AlertSLONoData, meshwatch.SeverityTicket, NoDataFor, "SLO latency (99% of records within 1s) has no valid event in its window", false},
		{DecisionNone, false, "", "", 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.decision, func(t *testing.T) {
			st := base
			st.Decision = tc.decision
			c, ok := Condition(&st)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if c.Name != tc.name || c.Severity != tc.severity || c.For != tc.holdFor || c.State != tc.decision {
				t.Errorf("name %s severity %s for %s state %s, want %s %s %s %s", c.Name, c.Severity, c.For, c.State, tc.name, tc.severity, tc.holdFor, tc.decision)
			}
			if c.Product != testProduct || c.SLO != testSLO || c.SLI != meshwatch.SLILatency || c.Description != "the why" {
				t.Errorf("identity %q %q %q, description %q", c.Product, c.SLO, c.SLI, c.Description)
			}
			if !strings.Contains(c.Summary, tc.summary) || !strings.HasPrefix(c.Summary, testProduct+": ") {
				t.Errorf("summary %q, want it to contain %q", c.Summary, tc.summary)
			}
			b := c.Budget
			if b == nil || b.Objective != 0.99 || b.Window != "28d" || b.SLI == nil || *b.SLI != 0.985 {
				t.Fatalf("budget facts %+v", b)
			}
			if got := b.Remaining != nil && len(b.BurnRates) == 4; got != tc.budget {
				t.Errorf("remaining and burn rates shown: %v, want %v (%+v)", got, tc.budget, b)
			}
			if tc.budget && (*b.Remaining != -0.5 || b.BurnRates[1] != (meshwatch.WindowRate{Window: "1h", Rate: 20})) {
				t.Errorf("remaining %v, burn rates %+v", *b.Remaining, b.BurnRates)
			}
		})
	}
}

// TestConditionBelowMinEvents: a page of a calendar month a day old, whose
// burn windows reach into the last month, shows its burn rates but no
// budget and no time to exhaustion over fewer than min_events valid
// events: the why says "not enough data".
func TestConditionBelowMinEvents(t *testing.T) {
	st := Status{
		Product: testProduct, SLO: testSLO, SLI: meshwatch.SLILatency, Objective: 0.99, Window: "month",
		Valid: 30, MinEvents: 100, Remaining: -99, Decision: DecisionPage, TimeToExhaustion: some(0),
	}
	st.Windows[Burn1h].BurnRate = 20
	c, ok := Condition(&st)
	if !ok || c.Budget == nil {
		t.Fatalf("no condition: %+v", c)
	}
	if b := c.Budget; b.Remaining != nil || b.TimeToExhaustion != 0 || len(b.BurnRates) != 4 {
		t.Errorf("budget facts %+v, want burn rates without remaining or time to exhaustion", b)
	}
}

// TestConditionsFollowTheAPI: what /api/v1/slos says is what alerts. A
// budget spent over fewer than min_events valid events is neither
// "exhausted" in the status nor an alert; with enough events it is both.
func TestConditionsFollowTheAPI(t *testing.T) {
	slo := latencySLO(0.99, "28d")
	slo.MinEvents = 10
	h := newHarness(t, testConfig(slo), t0, Options{})
	if cs := h.e.Conditions(); len(cs) != 3 || !cs[0].Unknown() || cs[0].Product != "" {
		t.Fatalf("before the first evaluation: %+v, want unknown SLO conditions of every product", cs)
	}
	h.feed(testSLO, 40*time.Second, 1, 1) // 4 bad of 4: spent, below min_events
	// Past the burn windows, so that only the spent budget is left.
	h.clk.Advance(4 * 24 * time.Hour)
	st := h.status()
	if st.Decision != DecisionNone || st.Remaining > 0 {
		t.Fatalf("decision %s, remaining %v, want none with a spent budget (why: %s)", st.Decision, st.Remaining, st.Why)
	}
	if cs := h.e.Conditions(); len(cs) != 0 {
		t.Errorf("conditions %+v, want none: the status says none", cs)
	}
	h.feed(testSLO, 60*time.Second, 1, 1)
	h.clk.Advance(4 * 24 * time.Hour)
	st = h.status()
	cs := h.e.Conditions()
	if st.Decision != DecisionExhausted || len(cs) != 1 || cs[0].Name != meshwatch.AlertSLOBudgetExhausted {
		t.Fatalf("decision %s, conditions %+v, want exhausted and SLOBudgetExhausted", st.Decision, cs)
	}
}

// TestNoDataRaisesSLONoData: the no_data decision the API shows is an
// alert condition too (it was documented and never raised).
func TestNoDataRaisesSLONoData(t *testing.T) {
	evaluated := 0
	h := newHarness(t, testConfig(latencySLO(0.99, "28d")), t0, Options{OnEvaluated: func() { evaluated++ }})
	if st := h.status(); st.Decision != DecisionNoData {
		t.Fatalf("decision %s, want no_data", st.Decision)
	}
	if evaluated != 1 {
		t.Errorf("OnEvaluated called %d times, want 1", evaluated)
	}
	cs := h.e.Conditions()
	if len(cs) != 1 || cs[0].Name != meshwatch.AlertSLONoData || cs[0].For != NoDataFor {
		t.Fatalf("conditions %+v, want one SLONoData", cs)
	}

	// A freshness SLO is not known to be silent before its threshold
	// (the collector's rule): a daily batch is not a ticket at 10 minutes.
	daily := meshwatch.SLO{Name: "daily", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(26 * time.Hour), Objective: 0.99, Window: "28d"}
	h = newHarness(t, testConfig(daily), t0, Options{})
	h.e.Evaluate()
	if cs := h.e.Conditions(); len(cs) != 1 || cs[0].Name != meshwatch.AlertSLONoData || cs[0].For != 26*time.Hour {
		t.Fatalf("conditions %+v, want SLONoData for 26h", cs)
	}
}

// BenchmarkConditions is the SLO part of the per-evaluation alert work at
// mesh scale, an evaluation pass and its conditions: two SLOs per product,
// half the latency SLOs burning, the freshness SLOs without data. ns/op
// must grow linearly with products.
func BenchmarkConditions(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			cfg := &meshwatch.Config{}
			for i := range n {
				cfg.Products = append(cfg.Products, meshwatch.Product{
					Name: fmt.Sprintf("domain%d.entity.event", i), Owner: "team",
					SLOs: []meshwatch.SLO{latencySLO(0.99, "28d"), {Name: "fresh", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99, Window: "28d"}},
				})
			}
			cfg.SetDefaults()
			clk := newClock(t0)
			e, err := New(cfg, Options{Now: clk.Now})
			if err != nil {
				b.Fatal(err)
			}
			var evs []meshwatch.SLIEvents
			for i := range n {
				// Every other product burns its latency budget; the
				// freshness SLOs have no data.
				evs = append(evs, meshwatch.SLIEvents{Product: cfg.Products[i].Name, SLO: testSLO, SLI: meshwatch.SLILatency, Good: int64(100 - 50*(i%2)), Valid: 100, To: t0})
			}
			e.ObserveSLI(evs)
			e.Evaluate()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				e.Evaluate()
				if len(e.Conditions()) < n {
					b.Fatal("too few conditions")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/product")
		})
	}
}
