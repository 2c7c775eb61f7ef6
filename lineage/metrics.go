package lineage

import "github.com/prometheus/client_golang/prometheus"

var edgeDesc = prometheus.NewDesc("meshwatch_lineage_edge",
	"1 for each edge of the lineage graph: from and to are node IDs (product:NAME, group:NAME, team:NAME), kind is owns, consumes, member_of, feeds or suggested_feeds. For a Grafana node graph.",
	[]string{"from", "to", "kind"}, nil)

type collector struct{ build func() Graph }

// NewCollector returns a collector of meshwatch_lineage_edge over the graph
// build returns at each scrape.
func NewCollector(build func() Graph) prometheus.Collector { return collector{build} }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- edgeDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.build().Edges {
		ch <- prometheus.MustNewConstMetric(edgeDesc, prometheus.GaugeValue, 1, e.From, e.To, e.Kind)
	}
}
