package sla

import (
	"strconv"
	"time"
)

// Value is a number that may be missing: an SLI over a window without valid
// events, or a time to exhaustion while nothing burns. It encodes as a JSON
// number or null, never NaN.
type Value struct {
	V  float64
	OK bool
}

func some(v float64) Value { return Value{V: v, OK: true} }

// MarshalJSON writes the number, or null when the value is missing.
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.OK {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v.V, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or null.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Value{}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*v = some(f)
	return nil
}

// WindowStatus is an SLO over one window: the counts, the SLI (null without
// valid events) and the burn rate (0 without valid events).
type WindowStatus struct {
	Window   string  `json:"window"`
	Good     int64   `json:"good"`
	Valid    int64   `json:"valid"`
	SLI      Value   `json:"sli"`
	BurnRate float64 `json:"burn_rate"`
}

// Status is the state of one SLO at the last evaluation, with every number
// needed to recompute it by hand: remaining = 1 − (bad / valid) /
// error_budget over [window_start, window_end]; burn_rate = (bad / valid) /
// error_budget per window; a rule fires when both its burn rates exceed its
// factor and its long window holds at least min_events valid events.
type Status struct {
	Product   string  `json:"product"`
	Domain    string  `json:"domain,omitempty"`
	Owner     string  `json:"owner,omitempty"`
	SLO       string  `json:"slo"`
	SLI       string  `json:"sli"`
	Objective float64 `json:"objective"`
	// ThresholdSeconds is the time threshold of a latency, freshness or
	// lag SLO; omitted for an indicator without one.
	ThresholdSeconds float64 `json:"threshold_seconds,omitempty"`
	// Promise is objective and threshold in words: "99.9% of records
	// within 1s" (see Promise).
	Promise     string    `json:"promise"`
	ErrorBudget float64   `json:"error_budget"`
	Window      string    `json:"window"` // as configured: 28d, month
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"` // now for a rolling window, the next 1st for a month
	Good        int64     `json:"good"`
	Valid       int64     `json:"valid"`
	Bad         int64     `json:"bad"`
	MinEvents   int64     `json:"min_events"`
	// Remaining is the raw budget remaining, far below 0 when overspent
	// and meaningless below min_events: for machines.
	Remaining float64 `json:"budget_remaining"`
	// RemainingDisplay is Remaining for people (BudgetDisplay): "not
	// enough data (12 of 100 events)" below min_events, "no data",
	// "spent" at or below 0, else "72.5%".
	RemainingDisplay string `json:"budget_remaining_display"`
	// Windows are the burn windows 5m … 3d, then the SLO window itself
	// (named WindowLabel).
	Windows  [NumBurnWindows + 1]WindowStatus `json:"windows"`
	Rules    [len(AlertRules)]RuleResult      `json:"rules"`
	Decision string                           `json:"decision"`
	Why      string                           `json:"why"`
	// TimeToExhaustion is the seconds until the budget is spent at the
	// current (1h) burn rate: null while nothing burns, 0 once spent.
	TimeToExhaustion Value     `json:"time_to_exhaustion_seconds"`
	EvaluatedAt      time.Time `json:"evaluated_at"`
}

// status builds the Status of t from one evaluation at now, with Why and
// RemainingDisplay, the parts for people, if why is set.
func (t *tracker) status(ev evaluation, res Result, now time.Time, why bool) Status {
	st := Status{
		Product: t.key.product, Domain: t.domain, Owner: t.owner, SLO: t.key.slo, SLI: t.sli,
		Objective: t.objective, ThresholdSeconds: t.threshold.Seconds(), Promise: t.promise,
		ErrorBudget: res.ErrorBudget, Window: t.win.name,
		WindowStart: ev.windowStart, WindowEnd: ev.windowEnd.UTC(),
		Good: ev.in.Total.Good, Valid: ev.in.Total.Valid, Bad: ev.in.Total.Bad(), MinEvents: t.minEvents,
		Remaining: res.Remaining, Rules: res.Rules, Decision: res.Decision, Why: res.Why,
		EvaluatedAt: now.UTC(),
	}
	for i, w := range BurnWindows {
		st.Windows[i] = windowStatus(w.Name, ev.in.Burn[i], res.Burn[i])
	}
	st.Windows[NumBurnWindows] = windowStatus(WindowLabel, ev.in.Total, res.WindowBurn)
	if res.HasExhaustion {
		st.TimeToExhaustion = some(res.Exhaustion.Seconds())
	}
	if why {
		st.Why = explain(ev.in, res)
		st.RemainingDisplay = BudgetDisplay(res.Remaining, ev.in.Total.Valid, t.minEvents)
	}
	return st
}

func windowStatus(name string, c Counts, burn float64) WindowStatus {
	ws := WindowStatus{Window: name, Good: c.Good, Valid: c.Valid, BurnRate: burn}
	if r, ok := c.Ratio(); ok {
		ws.SLI = some(r)
	}
	return ws
}
