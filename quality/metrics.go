package quality

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch/internal/expo"
)

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

// The product families, written by the Metrics' expo.Source. Every one
// starts with the labels product, domain and owner.
var (
	famRecords = expo.NewFamily("meshwatch_quality_records_total",
		"Sampled records checked by a validity rule, by result (pass, fail, error).",
		expo.Counter, "product", "domain", "owner", "rule", "result")
	famChecked = expo.NewFamily("meshwatch_quality_checked_total",
		"Sampled records the quality rules looked at, decodable or not.",
		expo.Counter, "product", "domain", "owner")
	famUndecodable = expo.NewFamily("meshwatch_quality_undecodable_total",
		"Sampled records that could not be decoded, by reason; each is invalid.",
		expo.Counter, "product", "domain", "owner", "reason")
	famMissing = expo.NewFamily("meshwatch_quality_required_missing_total",
		"Sampled records in which a required field was absent or null, by field.",
		expo.Counter, "product", "domain", "owner", "field")
	famCompleteness = expo.NewFamily("meshwatch_quality_completeness_events_total",
		"Completeness events (records with required fields, expected sequence numbers), by result (good, bad).",
		expo.Counter, "product", "domain", "owner", "result")
	famValidity = expo.NewFamily("meshwatch_quality_validity_events_total",
		"Validity events (sampled records, dead-lettered records scaled by the sample ratio), by result (good, bad).",
		expo.Counter, "product", "domain", "owner", "result")
	famSeqMissing = expo.NewFamily("meshwatch_quality_sequence_missing_total",
		"Sequence numbers a producer skipped (gaps).",
		expo.Counter, "product", "domain", "owner")
	famSeqDup = expo.NewFamily("meshwatch_quality_sequence_duplicates_total",
		"Records whose sequence number was not above the producer's last one.",
		expo.Counter, "product", "domain", "owner")
	famSeqReset = expo.NewFamily("meshwatch_quality_sequence_resets_total",
		"Producer sequences that started again (back to 0 or 1, or a jump too large to be a gap).",
		expo.Counter, "product", "domain", "owner")
	famSeqEvicted = expo.NewFamily("meshwatch_quality_sequence_evictions_total",
		"Producer keys forgotten because quality.sequence.max_keys were tracked.",
		expo.Counter, "product", "domain", "owner")
	famSeqKeys = expo.NewFamily("meshwatch_quality_sequence_keys",
		"Producer keys whose sequence is tracked.",
		expo.Gauge, "product", "domain", "owner")
	famVolume = expo.NewFamily("meshwatch_quality_volume_records_per_minute",
		"Records appended to the product's topics per minute over the last volume window.",
		expo.Gauge, "product", "domain", "owner")
	famSilent = expo.NewFamily("meshwatch_quality_silent_partitions",
		"Partitions of the product whose end offset did not move over the last volume window.",
		expo.Gauge, "product", "domain", "owner")
	famDLQRecords = expo.NewFamily("meshwatch_quality_dlq_records_total",
		"Records appended to the product's dead-letter topics, from end-offset deltas.",
		expo.Counter, "product", "domain", "owner")
	famDLQReasons = expo.NewFamily("meshwatch_quality_dlq_reasons_total",
		"Dead-lettered records read, by the reason their headers give (a bounded set; the rest is other).",
		expo.Counter, "product", "domain", "owner", "reason")
	famRules = expo.NewFamily("meshwatch_quality_rules",
		"Validity rules evaluated on the product, by source (config, registry).",
		expo.Gauge, "product", "domain", "owner", "source")

	productFamilies = []*expo.Family{
		famChecked, famRecords, famUndecodable, famMissing, famCompleteness, famValidity,
		famSeqMissing, famSeqDup, famSeqReset, famSeqEvicted, famSeqKeys, famVolume, famSilent,
		famDLQRecords, famDLQReasons, famRules,
	}
)

// Metrics are the quality package's Prometheus metrics. Create them once
// with NewMetrics and pass them to New.
//
// The product series are an expo.Source: they are read, at each scrape,
// from the counts the engine keeps anyway under each product's mutex, and
// written one family at a time (streamed by the /metrics handler); no
// client_golang series or label pairs are held per product. The agent
// series are client_golang vectors.
type Metrics struct {
	mu       sync.Mutex
	products []*product // of the engines built with these Metrics; append only

	registryRequests *prometheus.CounterVec
	refreshes        *prometheus.CounterVec
	tickErrors       *prometheus.CounterVec
}

