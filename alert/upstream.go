package alert

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Upstream is an incident of a product that feeds the incident's product
// (its declared inputs, directly or through other products), in progress
// when the incident opened: its probable cause.
type Upstream struct {
	Product string `json:"product"`
	// Since is when the upstream product's first firing alert started.
	Since time.Time `json:"since"`
	// What lists its firing alerts' titles ("latency, freshness").
	What string `json:"what,omitempty"`
}

// consumerCopy is what a consuming team was last told of an incident: its
// own copy of the incident, in its channel, with a thread of its own.
type consumerCopy struct {
	ID string `json:"id"`
	// Opened is when the team was first told: its copy's "since".
	Opened   time.Time          `json:"opened"`
	Audience meshwatch.Audience `json:"audience"`
	Notified map[string]string  `json:"notified"` // fingerprint → State
}

// forConsumers reports whether a consuming team hears of the alert: a
// product's own trouble does; a consumer's lag (its team hears of it
// through routing), the agent's blindness (the platform team's), a budget
// (finance's) and a policy violation (the owner's to fix; the data flows)
// do not.
func forConsumers(a *Alert) bool {
	switch a.Name() {
	case NameConsumerLag, NameProductBlind, NameCostBudget, NamePolicyViolation:
		return false
	}
	return a.Product != ""
}

// causedSLIs are the indicators an upstream incident explains downstream:
// data that arrives late upstream arrives late downstream.
var causedSLIs = map[string]bool{meshwatch.SLIFreshness: true, meshwatch.SLILatency: true}

// troubleSLIs are the indicators of an upstream trouble that delays what
// it feeds: late, stale, missing or unavailable data. Invalid records do
// not make a downstream product late.
var troubleSLIs = map[string]bool{meshwatch.SLIFreshness: true, meshwatch.SLILatency: true, meshwatch.SLIAvailability: true}

// upstreamTrouble reports whether a firing alert is trouble that explains
// lateness downstream.
func upstreamTrouble(a *Alert) bool {
	switch a.Name() {
	case NameProductUnavailable, NameProductStale, NameSLONoData:
		return true
	case NameConsumerLag, NameProductBlind, NameCostBudget, NamePolicyViolation:
		return false
	}
	return troubleSLIs[a.Labels[LabelSLI]]
}

// causes finds, for one pass over the alerts (a dispatch, a metrics
// update, an API call), the upstream trouble of each product: computed
// once per product and pass, so that 10,000 products with inputs cost a
// walk of their inputs each, not one per alert.
type causes struct {
	m        *Manager
	troubled map[string]Upstream   // by product: its firing trouble
	memo     map[string][]Upstream // by product: its troubled inputs, nearest first
}

// newCauses indexes the products in trouble at now: a firing alert that
// upstreamTrouble accepts and no silence mutes. The caller holds m.mu.
func (m *Manager) newCauses(now time.Time) *causes {
	c := &causes{m: m, troubled: map[string]Upstream{}}
	var alertsOf map[string][]Alert
	for _, t := range m.alerts {
		if t.a.Status != StatusFiring || t.a.Product == "" || !upstreamTrouble(&t.a) || m.silenced(&t.a, now) {
			continue
		}
		p := t.a.Product
		u, ok := c.troubled[p]
		if !ok || t.a.StartsAt.Before(u.Since) {
			u.Since = t.a.StartsAt
		}
		u.Product = p
		c.troubled[p] = u
		if alertsOf == nil {
			alertsOf = map[string][]Alert{}
		}
		alertsOf[p] = append(alertsOf[p], t.a)
	}
	for p, as := range alertsOf {
		sortAlerts(as)
		u := c.troubled[p]
		u.What = titles(as)
		c.troubled[p] = u
	}
	return c
}

// silenced reports whether a silence in force at now mutes a.
func (m *Manager) silenced(a *Alert, now time.Time) bool {
	for _, s := range m.silences {
		if s.activeAt(now) && s.matches(a.Labels) {
			return true
		}
	}
	return false
}

