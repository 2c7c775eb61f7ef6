package lag

import (
	"slices"
	"testing"

	"github.com/meshwatch/meshwatch/internal/doctest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestDocListsMetrics checks that the "# Metrics" list of doc.go names
// every metric NewMetrics registers at some granularity, kafka-lag-exporter's
// names included, and nothing else: users' dashboards, rules and routes are
// built on that list.
func TestDocListsMetrics(t *testing.T) {
	doc, err := doctest.DocMetrics("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, gr := range granularities {
		for _, kle := range []bool{false, true} {
			names, err := doctest.Registered(func(reg prometheus.Registerer) {
				NewMetrics(reg, MetricsOptions{KafkaLagExporter: kle, Granularity: gr})
			})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, names...)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	onlyDoc, onlyReg := doctest.Diff(doc, all)
	for _, n := range onlyReg {
		t.Errorf("%s is registered but not listed under # Metrics in doc.go", n)
	}
	for _, n := range onlyDoc {
		t.Errorf("%s is listed under # Metrics in doc.go but not registered", n)
	}
}
