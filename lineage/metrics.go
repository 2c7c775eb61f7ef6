package lineage

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch/internal/expo"
)

var (
	edgeFamily = expo.NewFamily("meshwatch_lineage_edge",
		"1 for each edge of the lineage graph: from and to are node IDs (product:NAME, group:NAME, team:NAME), kind is owns, consumes, member_of, feeds or suggested_feeds, id is from->to:kind. For a Grafana node graph.",
		expo.Gauge, "id", "from", "to", "kind")
	nodeFamily = expo.NewFamily("meshwatch_lineage_node",
		"1 for each node of the lineage graph: id is product:NAME, group:NAME or team:NAME, title the name, kind product, group or team. For a Grafana node graph.",
		expo.Gauge, "id", "title", "kind")
)

// NewCollector returns a collector of meshwatch_lineage_node and
// meshwatch_lineage_edge over the graph build returns at each scrape. Wrap
// an expensive build in Cached. It is an expo.Source: /metrics streams it.
func NewCollector(build func() Graph) prometheus.Collector {
	return &expo.Collector{Fams: []*expo.Family{nodeFamily, edgeFamily}, Write: func(w expo.Writer) {
		g := build()
		w.Begin(nodeFamily)
		for _, n := range g.Nodes {
			w.Sample(1, n.ID, n.Label, n.Kind)
		}
		w.Begin(edgeFamily)
		for _, e := range g.Edges {
			w.Sample(1, EdgeID(e), e.From, e.To, e.Kind)
		}
	}}
}

// Cached returns build, memoized for maxAge: a scrape every few seconds
// over 10,000 products need not rebuild a graph (or its AudienceIndex)
// that changes with the lag passes and the config. Safe for concurrent
// use.
func Cached[T any](build func() T, maxAge time.Duration, now func() time.Time) func() T {
	var (
		mu sync.Mutex
		g  T
		at time.Time
	)
	return func() T {
		mu.Lock()
		defer mu.Unlock()
		if t := now(); at.IsZero() || t.Sub(at) >= maxAge {
			g, at = build(), t
		}
		return g
	}
}

// EdgeID identifies an edge for a node graph: "from->to:kind".
func EdgeID(e Edge) string { return e.From + "->" + e.To + ":" + e.Kind }
