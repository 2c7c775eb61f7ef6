package lineage

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/meshwatch/meshwatch"
)

// Node kinds.
const (
	KindProduct = "product"
	KindGroup   = "group"
	KindTeam    = "team"
)

// Edge kinds.
const (
	// EdgeOwns: a team owns a product (the product's owner).
	EdgeOwns = "owns"
	// EdgeConsumes: a consumer group reads a product, declared under the
	// product's consumers or observed with committed offsets on its topics.
	EdgeConsumes = "consumes"
	// EdgeMemberOf: a consumer group belongs to a team, its declared owner.
	EdgeMemberOf = "member_of"
	// EdgeFeeds: a product is an input of another (declared inputs).
	EdgeFeeds = "feeds"
	// EdgeSuggestedFeeds: a product is probably an input of another,
	// because a group of the other's owner consumes it, but the other does
	// not declare it. A suggestion to review, never assumed: it is not
	// declared and nothing treats it as a feeds edge.
	EdgeSuggestedFeeds = "suggested_feeds"
)

// ID prefixes: node IDs are namespaced by kind, so that a product, a group
// and a team of the same name are three nodes.
const (
	productPrefix = KindProduct + ":"
	groupPrefix   = KindGroup + ":"
	teamPrefix    = KindTeam + ":"
)

// ProductID returns the node ID of a product.
func ProductID(name string) string { return productPrefix + name }

// GroupID returns the node ID of a consumer group.
func GroupID(name string) string { return groupPrefix + name }

// TeamID returns the node ID of a team.
func TeamID(name string) string { return teamPrefix + name }

// Node is a product, a consumer group or a team.
type Node struct {
	ID    string `json:"id"`   // "product:NAME", "group:NAME" or "team:NAME"
	Kind  string `json:"kind"` // product, group or team
	Label string `json:"label"`
	// Declared says the configuration declares the node: every product;
	// a group declared under some product's consumers; a team declared
	// under owners. An undeclared group reads a product without its owner
	// having been asked.
	Declared bool `json:"declared"`
	// Observed says, of a group, that it has committed offsets on a
	// product's topics (only when Build was given observations).
	Observed bool `json:"observed,omitempty"`
	// Owner is the team of a product, or of a group (its first declared
	// owner in config order); "" for a group no product declares an owner
	// of, and for a team.
	Owner string `json:"owner,omitempty"`
	// Domain is a product's domain.
	Domain string `json:"domain,omitempty"`
	// Type is Kafka's type of an observed group (classic, consumer, share).
	Type string `json:"type,omitempty"`
}

// Edge is a directed relation between two nodes, by their IDs.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"` // owns, consumes, member_of, feeds or suggested_feeds
	// Declared says the configuration declares the edge; an observed
	// consumer that no product declares, and every suggestion, is not.
	Declared bool `json:"declared"`
	// Observed says, of a consumes edge, that the group has committed
	// offsets on the product's topics (only with observations).
	Observed bool `json:"observed,omitempty"`
	// Inferred says, of a member_of edge, that no product declares the
	// group's owner: the group's ID matches one of the team's groups
	// patterns (owners.<team>.groups).
	Inferred bool `json:"inferred,omitempty"`
}

// Graph is the lineage of the mesh. Nodes are ordered by ID, edges by
// from, to and kind; IDs are unique, and so is each (from, to, kind).
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Observed is a consumer group seen reading a product: one with committed
// offsets on the product's topics. Command meshwatch makes them from the
// lag monitor's snapshot (lag.GroupLag without NoData).
type Observed struct {
	Group string
	// Type is Kafka's type of the group: classic, consumer or share.
	Type string
	// ClientIDs are the client IDs of the members holding its
	// partitions, for owners.<team>.clients.
	ClientIDs []string
}

