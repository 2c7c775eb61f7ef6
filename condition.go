package meshwatch

import "time"

// Alert names: the alertname of each Condition. The source that knows a
// rule raises its condition; the alert package only tracks and tells.
const (
	// AlertSLOBurnRate is a multiwindow burn-rate decision of an SLO (sla).
	AlertSLOBurnRate = "SLOBurnRate"
	// AlertSLOBudgetExhausted is an SLO whose error budget is spent over
	// at least min_events valid events (sla).
	AlertSLOBudgetExhausted = "SLOBudgetExhausted"
	// AlertSLONoData is an SLO without a valid event in its window: a
	// silent product, or a declared consumer that never committed (sla).
	AlertSLONoData = "SLONoData"
	// AlertConsumerLag is a consumer group in status STALL, STOP or LOST
	// (lag).
	AlertConsumerLag = "ConsumerLag"
	// AlertProductUnavailable is a product whose partitions or fetches fail
	// (collector).
	AlertProductUnavailable = "ProductUnavailable"
	// AlertProductBlind is a product the agent cannot read: the agent's
	// problem, not the owner's (collector).
	AlertProductBlind = "ProductBlind"
	// AlertProductStale is a product whose newest event is older than its
	// freshness SLO's threshold (collector).
	AlertProductStale = "ProductStale"
	// AlertCostBudget is a chargeback budget that crossed a threshold this
	// month or is forecast to (cost).
	AlertCostBudget = "CostBudget"
	// AlertPolicyViolation is a governance policy's error violation: a
	// ticket to the product's owner, whatever its tier, or to the default
	// channel for a topic no product claims (command meshwatch, package
	// policy).
	AlertPolicyViolation = "PolicyViolation"
)

// AlertNames lists every alert name, in the order above.
var AlertNames = []string{
	AlertSLOBurnRate, AlertSLOBudgetExhausted, AlertSLONoData, AlertConsumerLag,
	AlertProductUnavailable, AlertProductBlind, AlertProductStale, AlertCostBudget,
	AlertPolicyViolation,
}

// Severities of a condition. A condition states its own urgency; the
// product's tier then decides in one place (TierSeverity) whether a page
// pages.
const (
	SeverityPage   = "page"
	SeverityTicket = "ticket"
)

// StateUnknown is the State of a Condition its source cannot evaluate now:
// after a start or a takeover until it has, or while the agent cannot read
// the product. An open alert that an unknown condition matches is held as
// it is, never resolved on "nothing known".
const StateUnknown = "unknown"

// Condition is one alert condition as the source that knows its rule
// judges it at an evaluation: a burn rate, a spent budget, an unavailable
// or stale product, a lagging group, a crossed cost budget. Sources return
// every condition that holds (and, with StateUnknown, those they cannot
// tell); the alert manager takes the complete set, so that one that no
// longer holds resolves.
//
// Name, Product, SLO, SLI, Group, CostCenter, Policy and Topic identify it (with its
// severity after the tier). No field may hold a payload value: names,
// numbers and links only.
type Condition struct {
	Name    string // one of the Alert constants
	Product string // "" for a cost center's budget
	// Severity is the condition's own urgency, SeverityPage or
	// SeverityTicket; TierSeverity applies the product's tier.
	Severity string
	// State is the source's word for it: page, ticket, exhausted, no_data
	// (SLOs); STALL, STOP, LOST (lag); unavailable, stale, a blind reason
	// (products); a threshold such as "90%" or forecast (cost); or
	// StateUnknown. A change of State is a change of the incident.
	State string

	SLO        string // the SLO's name, for SLO and freshness conditions
	SLI        string // the SLO's indicator kind, or SLILag for lag conditions
	Group      string // the consumer group, for lag conditions
	CostCenter string // for a cost center's budget
	Policy     string // the policy's ID, for policy violations
	Topic      string // the topic at fault, for policy violations

	// Owner is the team to tell when it is not the product's owner: a
	// declared consumer's team, a cost center's team. "" for the product's.
	Owner string
	// For is how long the condition must hold before it fires.
	For time.Duration

	Summary     string // one line, heads the message
	Description string // what it means and where to look

	// Budget holds the SLO's numbers for SLO conditions; nil otherwise.
	Budget *BudgetFacts
}

// BudgetFacts are the numbers of an SLO condition, shown with it.
type BudgetFacts struct {
	Objective float64 // ratio, 0.999
	Window    string  // as configured: 28d, month
	// SLI is the indicator over the SLO's window; nil without valid events.
	SLI *float64
	// Remaining is the share of the error budget left (≤ 0 when spent);
	// nil when not shown (a freshness condition).
	Remaining *float64
	BurnRates []WindowRate
	// TimeToExhaustion is when the budget runs out at the current burn
	// rate; 0 when unknown or nothing burns.
	TimeToExhaustion time.Duration
}

// WindowRate is an error-budget burn rate over one window ("1h", "5m").
type WindowRate struct {
	Window string
	Rate   float64
}

// Unknown reports whether the condition's source cannot evaluate it now.
func (c *Condition) Unknown() bool { return c.State == StateUnknown }

// Holds reports whether c, an unknown condition, covers an alert with
// these identifying fields: every field c sets must be equal. An unknown
// condition with only Product set covers all of the product's alerts;
// one with only Name, that alert name on every product.
func (c *Condition) Holds(name, product, slo, sli, group string) bool {
	return (c.Name == "" || c.Name == name) && (c.Product == "" || c.Product == product) &&
		(c.SLO == "" || c.SLO == slo) && (c.SLI == "" || c.SLI == sli) && (c.Group == "" || c.Group == group)
}

// TierSeverity is the one place where a product's tier meets a
// condition's severity: only tier 1 pages a person; a page of a tier-2 or
// tier-3 product (or of no product) is a ticket.
func TierSeverity(tier int, severity string) string {
	if severity == SeverityPage && tier != 1 {
		return SeverityTicket
	}
	return severity
}