// of returns the nearest troubled products that feed product: on each
// path up its declared inputs, the first product in trouble (what feeds
// that one is its own incident's business). Memoized over the pass, so
// that all products together cost one walk of the inputs; an input cycle
// (which Validate refuses) ends the walk.
func (c *causes) of(product string) []Upstream {
	if len(c.troubled) == 0 {
		return nil
	}
	if ups, ok := c.memo[product]; ok {
		return ups
	}
	if c.memo == nil {
		c.memo = map[string][]Upstream{}
	}
	c.memo[product] = nil // a cycle back here finds nothing
	p := c.m.products[product]
	if p == nil {
		return nil
	}
	var out []Upstream
	add := func(u Upstream) {
		if !slices.ContainsFunc(out, func(x Upstream) bool { return x.Product == u.Product }) {
			out = append(out, u)
		}
	}
	for _, in := range p.Inputs {
		if u, ok := c.troubled[in]; ok {
			add(u)
		}
	}
	for _, in := range p.Inputs {
		if _, ok := c.troubled[in]; !ok {
			for _, u := range c.of(in) {
				add(u)
			}
		}
	}
	c.memo[product] = out
	return out
}

// causedBy returns the product whose trouble explains a, "" when none: a
// freshness or latency alert of a product that an input in trouble feeds,
// the input's trouble having started no later than a. Such an alert is
// inhibited, not hidden: it stays in its incident, marked as caused
// upstream, and does not page.
func (c *causes) causedBy(a *Alert) string {
	if !causedSLIs[a.Labels[LabelSLI]] {
		return ""
	}
	for _, u := range c.of(a.Product) {
		if !u.Since.After(a.StartsAt) {
			return u.Product
		}
	}
	return ""
}

// setUpstream names, on an incident, the troubled inputs of its product
// when the first alert its consumers hear of joins it (an incident may be
// open for a policy ticket or a consumer's lag long before): the
// incident's probable cause, kept until no such alert fires any more.
func setUpstream(inc *incident, cur map[string]*tracked, ups []Upstream) {
	before := false
	for _, a := range inc.Notified {
		if forConsumers(&a) {
			before = true
			break
		}
	}
	var first time.Time
	for _, t := range cur {
		if forConsumers(&t.a) && (first.IsZero() || t.a.StartsAt.Before(first)) {
			first = t.a.StartsAt
		}
	}
	switch {
	case first.IsZero():
		inc.Upstream = nil
	case !before:
		inc.Upstream = nil
		for _, u := range ups {
			if !u.Since.After(first) {
				inc.Upstream = append(inc.Upstream, u)
			}
		}
	}
}

// consumerCopies makes the copies of the owner's notification n of inc for
// the teams that depend on its product, and records what each was told:
// the first firing alert the team hears of opens its copy (KindFire), a
// change of those alerts changes it, and it resolves when none of them
// fires any more or the incident resolves. Repeats are the owner's. The
// caller holds m.mu.
func (m *Manager) consumerCopies(inc *incident, n *Notification) []*Notification {
	if m.audiences == nil && len(inc.Consumers) == 0 {
		return nil
	}
	var firing, resolved []Alert
	for _, a := range n.Alerts {
		if !forConsumers(&a) {
			continue
		}
		if a.Status == StatusFiring {
			firing = append(firing, a)
		} else {
			resolved = append(resolved, a)
		}
	}
	current := map[string]meshwatch.Audience{}
	if m.audiences != nil && len(firing) > 0 {
		for _, a := range m.audiences(n.GroupLabels[LabelProduct]) {
			if a.Channel != n.Channel {
				current[a.Team] = a
			}
		}
	}
	var out []*Notification
	for _, team := range slices.Sorted(maps.Keys(mergeKeys(current, inc.Consumers))) {
		cc := inc.Consumers[team]
		aud, ok := current[team]
		var kind string
		switch {
		case cc == nil && len(firing) == 0:
			continue
		case cc == nil:
			kind = KindFire
			// An ID of its own each time a copy opens: a Slack thread of
			// its own, never the root of an earlier copy.
			cc = &consumerCopy{ID: fmt.Sprintf("%s~%s-%d", inc.ID, teamHash(team), m.st.Seq), Opened: n.Time}
			if inc.Consumers == nil {
				inc.Consumers = map[string]*consumerCopy{}
			}
			inc.Consumers[team] = cc
		case len(firing) == 0:
			kind = KindResolve
		case consumerChanged(cc.Notified, firing) || (ok && !slices.Equal(aud.Groups, cc.Audience.Groups)) || (ok && !slices.Equal(aud.Products, cc.Audience.Products)):
			kind = KindChange
		default:
			continue
		}
		if ok {
			cc.Audience = aud
		}
		c := *n
		c.Kind, c.Incident, c.Channel, c.Page, c.Mention = kind, cc.ID, cc.Audience.Channel, false, ""
		c.GroupKey, c.Opened = copyGroupKey(n.GroupKey, team, m.shardOf != nil), cc.Opened
		c.GroupLabels = maps.Clone(n.GroupLabels)
		audCopy := cc.Audience
		c.Audience = &audCopy
		c.Alerts = nil
		for _, a := range firing {
			a = a.clone()
			if prev, ok := cc.Notified[a.Fingerprint]; !ok {
				a.Change = ChangeNew
			} else if prev != a.State {
				a.Change = ChangeState
			} else {
				a.Change = ""
			}
			c.Alerts = append(c.Alerts, a)
		}
		// The resolved alerts this team was told of, in the owner's
		// notification's order.
		for _, a := range resolved {
			if _, told := cc.Notified[a.Fingerprint]; told {
				c.Alerts = append(c.Alerts, a.clone())
			}
		}
		if kind == KindResolve {
			c.Status = StatusResolved
			delete(inc.Consumers, team)
		} else {
			cc.Notified = make(map[string]string, len(firing))
			for _, a := range firing {
				cc.Notified[a.Fingerprint] = a.State
			}
		}
		out = append(out, &c)
	}
	return out
}

