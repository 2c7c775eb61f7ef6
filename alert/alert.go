package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Labels that meshwatch's alerts carry. An alert's identity is its label
// set; cmd/meshwatch builds it from the sources' outputs.
const (
	LabelAlertname = "alertname" // one of the Name constants
	LabelProduct   = "product"
	LabelSLO       = "slo"      // the SLO's name, for SLO alerts
	LabelSLI       = "sli"      // the SLO's indicator kind (meshwatch.SLILatency…), or "lag" for lag alerts
	LabelGroup     = "group"    // the consumer group, for lag alerts
	LabelRule      = "rule"     // a quality rule, for rule alerts
	LabelSeverity  = "severity" // SeverityPage or SeverityTicket
)

// Severities. Only a page of a tier-1 product mentions the owner: the
// Manager applies meshwatch.TierSeverity, so a tier-2 or tier-3 product's
// alerts carry severity="ticket".
const (
	SeverityPage   = meshwatch.SeverityPage
	SeverityTicket = meshwatch.SeverityTicket
)

// Alert names (the alertname label). The sources that raise them own the
// rules (meshwatch.Condition); these are the same names.
const (
	// NameSLOBurnRate is a multiwindow burn-rate decision of an SLO (page or ticket).
	NameSLOBurnRate = meshwatch.AlertSLOBurnRate
	// NameSLOBudgetExhausted is an SLO whose error budget is spent.
	NameSLOBudgetExhausted = meshwatch.AlertSLOBudgetExhausted
	// NameSLONoData is an SLO without valid events (a silent product).
	NameSLONoData = meshwatch.AlertSLONoData
	// NameConsumerLag is a consumer group in status STALL, STOP or LOST; it
	// carries sli="lag" so that ProductUnavailable inhibits it.
	NameConsumerLag = meshwatch.AlertConsumerLag
	// NameProductUnavailable is a product whose partitions or fetches fail.
	// While it fires it inhibits the same product's alerts whose sli label is
	// freshness, latency or lag: they are consequences, not causes.
	NameProductUnavailable = meshwatch.AlertProductUnavailable
	// NameProductBlind is a product the agent cannot read (its fetches keep
	// failing, or records stay unread): the agent's problem, not the
	// owner's. Route it to the platform team with a route matching
	// alertname.
	NameProductBlind = meshwatch.AlertProductBlind
	// NameProductStale is a product with nothing newer than its freshness
	// threshold.
	NameProductStale = meshwatch.AlertProductStale
	// NameCostBudget is a chargeback budget crossed this month.
	NameCostBudget = meshwatch.AlertCostBudget
	// NamePolicyViolation is a governance policy's error violation, a
	// ticket whatever the product's tier.
	NamePolicyViolation = meshwatch.AlertPolicyViolation
)

// LabelCostCenter is the cost center of a cost center's budget alert.
const LabelCostCenter = "cost_center"

// Labels of a policy violation (NamePolicyViolation): the policy's ID,
// and the topic at fault when the violation is a topic's.
const (
	LabelPolicy = "policy"
	LabelTopic  = "topic"
)

// Statuses of an alert in the Manager.
const (
	StatusPending  = "pending"  // active, waiting for its For duration
	StatusFiring   = "firing"   // active for at least For
	StatusResolved = "resolved" // no longer active; kept until its resolve is notified
)

// Changes of an alert in a Notification, relative to the incident's
// previous notification.
const (
	ChangeNew      = "new"
	ChangeState    = "changed" // same labels, another State
	ChangeResolved = "resolved"
)

// BurnRate is the error-budget burn rate over one window ("1h", "5m").
type BurnRate struct {
	Window string  `json:"window"`
	Rate   float64 `json:"rate"`
}

