package sla

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/meshwatch/meshwatch"
)

// CheckResult is one SLO over a sampled period, for meshwatch check.
type CheckResult struct {
	Product   string  `json:"product"`
	SLO       string  `json:"slo"`
	SLI       string  `json:"sli"`
	Objective float64 `json:"objective"`
	// ThresholdSeconds is the time threshold of a latency, freshness or
	// lag SLO; 0 (omitted) for the others.
	ThresholdSeconds float64 `json:"threshold_seconds,omitempty"`
	// Promise is objective and threshold in words (Promise).
	Promise   string `json:"promise"`
	Good      int64  `json:"good"`
	Valid     int64  `json:"valid"`
	MinEvents int64  `json:"min_events,omitempty"`
	// Value is good / valid over the period; missing without valid events.
	Value Value `json:"value"`
	// Met is Value ≥ Objective over at least min_events valid events. An
	// SLO without valid events is not met: a silent product is not a
	// healthy one; nor is one with fewer than min_events: not enough data
	// is not a pass.
	Met bool   `json:"met"`
	Why string `json:"why,omitempty"` // why it is not met
}

// Tally sums SLI events per SLO over a sampling period: the Sink of
// meshwatch check, which needs no buckets, burn rates or state. Its zero
// value is ready to use; it is safe for concurrent use.
type Tally struct {
	mu       sync.Mutex
	counts   map[sloKey]Counts
	from, to time.Time
}

// ObserveSLI adds events to the tally. Good is clamped to [0, Valid].
func (t *Tally) ObserveSLI(events []meshwatch.SLIEvents) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = make(map[sloKey]Counts)
	}
	for _, ev := range events {
		if ev.Valid <= 0 {
			continue
		}
		k := sloKey{ev.Product, ev.SLO}
		t.counts[k] = t.counts[k].add(Counts{Good: min(max(ev.Good, 0), ev.Valid), Valid: ev.Valid})
		if !ev.From.IsZero() && (t.from.IsZero() || ev.From.Before(t.from)) {
			t.from = ev.From
		}
		if ev.To.After(t.to) {
			t.to = ev.To
		}
	}
}

// Period returns the earliest From and the latest To of the events seen.
func (t *Tally) Period() (from, to time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.from, t.to
}

// Results returns every SLO of cfg (only those of product, if not empty) in
// configuration order, evaluated over what the tally saw.
func (t *Tally) Results(cfg *meshwatch.Config, product string) []CheckResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	var rs []CheckResult
	for i := range cfg.Products {
		p := &cfg.Products[i]
		if product != "" && p.Name != product {
			continue
		}
		for _, s := range p.SLOs {
			c := t.counts[sloKey{p.Name, s.Name}]
			rs = append(rs, Check(p, s, c))
		}
	}
	return rs
}

// Check evaluates one SLO of product p over counts c: the SLI value and
// whether it meets the objective. A pure function.
func Check(p *meshwatch.Product, s meshwatch.SLO, c Counts) CheckResult {
	th, _ := Threshold(&s)
	r := CheckResult{
		Product: p.Name, SLO: s.Name, SLI: s.SLI, Objective: float64(s.Objective),
		ThresholdSeconds: th.Seconds(), Promise: Promise(p, &s),
		Good: c.Good, Valid: c.Valid, MinEvents: int64(s.MinEvents),
	}
	v, ok := c.Ratio()
	switch {
	case !ok:
		r.Why = "no valid events while sampling"
	case !EnoughData(c.Valid, r.MinEvents):
		r.Value = some(v)
		r.Why = NotEnoughData(c.Valid, r.MinEvents) + ": sample longer with -for"
	default:
		r.Value = some(v)
		// Compare the error ratio with the rounded budget, as the
		// evaluator does, so that 999 of 1000 meets 99.9 %.
		r.Met = c.Valid > 0 && float64(c.Bad()) <= float64(c.Valid)*ErrorBudget(r.Objective)
		if !r.Met {
			r.Why = fmt.Sprintf("%d of %d events bad, more than %s allows", c.Bad(), c.Valid, meshwatch.Percent(r.Objective))
		}
	}
	return r
}

// AllMet reports whether every result met its objective.
func AllMet(rs []CheckResult) bool {
	for _, r := range rs {
		if !r.Met {
			return false
		}
	}
	return true
}

// WriteTable writes results as an aligned table: product, SLO, SLI, value,
// promise (objective and threshold: "99.9% of records within 1s"),
// good/valid, met, and why not.
func WriteTable(w io.Writer, rs []CheckResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PRODUCT\tSLO\tSLI\tVALUE\tPROMISE\tGOOD/VALID\tMET")
	for _, r := range rs {
		value := "-"
		if r.Value.OK {
			// Truncated, not rounded: 99.89996 % must not read 99.9 %.
			value = strconv.FormatFloat(math.Floor(r.Value.V*1e6)/1e4, 'f', -1, 64) + "%"
		}
		met := "yes"
		if !r.Met {
			met = "NO: " + r.Why
		}
		promise := cmp.Or(r.Promise, meshwatch.Percent(r.Objective).String())
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s/%s\t%s\n", r.Product, r.SLO, r.SLI, value,
			promise, strconv.FormatInt(r.Good, 10), strconv.FormatInt(r.Valid, 10), met)
	}
	return tw.Flush()
}
