package sla

import (
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch"
)

// NoDataFor is how long an SLO must stay without a valid event in its
// window before SLONoData fires: long enough that a start or a quiet minute
// does not open a ticket, short enough that a declared consumer that never
// committed is heard of the same hour.
const NoDataFor = 10 * time.Minute

// noDataFor is how long s may stay without a valid event before SLONoData
// fires: NoDataFor, or a freshness SLO's threshold when longer — until
// then the collector does not know the product to be stale either (a
// daily batch is silent for hours after a start).
func noDataFor(s *meshwatch.SLO) time.Duration {
	if s.SLI == meshwatch.SLIFreshness {
		return max(NoDataFor, s.Threshold.Std())
	}
	return NoDataFor
}

// Condition returns the alert condition of one SLO status, and false when
// its decision raises none: a burn-rate decision (page or ticket), a spent
// budget (exhausted, which already honours min_events: what /api/v1/slos
// says is what alerts), or no data.
func Condition(st *Status) (meshwatch.Condition, bool) {
	c := meshwatch.Condition{
		Product: st.Product, SLO: st.SLO, SLI: st.SLI, State: st.Decision,
		Description: st.Why,
	}
	// The SLO as its owner knows it: "SLO latency (99.9% of records
	// within 1s)".
	slo := "SLO " + st.SLO
	if st.Promise != "" {
		slo += " (" + st.Promise + ")"
	}
	switch st.Decision {
	case DecisionPage:
		c.Name, c.Severity = meshwatch.AlertSLOBurnRate, meshwatch.SeverityPage
		c.Summary = fmt.Sprintf("%s: %s is burning its error budget", st.Product, slo)
	case DecisionTicket:
		c.Name, c.Severity = meshwatch.AlertSLOBurnRate, meshwatch.SeverityTicket
		c.Summary = fmt.Sprintf("%s: %s is burning its error budget", st.Product, slo)
	case DecisionExhausted:
		c.Name, c.Severity = meshwatch.AlertSLOBudgetExhausted, meshwatch.SeverityTicket
		c.Summary = fmt.Sprintf("%s: the error budget of %s is spent", st.Product, slo)
	case DecisionNoData:
		c.Name, c.Severity, c.For = meshwatch.AlertSLONoData, meshwatch.SeverityTicket, NoDataFor
		c.Summary = fmt.Sprintf("%s: %s has no valid event in its window", st.Product, slo)
	default:
		return meshwatch.Condition{}, false
	}
	b := &meshwatch.BudgetFacts{Objective: st.Objective, Window: st.Window}
	if w := st.Windows[NumBurnWindows]; w.SLI.OK {
		v := w.SLI.V
		b.SLI = &v
	}
	// Below min_events the budget is not shown (the description says
	// "not enough data (n of m events)"): −2711% and "exhausted" ten
	// seconds after a start are noise, not news. Without a valid event
	// "100% remaining" would read as healthy.
	enough := EnoughData(st.Valid, st.MinEvents)
	if st.Decision != DecisionNoData {
		if enough {
			rem := st.Remaining
			b.Remaining = &rem
		}
		for _, i := range []int{Burn5m, Burn1h, Burn6h, Burn1d} {
			b.BurnRates = append(b.BurnRates, meshwatch.WindowRate{Window: BurnWindows[i].Name, Rate: st.Windows[i].BurnRate})
		}
	}
	if st.TimeToExhaustion.OK && enough {
		b.TimeToExhaustion = time.Duration(st.TimeToExhaustion.V * float64(time.Second))
	}
	c.Budget = b
	return c, true
}

// Conditions returns the alert conditions of every SLO as of the last
// evaluation. Before the first, it returns conditions of unknown state
// for every SLO alert: nothing known is not nothing firing. SLOs of the
// lag indicator are fed by the lag monitor; the others by sampling, which
// the collector marks unknown while it cannot read a product. Linear in
// the number of SLOs, computed once per evaluation; the result is shared
// and must not be modified. Safe for concurrent use.
func (e *Evaluator) Conditions() []meshwatch.Condition {
	s := e.snap.Load()
	if s == nil {
		return []meshwatch.Condition{
			{Name: meshwatch.AlertSLOBurnRate, State: meshwatch.StateUnknown},
			{Name: meshwatch.AlertSLOBudgetExhausted, State: meshwatch.StateUnknown},
			{Name: meshwatch.AlertSLONoData, State: meshwatch.StateUnknown},
		}
	}
	s.condsOnce.Do(func() {
		for i := range s.trackers {
			if s.results[i].Decision == DecisionNone {
				continue
			}
			st := s.status(i, true)
			if c, ok := Condition(&st); ok {
				if c.Name == meshwatch.AlertSLONoData {
					c.For = s.trackers[i].noDataFor
				}
				s.conds = append(s.conds, c)
			}
		}
	})
	return s.conds
}
