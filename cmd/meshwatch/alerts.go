package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/collector"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/lag"
	"github.com/meshwatch/meshwatch/sla"
)

// Alert names of the conditions the bridge raises besides the alert
// package's own.
const (
	nameProductStale = "ProductStale" // newer than the freshness threshold: nothing arrived
	nameCostBudget   = "CostBudget"
)

// bridge turns what the sources and the SLO evaluator say into alerts: every
// tick it hands the alert manager the complete set of conditions that hold,
// so that a condition that no longer holds resolves. The leaves never import
// each other; this is where their vocabularies meet.
type bridge struct {
	a    *core
	all  map[string]*meshwatch.Product // every product, for cost alerts on any of them
	now  func() time.Time
	tick time.Duration
}

func newBridge(c *core, all *meshwatch.Config, now func() time.Time) *bridge {
	if now == nil {
		now = time.Now
	}
	byName := make(map[string]*meshwatch.Product, len(all.Products))
	for i := range all.Products {
		byName[all.Products[i].Name] = &all.Products[i]
	}
	return &bridge{a: c, all: byName, now: now, tick: c.cfg.Collector.Tick.Std()}
}

// Run updates the alert manager every tick, and once more on shutdown so
// that the final evaluation is not lost.
func (b *bridge) Run(ctx context.Context) error {
	t := time.NewTicker(b.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.update()
			return nil
		case <-t.C:
			b.update()
		}
	}
}

// update hands the alert manager the conditions that hold now, and says
// which of the others it cannot tell: those are kept as they were.
func (b *bridge) update() {
	b.a.alerts.UpdateKnown(b.now(), b.alerts(), b.unknown())
}

// unknown returns whether a condition's source could not evaluate it now,
// so that "nothing known" is never read as "nothing firing": after a start
// or a takeover until each source has evaluated, and while the agent
// cannot read the product (blind). The alert manager keeps such an alert
// as it was instead of resolving it.
func (b *bridge) unknown() func(*alert.Alert) bool {
	sloEvaluated := b.a.slo.Statuses() != nil
	return func(a *alert.Alert) bool {
		product := a.Labels[alert.LabelProduct]
		name := a.Labels[alert.LabelAlertname]
		if name != nameCostBudget && b.product(product) == nil {
			return false // no longer in the config: nobody will evaluate it again
		}
		switch name {
		case alert.NameProductUnavailable, alert.NameProductBlind:
			st, ok := b.a.col.Status(product)
			return !ok || !st.Ticked
		case nameProductStale:
			st, ok := b.a.col.Status(product)
			if !ok || !st.Ticked || st.Blind != "" {
				return true
			}
			// Nothing seen since the start, for less than the threshold:
			// not known to be fresh.
			p := b.product(product)
			return st.Silent && p != nil && st.Freshness <= freshnessThreshold(p, a.Labels[alert.LabelSLO])
		case alert.NameSLOBurnRate, alert.NameSLOBudgetExhausted, alert.NameSLONoData:
			if !sloEvaluated {
				return true
			}
			if a.Labels[alert.LabelSLI] == meshwatch.SLILag {
				return false // the lag monitor feeds it, not sampling
			}
			st, ok := b.a.col.Status(product)
			return ok && st.Blind != ""
		case alert.NameConsumerLag:
			pl, ok := b.a.lag.Snapshot(product)
			if !ok {
				return true
			}
			for _, g := range pl.Groups {
				if g.Group == a.Labels[alert.LabelGroup] {
					return !g.Settled
				}
			}
			return false // the group is gone: it no longer lags
		case nameCostBudget:
			return b.a.meter == nil || !b.a.meter.BudgetsChecked()
		}
		return false
	}
}

// product returns the named product among the core's, or nil.
func (b *bridge) product(name string) *meshwatch.Product {
	for i := range b.a.cfg.Products {
		if b.a.cfg.Products[i].Name == name {
			return &b.a.cfg.Products[i]
		}
	}
	return nil
}

// freshnessThreshold is the threshold of p's freshness SLO named slo.
func freshnessThreshold(p *meshwatch.Product, slo string) time.Duration {
	for _, s := range p.SLOs {
		if s.Name == slo {
			return s.Threshold.Std()
		}
	}
	return 0
}

