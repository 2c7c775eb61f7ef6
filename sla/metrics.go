package sla

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch/internal/expo"
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
// Evaluator. A scrape reads the snapshot only; it never sums buckets
// (before the first evaluation, meshwatch_slo_bucket_bytes asks the
// trackers their sizes).
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
//
// It is an expo.Source: /metrics streams its series family by family, each
// family's series for every SLO in turn, without a client_golang metric
// per series.
type sloCollector struct {
	expo.Collector
	src atomic.Pointer[Evaluator]
}

// The families of sloCollector, in the order it writes them.
var (
	famBuckets     = expo.NewFamily("meshwatch_slo_buckets", "Time buckets held for all SLOs; fixed by the configuration.", expo.Gauge)
	famBucketBytes = expo.NewFamily("meshwatch_slo_bucket_bytes", "Memory held by the SLOs' time buckets.", expo.Gauge)
	famUnknown     = expo.NewFamily("meshwatch_slo_unknown_events_total", "SLIEvents for an SLO the configuration does not have, dropped.", expo.Counter)
	famLastEval    = expo.NewFamily("meshwatch_slo_last_evaluation_timestamp_seconds", "When the SLOs were last evaluated, Unix seconds.", expo.Gauge)
	famObjective   = expo.NewFamily("meshwatch_slo_objective_ratio", "The SLO's objective: good / valid must stay at or above it over the window.", expo.Gauge, sloLabels...)
	famThreshold   = expo.NewFamily("meshwatch_slo_threshold_seconds", "The SLO's time threshold: a good event is within it (latency, lag) or fresher (freshness). "+
		"Only SLOs with a threshold have the series; the dashboards draw their threshold lines from it.", expo.Gauge, sloLabels...)
	famRemaining = expo.NewFamily("meshwatch_slo_error_budget_remaining_ratio", "1 − (bad / valid over the window) / (1 − objective): 1 untouched, 0 spent, below 0 overspent.", expo.Gauge, sloLabels...)
	famGood      = expo.NewFamily(MetricGood, "Good events of the SLO received by the SLO engine since the agent started.", expo.Counter, sloLabels...)
	famValid     = expo.NewFamily(MetricValid, "Valid events of the SLO received by the SLO engine since the agent started.", expo.Counter, sloLabels...)
	famLate      = expo.NewFamily("meshwatch_slo_late_events_total", "SLIEvents older than every bucket of their SLO, dropped. A rare event: "+
		"the series appears with the first one and is absent until then.", expo.Counter, sloLabels...)
	famExhaustion = expo.NewFamily("meshwatch_slo_time_to_exhaustion_seconds", "Time until the error budget is spent at the 1h burn rate; absent while nothing burns.", expo.Gauge, sloLabels...)
	famDecision   = expo.NewFamily("meshwatch_slo_decision", "The SLO's current alert decision in the decision label (none, ticket, page, exhausted, no_data), always 1: "+
		"one series per SLO, whose label changes with the decision. Burn rates and SLIs per window are recorded by the rules of meshwatch rules.", expo.Gauge, withSLOLabels("decision")...)
)

func newSLOCollector() *sloCollector {
	c := &sloCollector{}
	c.Collector = expo.Collector{
		Fams: []*expo.Family{famBuckets, famBucketBytes, famUnknown, famLastEval,
			famObjective, famThreshold, famRemaining, famGood, famValid, famLate, famExhaustion, famDecision},
		Write: c.write,
	}
	return c
}

// write writes the agent-level series, then each per-SLO family with its
// series for every SLO of one snapshot: a family is begun once, its series
// together, as the text format needs.
func (c *sloCollector) write(w expo.Writer) {
	e := c.src.Load()
	if e == nil {
		return
	}
	s := e.snap.Load()
	w.Begin(famBuckets)
	w.Sample(float64(e.buckets))
	w.Begin(famBucketBytes)
	w.Sample(float64(e.bucketBytes(s)))
	w.Begin(famUnknown)
	w.Sample(float64(e.unknown.Load()))
	if s == nil {
		return
	}
	w.Begin(famLastEval)
	w.Sample(float64(s.at.UnixNano()) / 1e9)

	w.Begin(famObjective)
	for _, t := range s.trackers {
		w.Sample(t.objective, t.labels...)
	}
	w.Begin(famThreshold)
	for _, t := range s.trackers {
		if t.threshold > 0 {
			w.Sample(t.threshold.Seconds(), t.labels...)
		}
	}
	w.Begin(famRemaining)
	for i, t := range s.trackers {
		w.Sample(s.results[i].Remaining, t.labels...)
	}
	w.Begin(famGood)
	for i, t := range s.trackers {
		w.Sample(float64(s.evals[i].total.Good), t.labels...)
	}
	w.Begin(famValid)
	for i, t := range s.trackers {
		w.Sample(float64(s.evals[i].total.Valid), t.labels...)
	}
	w.Begin(famLate)
	for i, t := range s.trackers {
		if d := s.evals[i].dropped; d > 0 {
			w.Sample(float64(d), t.labels...)
		}
	}
	w.Begin(famExhaustion)
	for i, t := range s.trackers {
		if res := s.results[i]; res.HasExhaustion {
			w.Sample(res.Exhaustion.Seconds(), t.labels...)
		}
	}
	w.Begin(famDecision)
	lv := make([]string, len(sloLabels)+1) // the writers copy label values; one slice serves every SLO
	for i, t := range s.trackers {
		copy(lv, t.labels)
		lv[len(sloLabels)] = s.results[i].Decision
		w.Sample(1, lv...)
	}
}

// bucketBytes returns the memory of every SLO's buckets as of snapshot s,
// or as they are now before the first evaluation (s nil).
func (e *Evaluator) bucketBytes(s *snapshot) int64 {
	if s != nil {
		return s.bucketBytes
	}
	var n int64
	for _, t := range e.trackers {
		t.mu.Lock()
		n += t.bucketBytes()
		t.mu.Unlock()
	}
	return n
}
