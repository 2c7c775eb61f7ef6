package collector

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
)

// productLabels are carried by every product series.
var productLabels = []string{"product", "domain", "owner"}

func withProductLabels(extra ...string) []string {
	return append(append([]string{}, productLabels...), extra...)
}

// Availability problems, the reason label of meshwatch_availability_problem.
const (
	ProblemNoTopics    = "no_topics"
	ProblemNoLeader    = "no_leader"
	ProblemUnderMinISR = "under_min_isr"
	ProblemFetchErrors = "fetch_errors"
	ProblemMetadata    = "metadata"
	// ProblemBlind: the agent cannot read the product's records (see
	// meshwatch_product_blind). It makes the product not available, but
	// counts neither good nor bad for its availability SLO.
	ProblemBlind = "blind"
)

// MetricsOptions select what NewMetricsWith exports. The zero value is what
// NewMetrics exports.
type MetricsOptions struct {
	// LatencyBuckets are upper bounds (seconds, strictly increasing) of
	// classic buckets kept beside the native buckets of
	// meshwatch_latency_seconds, for a Prometheus server that scrapes text
	// only; each costs one series per product. Empty, the default: native buckets only, and the text
	// exposition shows the +Inf bucket, _sum and _count alone.
	LatencyBuckets []float64
}

// Validate checks the options; NewMetricsWith panics on options that do
// not pass.
func (o MetricsOptions) Validate() error {
	for i, b := range o.LatencyBuckets {
		switch {
		case math.IsNaN(b) || math.IsInf(b, 0):
			return fmt.Errorf("latency bucket %v: must be a finite number of seconds", b)
		case b <= 0:
			return fmt.Errorf("latency bucket %v: must be > 0 seconds", b)
		case i > 0 && b <= o.LatencyBuckets[i-1]:
			return errors.New("latency buckets must be strictly increasing")
		}
	}
	return nil
}

// Metrics are the collector's Prometheus metrics. Create them once with
// NewMetrics (or NewMetricsWith) and pass them to New.
//
// Cardinality by design: a product's series are few and each says
// something. Enumerations (availability problems, blind reasons) export
// their current values only, as 1; rare-event counters (fetch errors, budget
// throttles, skipped records, event-time errors by reason) appear at their
// first event; the HDR quantiles are absent while their window is empty.
type Metrics struct {
	info          *prometheus.GaugeVec
	products      *productCollector
	sampleRatio   *prometheus.GaugeVec
	produced      *prometheus.CounterVec
	producedBytes *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	freshness     *prometheus.GaugeVec
	available     *prometheus.GaugeVec
	partitions    *prometheus.GaugeVec

	discoveries    *prometheus.CounterVec
	topicConflicts prometheus.Gauge
	tickErrors     *prometheus.CounterVec
	silent         *prometheus.GaugeVec
	probes         *prometheus.CounterVec
	tickSeconds    prometheus.Histogram
}

// NewMetrics creates the collector's metrics with the default options and
// registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return NewMetricsWith(reg, MetricsOptions{})
}

// NewMetricsWith creates the collector's metrics as o says and registers
// them with reg. It panics if o does not pass Validate.
func NewMetricsWith(reg prometheus.Registerer, o MetricsOptions) *Metrics {
	if err := o.Validate(); err != nil {
		panic("collector: " + err.Error())
	}
	var buckets []float64
	if len(o.LatencyBuckets) > 0 {
		buckets = append(buckets, o.LatencyBuckets...)
	}
	m := &Metrics{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_product_info", Help: "A data product the agent watches (always 1).",
		}, withProductLabels("tier")),
		products: newProductCollector(),
		sampleRatio: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_sample_ratio", Help: "Share of the product's produced records the agent measured over the last tick (1 when it reads everything).",
		}, productLabels),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_records_produced_total", Help: "Records appended to the product's topics, from end-offset deltas.",
		}, productLabels),
		producedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_produced_bytes_total", Help: "Estimated bytes appended to the product's topics: end-offset deltas times the mean sampled record size.",
		}, productLabels),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "meshwatch_latency_seconds",
			Help: "End-to-end latency of sampled records: observed time minus event time.",
			// With native buckets configured, nil Buckets means no classic
			// bucket (not DefBuckets).
			Buckets:                         buckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: 0,
		}, productLabels),
		freshness: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_freshness_seconds", Help: "Now minus the newest event time seen on the product (time since the agent started while none was seen).",
		}, productLabels),
		available: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_available", Help: "1 when at the last tick every partition had a leader, enough in-sync replicas and the agent's fetches succeeded.",
		}, productLabels),
		partitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_product_partitions", Help: "Partitions of the product's topics.",
		}, productLabels),
		discoveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_discovery_runs_total", Help: "Topic discovery passes, by result.",
		}, []string{"result"}),
		topicConflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_topic_conflicts", Help: "Topics claimed by more than one product at the last discovery (the first product in the config keeps them).",
		}),
		tickErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_tick_errors_total", Help: "Failed Kafka requests of the collector's ticks and discovery, by step.",
		}, []string{"step"}),
		silent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_product_silent", Help: "1 while no event of the product has been seen since the agent started (freshness then counts from the start); no series once one has.",
		}, productLabels),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_freshness_probes_total", Help: "Reads of a partition's last record for freshness, by result.",
		}, []string{"result"}),
		tickSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meshwatch_tick_duration_seconds", Help: "Time one collector tick took (metadata, offsets, probes, evaluation).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
	reg.MustRegister(m.info, m.products, m.sampleRatio,
		m.produced, m.producedBytes, m.latency, m.freshness,
		m.available, m.partitions,
		m.discoveries, m.topicConflicts, m.tickErrors, m.silent,
		m.probes, m.tickSeconds)
	for _, step := range []string{"metadata", "end_offsets", "start_offsets", "topic_configs"} {
		m.tickErrors.WithLabelValues(step)
	}
	for _, r := range []string{"ok", "error"} {
		m.discoveries.WithLabelValues(r)
		m.probes.WithLabelValues(r)
	}
	m.probes.WithLabelValues("timeout")
	return m
}

