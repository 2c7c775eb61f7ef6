package lineage

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	edgeDesc = prometheus.NewDesc("meshwatch_lineage_edge",
		"1 for each edge of the lineage graph: from and to are node IDs (product:NAME, group:NAME, team:NAME), kind is owns, consumes, member_of, feeds or suggested_feeds, id is from->to:kind. For a Grafana node graph.",
		[]string{"id", "from", "to", "kind"}, nil)
	nodeDesc = prometheus.NewDesc("meshwatch_lineage_node",
		"1 for each node of the lineage graph: id is product:NAME, group:NAME or team:NAME, title the name, kind product, group or team. For a Grafana node graph.",
		[]string{"id", "title", "kind"}, nil)
)

type collector struct{ build func() Graph }

// NewCollector returns a collector of meshwatch_lineage_node and
// meshwatch_lineage_edge over the graph build returns at each scrape. Wrap an expensive build in Cached.
func NewCollector(build func() Graph) prometheus.Collector { return collector{build} }

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

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- nodeDesc; ch <- edgeDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	g := c.build()
	for _, n := range g.Nodes {
		ch <- prometheus.MustNewConstMetric(nodeDesc, prometheus.GaugeValue, 1, n.ID, n.Label, n.Kind)
	}
	for _, e := range g.Edges {
		ch <- prometheus.MustNewConstMetric(edgeDesc, prometheus.GaugeValue, 1, EdgeID(e), e.From, e.To, e.Kind)
	}
}

// EdgeID identifies an edge for a node graph: "from->to:kind".
func EdgeID(e Edge) string { return e.From + "->" + e.To + ":" + e.Kind }
