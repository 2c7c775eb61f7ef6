package sla

import (
	"math"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

// segment is a stretch of constant traffic: perMinute valid events of which
// a share errRatio is bad.
type segment struct {
	d         time.Duration
	errRatio  float64
	perMinute int64 // 0: 10000
	silent    bool
}

// history returns per-minute counts, oldest first, of segments in order
// (the last ends now).
func history(segs ...segment) []Counts {
	var h []Counts
	for _, s := range segs {
		if s.silent {
			h = append(h, make([]Counts, int(s.d/time.Minute))...)
			continue
		}
		per := s.perMinute
		if per == 0 {
			per = 10000
		}
		bad := int64(math.Round(float64(per) * s.errRatio))
		for range int(s.d / time.Minute) {
			h = append(h, Counts{Good: per - bad, Valid: per})
		}
	}
	return h
}

func lastMinutes(h []Counts, d time.Duration) Counts {
	var c Counts
	n := int(d / time.Minute)
	for i := max(len(h)-n, 0); i < len(h); i++ {
		c = c.add(h[i])
	}
	return c
}

// inputOf is the exact Input of an SLO over window whose minutes are h.
func inputOf(objective float64, window time.Duration, minEvents int64, h []Counts) Input {
	in := Input{Objective: objective, Window: window, MinEvents: minEvents, Total: lastMinutes(h, window)}
	for i, w := range BurnWindows {
		in.Burn[i] = lastMinutes(h, w.Duration)
	}
	return in
}

// TestEvaluateWorkbook reproduces the SRE workbook's multiwindow,
// multi-burn-rate table for 99.9 % over 30 days.
func TestEvaluateWorkbook(t *testing.T) {
	const obj = 0.999
	win := 30 * day
	tests := []struct {
		name     string
		segs     []segment
		min      int64
		decision string
		firing   []int // indexes into AlertRules
		why      string
	}{
		{
			name:     "1.5% for 1h pages by 1h/5m",
			segs:     []segment{{d: win - time.Hour}, {d: time.Hour, errRatio: 0.015}},
			decision: DecisionPage, firing: []int{0},
			why: "burn rate 15× over 1h and 15× over 5m, both above 14.4× (2% of the 30d budget within 1h)",
		},
		{
			name:     "0.7% for 6h pages by 6h/30m",
			segs:     []segment{{d: win - 6*time.Hour}, {d: 6 * time.Hour, errRatio: 0.007}},
			decision: DecisionPage, firing: []int{1},
			why: "burn rate 7× over 6h and 7× over 30m, both above 6×",
		},
		{
			name:     "0.35% for 1d opens a ticket by 1d/2h",
			segs:     []segment{{d: win - day}, {d: day, errRatio: 0.0035}},
			decision: DecisionTicket, firing: []int{2, 3},
			why: "above 3× (10% of the 30d budget within 1d)",
		},
		{
			name:     "0.15% for 3d opens a ticket by 3d/6h",
			segs:     []segment{{d: win - 3*day}, {d: 3 * day, errRatio: 0.0015}},
			decision: DecisionTicket, firing: []int{3},
			why: "burn rate 1.5× over 3d and 1.5× over 6h, both above 1×",
		},
		{
			name:     "2% for 10m pages by 1h/5m only when the hour agrees",
			segs:     []segment{{d: win - 10*time.Minute}, {d: 10 * time.Minute, errRatio: 0.02}},
			decision: DecisionNone, firing: nil,
		},
		{
			name:     "a 1h burst at 1.5% that ended 10m ago no longer pages",
			segs:     []segment{{d: win - 70*time.Minute}, {d: time.Hour, errRatio: 0.015}, {d: 10 * time.Minute}},
			decision: DecisionNone, firing: nil,
		},
		{
			name:     "steady 0.05% is healthy with half the budget left",
			segs:     []segment{{d: win, errRatio: 0.0005}},
			decision: DecisionNone, firing: nil,
			why: "every burn rate is below its threshold; 50% of the budget remains",
		},
		{
			name:     "spent budget, quiet now",
			segs:     []segment{{d: 15 * day}, {d: 10 * day, errRatio: 0.004}, {d: 5 * day}},
			decision: DecisionExhausted, firing: nil,
			why: "error budget spent",
		},
		{
			name:     "a spent budget over fewer than min_events valid events is not exhausted",
			segs:     []segment{{d: 25 * day, silent: true}, {d: 5 * time.Minute, perMinute: 1, errRatio: 1}, {d: 4 * day, silent: true}},
			min:      10,
			decision: DecisionNone, firing: nil,
			why: "not enough data (5 of 10 events) in the window to judge its budget (100% errors against a budget of 0.1%)",
		},
		{
			name:     "the same spent budget over min_events is exhausted",
			segs:     []segment{{d: 25 * day, silent: true}, {d: 5 * time.Minute, perMinute: 1, errRatio: 1}, {d: 4 * day, silent: true}},
			min:      5,
			decision: DecisionExhausted, firing: nil,
			why: "error budget spent",
		},
		{
			name:     "no data",
			decision: DecisionNoData,
			why:      "silent, not healthy",
		},
		{
			name: "low traffic: 3 bad of 5 events in the last hour are held back",
			segs: []segment{
				{d: 20 * day, perMinute: 100}, {d: 10*day - 60*time.Minute, silent: true},
				{d: 58 * time.Minute, silent: true}, {d: time.Minute, perMinute: 4, errRatio: 0.5}, {d: time.Minute, perMinute: 1, errRatio: 1},
			},
			min:      10,
			decision: DecisionNone, firing: nil,
			why: "held back because 1h holds 5 valid events, fewer than min_events 10",
		},
		{
			name: "the same without a guard pages",
			segs: []segment{
				{d: 20 * day, perMinute: 100}, {d: 10*day - 60*time.Minute, silent: true},
				{d: 58 * time.Minute, silent: true}, {d: time.Minute, perMinute: 4, errRatio: 0.5}, {d: time.Minute, perMinute: 1, errRatio: 1},
			},
			decision: DecisionPage, firing: []int{0, 1, 2, 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := history(tc.segs...)
			res := Evaluate(inputOf(obj, win, tc.min, h))
			if res.Decision != tc.decision {
				t.Errorf("decision %s, want %s (why: %s)", res.Decision, tc.decision, res.Why)
			}
			var firing []int
			for i, r := range res.Rules {
				if r.Firing {
					firing = append(firing, i)
				}
			}
			if !equalInts(firing, tc.firing) {
				t.Errorf("firing rules %v, want %v; rules %+v", firing, tc.firing, res.Rules)
			}
			if !strings.Contains(res.Why, tc.why) {
				t.Errorf("why %q, want it to contain %q", res.Why, tc.why)
			}
			assertFinite(t, res)
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func assertFinite(t *testing.T, res Result) {
	t.Helper()
	fs := []float64{res.Remaining, res.WindowBurn, res.ErrorBudget}
	fs = append(fs, res.Burn[:]...)
	for _, r := range res.Rules {
		fs = append(fs, r.Factor, r.LongBurn, r.ShortBurn)
	}
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("non-finite number in %+v", res)
		}
	}
}

func TestFactors(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		want   [4]float64
	}{
		{"30d", 30 * day, [4]float64{14.4, 6, 3, 1}},
		{"28d", 28 * day, [4]float64{13.44, 5.6, 2.8, 0.9333333333}},
		{"7d", 7 * day, [4]float64{3.36, 1.4, 0.7, 0.2333333333}},
		{"month", MonthWindow, [4]float64{14.4, 6, 3, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, r := range AlertRules {
				if got := r.Factor(tc.window); math.Abs(got-tc.want[i]) > 1e-9 {
					t.Errorf("rule %d factor %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

// TestRemainingExact checks budget remaining against hand-worked cases, to
// the last bit.
func TestRemainingExact(t *testing.T) {
	tests := []struct {
		name      string
		objective float64
		c         Counts
		want      float64
	}{
		{"99.9% 500 bad of 1e6", 0.999, Counts{Good: 999500, Valid: 1000000}, 0.5},
		{"99% 5 bad of 1000", 0.99, Counts{Good: 995, Valid: 1000}, 0.5},
		{"99.9% 1 bad of 1000 spends it", 0.999, Counts{Good: 999, Valid: 1000}, 0},
		{"99.5% 2 bad of 200 overspends it twice", 0.995, Counts{Good: 198, Valid: 200}, -1},
		{"99.9% no errors", 0.999, Counts{Good: 42, Valid: 42}, 1},
		{"99.9% 250 bad of 1e6", 0.999, Counts{Good: 999750, Valid: 1000000}, 0.75},
		{"99.99% 1 bad of 1e5", 0.9999, Counts{Good: 99999, Valid: 100000}, 0.9},
		{"no data", 0.999, Counts{}, 1},
		{"objective parsed from 99.9e-2", 99.9e-2, Counts{Good: 999900, Valid: 1000000}, 0.9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Remaining(tc.c, ErrorBudget(tc.objective)); got != tc.want {
				t.Errorf("remaining %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBurnRateAndExhaustion(t *testing.T) {
	// 99.9 % over 30d, 0.05 % errors for 29 days spends half the budget …
	h := history(segment{d: 29 * day, errRatio: 0.0005}, segment{d: day, errRatio: 0.0005})
	in := inputOf(0.999, 30*day, 0, h)
	// … and a 1h burn rate of 2 (0.2 % errors in the last hour) spends
	// the remaining half (15 days' worth) in 7.5 days.
	in.Burn[Burn1h] = Counts{Good: 998, Valid: 1000}
	res := Evaluate(in)
	if res.Remaining != 0.5 {
		t.Fatalf("remaining %v, want 0.5", res.Remaining)
	}
	if res.Burn[Burn1h] != 2 {
		t.Fatalf("1h burn %v, want 2", res.Burn[Burn1h])
	}
	if !res.HasExhaustion || res.Exhaustion != 7*day+12*time.Hour {
		t.Fatalf("exhaustion %v (%v), want 180h", res.Exhaustion, res.HasExhaustion)
	}

	in.Burn[Burn1h] = Counts{Good: 1000, Valid: 1000}
	if res := Evaluate(in); res.HasExhaustion {
		t.Errorf("exhaustion %v without a burn", res.Exhaustion)
	}
	in.Total = Counts{Good: 0, Valid: 1000}
	in.Burn[Burn1h] = Counts{Good: 0, Valid: 1000}
	if res := Evaluate(in); !res.HasExhaustion || res.Exhaustion != 0 {
		t.Errorf("exhaustion %v (%v) of a spent budget, want 0", res.Exhaustion, res.HasExhaustion)
	}
}

func TestCountsNeverNaN(t *testing.T) {
	for _, c := range []Counts{{}, {Good: 5, Valid: 0}, {Good: -1, Valid: -1}, {Good: 7, Valid: 3}} {
		if r, ok := c.Ratio(); ok && (math.IsNaN(r) || r < 0 || r > 1) {
			t.Errorf("%+v: ratio %v", c, r)
		}
		for _, f := range []float64{c.ErrorRatio(), BurnRate(c, 0.001), BurnRate(c, 0), Remaining(c, 0.001), Remaining(c, 0)} {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				t.Errorf("%+v: %v", c, f)
			}
		}
	}
	if _, ok := (Counts{}).Ratio(); ok {
		t.Error("no data has an SLI value")
	}
}