// alerts returns every condition that holds now.
func (b *bridge) alerts() []alert.Alert {
	var out []alert.Alert
	byName := map[string]*meshwatch.Product{}
	for i := range b.a.cfg.Products {
		p := &b.a.cfg.Products[i]
		byName[p.Name] = p
		out = append(out, b.productAlerts(p)...)
		out = append(out, b.lagAlerts(p)...)
	}
	for _, st := range b.a.slo.Statuses() {
		if p := byName[st.Product]; p != nil {
			if a, ok := b.sloAlert(p, st); ok {
				out = append(out, a)
			}
		}
	}
	if b.a.meter != nil {
		for _, ba := range b.a.meter.BudgetAlerts() {
			out = append(out, budgetAlert(ba, b.all))
		}
	}
	return out
}

// The bridge gives each condition the severity of the condition itself; the
// alert package applies the product's tier (only tier 1 pages a person).

// productAlerts: unavailable (no leader, too few in-sync replicas, failing
// fetches) and stale (nothing newer than the freshness threshold).
func (b *bridge) productAlerts(p *meshwatch.Product) []alert.Alert {
	st, ok := b.a.col.Status(p.Name)
	if !ok || !st.Ticked {
		return nil
	}
	var out []alert.Alert
	if st.Blind != "" {
		// The agent's own failure, not the product's: its owner cannot fix
		// it, so it is a ticket (route it to the platform team with a route
		// on alertname ProductBlind), and what sampling measures is
		// unknown meanwhile (unknown keeps those alerts as they were).
		out = append(out, alert.Alert{
			Labels: map[string]string{
				alert.LabelAlertname: alert.NameProductBlind, alert.LabelProduct: p.Name,
				alert.LabelSeverity: alert.SeverityTicket,
			},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("meshwatch cannot read %s: its latency, validity and completeness are not measured", p.Name),
				"description": blindWhy(st.Blind) + " Alerts about the product are kept as they were until it is read again.",
			},
			Active: true, State: st.Blind,
		})
	}
	if problems := collector.ProductProblems(st.Problems); len(problems) > 0 {
		out = append(out, alert.Alert{
			Labels: map[string]string{
				alert.LabelAlertname: alert.NameProductUnavailable, alert.LabelProduct: p.Name,
				alert.LabelSeverity: alert.SeverityPage,
			},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s is unavailable", p.Name),
				"description": "Problems: " + strings.Join(problems, "; "),
			},
			Active: true,
			State:  "unavailable",
		})
	}
	for _, s := range p.SLOs {
		if st.Blind != "" || s.SLI != meshwatch.SLIFreshness || st.Freshness <= s.Threshold.Std() {
			continue
		}
		what := fmt.Sprintf("the newest event is %s old", st.Freshness.Round(time.Second))
		if st.Silent {
			what = fmt.Sprintf("no event for %s", st.Freshness.Round(time.Second))
		}
		out = append(out, alert.Alert{
			Labels: map[string]string{
				alert.LabelAlertname: nameProductStale, alert.LabelProduct: p.Name,
				alert.LabelSLO: s.Name, alert.LabelSLI: meshwatch.SLIFreshness,
				alert.LabelSeverity: alert.SeverityPage,
			},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s is stale: %s (threshold %s)", p.Name, what, s.Threshold),
				"description": "Freshness is the time since the newest event time seen on the product's topics.",
			},
			Active: true, State: "stale", SLO: s.Name, Objective: float64(s.Objective), Window: s.Window,
		})
		break
	}
	return out
}

// blindWhy explains a reason of collector.Status.Blind to an SRE.
func blindWhy(reason string) string {
	switch reason {
	case collector.BlindFetchErrors:
		return "Its fetches keep failing while records arrive (meshwatch_fetch_errors_total; the agent's log says which error)."
	default:
		return "Records on its topics stay unread although no fetch fails: the agent's reader is stuck (restart the agent if it lasts)."
	}
}