// NewMetrics creates the quality metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
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
	// A pointer: a registry compares the Sources it unregisters.
	reg.MustRegister(&expo.Collector{Fams: productFamilies, Write: m.write},
		m.registryRequests, m.refreshes, m.tickErrors)
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

// attach makes the series of an engine's products part of m. Engines that
// share Metrics must not share a product.
func (m *Metrics) attach(ps []*product) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.products) > 0 {
		names := make(map[string]bool, len(m.products))
		for _, q := range m.products {
			names[q.p.Name] = true
		}
		for _, p := range ps {
			if names[p.p.Name] {
				return errors.New("quality: product " + p.p.Name + " is already measured with these Metrics")
			}
		}
	}
	m.products = append(m.products, ps...)
	return nil
}

// count is one counter series of a product, guarded by the product's
// mutex: a series that counts an event exists from its first event, whose
// time is its created timestamp, so that what did not happen exports
// nothing. Counting is a branch and an add under the lock the record path
// holds anyway.
type count struct {
	n       int64
	created int64 // Unix nanoseconds of the first event; 0: none yet, no series
}

// inc counts one event.
func (c *count) inc() {
	if c.created == 0 {
		c.first()
	}
	c.n++
}

// add counts n events; adding 0 creates no series.
func (c *count) add(n int64) {
	if n <= 0 {
		return
	}
	if c.created == 0 {
		c.first()
	}
	c.n += n
}

// first is the slow path of inc and add, apart so that they inline.
func (c *count) first() { c.created = time.Now().UnixNano() }

// ruleSeries are the records_total series of one rule name of a product.
// They outlive the rule: a registry rule that is replaced by one of the
// same name (a new schema version) counts on in them, and one that is
// dropped keeps its series, as a client_golang vector's child would.
type ruleSeries struct {
	name    string
	results [3]count // pass, fail, error
}

// resultLabels are the result labels of ruleSeries.results.
var resultLabels = [3]string{ResultPass, ResultFail, ResultError}

// seriesOf returns the product's series of rule name, made at the first
// rule of that name. The caller holds p.mu, or builds p.
func (p *product) seriesOf(name string) *ruleSeries {
	for _, rs := range p.ruleSeries {
		if rs.name == name {
			return rs
		}
	}
	rs := &ruleSeries{name: name}
	p.ruleSeries = append(p.ruleSeries, rs)
	return rs
}

// productLabels returns the product's label values, product, domain and
// owner, in lv, with room for two more.
func (p *product) productLabels(lv *[5]string) {
	lv[0], lv[1], lv[2] = p.p.Name, p.p.Domain, p.p.Owner
}

