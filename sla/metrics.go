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
type sloCollector struct {
	src atomic.Pointer[Evaluator]

	objective, remaining, burn, ratio, events, decision, exhaustion, windowStart *prometheus.Desc
	good, valid, buckets, bucketBytes, unknown, dropped, lastEval                *prometheus.Desc
}

func newSLOCollector() *sloCollector {
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &sloCollector{
		objective:   d("meshwatch_slo_objective_ratio", "The SLO's objective: good / valid must stay at or above it over the window.", sloLabels),
		remaining:   d("meshwatch_slo_error_budget_remaining_ratio", "1 − (bad / valid over the window) / (1 − objective): 1 untouched, 0 spent, below 0 overspent.", sloLabels),
		burn:        d("meshwatch_slo_burn_rate", "Error ratio over the window divided by the error budget (1 − objective); 0 without valid events.", withSLOLabels("window")),
		ratio:       d("meshwatch_slo_sli_ratio", "good / valid over the window; absent while the window has no valid event.", withSLOLabels("window")),
		events:      d("meshwatch_slo_window_events", "Events counted in the window, by kind (good, valid).", withSLOLabels("window", "kind")),
		decision:    d("meshwatch_slo_decision", "1 for the SLO's current alert decision (none, ticket, page, exhausted, no_data), 0 for the others.", withSLOLabels("decision")),
		exhaustion:  d("meshwatch_slo_time_to_exhaustion_seconds", "Time until the error budget is spent at the 1h burn rate; absent while nothing burns.", sloLabels),
		windowStart: d("meshwatch_slo_window_start_timestamp_seconds", "Start of the SLO window the budget is counted over, Unix seconds.", sloLabels),
		good:        d(MetricGood, "Good events of the SLO received by the SLO engine since the agent started.", sloLabels),
		valid:       d(MetricValid, "Valid events of the SLO received by the SLO engine since the agent started.", sloLabels),
		buckets:     d("meshwatch_slo_buckets", "Time buckets held for all SLOs; fixed by the configuration.", nil),
		bucketBytes: d("meshwatch_slo_bucket_bytes", "Memory held by the SLOs' time buckets.", nil),
		unknown:     d("meshwatch_slo_unknown_events_total", "SLIEvents for an SLO the configuration does not have, dropped.", nil),
		dropped:     d("meshwatch_slo_late_events_total", "SLIEvents older than every bucket of their SLO, dropped.", sloLabels),
		lastEval:    d("meshwatch_slo_last_evaluation_timestamp_seconds", "When the SLOs were last evaluated, Unix seconds.", nil),
	}
}

// Describe implements prometheus.Collector.
func (c *sloCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.objective, c.remaining, c.burn, c.ratio, c.events, c.decision,
		c.exhaustion, c.windowStart, c.good, c.valid, c.buckets, c.bucketBytes, c.unknown, c.dropped, c.lastEval} {
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
		st := s.status(i, false)
		ev := s.evals[i]
		lv := t.labels
		gauge(c.objective, st.Objective, lv...)
		gauge(c.remaining, st.Remaining, lv...)
		gauge(c.windowStart, float64(st.WindowStart.Unix()), lv...)
		ch <- prometheus.MustNewConstMetric(c.good, prometheus.CounterValue, float64(ev.total.Good), lv...)
		ch <- prometheus.MustNewConstMetric(c.valid, prometheus.CounterValue, float64(ev.total.Valid), lv...)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(ev.dropped), lv...)
		if st.TimeToExhaustion.OK {
			gauge(c.exhaustion, st.TimeToExhaustion.V, lv...)
		}
		for _, d := range Decisions {
			v := 0.0
			if d == st.Decision {
				v = 1
			}
			gauge(c.decision, v, append(lv, d)...)
		}
		for _, w := range st.Windows {
			wl := append(lv, w.Window)
			gauge(c.burn, w.BurnRate, wl...)
			if w.SLI.OK {
				gauge(c.ratio, w.SLI.V, wl...)
			}
			gauge(c.events, float64(w.Good), append(wl, "good")...)
			gauge(c.events, float64(w.Valid), append(wl, "valid")...)
		}
	}
}

// bucketBytes is the size of one bucket: good and valid as int64.
const bucketBytes = 16