// Build returns the lineage graph of cfg, a validated configuration:
//
//   - every product, owned (owns) by its owner team;
//   - every consumer group that a product declares under consumers or
//     that observed lists for it, with a consumes edge to the product
//     (declared when the product declares it);
//   - a member_of edge from a group to its owner, the first owner declared
//     for it in config order; a group without one (meshwatch.UnknownOwner)
//     has none;
//   - a feeds edge from each of a product's inputs to the product;
//   - a suggested_feeds edge from a product P to a product Q when a group
//     whose owner owns Q consumes P, and Q neither is P nor declares P
//     among its inputs;
//   - every team: the owners, and the owners of products and consumers.
//
// observed returns the groups seen reading a product; nil means no
// observation (the declared graph). Build is pure: the same arguments give
// the same graph.
func Build(cfg *meshwatch.Config, observed func(product string) []Observed) Graph {
	b := builder{nodes: map[string]*Node{}, edges: map[edgeKey]*Edge{}, groupOwner: map[string]string{}, clients: map[string][]string{}}
	for name := range cfg.Owners {
		b.team(name, true)
	}
	// Products, ownership, declared consumers and the groups' owners.
	for i := range cfg.Products {
		p := &cfg.Products[i]
		b.nodes[ProductID(p.Name)] = &Node{ID: ProductID(p.Name), Kind: KindProduct, Label: p.Name, Declared: true, Owner: p.Owner, Domain: p.Domain}
		if p.Owner != "" {
			b.team(p.Owner, false)
			b.edge(TeamID(p.Owner), ProductID(p.Name), EdgeOwns, true, false)
		}
		for _, c := range p.Consumers {
			g := b.group(c.Group)
			g.Declared = true
			if c.Owner != "" && c.Owner != meshwatch.UnknownOwner {
				if _, ok := b.groupOwner[c.Group]; !ok {
					b.groupOwner[c.Group] = c.Owner
					g.Owner = c.Owner
				}
				b.team(c.Owner, false)
			}
			b.edge(GroupID(c.Group), ProductID(p.Name), EdgeConsumes, true, false)
		}
	}
	// Observed consumers.
	if observed != nil {
		for i := range cfg.Products {
			p := &cfg.Products[i]
			for _, o := range observed(p.Name) {
				if o.Group == "" {
					continue
				}
				g := b.group(o.Group)
				g.Observed = true
				for _, c := range o.ClientIDs {
					if !slices.Contains(b.clients[o.Group], c) {
						b.clients[o.Group] = append(b.clients[o.Group], c)
					}
				}
				if o.Type != "" && g.Type == "" {
					g.Type = o.Type
				}
				e := b.edge(GroupID(o.Group), ProductID(p.Name), EdgeConsumes, false, true)
				e.Observed = true
			}
		}
	}
	for group, owner := range b.groupOwner {
		b.edge(GroupID(group), TeamID(owner), EdgeMemberOf, true, false)
	}
	b.inferOwners(cfg)
	// Declared inputs.
	owned := map[string][]string{} // team → products it owns, in config order
	for i := range cfg.Products {
		p := &cfg.Products[i]
		owned[p.Owner] = append(owned[p.Owner], p.Name)
		for _, in := range p.Inputs {
			if _, ok := b.nodes[ProductID(in)]; ok && in != p.Name {
				b.edge(ProductID(in), ProductID(p.Name), EdgeFeeds, true, false)
			}
		}
	}
	// Suggestions: a group of team T consumes P; T owns Q, and at most
	// MaxSuggestOwned products in all; Q does not declare P. A team with
	// more products gets no suggestion: which of them the group feeds
	// would be a guess, and the guesses grow with products × products
	// (5 million edges for 20 teams of 500 products each).
	inputs := map[string][]string{}
	for i := range cfg.Products {
		inputs[cfg.Products[i].Name] = cfg.Products[i].Inputs
	}
	var suggested []edgeKey
	for k := range b.edges {
		if k.kind != EdgeConsumes {
			continue
		}
		owner := b.groupOwner[strings.TrimPrefix(k.from, groupPrefix)]
		if owner == "" {
			continue
		}
		from := strings.TrimPrefix(k.to, productPrefix)
		if len(owned[owner]) > MaxSuggestOwned {
			continue
		}
		for _, q := range owned[owner] {
			if q != from && !slices.Contains(inputs[q], from) {
				suggested = append(suggested, edgeKey{ProductID(from), ProductID(q), EdgeSuggestedFeeds})
			}
		}
	}
	for _, k := range suggested {
		b.edge(k.from, k.to, k.kind, false, false)
	}
	return b.graph()
}

// MaxSuggestOwned is the most products a team may own for the graph to
// suggest that a group of the team feeds one of them (suggested_feeds).
const MaxSuggestOwned = 3