// Alert is one condition to tell an owner about. The caller fills Labels and
// the descriptive fields; the Manager fills Status, Fingerprint, StartsAt and
// EndsAt, and Domain, Owner, Tier, Topics and Cluster from the configuration
// when they are empty.
//
// No field may hold a payload value (a record's content): they are names,
// numbers and links only, and they leave the agent.
type Alert struct {
	// Labels identify the alert: alertname, product, slo or rule or group,
	// severity. Two alerts with the same labels are the same alert.
	Labels map[string]string `json:"labels"`
	// Annotations are free text shown with the alert: "summary" heads the
	// Slack message, "description" follows it.
	Annotations map[string]string `json:"annotations,omitempty"`

	// Active tells Update that the condition holds. An alert passed with
	// Active false is treated as absent: it resolves.
	Active bool `json:"active,omitempty"`
	// For is how long the condition must hold before the alert fires.
	For time.Duration `json:"for,omitempty"`

	// State is the source's word for the condition: page, ticket, exhausted,
	// no_data for SLOs; STALL, STOP, LOST for lag; unavailable. A change of
	// State is a change of the incident.
	State string `json:"state,omitempty"`

	Product string `json:"product,omitempty"`
	Domain  string `json:"domain,omitempty"`
	Owner   string `json:"owner,omitempty"`
	Tier    int    `json:"tier,omitempty"`

	SLO string `json:"slo,omitempty"`
	// Objective is the SLO's objective as a ratio (0.999); 0 when unknown.
	Objective float64 `json:"objective,omitempty"`
	// ThresholdSeconds is the time threshold of a latency, freshness or lag
	// SLO; 0 for an SLO without one, or when unknown. The Manager fills it
	// from the configuration.
	ThresholdSeconds float64 `json:"threshold_seconds,omitempty"`
	// Promise is the SLO's objective and threshold in words, "99.9% of
	// records within 1s"; the Manager fills it from the configuration.
	Promise string `json:"promise,omitempty"`
	// SLI is the current value of the indicator over the SLO's window, a
	// ratio; nil when unknown.
	SLI *float64 `json:"sli,omitempty"`
	// BudgetRemaining is the share of the error budget left (≤ 0 when spent);
	// nil when unknown.
	BudgetRemaining *float64   `json:"budget_remaining,omitempty"`
	BurnRates       []BurnRate `json:"burn_rates,omitempty"`
	// TimeToExhaustion is when the budget runs out at the current burn rate;
	// 0 when unknown or not burning.
	TimeToExhaustion time.Duration `json:"time_to_exhaustion,omitempty"`

	Topics  []string `json:"topics,omitempty"`
	Cluster string   `json:"cluster,omitempty"`
	Window  string   `json:"window,omitempty"` // the SLO's window: "28d", "month"

	RunbookURL   string `json:"runbook_url,omitempty"`
	DashboardURL string `json:"dashboard_url,omitempty"`

	// Set by the Manager.
	Fingerprint string    `json:"fingerprint,omitempty"`
	Status      string    `json:"status,omitempty"`
	StartsAt    time.Time `json:"starts_at,omitzero"`
	EndsAt      time.Time `json:"ends_at,omitzero"`
	// CausedBy is set by the Manager on a freshness or latency alert of a
	// product whose input (a product it declares under inputs, directly or
	// through others) is in trouble: the upstream product. Such an alert
	// is inhibited, not hidden: it stays in its incident, shown as caused
	// upstream, and neither pages nor repeats.
	CausedBy string `json:"caused_by,omitempty"`
	// Change is set in a Notification: how the alert changed since the
	// incident's previous notification (ChangeNew, ChangeState,
	// ChangeResolved), "" when it did not.
	Change string `json:"change,omitempty"`
}

// Name returns the alert's alertname label.
func (a *Alert) Name() string { return a.Labels[LabelAlertname] }

// Severity returns the alert's severity label.
func (a *Alert) Severity() string { return a.Labels[LabelSeverity] }

// Pages reports whether the alert pages its owner: a page of a tier-1
// product. Tier 2 and 3 products never page; their pages open tickets.
func (a *Alert) Pages() bool { return a.Severity() == SeverityPage && a.Tier == 1 }

// title is what the alert is about, for headers: the SLO, the rule, the
// group, or the alert name.
func (a *Alert) title() string {
	if p := a.Labels[LabelPolicy]; p != "" {
		if t := a.Labels[LabelTopic]; t != "" {
			return "policy " + p + " on " + t
		}
		return "policy " + p
	}
	for _, k := range []string{LabelSLO, LabelRule, LabelGroup} {
		if v := a.Labels[k]; v != "" {
			if k == LabelGroup {
				return "lag of " + v
			}
			return v
		}
	}
	if a.SLO != "" {
		return a.SLO
	}
	return a.Name()
}

// clone returns a deep copy of a.
func (a Alert) clone() Alert {
	a.Labels = maps.Clone(a.Labels)
	a.Annotations = maps.Clone(a.Annotations)
	a.BurnRates = slices.Clone(a.BurnRates)
	a.Topics = slices.Clone(a.Topics)
	if a.SLI != nil {
		v := *a.SLI
		a.SLI = &v
	}
	if a.BudgetRemaining != nil {
		v := *a.BudgetRemaining
		a.BudgetRemaining = &v
	}
	return a
}

// Fingerprint returns the identity of a label set: a hash of its sorted
// names and values.
func Fingerprint(labels map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
