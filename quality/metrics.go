package quality

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
)

// productLabels are carried by every product series.
var productLabels = []string{"product", "domain", "owner"}

func withProductLabels(extra ...string) []string {
	return append(append([]string{}, productLabels...), extra...)
}

// Results of a rule on one record, the result label of
// meshwatch_quality_records_total.
const (
	ResultPass  = "pass"
	ResultFail  = "fail"
	ResultError = "error"
)

// Sources of rules, the source label of meshwatch_quality_rules.
const (
	sourceConfig   = "config"
	sourceRegistry = "registry"
)

// Metrics are the quality package's Prometheus metrics. Create them once
// with NewMetrics and pass them to New.
type Metrics struct {
	records      *prometheus.CounterVec
	checked      *prometheus.CounterVec
	undecodable  *prometheus.CounterVec
	missing      *prometheus.CounterVec
	completeness *prometheus.CounterVec
	validity     *prometheus.CounterVec
	seqMissing   *prometheus.CounterVec
	seqDup       *prometheus.CounterVec
	seqReset     *prometheus.CounterVec
	seqEvicted   *prometheus.CounterVec
	seqKeys      *prometheus.GaugeVec
	volume       *prometheus.GaugeVec
	silent       *prometheus.GaugeVec
	dlqRecords   *prometheus.CounterVec
	dlqReasons   *prometheus.CounterVec
	rulesLoaded  *prometheus.GaugeVec

	registryRequests *prometheus.CounterVec
	refreshes        *prometheus.CounterVec
	tickErrors       *prometheus.CounterVec
}

// NewMetrics creates the quality metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_records_total", Help: "Sampled records checked by a validity rule, by result (pass, fail, error).",
		}, withProductLabels("rule", "result")),
		checked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_checked_total", Help: "Sampled records the quality rules looked at, decodable or not.",
		}, productLabels),
		undecodable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_undecodable_total", Help: "Sampled records that could not be decoded, by reason; each is invalid.",
		}, withProductLabels("reason")),
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_required_missing_total", Help: "Sampled records in which a required field was absent or null, by field.",
		}, withProductLabels("field")),
		completeness: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_completeness_events_total", Help: "Completeness events (records with required fields, expected sequence numbers), by result (good, bad).",
		}, withProductLabels("result")),
		validity: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_validity_events_total", Help: "Validity events (sampled records, dead-lettered records scaled by the sample ratio), by result (good, bad).",
		}, withProductLabels("result")),
		seqMissing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_sequence_missing_total", Help: "Sequence numbers a producer skipped (gaps).",
		}, productLabels),
		seqDup: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_sequence_duplicates_total", Help: "Records whose sequence number was not above the producer's last one.",
		}, productLabels),
		seqReset: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_sequence_resets_total", Help: "Producer sequences that started again (back to 0 or 1, or a jump too large to be a gap).",
		}, productLabels),
		seqEvicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_sequence_evictions_total", Help: "Producer keys forgotten because quality.sequence.max_keys were tracked.",
		}, productLabels),
		seqKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_quality_sequence_keys", Help: "Producer keys whose sequence is tracked.",
		}, productLabels),
		volume: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_quality_volume_records_per_minute", Help: "Records appended to the product's topics per minute over the last volume window.",
		}, productLabels),
		silent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_quality_silent_partitions", Help: "Partitions of the product whose end offset did not move over the last volume window.",
		}, productLabels),
		dlqRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_dlq_records_total", Help: "Records appended to the product's dead-letter topics, from end-offset deltas.",
		}, productLabels),
		dlqReasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_dlq_reasons_total", Help: "Dead-lettered records read, by the reason their headers give (a bounded set; the rest is other).",
		}, withProductLabels("reason")),
		rulesLoaded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_quality_rules", Help: "Validity rules evaluated on the product, by source (config, registry).",
		}, withProductLabels("source")),
		registryRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_schema_fetches_total", Help: "Schemas fetched from the schema registry by id, by result (ok or an undecodable reason).",
		}, []string{"result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_ruleset_refreshes_total", Help: "Reads of a subject's latest schema for its ruleSet and metadata, by result (ok, not_found, error).",
		}, []string{"result"}),
		tickErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_quality_tick_errors_total", Help: "Failed Kafka requests of the quality tick, by step (end_offsets, metadata, dlq_fetch).",
		}, []string{"step"}),
	}
	reg.MustRegister(m.records, m.checked, m.undecodable, m.missing, m.completeness, m.validity,
		m.seqMissing, m.seqDup, m.seqReset, m.seqEvicted, m.seqKeys, m.volume, m.silent,
		m.dlqRecords, m.dlqReasons, m.rulesLoaded, m.registryRequests, m.refreshes, m.tickErrors)
	for r := ReasonOK; r < numReasons; r++ {
		m.registryRequests.WithLabelValues(r.String())
	}
	for _, r := range []string{"ok", "not_found", "error"} {
		m.refreshes.WithLabelValues(r)
	}
	for _, s := range []string{"end_offsets", "metadata", "dlq_fetch"} {
		m.tickErrors.WithLabelValues(s)
	}
	return m
}