// lagAlerts: a consumer group of the product that stopped, stalls or lost
// data. The product's owner hears of it; the group's owner is named.
func (b *bridge) lagAlerts(p *meshwatch.Product) []alert.Alert {
	pl, ok := b.a.lag.Snapshot(p.Name)
	if !ok {
		return nil
	}
	var out []alert.Alert
	for _, g := range pl.Groups {
		var why string
		switch g.Status {
		case lag.StatusStop:
			why = "is not committing while behind"
		case lag.StatusStall:
			why = "commits without progress while behind"
		case lag.StatusLost:
			why = fmt.Sprintf("lost %d records: they expired before it read them", g.LostRecords)
		default:
			continue
		}
		sev := alert.SeverityTicket
		if g.Status == lag.StatusLost || g.Declared {
			sev = alert.SeverityPage
		}
		out = append(out, alert.Alert{
			Labels: map[string]string{
				alert.LabelAlertname: alert.NameConsumerLag, alert.LabelProduct: p.Name,
				alert.LabelGroup: g.Group, alert.LabelSLI: meshwatch.SLILag, alert.LabelSeverity: sev,
			},
			Annotations: map[string]string{
				"summary": fmt.Sprintf("consumer group %s (%s) of %s %s", g.Group, g.Owner, p.Name, why),
				"description": fmt.Sprintf("Status %s; %d records and %.0fs behind (%s); retention risk %.0f%%.",
					g.Status, g.LagRecords, g.LagSeconds, g.Method, 100*g.RetentionRisk),
			},
			Active: true, State: g.Status,
		})
	}
	return out
}

// sloAlert: a burn-rate decision or a spent budget.
func (b *bridge) sloAlert(p *meshwatch.Product, st sla.Status) (alert.Alert, bool) {
	var name, sev string
	switch st.Decision {
	case sla.DecisionPage:
		name, sev = alert.NameSLOBurnRate, alert.SeverityPage
	case sla.DecisionTicket:
		name, sev = alert.NameSLOBurnRate, alert.SeverityTicket
	case sla.DecisionExhausted:
		if st.Valid < st.MinEvents {
			// The low-traffic guard holds for a spent budget too: 3 bad
			// events of 5 say little about a promise.
			return alert.Alert{}, false
		}
		name, sev = alert.NameSLOBudgetExhausted, alert.SeverityTicket
	default:
		return alert.Alert{}, false
	}
	a := alert.Alert{
		Labels: map[string]string{
			alert.LabelAlertname: name, alert.LabelProduct: p.Name,
			alert.LabelSLO: st.SLO, alert.LabelSLI: st.SLI, alert.LabelSeverity: sev,
		},
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("%s: SLO %s is burning its error budget", p.Name, st.SLO),
			"description": st.Why,
		},
		Active: true, State: st.Decision,
		SLO: st.SLO, Objective: st.Objective, Window: st.Window,
	}
	if name == alert.NameSLOBudgetExhausted {
		a.Annotations["summary"] = fmt.Sprintf("%s: the error budget of SLO %s is spent", p.Name, st.SLO)
	}
	if w := st.Windows[sla.NumBurnWindows]; w.SLI.OK {
		v := w.SLI.V
		a.SLI = &v
	}
	rem := st.Remaining
	a.BudgetRemaining = &rem
	for _, i := range []int{sla.Burn5m, sla.Burn1h, sla.Burn6h, sla.Burn1d} {
		a.BurnRates = append(a.BurnRates, alert.BurnRate{Window: sla.BurnWindows[i].Name, Rate: st.Windows[i].BurnRate})
	}
	if st.TimeToExhaustion.OK {
		a.TimeToExhaustion = time.Duration(st.TimeToExhaustion.V * float64(time.Second))
	}
	return a, true
}

// budgetAlert: a chargeback budget crossed a threshold this month.
func budgetAlert(ba cost.BudgetAlert, byName map[string]*meshwatch.Product) alert.Alert {
	labels := map[string]string{alert.LabelAlertname: nameCostBudget, alert.LabelSeverity: alert.SeverityTicket}
	a := alert.Alert{Active: true, Owner: ba.Owner, Annotations: map[string]string{"summary": ba.String()}}
	if ba.Product != "" {
		labels[alert.LabelProduct] = ba.Product
		if p := byName[ba.Product]; p != nil {
			a.Owner = p.Owner
		}
	} else {
		labels["cost_center"] = ba.CostCenter
	}
	if ba.Forecast {
		a.State = "forecast"
	} else {
		a.State = fmt.Sprintf("%d%%", ba.Threshold)
	}
	a.Labels = labels
	return a
}
