package lineage

import (
	"slices"
	"strings"

	"github.com/meshwatch/meshwatch"
)

// Audience is a team that depends on a product (the model's type, so that
// packages alert and notice need not import lineage).
type Audience = meshwatch.Audience

// InferredTeams returns, by group, the team of each group whose owner g
// infers (owners.<team>.groups or clients): the member_of edges marked
// inferred.
func InferredTeams(g Graph) map[string]string {
	out := map[string]string{}
	for _, e := range g.Edges {
		if e.Kind == EdgeMemberOf && e.Inferred {
			out[strings.TrimPrefix(e.From, groupPrefix)] = strings.TrimPrefix(e.To, teamPrefix)
		}
	}
	return out
}

// Audiences returns the teams that depend on product in g, a graph Build
// made of cfg, ordered by team: each team other than the product's owner
// that owns a group consuming the product or a product it feeds (through
// feeds edges, transitively), has a Slack channel, and is subscribed
// (owners.<team>.subscribe). None when the product does not notify its
// consumers (notify_consumers: false) or cfg does not know it. For many
// products, build an AudienceIndex once.
func Audiences(cfg *meshwatch.Config, g Graph, product string) []Audience {
	return newAudiences(cfg, g).of(product)
}

// AudienceIndex is every product's Audiences, computed once for a graph:
// the alert manager asks for them at every notification, at 10,000
// products too.
type AudienceIndex map[string][]Audience

// NewAudienceIndex returns the Audiences of every product of cfg in g.
func NewAudienceIndex(cfg *meshwatch.Config, g Graph) AudienceIndex {
	x := newAudiences(cfg, g)
	out := make(AudienceIndex, len(cfg.Products))
	for i := range cfg.Products {
		if as := x.of(cfg.Products[i].Name); len(as) > 0 {
			out[cfg.Products[i].Name] = as
		}
	}
	return out
}

// audiences holds the graph's adjacency for Audiences.
type audiences struct {
	cfg       *meshwatch.Config
	g         Graph
	products  map[string]*meshwatch.Product
	teamOf    map[string]string   // group ID → team
	consumers map[string][]string // product ID → group IDs consuming it
	feeds     map[string][]string // product ID → product IDs it feeds
}

func newAudiences(cfg *meshwatch.Config, g Graph) *audiences {
	x := &audiences{cfg: cfg, g: g, products: map[string]*meshwatch.Product{}, teamOf: map[string]string{},
		consumers: map[string][]string{}, feeds: map[string][]string{}}
	for i := range cfg.Products {
		x.products[cfg.Products[i].Name] = &cfg.Products[i]
	}
	for _, e := range g.Edges {
		switch e.Kind {
		case EdgeMemberOf:
			x.teamOf[e.From] = strings.TrimPrefix(e.To, teamPrefix)
		case EdgeConsumes:
			x.consumers[e.To] = append(x.consumers[e.To], e.From)
		case EdgeFeeds:
			x.feeds[e.From] = append(x.feeds[e.From], e.To)
		}
	}
	return x
}

func (x *audiences) of(product string) []Audience {
	p := x.products[product]
	if p == nil || !p.Notifies() {
		return nil
	}
	by := map[string]*Audience{}
	add := func(team string) *Audience {
		if team == "" || team == p.Owner || team == meshwatch.UnknownOwner {
			return nil
		}
		o, ok := x.cfg.Owners[team]
		if !ok || o.SlackChannel == "" || !o.Subscribed() {
			return nil
		}
		a := by[team]
		if a == nil {
			a = &Audience{Team: team, Channel: o.SlackChannel}
			by[team] = a
		}
		return a
	}
	start := ProductID(product)
	for _, gid := range x.consumers[start] {
		if a := add(x.teamOf[gid]); a != nil {
			a.Groups = append(a.Groups, strings.TrimPrefix(gid, groupPrefix))
		}
	}
	// Downstream products, breadth first along feeds edges.
	seen := map[string]bool{start: true}
	for frontier := []string{start}; len(frontier) > 0; {
		var next []string
		for _, id := range frontier {
			for _, to := range x.feeds[id] {
				if seen[to] {
					continue
				}
				seen[to] = true
				next = append(next, to)
				if n, ok := x.g.Node(to); ok {
					if a := add(n.Owner); a != nil {
						a.Products = append(a.Products, n.Label)
					}
				}
			}
		}
		frontier = next
	}
	if len(by) == 0 {
		return nil
	}
	out := make([]Audience, 0, len(by))
	for _, a := range by {
		slices.Sort(a.Groups)
		slices.Sort(a.Products)
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Audience) int { return strings.Compare(a.Team, b.Team) })
	return out
}
