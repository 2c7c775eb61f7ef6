package collector

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
)

// freshness judges a freshness SLO at a tick: whether the product is known
// to be fresh or stale, and whether it is stale. Nothing seen since the
// agent started, for less than the threshold, is not known: the product may
// well be fresh (a restart, a probe that found nothing yet). The SLI events
// and the ProductStale condition both follow it.
func freshness(silent bool, age, threshold time.Duration) (stale, known bool) {
	if silent && age <= threshold {
		return false, false
	}
	return age > threshold, true
}

// ProductConditions returns the alert conditions of one product at a tick,
// from its availability problems, why it is blind ("" when the agent reads
// it) and its freshness (age of the newest event; the time since the agent
// started while silent):
//
//   - ProductBlind (ticket): the agent cannot read it. Everything sampling
//     measures of it is unknown meanwhile: its SLOs other than lag are
//     held as they were.
//   - ProductUnavailable (page): its own problems (no leader, too few
//     in-sync replicas, failing fetches, no topics), not the agent's.
//   - ProductStale (page): the newest event is older than the threshold of
//     its first stale freshness SLO; unknown while silent since the start
//     for less than the threshold.
func ProductConditions(p *meshwatch.Product, problems []string, blind string, silent bool, age time.Duration) []meshwatch.Condition {
	var out []meshwatch.Condition
	if blind != "" {
		// The agent's own failure, not the product's: its owner cannot fix
		// it, so it is a ticket (route it to the platform team with a route
		// on alertname ProductBlind).
		out = append(out, meshwatch.Condition{
			Name: meshwatch.AlertProductBlind, Product: p.Name, Severity: meshwatch.SeverityTicket, State: blind,
			Summary:     fmt.Sprintf("meshwatch cannot read %s: its latency, validity and completeness are not measured", p.Name),
			Description: blindWhy(blind) + " Alerts about the product are kept as they were until it is read again.",
		})
		for _, s := range p.SLOs {
			if s.SLI != meshwatch.SLILag {
				out = append(out, meshwatch.Condition{Product: p.Name, SLO: s.Name, State: meshwatch.StateUnknown})
			}
		}
	}
	if own := ProductProblems(problems); len(own) > 0 {
		out = append(out, meshwatch.Condition{
			Name: meshwatch.AlertProductUnavailable, Product: p.Name, Severity: meshwatch.SeverityPage, State: "unavailable",
			Summary:     fmt.Sprintf("%s is unavailable", p.Name),
			Description: "Problems: " + strings.Join(own, "; "),
		})
	}
	if blind != "" {
		return out
	}
	for _, s := range p.SLOs {
		if s.SLI != meshwatch.SLIFreshness {
			continue
		}
		stale, known := freshness(silent, age, s.Threshold.Std())
		if !known {
			out = append(out, meshwatch.Condition{Name: meshwatch.AlertProductStale, Product: p.Name, SLO: s.Name, State: meshwatch.StateUnknown})
			continue
		}
		if !stale {
			continue
		}
		what := fmt.Sprintf("the newest event is %s old", age.Round(time.Second))
		if silent {
			what = fmt.Sprintf("no event for %s", age.Round(time.Second))
		}
		out = append(out, meshwatch.Condition{
			Name: meshwatch.AlertProductStale, Product: p.Name, SLO: s.Name, SLI: meshwatch.SLIFreshness,
			Severity: meshwatch.SeverityPage, State: "stale",
			Summary:     fmt.Sprintf("%s is stale: %s (threshold %s)", p.Name, what, s.Threshold),
			Description: "Freshness is the time since the newest event time seen on the product's topics.",
			Budget:      &meshwatch.BudgetFacts{Objective: float64(s.Objective), Window: s.Window},
		})
		break
	}
	return out
}

// blindWhy explains a reason of Status.Blind to an SRE.
func blindWhy(reason string) string {
	switch reason {
	case BlindFetchErrors:
		return "Its fetches keep failing while records arrive (meshwatch_fetch_errors_total; the agent's log says which error)."
	default:
		return "Records on its topics stay unread although no fetch fails: the agent's reader is stuck (restart the agent if it lasts)."
	}
}

// notTicked are the conditions before the first tick: nothing is known of
// any product yet.
var notTicked = []meshwatch.Condition{
	{Name: meshwatch.AlertProductUnavailable, State: meshwatch.StateUnknown},
	{Name: meshwatch.AlertProductBlind, State: meshwatch.StateUnknown},
	{Name: meshwatch.AlertProductStale, State: meshwatch.StateUnknown},
}

// Conditions returns the alert conditions of every product as of the last
// tick (ProductConditions), or, before the first, unknown conditions for
// every product. Computed once per tick, linear in the products; the
// result is shared and must not be modified. Safe for concurrent use.
func (c *Collector) Conditions() []meshwatch.Condition {
	if p := c.conds.Load(); p != nil {
		return *p
	}
	return notTicked
}