// productMetrics are one product's series, resolved once so that the
// per-record path never looks up a label. A series that counts an event
// (a result, a reason, a gap, a dead letter) is created at its first event,
// so that what did not happen exports nothing; a series of a feature the
// product does not use (sequence, volume) is never created.
type productMetrics struct {
	labels prometheus.Labels
	// The vectors curried with labels, for the series made later.
	records, missing, dlqReasons *prometheus.CounterVec
	rules                        *prometheus.GaugeVec

	checked                   prometheus.Counter
	undecodable               [numReasons]lazyCounter
	completeGood, completeBad lazyCounter
	validGood, validBad       lazyCounter
	seqMissing, seqDup        lazyCounter
	seqReset, seqEvicted      lazyCounter
	dlqRecords                lazyCounter
	// seqKeys is nil without a sequence check.
	seqKeys prometheus.Gauge
	// volume and silent stay nil without a volume expectation, and until
	// they are first measured; only the tick sets them, holding the
	// product's mutex.
	volume, silent prometheus.Gauge
}

func (m *Metrics) forProduct(p *meshwatch.Product) *productMetrics {
	l := prometheus.Labels{"product": p.Name, "domain": p.Domain, "owner": p.Owner}
	pm := &productMetrics{
		labels:     l,
		records:    m.records.MustCurryWith(l),
		missing:    m.missing.MustCurryWith(l),
		dlqReasons: m.dlqReasons.MustCurryWith(l),
		rules:      m.rulesLoaded.MustCurryWith(l),
		checked:    m.checked.With(l),
	}
	uv := m.undecodable.MustCurryWith(l)
	for r := ReasonOK + 1; r < numReasons; r++ {
		pm.undecodable[r].init(uv, r.String())
	}
	cv := m.completeness.MustCurryWith(l)
	pm.completeGood.init(cv, "good")
	pm.completeBad.init(cv, "bad")
	vv := m.validity.MustCurryWith(l)
	pm.validGood.init(vv, "good")
	pm.validBad.init(vv, "bad")
	pm.seqMissing.init(m.seqMissing.MustCurryWith(l))
	pm.seqDup.init(m.seqDup.MustCurryWith(l))
	pm.seqReset.init(m.seqReset.MustCurryWith(l))
	pm.seqEvicted.init(m.seqEvicted.MustCurryWith(l))
	pm.dlqRecords.init(m.dlqRecords.MustCurryWith(l))
	if p.Quality.Sequence != nil {
		pm.seqKeys = m.seqKeys.With(l)
	}
	return pm
}

// initRule readies the pass, fail and error counters of one rule; each
// series appears at the rule's first record with that result.
func (pm *productMetrics) initRule(c *[3]lazyCounter, rule string) {
	for i, res := range [3]string{ResultPass, ResultFail, ResultError} {
		c[i].init(pm.records, rule, res)
	}
}

// setRules sets meshwatch_quality_rules{source}, which exists only while
// the source has a rule.
func (pm *productMetrics) setRules(source string, n int) {
	if n == 0 {
		pm.rules.DeleteLabelValues(source)
		return
	}
	pm.rules.WithLabelValues(source).Set(float64(n))
}

// lazyCounter is one series of a counter vector, created at its first
// increment: a count that is still 0 exports no series. After that, Inc and
// Add cost one atomic load more than the series' own; they never allocate
// and never lock. It is safe for concurrent use. Ready it with init before
// use, and do not copy it.
type lazyCounter struct {
	c   atomic.Pointer[prometheus.Counter]
	vec *prometheus.CounterVec // curried with all labels but lvs
	lvs []string
}

func (l *lazyCounter) init(vec *prometheus.CounterVec, lvs ...string) {
	l.vec, l.lvs = vec, lvs
}

// Inc adds 1, creating the series first if need be.
func (l *lazyCounter) Inc() { l.get().Inc() }

// Add adds v; an Add of 0 (or less) creates no series.
func (l *lazyCounter) Add(v float64) {
	if v > 0 {
		l.get().Add(v)
	}
}

func (l *lazyCounter) get() prometheus.Counter {
	if c := l.c.Load(); c != nil {
		return *c
	}
	return l.create()
}

// create is get's slow path, apart so that get inlines. Racing callers get
// the same series: the vector creates a label set's series once.
func (l *lazyCounter) create() prometheus.Counter {
	c := l.vec.WithLabelValues(l.lvs...)
	l.c.Store(&c)
	return c
}
