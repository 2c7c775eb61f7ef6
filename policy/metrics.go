package policy

import (
	"github.com/prometheus/client_golang/prometheus"
)

var violationsDesc = prometheus.NewDesc("meshwatch_policy_violations",
	"Violations of a governance policy (policies:) by a product, at the policy's severity (error or warning); product is empty for the topics that no product claims (unowned_topics).",
	[]string{"policy", "product", "severity"}, nil)

type collector struct{ violations func() []Violation }

// NewCollector returns a collector of meshwatch_policy_violations: the
// number of violations per policy, product and severity among those that
// violations returns at each scrape (the latest evaluation, typically). A
// (policy, product, severity) without violations has no series.
func NewCollector(violations func() []Violation) prometheus.Collector {
	return collector{violations}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- violationsDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ policy, product, severity string }
	counts := map[key]int{}
	var order []key
	for _, v := range c.violations() {
		k := key{v.Policy, v.Product, v.Severity}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	for _, k := range order {
		ch <- prometheus.MustNewConstMetric(violationsDesc, prometheus.GaugeValue, float64(counts[k]), k.policy, k.product, k.severity)
	}
}
