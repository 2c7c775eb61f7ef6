package sla

import (
	"math"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
)

func TestPromise(t *testing.T) {
	vol := &meshwatch.Product{Quality: meshwatch.Quality{Volume: &meshwatch.Volume{MinPerMinute: 100}}}
	tests := []struct {
		p    *meshwatch.Product
		slo  meshwatch.SLO
		want string
		th   time.Duration
	}{
		{nil, meshwatch.SLO{SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999}, "99.9% of records within 1s", time.Second},
		{nil, meshwatch.SLO{SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(1500 * time.Millisecond), Objective: 0.99}, "99% of records within 1.5s", 1500 * time.Millisecond},
		{nil, meshwatch.SLO{SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99}, "fresher than 1m 99% of the time", time.Minute},
		{nil, meshwatch.SLO{SLI: meshwatch.SLILag, ConsumerGroup: "fraud-detector", Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99}, "group fraud-detector at most 30s behind 99% of the time", 30 * time.Second},
		{nil, meshwatch.SLO{SLI: meshwatch.SLIAvailability, Objective: 0.999}, "available 99.9% of the time", 0},
		{nil, meshwatch.SLO{SLI: meshwatch.SLICompleteness, Objective: 0.99}, "99% of records complete", 0},
		{nil, meshwatch.SLO{SLI: meshwatch.SLIValidity, Objective: 0.995}, "99.5% of records valid", 0},
		{vol, meshwatch.SLO{SLI: meshwatch.SLIVolume, Objective: 0.99}, "at least 100 records a minute in 99% of minutes", 0},
		{nil, meshwatch.SLO{SLI: meshwatch.SLIVolume, Objective: 0.99}, "99% of minutes with the promised volume", 0},
		{&meshwatch.Product{Quality: meshwatch.Quality{Volume: &meshwatch.Volume{MinPerMinute: 1234567}}}, meshwatch.SLO{SLI: meshwatch.SLIVolume, Objective: 0.99},
			"at least 1234567 records a minute in 99% of minutes", 0},
		// A threshold on an indicator that takes none is no threshold.
		{nil, meshwatch.SLO{SLI: meshwatch.SLIValidity, Threshold: meshwatch.Duration(time.Second), Objective: 0.995}, "99.5% of records valid", 0},
	}
	for _, tc := range tests {
		if got := Promise(tc.p, &tc.slo); got != tc.want {
			t.Errorf("Promise(%s) = %q, want %q", tc.slo.SLI, got, tc.want)
		}
		th, ok := Threshold(&tc.slo)
		if th != tc.th || ok != (tc.th > 0) {
			t.Errorf("Threshold(%s) = %v %v, want %v", tc.slo.SLI, th, ok, tc.th)
		}
	}
}

// TestBudgetDisplay: what people read instead of the raw budget remaining,
// never a negative percentage.
func TestBudgetDisplay(t *testing.T) {
	tests := []struct {
		remaining        float64
		valid, minEvents int64
		want             string
	}{
		{-26.11, 37, 100, "not enough data (37 of 100 events)"}, // a new SLO: −2611% raw
		{0.9, 37, 100, "not enough data (37 of 100 events)"},
		{1, 0, 100, "not enough data (0 of 100 events)"},
		{1, 0, 0, "no data"},
		{-26.11, 37, 0, "spent"},
		{0, 1000, 100, "spent"},
		{math.NaN(), 1000, 0, "spent"},
		{1, 1000, 100, "100%"},
		{0.99996, 1000, 0, "99.9%"}, // truncated: a budget that lost anything never reads 100%
		{0.72, 1000, 0, "72%"},
		{0.7255, 1000, 0, "72.5%"},
		{0.0004, 1000, 0, "<0.1%"},
		{0.001, 1000, 100, "0.1%"},
	}
	for _, tc := range tests {
		if got := BudgetDisplay(tc.remaining, tc.valid, tc.minEvents); got != tc.want {
			t.Errorf("BudgetDisplay(%v, %d, %d) = %q, want %q", tc.remaining, tc.valid, tc.minEvents, got, tc.want)
		}
	}
}

// TestFactorsRounded: the factors of a 28d window read 13.44, 5.6, 2.8 and
// 0.933333333333, not 5.6000000000000005, in the API and in every why.
func TestFactorsRounded(t *testing.T) {
	want := []float64{13.44, 5.6, 2.8, 0.933333333333}
	for i, r := range AlertRules {
		if got := r.Factor(28 * day); got != want[i] {
			t.Errorf("rule %d: factor %v, want %v", i, got, want[i])
		}
	}
}
