package collector

import (
	"strconv"
	"sync"

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

var availabilityProblems = []string{ProblemNoTopics, ProblemNoLeader, ProblemUnderMinISR, ProblemFetchErrors, ProblemMetadata, ProblemBlind}

// LatencyBuckets are the classic buckets of meshwatch_latency_seconds, kept
// beside the native buckets for Prometheus servers that scrape text only.
var LatencyBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// Metrics are the collector's Prometheus metrics. Create them once with
// NewMetrics and pass them to New.
type Metrics struct {
	info            *prometheus.GaugeVec
	sampling        *samplingCollector
	throttled       *prometheus.CounterVec
	sampleRatio     *prometheus.GaugeVec
	produced        *prometheus.CounterVec
	producedBytes   *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	latencyHDR      *prometheus.GaugeVec
	eventTimeErrors *prometheus.CounterVec
	freshness       *prometheus.GaugeVec
	newestEvent     *prometheus.GaugeVec
	available       *prometheus.GaugeVec
	availProblem    *prometheus.GaugeVec
	blind           *prometheus.GaugeVec
	sliGood         *prometheus.CounterVec
	sliValid        *prometheus.CounterVec
	topics          *prometheus.GaugeVec
	partitions      *prometheus.GaugeVec
	fetchErrors     *prometheus.CounterVec

	discoveries    *prometheus.CounterVec
	topicConflicts prometheus.Gauge
	tickErrors     *prometheus.CounterVec
	silent         *prometheus.GaugeVec
	hdrRecords     *prometheus.GaugeVec
	probes         *prometheus.CounterVec
	tickSeconds    prometheus.Histogram
}

// NewMetrics creates the collector's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_product_info", Help: "A data product the agent watches (always 1).",
		}, withProductLabels("tier")),
		sampling: newSamplingCollector(),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_budget_throttled_total", Help: "Times the product's sampling budget was spent and its partitions paused until the budget refilled.",
		}, productLabels),
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
			Name:                            "meshwatch_latency_seconds",
			Help:                            "End-to-end latency of sampled records: observed time minus event time.",
			Buckets:                         LatencyBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: 0,
		}, productLabels),
		latencyHDR: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_latency_hdr_seconds", Help: "End-to-end latency quantiles from the product's HDR histogram over a rolling window.",
		}, withProductLabels("window", "quantile")),
		eventTimeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_event_time_errors_total", Help: "Sampled records whose event time could not be read, or lay further from now than event_time.max_clock_skew (skew), by reason.",
		}, withProductLabels("reason")),
		freshness: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_freshness_seconds", Help: "Now minus the newest event time seen on the product (time since the agent started while none was seen).",
		}, productLabels),
		newestEvent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_newest_event_timestamp_seconds", Help: "Newest event time seen on the product, Unix seconds (0 while none was seen).",
		}, productLabels),
		available: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_available", Help: "1 when at the last tick every partition had a leader, enough in-sync replicas and the agent's fetches succeeded.",
		}, productLabels),
		availProblem: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_availability_problem", Help: "1 when the problem made the product unavailable at the last tick.",
		}, withProductLabels("reason")),
		blind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_product_blind", Help: "1 while the agent cannot read the product's records (fetch_errors: fetches keep failing; stalled: records stay unread): its latency, validity and completeness are not measured.",
		}, withProductLabels("reason")),
		sliGood: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_sli_good_total", Help: "Good events of the SLO's indicator (DESIGN.md defines good per SLI).",
		}, withProductLabels("slo", "sli")),
		sliValid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_sli_valid_total", Help: "Valid events of the SLO's indicator.",
		}, withProductLabels("slo", "sli")),
		topics: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_product_topics", Help: "Topics the product resolves to.",
		}, productLabels),
		partitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_product_partitions", Help: "Partitions of the product's topics.",
		}, productLabels),
		fetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_fetch_errors_total", Help: "Partition fetch errors the agent saw while sampling the product.",
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
			Name: "meshwatch_product_silent", Help: "1 while no event of the product has been seen since the agent started (freshness then counts from the start).",
		}, productLabels),
		hdrRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_latency_hdr_window_records", Help: "Records in the HDR window behind meshwatch_latency_hdr_seconds; its quantiles mean nothing while this is 0.",
		}, withProductLabels("window")),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_freshness_probes_total", Help: "Reads of a partition's last record for freshness, by result.",
		}, []string{"result"}),
		tickSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meshwatch_tick_duration_seconds", Help: "Time one collector tick took (metadata, offsets, probes, evaluation).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
	reg.MustRegister(m.info, m.sampling, m.throttled, m.sampleRatio,
		m.produced, m.producedBytes, m.latency, m.latencyHDR, m.eventTimeErrors, m.freshness,
		m.newestEvent, m.available, m.availProblem, m.blind, m.sliGood, m.sliValid, m.topics, m.partitions,
		m.fetchErrors, m.discoveries, m.topicConflicts, m.tickErrors, m.silent, m.hdrRecords,
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

// productMetrics are one product's series, resolved once so that the
// per-record path never looks up a label.
type productMetrics struct {
	throttled                            prometheus.Counter
	produced, producedBytes, fetchErrors prometheus.Counter
	sampleRatio, topics, partitions      prometheus.Gauge
	latency                              prometheus.Observer
	latencyHDR                           [][]prometheus.Gauge // [window][quantile]
	hdrRecords                           []prometheus.Gauge   // [window]
	eventTimeErrors                      [numReasons]prometheus.Counter

	// The series of what a tick evaluates exist from the first tick on: a
	// freshness of 0 or an availability of 0 before anything was evaluated
	// would be a lie either way.
	m      *Metrics
	labels prometheus.Labels
	tick   *tickMetrics // owned by the tick loop
}

type tickMetrics struct {
	freshness, newestEvent, available, silent prometheus.Gauge
	availProblem, blind                       map[string]prometheus.Gauge
}

// tickSeries returns the product's tick series, creating them at the first
// tick. Only the tick loop calls it.
func (pm *productMetrics) tickSeries() *tickMetrics {
	if pm.tick == nil {
		l := pm.labels
		pm.tick = &tickMetrics{
			freshness:    pm.m.freshness.With(l),
			newestEvent:  pm.m.newestEvent.With(l),
			available:    pm.m.available.With(l),
			silent:       pm.m.silent.With(l),
			availProblem: make(map[string]prometheus.Gauge, len(availabilityProblems)),
		}
		apVec := pm.m.availProblem.MustCurryWith(l)
		for _, r := range availabilityProblems {
			pm.tick.availProblem[r] = apVec.WithLabelValues(r)
		}
		pm.tick.blind = make(map[string]prometheus.Gauge, len(blindReasons))
		bVec := pm.m.blind.MustCurryWith(l)
		for _, r := range blindReasons {
			pm.tick.blind[r] = bVec.WithLabelValues(r)
		}
	}
	return pm.tick
}

func (m *Metrics) forProduct(p *meshwatch.Product) productMetrics {
	l := prometheus.Labels{"product": p.Name, "domain": p.Domain, "owner": p.Owner}
	m.info.MustCurryWith(l).WithLabelValues(strconv.Itoa(p.Tier)).Set(1)
	pm := productMetrics{
		throttled:     m.throttled.With(l),
		produced:      m.produced.With(l),
		producedBytes: m.producedBytes.With(l),
		fetchErrors:   m.fetchErrors.With(l),
		sampleRatio:   m.sampleRatio.With(l),
		topics:        m.topics.With(l),
		partitions:    m.partitions.With(l),
		latency:       m.latency.With(l),
		m:             m,
		labels:        l,
	}
	hdrVec := m.latencyHDR.MustCurryWith(l)
	recVec := m.hdrRecords.MustCurryWith(l)
	for _, w := range Windows {
		pm.hdrRecords = append(pm.hdrRecords, recVec.WithLabelValues(w.Name))
		gs := make([]prometheus.Gauge, len(Quantiles))
		for i, q := range Quantiles {
			gs[i] = hdrVec.WithLabelValues(w.Name, strconv.FormatFloat(q, 'f', -1, 64))
		}
		pm.latencyHDR = append(pm.latencyHDR, gs)
	}
	etVec := m.eventTimeErrors.MustCurryWith(l)
	for r := ReasonOK + 1; r < numReasons; r++ {
		pm.eventTimeErrors[r] = etVec.WithLabelValues(r.String())
	}
	return pm
}

// sliCounters returns the good and valid counters of one SLO of a product,
// both initialised to 0.
func (m *Metrics) sliCounters(p *meshwatch.Product, slo *meshwatch.SLO) (good, valid prometheus.Counter) {
	l := prometheus.Labels{"product": p.Name, "domain": p.Domain, "owner": p.Owner, "slo": slo.Name, "sli": slo.SLI}
	return m.sliGood.With(l), m.sliValid.With(l)
}

// samplingCollector exports the counts the per-record path keeps as plain
// integers under each product's lock — records and bytes measured, records
// skipped over budget — so that measuring a record costs no atomic add. A
// scrape reads each product's counts under its lock, a snapshot.
type samplingCollector struct {
	sampled, bytes, skipped *prometheus.Desc

	mu       sync.Mutex
	products []*productState
}

func newSamplingCollector() *samplingCollector {
	return &samplingCollector{
		sampled: prometheus.NewDesc("meshwatch_records_sampled_total", "Records the agent read and measured.", productLabels, nil),
		bytes:   prometheus.NewDesc("meshwatch_sampled_bytes_total", "Bytes (key + value) of the records the agent measured.", productLabels, nil),
		skipped: prometheus.NewDesc("meshwatch_records_skipped_total", "Records fetched but not measured because the product's sampling budget was spent.", productLabels, nil),
	}
}

func (sc *samplingCollector) track(ps *productState) {
	sc.mu.Lock()
	sc.products = append(sc.products, ps)
	sc.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (sc *samplingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sc.sampled
	ch <- sc.bytes
	ch <- sc.skipped
}

// Collect implements prometheus.Collector.
func (sc *samplingCollector) Collect(ch chan<- prometheus.Metric) {
	sc.mu.Lock()
	products := sc.products
	sc.mu.Unlock()
	for _, ps := range products {
		sampled, bytes, skipped := ps.counts()
		lv := []string{ps.p.Name, ps.p.Domain, ps.p.Owner}
		ch <- prometheus.MustNewConstMetric(sc.sampled, prometheus.CounterValue, float64(sampled), lv...)
		ch <- prometheus.MustNewConstMetric(sc.bytes, prometheus.CounterValue, float64(bytes), lv...)
		ch <- prometheus.MustNewConstMetric(sc.skipped, prometheus.CounterValue, float64(skipped), lv...)
	}
}
