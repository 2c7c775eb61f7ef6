package lineage

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var edgeDesc = prometheus.NewDesc("meshwatch_lineage_edge",
	"1 for each edge of the lineage graph: from and to are node IDs (product:NAME, group:NAME, team:NAME), kind is owns, consumes, member_of, feeds or suggested_feeds. For a Grafana node graph.",
	[]string{"from", "to", "kind"}, nil)

type collector struct{ build func() Graph }

// NewCollector returns a collector of meshwatch_lineage_edge over the graph
// build returns at each scrape. Wrap an expensive build in Cached.
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

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- edgeDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.build().Edges {
		ch <- prometheus.MustNewConstMetric(edgeDesc, prometheus.GaugeValue, 1, e.From, e.To, e.Kind)
	}
}
