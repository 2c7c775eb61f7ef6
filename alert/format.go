package alert

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// percent formats a ratio as a percentage with at most two decimals:
// 0.999 → "99.9%", -0.4 → "-40%".
func percent(v float64) string {
	s := strconv.FormatFloat(v*100, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s + "%"
}

// budgetLeft formats the share of the error budget left for people: "spent"
// at or below 0 — an overspent budget reads −2711% otherwise, which says
// nothing more — and else the percentage truncated to 0.1 %, so that a
// budget that lost anything never reads 100 %; "<0.1%" for a sliver.
func budgetLeft(v float64) string {
	switch {
	case v <= 0 || math.IsNaN(v):
		return "spent"
	case v >= 1:
		return "100%"
	}
	tenths := math.Floor(v*1000 + 1e-9) // of a percent; the hair keeps 0.72 at 72%
	if tenths <= 0 {
		return "<0.1%"
	}
	return strconv.FormatFloat(tenths/10, 'f', -1, 64) + "%"
}

// rate formats a burn rate: 14.4 → "14.4×".
func rate(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "×"
}

// burnRates formats "14.4× (1h) · 15.2× (5m)".
func burnRates(rs []BurnRate) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = rate(r.Rate) + " (" + r.Window + ")"
	}
	return strings.Join(parts, " · ")
}

// human formats a duration for people: 45s, 12m, 3h 20m, 5d 3h.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m != 0 {
			return fmt.Sprintf("%dh %dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	default:
		days := int(d.Hours()) / 24
		if h := int(d.Hours()) % 24; h != 0 {
			return fmt.Sprintf("%dd %dh", days, h)
		}
		return fmt.Sprintf("%dd", days)
	}
}

// clock formats a time in UTC, short enough for a phone: "Jan 2 15:04 UTC".
func clock(t time.Time) string { return t.UTC().Format("Jan 2 15:04 UTC") }

// exhaustion formats the time to exhaustion, "exhausted" when the budget
// is spent and "" when unknown.
func exhaustion(a *Alert) string {
	if a.BudgetRemaining != nil && *a.BudgetRemaining <= 0 {
		return "exhausted"
	}
	if a.TimeToExhaustion > 0 {
		return human(a.TimeToExhaustion)
	}
	return ""
}

// field is one labelled value of an alert.
type field struct{ name, value string }

// fields returns the alert's known values in display order.
func fields(a *Alert) []field {
	var fs []field
	add := func(name, value string) {
		if value != "" {
			fs = append(fs, field{name, value})
		}
	}
	add("Owner", a.Owner)
	switch {
	case a.Promise != "":
		// Objective and threshold: "99.9% of records within 1s".
		add("Promise", a.Promise)
	case a.Objective > 0:
		add("Objective", percent(a.Objective))
	}
	if a.SLI != nil {
		add("Current SLI", percent(*a.SLI))
	}
	if a.BudgetRemaining != nil {
		add("Budget remaining", budgetLeft(*a.BudgetRemaining))
	}
	add("Burn rate", burnRates(a.BurnRates))
	add("Time to exhaustion", exhaustion(a))
	return fs
}

// stateWord is what the alert's line says about its state: the source's
// state, or its severity.
func stateWord(a *Alert) string {
	switch {
	case a.Status == StatusResolved:
		return "resolved"
	case a.State != "":
		return a.State
	default:
		return a.Severity()
	}
}

// headline is "PAGE", "TICKET" or "RESOLVED" for the notification, and
// "UPSTREAM" for a consuming team's copy of a firing incident.
func headline(n *Notification) string {
	switch {
	case n.Status == StatusResolved:
		return "RESOLVED"
	case n.Audience != nil:
		return "UPSTREAM"
	case n.Page:
		return "PAGE"
	default:
		return "TICKET"
	}
}

// titles lists the distinct titles of alerts, in order.
func titles(as []Alert) string {
	var out []string
	seen := map[string]bool{}
	for i := range as {
		t := as[i].title()
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

// shown returns the alerts a message describes in full: the firing ones,
// or the resolved ones once everything resolved.
func shown(n *Notification) []Alert {
	if f := n.Firing(); len(f) > 0 {
		return f
	}
	return n.Alerts
}

// product returns the notification's product, or its first alert's name.
func product(n *Notification) string {
	if p := n.GroupLabels[LabelProduct]; p != "" {
		return p
	}
	if len(n.Alerts) > 0 {
		return n.Alerts[0].Name()
	}
	return "meshwatch"
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