// inferOwners gives each group without a declared owner the first team,
// in name order, one of whose groups patterns matches the group's ID or
// one of whose clients patterns matches a member's client ID: an inferred
// member_of edge.
func (b *builder) inferOwners(cfg *meshwatch.Config) {
	type team struct {
		name           string
		res, resClient []*regexp.Regexp
	}
	compile := func(ps []string) []*regexp.Regexp {
		var res []*regexp.Regexp
		for _, p := range ps {
			if re, err := regexp.Compile(p); err == nil { // Validate reports the others
				res = append(res, re)
			}
		}
		return res
	}
	var teams []team
	for _, name := range slices.Sorted(maps.Keys(cfg.Owners)) {
		t := team{name, compile(cfg.Owners[name].Groups), compile(cfg.Owners[name].Clients)}
		if len(t.res)+len(t.resClient) > 0 {
			teams = append(teams, t)
		}
	}
	if len(teams) == 0 {
		return
	}
	for id, n := range b.nodes {
		if n.Kind != KindGroup || n.Owner != "" {
			continue
		}
		i := slices.IndexFunc(teams, func(t team) bool {
			return slices.ContainsFunc(t.res, func(re *regexp.Regexp) bool { return re.MatchString(n.Label) }) ||
				slices.ContainsFunc(t.resClient, func(re *regexp.Regexp) bool { return slices.ContainsFunc(b.clients[n.Label], re.MatchString) })
		})
		if i < 0 {
			continue
		}
		n.Owner = teams[i].name
		b.groupOwner[n.Label] = n.Owner
		b.edge(id, TeamID(n.Owner), EdgeMemberOf, false, false).Inferred = true
	}
}

type edgeKey struct{ from, to, kind string }

type builder struct {
	nodes      map[string]*Node
	edges      map[edgeKey]*Edge
	groupOwner map[string]string   // group → its first declared owner
	clients    map[string][]string // group → its members' client IDs seen
}

func (b *builder) team(name string, declared bool) {
	id := TeamID(name)
	if n, ok := b.nodes[id]; ok {
		n.Declared = n.Declared || declared
		return
	}
	b.nodes[id] = &Node{ID: id, Kind: KindTeam, Label: name, Declared: declared}
}

func (b *builder) group(name string) *Node {
	id := GroupID(name)
	if n, ok := b.nodes[id]; ok {
		return n
	}
	n := &Node{ID: id, Kind: KindGroup, Label: name}
	b.nodes[id] = n
	return n
}

// edge adds the edge, or marks the existing one declared when declared.
func (b *builder) edge(from, to, kind string, declared, observed bool) *Edge {
	k := edgeKey{from, to, kind}
	if e, ok := b.edges[k]; ok {
		e.Declared = e.Declared || declared
		e.Observed = e.Observed || observed
		return e
	}
	e := &Edge{From: from, To: to, Kind: kind, Declared: declared, Observed: observed}
	b.edges[k] = e
	return e
}

func (b *builder) graph() Graph {
	g := Graph{Nodes: make([]Node, 0, len(b.nodes)), Edges: make([]Edge, 0, len(b.edges))}
	for _, n := range b.nodes {
		g.Nodes = append(g.Nodes, *n)
	}
	for _, e := range b.edges {
		g.Edges = append(g.Edges, *e)
	}
	g.sort()
	return g
}

func (g *Graph) sort() {
	slices.SortFunc(g.Nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(g.Edges, func(a, b Edge) int {
		return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To), strings.Compare(a.Kind, b.Kind))
	})
}

// Node returns the node with the given ID.
func (g Graph) Node(id string) (Node, bool) {
	i, ok := slices.BinarySearchFunc(g.Nodes, id, func(n Node, id string) int { return strings.Compare(n.ID, id) })
	if !ok {
		return Node{}, false
	}
	return g.Nodes[i], true
}

// Around returns the part of g within depth edges of the product, edges
// followed in either direction: the product, its owner, its consumers and
// their teams at depth 2, its inputs and the products it feeds at 1... A
// negative depth has no limit (everything connected to the product). The
// edges are those of g between two nodes of the part. A product that g
// does not have gives an empty graph.
func (g Graph) Around(product string, depth int) Graph {
	out := Graph{Nodes: []Node{}, Edges: []Edge{}}
	start := ProductID(product)
	if _, ok := g.Node(start); !ok {
		return out
	}
	adj := map[string][]string{}
	for _, e := range g.Edges {
		adj[e.From] = append(adj[e.From], e.To)
		adj[e.To] = append(adj[e.To], e.From)
	}
	in := map[string]bool{start: true}
	frontier := []string{start}
	for d := 0; len(frontier) > 0 && (depth < 0 || d < depth); d++ {
		var next []string
		for _, id := range frontier {
			for _, n := range adj[id] {
				if !in[n] {
					in[n] = true
					next = append(next, n)
				}
			}
		}
		frontier = next
	}
	for _, n := range g.Nodes {
		if in[n.ID] {
			out.Nodes = append(out.Nodes, n)
		}
	}
	for _, e := range g.Edges {
		if in[e.From] && in[e.To] {
			out.Edges = append(out.Edges, e)
		}
	}
	return out
}
