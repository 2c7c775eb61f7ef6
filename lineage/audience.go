package lineage

import (
	"slices"
	"strings"

	"github.com/meshwatch/meshwatch"
)

// Audience is a team that depends on a product and hears of it: of its
// incidents (package alert) and of its deprecation and schema changes
// (package notice).
type Audience struct {
	Team    string `json:"team"`
	Channel string `json:"channel"`
	// Groups are the team's consumer groups that read the product
	// (declared, observed, or inferred to be the team's).
	Groups []string `json:"groups,omitempty"`
	// Products are the team's products that the product feeds, directly
	// or through other products (declared inputs).
	Products []string `json:"products,omitempty"`
}

// Affected lists what the audience has at stake, for a message: "group
// fraud-detector, product payments.fraud.scored".
func (a Audience) Affected() string {
	var parts []string
	if len(a.Groups) > 0 {
		parts = append(parts, plural(len(a.Groups), "group", "groups")+" "+strings.Join(a.Groups, ", "))
	}
	if len(a.Products) > 0 {
		parts = append(parts, plural(len(a.Products), "product", "products")+" "+strings.Join(a.Products, ", "))
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Audiences returns the teams that depend on product in g, a graph Build
// made of cfg, ordered by team: each team other than the product's owner
// that owns a group consuming the product or a product it feeds (through
// feeds edges, transitively), has a Slack channel, and is subscribed
// (owners.<team>.subscribe). None when the product does not notify its
// consumers (notify_consumers: false) or cfg does not know it.
func Audiences(cfg *meshwatch.Config, g Graph, product string) []Audience {
	i := slices.IndexFunc(cfg.Products, func(p meshwatch.Product) bool { return p.Name == product })
	if i < 0 || !cfg.Products[i].Notifies() {
		return nil
	}
	owner := cfg.Products[i].Owner
	teamOf := map[string]string{} // group ID → team
	for _, e := range g.Edges {
		if e.Kind == EdgeMemberOf {
			teamOf[e.From] = strings.TrimPrefix(e.To, teamPrefix)
		}
	}
	by := map[string]*Audience{}
	add := func(team string) *Audience {
		if team == "" || team == owner || team == meshwatch.UnknownOwner {
			return nil
		}
		o, ok := cfg.Owners[team]
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
	for _, e := range g.Edges {
		if e.Kind == EdgeConsumes && e.To == start {
			if a := add(teamOf[e.From]); a != nil {
				a.Groups = append(a.Groups, strings.TrimPrefix(e.From, groupPrefix))
			}
		}
	}
	// Downstream products, breadth first along feeds edges.
	feeds := map[string][]string{}
	for _, e := range g.Edges {
		if e.Kind == EdgeFeeds {
			feeds[e.From] = append(feeds[e.From], e.To)
		}
	}
	seen := map[string]bool{start: true}
	for frontier := []string{start}; len(frontier) > 0; {
		var next []string
		for _, id := range frontier {
			for _, to := range feeds[id] {
				if seen[to] {
					continue
				}
				seen[to] = true
				next = append(next, to)
				if n, ok := g.Node(to); ok {
					if a := add(n.Owner); a != nil {
						a.Products = append(a.Products, n.Label)
					}
				}
			}
		}
		frontier = next
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
