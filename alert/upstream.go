package alert

import (
	"cmp"
	"maps"
	"slices"
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
	ID       string             `json:"id"`
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

// troubled returns, by product, the upstream view of each product with a
// firing alert that its consumers hear of: since the first of them
// started, and their titles. The caller holds m.mu.
func (m *Manager) troubled() map[string]Upstream {
	out := map[string]Upstream{}
	var titlesOf map[string][]Alert
	for _, t := range m.alerts {
		if t.a.Status != StatusFiring || !forConsumers(&t.a) {
			continue
		}
		p := t.a.Product
		u, ok := out[p]
		if !ok || t.a.StartsAt.Before(u.Since) {
			u.Since = t.a.StartsAt
		}
		u.Product = p
		out[p] = u
		if titlesOf == nil {
			titlesOf = map[string][]Alert{}
		}
		titlesOf[p] = append(titlesOf[p], t.a)
	}
	for p, as := range titlesOf {
		sortAlerts(as)
		u := out[p]
		u.What = titles(as)
		out[p] = u
	}
	return out
}

// upstreamOf returns the troubled products that feed product, nearest
// first (breadth first along the declared inputs), each once.
func (m *Manager) upstreamOf(product string, troubled map[string]Upstream) []Upstream {
	if len(troubled) == 0 {
		return nil
	}
	var out []Upstream
	seen := map[string]bool{product: true}
	for frontier := []string{product}; len(frontier) > 0; {
		var next []string
		for _, name := range frontier {
			p := m.products[name]
			if p == nil {
				continue
			}
			for _, in := range p.Inputs {
				if seen[in] {
					continue
				}
				seen[in] = true
				next = append(next, in)
				if u, ok := troubled[in]; ok {
					out = append(out, u)
				}
			}
		}
		frontier = next
	}
	return out
}

// causedBy returns the product whose incident explains a, "" when none: a
// freshness or latency alert of a product that an input in trouble feeds.
// Such an alert is inhibited, not hidden: it stays in its incident, marked
// as caused upstream, and does not page.
func (m *Manager) causedBy(a *Alert, troubled map[string]Upstream) string {
	if !causedSLIs[a.Labels[LabelSLI]] {
		return ""
	}
	if up := m.upstreamOf(a.Product, troubled); len(up) > 0 {
		return up[0].Product
	}
	return ""
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
			cc = &consumerCopy{ID: inc.ID + "~" + Fingerprint(map[string]string{"team": team})[:8]}
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
