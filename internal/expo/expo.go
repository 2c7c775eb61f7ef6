package expo

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Type is a family's metric type.
type Type int

// The types a Source writes.
const (
	Counter Type = iota
	Gauge
	// Histogram: a family of HistogramValue series, written with
	// Writer.Histogram.
	Histogram
)

func (t Type) valueType() prometheus.ValueType {
	if t == Counter {
		return prometheus.CounterValue
	}
	return prometheus.GaugeValue
}

// Family describes one metric family: its name, help, type and label
// names, in the order a Source gives their values.
type Family struct {
	Name, Help string
	Type       Type
	Labels     []string
	desc       *prometheus.Desc
	order      []int // label indexes in name order, as client_golang writes them
}

// NewFamily describes a family. The labels are given in this order to
// Writer.Sample.
func NewFamily(name, help string, t Type, labels ...string) *Family {
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return &Family{Name: name, Help: help, Type: t, Labels: labels, order: order,
		desc: prometheus.NewDesc(name, help, labels, nil)}
}

// Desc is the family as client_golang describes it.
func (f *Family) Desc() *prometheus.Desc { return f.desc }

// Writer takes a Source's series, one family after the other: Begin, then
// every sample of that family. A Source must not begin a family twice in
// one write, and gives each sample as many label values as the family has
// labels.
type Writer interface {
	// Begin starts a family. A family without samples is not written.
	Begin(f *Family)
	// Sample writes one series of the current family.
	Sample(v float64, labelValues ...string)
	// Counter writes one series of the current family, a counter that
	// was created at created (zero: unknown). Formats that carry
	// created timestamps (protobuf) carry it.
	Counter(v float64, created time.Time, labelValues ...string)
	// Histogram writes one series of the current family, a Histogram.
	// The writer does not keep h beyond the call.
	Histogram(h *HistogramValue, labelValues ...string)
}

// Source is a collector that writes its series straight to a Writer, one
// family at a time, instead of building a client_golang metric for each:
// the /metrics handler streams it, at the cost of a few bytes per series.
// A Source is also a prometheus.Collector (see Collector), so tests,
// and registries read it as they read any other.
type Source interface {
	prometheus.Collector
	// Families are every family the Source may write.
	Families() []*Family
	// WriteTo writes the Source's current series.
	WriteTo(w Writer)
}

// Collector makes a Source of a family list and a write function: embed
// it, and the type only needs its write. Use it by pointer (a Registry
// tells its Sources apart by identity).
type Collector struct {
	Fams  []*Family
	Write func(w Writer)
}

// Families implements Source.
func (c *Collector) Families() []*Family { return c.Fams }

// WriteTo implements Source.
func (c *Collector) WriteTo(w Writer) { c.Write(w) }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.Fams {
		ch <- f.desc
	}
}

// Collect implements prometheus.Collector: every sample as a constant
// client_golang metric.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.Write(&metricWriter{ch: ch})
}

// metricWriter turns samples into client_golang constant metrics.
type metricWriter struct {
	ch  chan<- prometheus.Metric
	cur *Family
}

func (m *metricWriter) Begin(f *Family) { m.cur = f }

func (m *metricWriter) Sample(v float64, lv ...string) {
	m.ch <- prometheus.MustNewConstMetric(m.cur.desc, m.cur.Type.valueType(), v, lv...)
}

func (m *metricWriter) Histogram(h *HistogramValue, lv ...string) {
	m.ch <- histMetric{desc: m.cur.desc, labels: prometheus.MakeLabelPairs(m.cur.desc, lv), h: h.proto()}
}

// histMetric is a HistogramValue as a client_golang metric.
type histMetric struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	h      *dto.Histogram
}

func (h histMetric) Desc() *prometheus.Desc { return h.desc }

func (h histMetric) Write(m *dto.Metric) error {
	m.Label, m.Histogram = h.labels, h.h
	return nil
}

func (m *metricWriter) Counter(v float64, created time.Time, lv ...string) {
	if created.IsZero() {
		m.Sample(v, lv...)
		return
	}
	m.ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(m.cur.desc, m.cur.Type.valueType(), v, created, lv...)
}