// productMetrics are one product's client_golang series, resolved once so
// that the per-record path never looks up a label. The product's other
// series are read from productState by productCollector.
type productMetrics struct {
	produced, producedBytes prometheus.Counter
	sampleRatio, partitions prometheus.Gauge
	latency                 prometheus.Observer

	// The series of what a tick evaluates exist from the first tick on: a
	// freshness of 0 or an availability of 0 before anything was evaluated
	// would be a lie either way.
	m      *Metrics
	labels prometheus.Labels
	tick   *tickMetrics // owned by the tick loop
}

type tickMetrics struct {
	freshness, available prometheus.Gauge
	silent               bool // the silent series exists
}

// setSilent exports meshwatch_product_silent at 1 while the product is
// silent and removes it once it is not: a state series without its zero
// (cardinality by design). Only the tick loop calls it.
func (pm *productMetrics) setSilent(silent bool) {
	tm := pm.tickSeries()
	switch {
	case silent && !tm.silent:
		pm.m.silent.With(pm.labels).Set(1)
	case !silent && tm.silent:
		pm.m.silent.Delete(pm.labels)
	}
	tm.silent = silent
}

// tickSeries returns the product's tick series, creating them at the first
// tick. Only the tick loop calls it.
func (pm *productMetrics) tickSeries() *tickMetrics {
	if pm.tick == nil {
		l := pm.labels
		pm.tick = &tickMetrics{
			freshness: pm.m.freshness.With(l),
			available: pm.m.available.With(l),
		}
	}
	return pm.tick
}

func (m *Metrics) forProduct(p *meshwatch.Product) productMetrics {
	l := prometheus.Labels{"product": p.Name, "domain": p.Domain, "owner": p.Owner}
	m.info.MustCurryWith(l).WithLabelValues(strconv.Itoa(p.Tier)).Set(1)
	return productMetrics{
		produced:      m.produced.With(l),
		producedBytes: m.producedBytes.With(l),
		sampleRatio:   m.sampleRatio.With(l),
		partitions:    m.partitions.With(l),
		latency:       m.latency.With(l),
		m:             m,
		labels:        l,
	}
}

// quantileLabels are Quantiles as label values.
var quantileLabels = func() []string {
	l := make([]string, len(Quantiles))
	for i, q := range Quantiles {
		l[i] = strconv.FormatFloat(q, 'f', -1, 64)
	}
	return l
}()

// productCollector exports the product series whose values the collector
// keeps in productState rather than in client_golang metrics, so that a
// series exists only while it says something:
//
//   - the counts the per-record path keeps as plain integers under each
//     product's lock (records and bytes measured, records skipped over
//     budget, event-time errors by reason), so that measuring a record
//     costs no atomic add, and the budget throttles and fetch errors; the
//     rare ones (skipped, throttled, event-time errors, fetch errors) from
//     their first event on;
//   - the availability problems and blind reason of the last tick, one
//     series of value 1 each, none while the product is available / read;
//   - the HDR quantiles of MetricWindow at their last update, none while
//     the window held no record.
//
// A scrape reads each product under its lock, a snapshot.
type productCollector struct {
	sampled, bytes, skipped, throttled, fetchErrors, eventTimeErrors *prometheus.Desc
	latencyHDR, availProblem, blind                                  *prometheus.Desc

	mu       sync.Mutex
	products []*productState
}