// write writes the product series of every attached product, family by
// family. A product's values are copied under its mutex, which is never
// held while w writes: a slow scraper does not stall the record path.
func (m *Metrics) write(w expo.Writer) {
	m.mu.Lock()
	all := m.products[:len(m.products):len(m.products)]
	m.mu.Unlock()
	var seq, vol []*product
	for _, p := range all {
		if p.seq != nil {
			seq = append(seq, p)
		}
		if p.p.Quality.Volume != nil {
			vol = append(vol, p)
		}
	}
	var lv [5]string // product, domain, owner and the family's own labels
	counter := func(c count, n int) {
		if c.created != 0 {
			w.Counter(float64(c.n), time.Unix(0, c.created), lv[:n]...)
		}
	}
	// scalar writes a counter family of at most one series per product.
	scalar := func(f *expo.Family, ps []*product, read func(p *product) count) {
		w.Begin(f)
		for _, p := range ps {
			p.mu.Lock()
			c := read(p)
			p.mu.Unlock()
			p.productLabels(&lv)
			counter(c, 3)
		}
	}
	// gauge writes a gauge family of at most one series per product.
	gauge := func(f *expo.Family, ps []*product, read func(p *product) (float64, bool)) {
		w.Begin(f)
		for _, p := range ps {
			p.mu.Lock()
			v, ok := read(p)
			p.mu.Unlock()
			if ok {
				p.productLabels(&lv)
				w.Sample(v, lv[:3]...)
			}
		}
	}

	// Always there, created with the product.
	scalar(famChecked, all, func(p *product) count { return count{n: p.total.records, created: p.created} })

	w.Begin(famRecords)
	var rules []ruleSeries
	for _, p := range all {
		p.mu.Lock()
		rules = rules[:0]
		for _, rs := range p.ruleSeries {
			rules = append(rules, *rs)
		}
		p.mu.Unlock()
		p.productLabels(&lv)
		for _, rs := range rules {
			lv[3] = rs.name
			for i, c := range rs.results {
				lv[4] = resultLabels[i]
				counter(c, 5)
			}
		}
	}

	w.Begin(famUndecodable)
	for _, p := range all {
		p.mu.Lock()
		u := p.total.undecodable
		p.mu.Unlock()
		p.productLabels(&lv)
		for r := ReasonOK + 1; r < numReasons; r++ {
			lv[3] = r.String()
			counter(u[r], 4)
		}
	}

	w.Begin(famMissing)
	var missing []count
	for _, p := range all {
		req := p.p.Quality.Required
		if len(req) == 0 {
			continue
		}
		p.mu.Lock()
		missing = append(missing[:0], p.total.missing...)
		p.mu.Unlock()
		p.productLabels(&lv)
		for i, f := range req {
			if slices.Index(req, f) < i {
				continue // written with the field's first place
			}
			// A field required twice is one series that counts it at
			// each place.
			c := missing[i]
			for j := i + 1; j < len(req); j++ {
				if req[j] == f {
					c = mergeCounts(c, missing[j])
				}
			}
			lv[3] = f
			counter(c, 4)
		}
	}

	for _, f := range [2]*expo.Family{famCompleteness, famValidity} {
		w.Begin(f)
		for _, p := range all {
			p.mu.Lock()
			good, bad := p.total.complGood, p.total.complBad
			if f == famValidity {
				good, bad = p.total.validGood, p.total.validBad
			}
			p.mu.Unlock()
			p.productLabels(&lv)
			lv[3] = "good"
			counter(good, 4)
			lv[3] = "bad"
			counter(bad, 4)
		}
	}

	scalar(famSeqMissing, seq, func(p *product) count { return p.total.seqMissing })
	scalar(famSeqDup, seq, func(p *product) count { return p.total.seqDup })
	scalar(famSeqReset, seq, func(p *product) count { return p.total.seqReset })
	scalar(famSeqEvicted, seq, func(p *product) count { return p.total.seqEvicted })
	// From the start: 0 until the first tick.
	gauge(famSeqKeys, seq, func(p *product) (float64, bool) { return float64(p.seqKeys), true })
	gauge(famVolume, vol, func(p *product) (float64, bool) { return p.volume.lastRate, p.volume.rateSet })
	gauge(famSilent, vol, func(p *product) (float64, bool) { return float64(p.volume.silent), p.volume.silentSet })

	scalar(famDLQRecords, all, func(p *product) count { return p.dlq.records })
	w.Begin(famDLQReasons)
	var reasons []dlqReasonCount
	for _, p := range all {
		p.mu.Lock()
		reasons = append(reasons[:0], p.dlq.reasons...)
		p.mu.Unlock()
		p.productLabels(&lv)
		for _, r := range reasons {
			lv[3] = r.reason
			counter(r.count, 4)
		}
	}

	w.Begin(famRules)
	for _, p := range all {
		p.mu.Lock()
		n := p.rulesN
		p.mu.Unlock()
		p.productLabels(&lv)
		for i, source := range [2]string{sourceConfig, sourceRegistry} {
			if n[i] > 0 { // only while the source has a rule
				lv[3] = source
				w.Sample(float64(n[i]), lv[:4]...)
			}
		}
	}
}

// mergeCounts adds two counts of one series: the sum, created at the
// first of their first events.
func mergeCounts(a, b count) count {
	switch {
	case a.created == 0:
		return b
	case b.created == 0:
		return a
	}
	return count{n: a.n + b.n, created: min(a.created, b.created)}
}
