package alert

import (
	"time"

	"github.com/meshwatch/meshwatch"
)

// UpdateConditions sets the complete set of conditions at now, as the
// sources judged them (collector, sla, lag, cost): each known condition is
// an active alert, each unknown one holds the open alerts it covers
// (meshwatch.Condition.Holds), and every other open alert resolves. It is
// UpdateKnown with the conditions converted; it does no I/O. The work is
// linear in the number of conditions and open alerts.
func (m *Manager) UpdateConditions(now time.Time, conds []meshwatch.Condition) {
	alerts := make([]Alert, 0, len(conds))
	// Unknown conditions by product ("" for those of every product), so
	// that each open alert is checked against its product's only.
	var unknown map[string][]*meshwatch.Condition
	for i := range conds {
		c := &conds[i]
		if c.Unknown() {
			if unknown == nil {
				unknown = map[string][]*meshwatch.Condition{}
			}
			unknown[c.Product] = append(unknown[c.Product], c)
			continue
		}
		alerts = append(alerts, FromCondition(c))
	}
	var held func(*Alert) bool
	if unknown != nil {
		held = func(a *Alert) bool {
			name, product := a.Name(), a.Labels[LabelProduct]
			slo, sli, group := a.Labels[LabelSLO], a.Labels[LabelSLI], a.Labels[LabelGroup]
			for _, key := range []string{product, ""} {
				for _, c := range unknown[key] {
					if c.Holds(name, product, slo, sli, group) {
						return true
					}
				}
				if product == "" {
					break
				}
			}
			return false
		}
	}
	m.UpdateKnown(now, alerts, held)
}

// FromCondition returns the active alert of a known condition: its labels
// are alertname, product, slo, sli, group, cost_center, policy, topic
// (those set) and
// severity; the Manager applies the product's tier to the severity.
func FromCondition(c *meshwatch.Condition) Alert {
	labels := map[string]string{LabelAlertname: c.Name, LabelSeverity: c.Severity}
	for k, v := range map[string]string{
		LabelProduct: c.Product, LabelSLO: c.SLO, LabelSLI: c.SLI, LabelGroup: c.Group, LabelCostCenter: c.CostCenter,
		LabelPolicy: c.Policy, LabelTopic: c.Topic,
	} {
		if v != "" {
			labels[k] = v
		}
	}
	a := Alert{
		Labels: labels, Active: true, For: c.For, State: c.State,
		Product: c.Product, Owner: c.Owner, SLO: c.SLO,
	}
	if c.Summary != "" || c.Description != "" {
		a.Annotations = map[string]string{}
		if c.Summary != "" {
			a.Annotations["summary"] = c.Summary
		}
		if c.Description != "" {
			a.Annotations["description"] = c.Description
		}
	}
	if b := c.Budget; b != nil {
		a.Objective, a.Window = b.Objective, b.Window
		if b.SLI != nil {
			v := *b.SLI
			a.SLI = &v
		}
		if b.Remaining != nil {
			rem := *b.Remaining
			a.BudgetRemaining = &rem
		}
		for _, r := range b.BurnRates {
			a.BurnRates = append(a.BurnRates, BurnRate{Window: r.Window, Rate: r.Rate})
		}
		a.TimeToExhaustion = b.TimeToExhaustion
	}
	return a
}