func newProductCollector() *productCollector {
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &productCollector{
		sampled: d("meshwatch_records_sampled_total", "Records the agent read and measured.", productLabels),
		bytes:   d("meshwatch_sampled_bytes_total", "Bytes (key + value) of the records the agent measured.", productLabels),
		skipped: d("meshwatch_records_skipped_total",
			"Records fetched but not measured because the product's sampling budget was spent; appears at the first such record.", productLabels),
		throttled: d("meshwatch_budget_throttled_total",
			"Times the product's sampling budget was spent and its partitions paused until the budget refilled; appears at the first such event.", productLabels),
		fetchErrors: d("meshwatch_fetch_errors_total",
			"Partition fetch errors the agent saw while sampling the product; appears at the first such error.", productLabels),
		eventTimeErrors: d("meshwatch_event_time_errors_total",
			"Sampled records whose event time could not be used, by reason: missing, unparseable, not_json, out_of_range or undecodable (the record timestamp stands in, or with event_time.fallback skip the record gives no latency), future or skew (further ahead of or behind now than event_time.max_clock_skew); a reason appears at its first such record.",
			withProductLabels("reason")),
		latencyHDR: d("meshwatch_latency_hdr_seconds",
			"End-to-end latency quantiles (p50, p99) from the product's HDR histogram over the last 5m (window label); absent while the window holds no record.",
			withProductLabels("window", "quantile")),
		availProblem: d("meshwatch_availability_problem",
			"1 for each problem that made the product unavailable at the last tick; no series while it is available.", withProductLabels("reason")),
		blind: d("meshwatch_product_blind",
			"1 while the agent cannot read the product's records (fetch_errors: fetches keep failing; stalled: records stay unread): its latency, validity and completeness are not measured. No series while the agent reads them.",
			withProductLabels("reason")),
	}
}

func (pc *productCollector) track(ps *productState) {
	pc.mu.Lock()
	pc.products = append(pc.products, ps)
	pc.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (pc *productCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pc.sampled, pc.bytes, pc.skipped, pc.throttled, pc.fetchErrors,
		pc.eventTimeErrors, pc.latencyHDR, pc.availProblem, pc.blind} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (pc *productCollector) Collect(ch chan<- prometheus.Metric) {
	pc.mu.Lock()
	products := pc.products
	pc.mu.Unlock()
	for _, ps := range products {
		s := ps.snapshot()
		lv := []string{ps.p.Name, ps.p.Domain, ps.p.Owner}
		with := func(v string) []string { return append(lv[:3:3], v) }
		ch <- prometheus.MustNewConstMetric(pc.sampled, prometheus.CounterValue, float64(s.sampled), lv...)
		ch <- prometheus.MustNewConstMetric(pc.bytes, prometheus.CounterValue, float64(s.bytes), lv...)
		// A rare-event counter appears at its first event, created then:
		// a Prometheus that ingests created timestamps as zero samples
		// counts that first event in increase() and rate().
		rare := func(d *prometheus.Desc, v, first int64, lvs ...string) {
			switch {
			case v == 0:
			case first == 0: // counted, its time not stored yet
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lvs...)
			default:
				ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, float64(v), time.Unix(0, first), lvs...)
			}
		}
		rare(pc.skipped, s.skipped, s.firstSkipped, lv...)
		rare(pc.throttled, s.throttled, s.firstThrottle, lv...)
		rare(pc.fetchErrors, s.fetchErrors, s.firstFetchError, lv...)
		for r := ReasonOK + 1; r < numReasons; r++ {
			rare(pc.eventTimeErrors, s.eventTimeErrors[r], s.firstEventTimeError[r], with(r.String())...)
		}
		if s.hdrCount > 0 {
			for i, q := range s.hdrQuantiles {
				ch <- prometheus.MustNewConstMetric(pc.latencyHDR, prometheus.GaugeValue, q,
					ps.p.Name, ps.p.Domain, ps.p.Owner, MetricWindow, quantileLabels[i])
			}
		}
		for _, p := range s.problems {
			ch <- prometheus.MustNewConstMetric(pc.availProblem, prometheus.GaugeValue, 1, with(p)...)
		}
		if s.blind != "" {
			ch <- prometheus.MustNewConstMetric(pc.blind, prometheus.GaugeValue, 1, with(s.blind)...)
		}
	}
}
