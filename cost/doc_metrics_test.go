package cost

import (
	"testing"

	"github.com/meshwatch/meshwatch/internal/doctest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestDocListsMetrics checks that the "# Metrics" list of doc.go names
// every metric NewMetrics registers, and nothing else: users' dashboards,
// rules and routes are built on that list.
func TestDocListsMetrics(t *testing.T) {
	doctest.Metrics(t, "doc.go", func(reg prometheus.Registerer) { NewMetrics(reg) })
}
