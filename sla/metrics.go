package sla

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// sloLabels are carried by every SLO series.
var sloLabels = []string{"product", "domain", "owner", "slo", "sli"}

func withSLOLabels(extra ...string) []string {
	return append(append([]string{}, sloLabels...), extra...)
}

// Metric names the generated Prometheus rules are built from.
const (
	MetricGood  = "meshwatch_slo_good_total"
	MetricValid = "meshwatch_slo_valid_total"
)

// Metrics are the SLO engine's Prometheus metrics. Create them once with
// NewMetrics and pass them to New; one Evaluator reports through them.
type Metrics struct {
	slo *sloCollector

	evalSeconds prometheus.Histogram
	flushes     *prometheus.CounterVec
	loads       *prometheus.CounterVec
	lastFlush   prometheus.Gauge
}

// NewMetrics creates the SLO engine's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		slo: newSLOCollector(),
		evalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meshwatch_slo_evaluation_duration_seconds", Help: "Time one evaluation pass over every SLO took.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_slo_state_flushes_total", Help: "Writes of the SLOs' changed buckets to the state store, by result.",
		}, []string{"result"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_slo_state_loads_total", Help: "SLO states read from the state store at start, by result: loaded, missing, corrupt (set aside), error.",
		}, []string{"result"}),
		lastFlush: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_slo_state_last_flush_timestamp_seconds", Help: "When the SLOs' state was last written successfully, Unix seconds (0: never).",
		}),
	}
	reg.MustRegister(m.slo, m.evalSeconds, m.flushes, m.loads, m.lastFlush)
	for _, r := range []string{"ok", "error"} {
		m.flushes.WithLabelValues(r)
	}
	for _, r := range []string{"loaded", "missing", "corrupt", "error"} {
		m.loads.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) attach(e *Evaluator) { m.slo.src.Store(e) }

// sloCollector exports the last evaluation snapshot of the attached
// Evaluator. A scrape reads the snapshot only; it never sums buckets.
//
// Cardinality by design: an SLO exports what Prometheus cannot compute
// from its counters — objective, budget remaining over the window (a
// calendar month resets), the current decision — and the counters
// themselves; burn rates and SLIs per window are recorded by the
// generated rules (Rules) from meshwatch_slo_good_total and
// meshwatch_slo_valid_total. The decision exports the current value only,
// and rare events only once they happen: 5 series per SLO in steady state,
// 6 for an SLO with a time threshold (latency, freshness, lag), whose
// meshwatch_slo_threshold_seconds the dashboards draw their lines from.
type sloCollector struct {
	src atomic.Pointer[Evaluator]

	objective, threshold, remaining, decision, exhaustion      *prometheus.Desc
	good, valid, buckets, bucketBytes, unknown, late, lastEval *prometheus.Desc
}

func newSLOCollector() *sloCollector {
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &sloCollector{
		objective: d("meshwatch_slo_objective_ratio", "The SLO's objective: good / valid must stay at or above it over the window.", sloLabels),
		threshold: d("meshwatch_slo_threshold_seconds", "The SLO's time threshold: a good event is within it (latency, lag) or fresher (freshness). "+
			"Only SLOs with a threshold have the series; the dashboards draw their threshold lines from it.", sloLabels),
		remaining: d("meshwatch_slo_error_budget_remaining_ratio", "1 − (bad / valid over the window) / (1 − objective): 1 untouched, 0 spent, below 0 overspent.", sloLabels),
		decision: d("meshwatch_slo_decision", "The SLO's current alert decision in the decision label (none, ticket, page, exhausted, no_data), always 1: "+
			"one series per SLO, whose label changes with the decision. Burn rates and SLIs per window are recorded by the rules of meshwatch rules.", withSLOLabels("decision")),
		exhaustion:  d("meshwatch_slo_time_to_exhaustion_seconds", "Time until the error budget is spent at the 1h burn rate; absent while nothing burns.", sloLabels),
		good:        d(MetricGood, "Good events of the SLO received by the SLO engine since the agent started.", sloLabels),
		valid:       d(MetricValid, "Valid events of the SLO received by the SLO engine since the agent started.", sloLabels),
		buckets:     d("meshwatch_slo_buckets", "Time buckets held for all SLOs; fixed by the configuration.", nil),
		bucketBytes: d("meshwatch_slo_bucket_bytes", "Memory held by the SLOs' time buckets.", nil),
		unknown:     d("meshwatch_slo_unknown_events_total", "SLIEvents for an SLO the configuration does not have, dropped.", nil),
		late: d("meshwatch_slo_late_events_total", "SLIEvents older than every bucket of their SLO, dropped. A rare event: "+
			"the series appears with the first one and is absent until then.", sloLabels),
		lastEval: d("meshwatch_slo_last_evaluation_timestamp_seconds", "When the SLOs were last evaluated, Unix seconds.", nil),
	}
}

// Describe implements prometheus.Collector.
func (c *sloCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.objective, c.threshold, c.remaining, c.decision, c.exhaustion,
		c.good, c.valid, c.buckets, c.bucketBytes, c.unknown, c.late, c.lastEval} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *sloCollector) Collect(ch chan<- prometheus.Metric) {
	e := c.src.Load()
	if e == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	gauge(c.buckets, float64(e.buckets))
	gauge(c.bucketBytes, float64(e.buckets*bucketBytes))
	ch <- prometheus.MustNewConstMetric(c.unknown, prometheus.CounterValue, float64(e.unknown.Load()))
	s := e.snap.Load()
	if s == nil {
		return
	}
	gauge(c.lastEval, float64(s.at.UnixNano())/1e9)
	for i, t := range s.trackers {
		ev, res := s.evals[i], s.results[i]
		lv := t.labels
		gauge(c.objective, t.objective, lv...)
		if t.threshold > 0 {
			gauge(c.threshold, t.threshold.Seconds(), lv...)
		}
		gauge(c.remaining, res.Remaining, lv...)
		ch <- prometheus.MustNewConstMetric(c.good, prometheus.CounterValue, float64(ev.total.Good), lv...)
		ch <- prometheus.MustNewConstMetric(c.valid, prometheus.CounterValue, float64(ev.total.Valid), lv...)
		if ev.dropped > 0 {
			ch <- prometheus.MustNewConstMetric(c.late, prometheus.CounterValue, float64(ev.dropped), lv...)
		}
		if res.HasExhaustion {
			gauge(c.exhaustion, res.Exhaustion.Seconds(), lv...)
		}
		gauge(c.decision, 1, append(lv[:len(lv):len(lv)], res.Decision)...)
	}
}

// bucketBytes is the size of one bucket: good and valid as int64.
const bucketBytes = 16
