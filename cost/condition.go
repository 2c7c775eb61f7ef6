package cost

import (
	"fmt"

	"github.com/meshwatch/meshwatch"
)

// BudgetCondition returns the alert condition of a budget alert: a
// CostBudget ticket to the budget's owner (the product's, or the cost
// center's team), whose state is the threshold crossed ("90%") or
// "forecast". A budget is money, not an outage: it never pages.
func BudgetCondition(a *BudgetAlert) meshwatch.Condition {
	c := meshwatch.Condition{
		Name: meshwatch.AlertCostBudget, Severity: meshwatch.SeverityTicket,
		Product: a.Product, Summary: a.String(),
		State: fmt.Sprintf("%d%%", a.Threshold),
	}
	if a.Product == "" {
		// A product's budget goes to its current owner (the alert manager
		// fills it from the configuration), not to the one recorded when
		// the alert fired this month.
		c.CostCenter, c.Owner = a.CostCenter, a.Owner
	}
	if a.Forecast {
		c.State = "forecast"
	}
	return c
}

// Conditions returns the conditions of this month's budget alerts, or one
// unknown condition for every budget until the meter has read this month's
// budget state. Safe for concurrent use.
func (m *Meter) Conditions() []meshwatch.Condition {
	if !m.BudgetsChecked() {
		return []meshwatch.Condition{{Name: meshwatch.AlertCostBudget, State: meshwatch.StateUnknown}}
	}
	alerts := m.BudgetAlerts()
	out := make([]meshwatch.Condition, len(alerts))
	for i := range alerts {
		out[i] = BudgetCondition(&alerts[i])
	}
	return out
}
