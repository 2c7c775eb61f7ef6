package cost

import (
	"testing"

	"github.com/meshwatch/meshwatch"
)

// TestBudgetCondition is the table of the cost condition rule.
func TestBudgetCondition(t *testing.T) {
	tests := []struct {
		name string
		a    BudgetAlert
		want meshwatch.Condition
	}{
		{
			name: "a product's budget crossed 90%",
			a:    BudgetAlert{Budget: "product:orders", Product: "orders", Owner: "orders-team", Threshold: 90, Currency: "USD"},
			// The owner recorded at fire time is not used: the manager
			// takes the product's owner from the current configuration.
			want: meshwatch.Condition{Name: meshwatch.AlertCostBudget, Severity: meshwatch.SeverityTicket, Product: "orders", State: "90%"},
		},
		{
			name: "a cost center's forecast",
			a:    BudgetAlert{Budget: "cost_center:cc-7", CostCenter: "cc-7", Owner: "finance", Forecast: true, Currency: "USD"},
			want: meshwatch.Condition{Name: meshwatch.AlertCostBudget, Severity: meshwatch.SeverityTicket, CostCenter: "cc-7", Owner: "finance", State: "forecast"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BudgetCondition(&tc.a)
			if got.Summary != tc.a.String() {
				t.Errorf("summary %q, want %q", got.Summary, tc.a.String())
			}
			got.Summary = ""
			if got != tc.want {
				t.Errorf("condition %+v, want %+v", got, tc.want)
			}
		})
	}
}
