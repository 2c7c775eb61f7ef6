package config

import (
	"fmt"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/collector"
	"github.com/meshwatch/meshwatch/lag"
)

// Metrics is the metrics: section: how much the agent's /metrics exports
// per product. The defaults keep a product to a few dozen series (the
// README's series budget); each setting buys detail with series.
type Metrics struct {
	// LagGranularity is how finely consumer lag is exported: group (one
	// lag per group and product), topic (default: also per topic) or
	// partition (per partition instead of per topic, and
	// kafka-lag-exporter's per-partition names).
	LagGranularity string `yaml:"lag_granularity"`
	// LatencyBuckets are classic buckets of meshwatch_latency_seconds in
	// seconds, for a Prometheus that scrapes text only (without native
	// histograms). Default none: the native histogram alone, one series
	// in a Prometheus that scrapes native histograms.
	LatencyBuckets []float64 `yaml:"latency_buckets"`
}

// DefaultLagGranularity is the default of metrics.lag_granularity.
const DefaultLagGranularity = string(lag.GranularityTopic)

// maxLatencyBuckets bounds metrics.latency_buckets: each is a series per
// product.
const maxLatencyBuckets = 30

// SetDefaults fills what is left at its zero value.
func (m *Metrics) SetDefaults() {
	if m.LagGranularity == "" {
		m.LagGranularity = DefaultLagGranularity
	}
}

// Granularity returns metrics.lag_granularity as the lag package reads it
// (after SetDefaults and Validate).
func (m Metrics) Granularity() lag.Granularity {
	g, err := lag.ParseGranularity(m.LagGranularity)
	if err != nil {
		return lag.GranularityTopic
	}
	return g
}

// CollectorOptions returns what the collector's metrics take from the
// section.
func (m Metrics) CollectorOptions() collector.MetricsOptions {
	return collector.MetricsOptions{LatencyBuckets: m.LatencyBuckets}
}

// LagOptions returns what the lag monitor's metrics take from the section
// and from lag.kafka_lag_exporter_metrics.
func (c *Config) LagOptions() lag.MetricsOptions {
	return lag.MetricsOptions{KafkaLagExporter: c.Lag.LagExporterMetrics(), Granularity: c.Metrics.Granularity()}
}

// Validate checks the section after SetDefaults.
func (m Metrics) Validate() meshwatch.Problems {
	var ps meshwatch.Problems
	if _, err := lag.ParseGranularity(m.LagGranularity); err != nil {
		ps = append(ps, meshwatch.Problem{Path: "metrics.lag_granularity", Msg: err.Error()})
	}
	if len(m.LatencyBuckets) > maxLatencyBuckets {
		ps = append(ps, meshwatch.Problem{Path: "metrics.latency_buckets", Msg: fmt.Sprintf(
			"at most %d buckets (each is a series per product), got %d", maxLatencyBuckets, len(m.LatencyBuckets))})
	}
	if err := m.CollectorOptions().Validate(); err != nil {
		ps = append(ps, meshwatch.Problem{Path: "metrics.latency_buckets", Msg: err.Error()})
	}
	return ps
}
