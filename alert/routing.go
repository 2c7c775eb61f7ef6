package alert

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Default group timings, Alertmanager's.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
)

// Routing says where an alert goes. The product's owner decides the channel
// and the mention; the tier and severity decide page or ticket; Routes
// override both for the alerts they match.
type Routing struct {
	// DefaultChannel receives the alerts whose owner has no Slack channel.
	DefaultChannel string
	// TicketChannel, when set, receives every alert that does not page
	// instead of the owner's channel.
	TicketChannel string
	// GroupWait is how long a new group waits for more alerts before its
	// first notification (default 30s); GroupInterval how long it waits
	// before notifying a change (default 5m); RepeatInterval how long before
	// an unchanged firing incident is notified again (default 4h).
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	// Routes are tried in order; the first whose Match holds overrides the
	// channel, mention and timings it sets.
	Routes []Route
	// RunbookURL and DashboardURL are the links of an alert that has none:
	// {product} and {slo} are replaced by the alert's (path-escaped; {slo}
	// is empty for an alert without one).
	RunbookURL, DashboardURL string
}

// link expands a RunbookURL or DashboardURL template for a.
func link(template string, a *Alert) string {
	if template == "" {
		return ""
	}
	return strings.NewReplacer("{product}", url.PathEscape(a.Product), "{slo}", url.PathEscape(a.SLO)).Replace(template)
}

// Route overrides the routing of the alerts it matches.
type Route struct {
	// Match holds label values that must all be equal. Besides the alert's
	// labels it can match owner, domain, tier ("1") and urgency ("page" or
	// "ticket", after the tier rule).
	Match map[string]string
	// Channel, when set, replaces the channel.
	Channel string
	// Mention, when set, replaces the owner's mention on pages.
	Mention string
	// Timings, when set, replace the defaults for the groups of this route.
	GroupWait, GroupInterval, RepeatInterval time.Duration
}

// target is where one alert goes.
type target struct {
	Channel string
	Mention string // "" when the alert does not page
	Page    bool
	timings
}

type timings struct {
	Wait, Interval, Repeat time.Duration
}

func (r *Routing) defaults() timings {
	t := timings{r.GroupWait, r.GroupInterval, r.RepeatInterval}
	if t.Wait <= 0 {
		t.Wait = DefaultGroupWait
	}
	if t.Interval <= 0 {
		t.Interval = DefaultGroupInterval
	}
	if t.Repeat <= 0 {
		t.Repeat = DefaultRepeatInterval
	}
	return t
}

// route returns where a goes. It is a pure function of the routing, the
// owners and the alert.
func (r *Routing) route(a *Alert, owners map[string]meshwatch.Owner) target {
	t := target{Page: a.Pages(), timings: r.defaults()}
	owner := owners[a.Owner]
	t.Channel = owner.SlackChannel
	if t.Page {
		t.Mention = owner.Mention
	} else if r.TicketChannel != "" {
		t.Channel = r.TicketChannel
	}
	if t.Channel == "" {
		t.Channel = r.DefaultChannel
	}
	for _, rt := range r.Routes {
		if !rt.matches(a, t.Page) {
			continue
		}
		if rt.Channel != "" {
			t.Channel = rt.Channel
		}
		if rt.Mention != "" && t.Page {
			t.Mention = rt.Mention
		}
		if rt.GroupWait > 0 {
			t.Wait = rt.GroupWait
		}
		if rt.GroupInterval > 0 {
			t.Interval = rt.GroupInterval
		}
		if rt.RepeatInterval > 0 {
			t.Repeat = rt.RepeatInterval
		}
		break
	}
	return t
}

func (rt *Route) matches(a *Alert, page bool) bool {
	for k, want := range rt.Match {
		var got string
		switch v, ok := a.Labels[k]; {
		case ok:
			got = v
		case k == "owner":
			got = a.Owner
		case k == "domain":
			got = a.Domain
		case k == "tier":
			got = strconv.Itoa(a.Tier)
		case k == "urgency":
			got = SeverityTicket
			if page {
				got = SeverityPage
			}
		}
		if got != want {
			return false
		}
	}
	return true
}
