package collector

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch/internal/expo"
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
//
// Every product series, the latency histogram included, is written by one
// expo.Source (productCollector) from values kept in productState, so that
// a product holds no client_golang metric and a scrape streams the series
// (see internal/expo).
type Metrics struct {
	products *productCollector
	// latencyBounds are the classic buckets of meshwatch_latency_seconds
	// (MetricsOptions.LatencyBuckets); nil: none.
	latencyBounds []float64

	discoveries    *prometheus.CounterVec
	topicConflicts prometheus.Gauge
	tickErrors     *prometheus.CounterVec
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
		products:      newProductCollector(),
		latencyBounds: buckets,
		discoveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_discovery_runs_total", Help: "Topic discovery passes, by result.",
		}, []string{"result"}),
		topicConflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_topic_conflicts", Help: "Topics claimed by more than one product at the last discovery (the first product in the config keeps them).",
		}),
		tickErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_tick_errors_total", Help: "Failed Kafka requests of the collector's ticks and discovery, by step.",
		}, []string{"step"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_freshness_probes_total", Help: "Reads of a partition's last record for freshness, by result.",
		}, []string{"result"}),
		tickSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meshwatch_tick_duration_seconds", Help: "Time one collector tick took (metadata, offsets, probes, evaluation).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
	reg.MustRegister(m.products,
		m.discoveries, m.topicConflicts, m.tickErrors,
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

// productMetrics are what a product keeps for its series besides
// productState's values: the classic bounds of its latency histogram
// (shared by every product), and when its counters of produced records
// and bytes and its latency histogram were created.
type productMetrics struct {
	latencyBounds []float64
	created       time.Time
}

func (m *Metrics) forProduct() productMetrics {
	return productMetrics{latencyBounds: m.latencyBounds, created: time.Now()}
}

// quantileLabels are Quantiles as label values.
var quantileLabels = func() []string {
	l := make([]string, len(Quantiles))
	for i, q := range Quantiles {
		l[i] = strconv.FormatFloat(q, 'f', -1, 64)
	}
	return l
}()

// productCollector is the expo.Source of every product series. It writes
// what productState keeps, so that a series exists only while it says
// something:
//
//   - the product's info, and the series every product has from its start
//     on: records and bytes measured (kept as plain integers under each
//     product's lock, so that measuring a record costs no atomic add), the
//     latency histogram (nativeHist, likewise), the sample ratio, records
//     and bytes produced, partitions;
//   - the rare-event counters (records skipped over budget, budget
//     throttles, fetch errors, event-time errors by reason) from their
//     first event on, created then;
//   - what a tick evaluates (freshness, availability) from the first tick
//     on, the availability problems and blind reason of the last tick, one
//     series of value 1 each, none while the product is available / read,
//     and silent at 1 while no event has been seen, else no series;
//   - the HDR quantiles of MetricWindow at their last update, none while
//     the window held no record.
//
// A write takes a snapshot of every product first, each under its lock
// once, then writes the families one after the other.
type productCollector struct {
	expo.Collector

	mu       sync.Mutex
	products []*productState

	// snapshots are reused slices of snapshots, one per concurrent write.
	snapshots sync.Pool
}

// productFamily is a family of productCollector and how a product's
// snapshot writes its series; lv holds the product's labels and room for
// two more.
type productFamily struct {
	*expo.Family
	write func(w expo.Writer, s *productSnapshot, lv []string)
}

// productFamilies are productCollector's families, in the order it writes
// them.
var productFamilies = func() []productFamily {
	fam := func(name, help string, t expo.Type, extra ...string) *expo.Family {
		return expo.NewFamily(name, help, t, withProductLabels(extra...)...)
	}
	// rare writes a counter of rare events from its first event on, created
	// then: a Prometheus that ingests created timestamps as zero samples
	// counts that first event in increase() and rate().
	rare := func(w expo.Writer, v, first int64, lv []string) {
		if v == 0 {
			return
		}
		var created time.Time // zero: counted, its time not stored yet
		if first != 0 {
			created = time.Unix(0, first)
		}
		w.Counter(float64(v), created, lv...)
	}
	reason := func(lv []string, r string) []string { lv = lv[:4]; lv[3] = r; return lv }
	return []productFamily{
		{fam("meshwatch_product_info", "A data product the agent watches (always 1).", expo.Gauge, "tier"),
			func(w expo.Writer, s *productSnapshot, lv []string) { w.Sample(1, reason(lv, s.ps.tier)...) }},
		{fam("meshwatch_records_sampled_total", "Records the agent read and measured.", expo.Counter),
			func(w expo.Writer, s *productSnapshot, lv []string) { w.Sample(float64(s.sampled), lv...) }},
		{fam("meshwatch_sampled_bytes_total", "Bytes (key + value) of the records the agent measured.", expo.Counter),
			func(w expo.Writer, s *productSnapshot, lv []string) { w.Sample(float64(s.bytes), lv...) }},
		{fam("meshwatch_records_skipped_total",
			"Records fetched but not measured because the product's sampling budget was spent; appears at the first such record.", expo.Counter),
			func(w expo.Writer, s *productSnapshot, lv []string) { rare(w, s.skipped, s.firstSkipped, lv) }},
		{fam("meshwatch_budget_throttled_total",
			"Times the product's sampling budget was spent and its partitions paused until the budget refilled; appears at the first such event.", expo.Counter),
			func(w expo.Writer, s *productSnapshot, lv []string) { rare(w, s.throttled, s.firstThrottle, lv) }},
		{fam("meshwatch_fetch_errors_total",
			"Partition fetch errors the agent saw while sampling the product; appears at the first such error.", expo.Counter),
			func(w expo.Writer, s *productSnapshot, lv []string) { rare(w, s.fetchErrors, s.firstFetchError, lv) }},
		{fam("meshwatch_event_time_errors_total",
			"Sampled records whose event time could not be used, by reason: missing, unparseable, not_json, out_of_range or undecodable (the record timestamp stands in, or with event_time.fallback skip the record gives no latency), future or skew (further ahead of or behind now than event_time.max_clock_skew); a reason appears at its first such record.",
			expo.Counter, "reason"),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				for r := ReasonOK + 1; r < numReasons; r++ {
					rare(w, s.eventTimeErrors[r], s.firstEventTimeError[r], reason(lv, r.String()))
				}
			}},
		{fam("meshwatch_latency_seconds", "End-to-end latency of sampled records: observed time minus event time.", expo.Histogram),
			func(w expo.Writer, s *productSnapshot, lv []string) { w.Histogram(&s.latency, lv...) }},
		{fam("meshwatch_latency_hdr_seconds",
			"End-to-end latency quantiles (p50, p99) from the product's HDR histogram over the last 5m (window label); absent while the window holds no record.",
			expo.Gauge, "window", "quantile"),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				if s.hdrCount == 0 {
					return
				}
				lv = append(lv[:3], MetricWindow, "")
				for i, q := range s.hdrQuantiles {
					lv[4] = quantileLabels[i]
					w.Sample(q, lv...)
				}
			}},
		{fam("meshwatch_availability_problem",
			"1 for each problem that made the product unavailable at the last tick; no series while it is available.", expo.Gauge, "reason"),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				for _, p := range s.problems {
					w.Sample(1, reason(lv, p)...)
				}
			}},
		{fam("meshwatch_product_blind",
			"1 while the agent cannot read the product's records (fetch_errors: fetches keep failing; stalled: records stay unread): its latency, validity and completeness are not measured. No series while the agent reads them.",
			expo.Gauge, "reason"),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				if s.blind != "" {
					w.Sample(1, reason(lv, s.blind)...)
				}
			}},
		{fam("meshwatch_sample_ratio", "Share of the product's produced records the agent measured over the last tick (1 when it reads everything).", expo.Gauge),
			func(w expo.Writer, s *productSnapshot, lv []string) { w.Sample(s.sampleRatio, lv...) }},
		{fam("meshwatch_records_produced_total", "Records appended to the product's topics, from end-offset deltas.", expo.Counter),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				w.Counter(float64(s.produced), s.ps.m.created, lv...)
			}},
		{fam("meshwatch_produced_bytes_total", "Estimated bytes appended to the product's topics: end-offset deltas times the mean sampled record size.", expo.Counter),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				w.Counter(s.producedBytes, s.ps.m.created, lv...)
			}},
		// The series of what a tick evaluates exist from the first tick on:
		// a freshness of 0 or an availability of 0 before anything was
		// evaluated would be a lie either way.
		{fam("meshwatch_freshness_seconds", "Now minus the newest event time seen on the product (time since the agent started while none was seen).", expo.Gauge),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				if s.ticked {
					w.Sample(s.freshness, lv...)
				}
			}},
		{fam("meshwatch_available", "1 when at the last tick every partition had a leader, enough in-sync replicas and the agent's fetches succeeded.", expo.Gauge),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				if s.ticked {
					w.Sample(boolFloat(len(s.problems) == 0), lv...)
				}
			}},
		{fam("meshwatch_product_partitions", "Partitions of the product's topics.", expo.Gauge),
			func(w expo.Writer, s *productSnapshot, lv []string) { w.Sample(float64(s.partitions), lv...) }},
		// A state series without its zero (cardinality by design).
		{fam("meshwatch_product_silent", "1 while no event of the product has been seen since the agent started (freshness then counts from the start); no series once one has.", expo.Gauge),
			func(w expo.Writer, s *productSnapshot, lv []string) {
				if s.silent {
					w.Sample(1, lv...)
				}
			}},
	}
}()