// teamHash is a short, stable token of a team for IDs and keys: team
// names may hold any character.
func teamHash(team string) string { return Fingerprint(map[string]string{"team": team})[:8] }

// copyGroupKey is the group key of a team's copies of a group's incidents:
// the group's with the team's token, before the shard suffix when sharded
// (groupShard reads it), so that a receiver keyed on group_key (a
// webhook) never takes a copy's resolve for the owner's.
func copyGroupKey(key, team string, sharded bool) string {
	suffix := "~" + teamHash(team)
	if i := strings.LastIndexByte(key, '#'); sharded && i >= 0 {
		return key[:i] + suffix + key[i:]
	}
	return key + suffix
}

func consumerChanged(prev map[string]string, firing []Alert) bool {
	if len(prev) != len(firing) {
		return true
	}
	for _, a := range firing {
		if s, ok := prev[a.Fingerprint]; !ok || s != a.State {
			return true
		}
	}
	return false
}

func mergeKeys[A, B any](a map[string]A, b map[string]B) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// openIncident reports whether id is an open incident or a consuming
// team's copy of one: its threads are still needed. The caller holds m.mu.
func (m *Manager) openIncident(id string) bool {
	for _, inc := range m.st.Incidents {
		if inc.ID == id {
			return true
		}
		for _, cc := range inc.Consumers {
			if cc.ID == id {
				return true
			}
		}
	}
	return false
}

// IncidentView is an open incident as /api/v1/incidents shows it.
type IncidentView struct {
	ID      string    `json:"id"`
	Product string    `json:"product"`
	Owner   string    `json:"owner"`
	Channel string    `json:"channel,omitempty"`
	Opened  time.Time `json:"opened"`
	// Alerts are the titles of the alerts last notified.
	Alerts []string `json:"alerts"`
	// Upstream are the incidents of the products that feed this one,
	// in progress when it opened: its probable cause.
	Upstream []Upstream `json:"upstream,omitempty"`
	// Consumers are the teams told of it in their channels.
	Consumers []meshwatch.Audience `json:"consumers,omitempty"`
}

// Incidents returns the open incidents, by product and ID.
func (m *Manager) Incidents() []IncidentView {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]IncidentView, 0, len(m.st.Incidents))
	for _, inc := range m.st.Incidents {
		v := IncidentView{
			ID: inc.ID, Product: inc.GroupLabels[LabelProduct], Owner: inc.GroupLabels["owner"],
			Channel: inc.Channel, Opened: inc.Opened, Upstream: slices.Clone(inc.Upstream), Alerts: []string{},
		}
		as := slices.Collect(maps.Values(inc.Notified))
		sortAlerts(as)
		for i := range as {
			v.Alerts = append(v.Alerts, as[i].title())
		}
		v.Alerts = slices.Compact(v.Alerts)
		for _, team := range slices.Sorted(maps.Keys(inc.Consumers)) {
			v.Consumers = append(v.Consumers, inc.Consumers[team].Audience)
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b IncidentView) int {
		return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.ID, b.ID))
	})
	return out
}