func newProductCollector() *productCollector {
	pc := &productCollector{}
	fams := make([]*expo.Family, len(productFamilies))
	for i, f := range productFamilies {
		fams[i] = f.Family
	}
	pc.Collector = expo.Collector{Fams: fams, Write: pc.write}
	return pc
}

func (pc *productCollector) track(ps *productState) {
	pc.mu.Lock()
	pc.products = append(pc.products, ps)
	pc.mu.Unlock()
}

// write writes every product's series, family by family.
func (pc *productCollector) write(w expo.Writer) {
	pc.mu.Lock()
	products := pc.products
	pc.mu.Unlock()
	snaps, _ := pc.snapshots.Get().(*[]productSnapshot)
	if snaps == nil {
		snaps = new([]productSnapshot)
	}
	if cap(*snaps) < len(products) {
		*snaps = make([]productSnapshot, len(products))
	}
	ss := (*snaps)[:len(products)]
	for i, ps := range products {
		ps.snapshotInto(&ss[i])
	}
	var buf [5]string
	for _, f := range productFamilies {
		w.Begin(f.Family)
		for i := range ss {
			s := &ss[i]
			lv := buf[:3]
			lv[0], lv[1], lv[2] = s.ps.p.Name, s.ps.p.Domain, s.ps.p.Owner
			f.write(w, s, lv)
		}
	}
	for i := range ss {
		ss[i].problems = nil // the tick's slice: not kept beyond the write
	}
	*snaps = ss
	pc.snapshots.Put(snaps)
}
