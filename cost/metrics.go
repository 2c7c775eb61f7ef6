package cost

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// costLabels are carried by the cost series of a product or pool.
var costLabels = []string{"product", "domain", "owner", "cost_center", "component"}

// usageLabels are carried by the usage series of a product or pool.
var usageLabels = []string{"product", "domain", "owner"}

// Metrics are the cost package's Prometheus metrics. Create them once with
// NewMetrics and pass them to New.
type Metrics struct {
	cost         *prometheus.CounterVec
	perHour      *prometheus.GaugeVec
	mtd          *prometheus.GaugeVec
	forecast     *prometheus.GaugeVec
	coverage     prometheus.Gauge
	storage      *prometheus.GaugeVec
	partitions   *prometheus.GaugeVec
	ingress      *prometheus.CounterVec
	egress       *prometheus.CounterVec
	replay       *prometheus.CounterVec
	crossAZ      *prometheus.CounterVec
	budgetUsed   *prometheus.GaugeVec
	budgetFcst   *prometheus.GaugeVec
	budgetAlerts *prometheus.CounterVec
	samples      *prometheus.CounterVec
	errors       *prometheus.CounterVec
	tailReads    *prometheus.CounterVec
	hoursClosed  prometheus.Counter
	corrections  prometheus.Counter
	info         *prometheus.GaugeVec

	mu       sync.Mutex
	mtdSeen  map[[4]string]bool // series of the month gauges, to zero them at a new month
	hourSeen map[[5]string]bool
}

// NewMetrics creates the metrics and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_usd_total",
			Help: "Cost charged in closed hours, in the billing currency (cost.currency; see meshwatch_cost_info). owner is the team charged.",
		}, costLabels),
		perHour: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_cost_usd_per_hour",
			Help: "Cost rate of the open hour so far, per hour, in the billing currency.",
		}, costLabels),
		mtd: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_cost_month_to_date_usd",
			Help: "Cost this month so far (closed hours and the open hour's estimate), in the billing currency.",
		}, costLabels[:4]),
		forecast: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_cost_month_forecast_usd",
			Help: "Month-end cost at this month's pace so far, in the billing currency.",
		}, costLabels[:4]),
		coverage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_cost_allocation_coverage_ratio",
			Help: "Share of the last closed hour's cost charged to data products (shared pool spread included; __idle__ and __unallocated__ not). 1 when the hour cost nothing.",
		}),
		storage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_cost_storage_bytes",
			Help: "Bytes on disk over every replica at the last sample.",
		}, usageLabels),
		partitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_cost_partitions",
			Help: "Partitions at the last sample.",
		}, usageLabels),
		ingress: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_ingress_bytes_total",
			Help: "Bytes produced (end-offset deltas × bytes per offset).",
		}, usageLabels),
		egress: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_egress_bytes_total",
			Help: "Bytes read by consumer groups (committed-offset deltas × bytes per offset).",
		}, append(append([]string{}, usageLabels...), "group")),
		replay: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_replay_bytes_total",
			Help: "Bytes a consumer group's offsets were reset backwards by.",
		}, append(append([]string{}, usageLabels...), "group")),
		crossAZ: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_cross_az_replication_bytes_total",
			Help: "Bytes replicated to followers in another rack than the leader's.",
		}, usageLabels),
		budgetUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_cost_budget_used_ratio",
			Help: "Month-to-date cost over the monthly budget.",
		}, []string{"budget"}),
		budgetFcst: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_cost_budget_forecast_ratio",
			Help: "Month-end forecast over the monthly budget.",
		}, []string{"budget"}),
		budgetAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_budget_alerts_total",
			Help: "Budget thresholds crossed (50/75/90/100 % and forecast).",
		}, []string{"budget"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_samples_total",
			Help: "Usage samples of the cluster, by result.",
		}, []string{"result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_errors_total",
			Help: "Failed cost steps: sample, daily_close, monthly_close, and state (a stored value was corrupt and set aside, or the month's budget state could not be read).",
		}, []string{"step"}),
		tailReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_cost_tail_reads_total",
			Help: "Bytes-per-offset measurements: ok (read on the tail) or fallback (log size over offsets).",
		}, []string{"result"}),
		hoursClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshwatch_cost_hours_closed_total",
			Help: "Hours written to the ledger.",
		}),
		corrections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshwatch_cost_correction_rows_total",
			Help: "Correction rows written for closed hours.",
		}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_cost_info",
			Help: "1, with the billing currency and the pricing mode (rate_card or invoice).",
		}, []string{"currency", "mode"}),
		mtdSeen:  map[[4]string]bool{},
		hourSeen: map[[5]string]bool{},
	}
	if reg != nil {
		reg.MustRegister(m.cost, m.perHour, m.mtd, m.forecast, m.coverage, m.storage, m.partitions,
			m.ingress, m.egress, m.replay, m.crossAZ, m.budgetUsed, m.budgetFcst, m.budgetAlerts,
			m.samples, m.errors, m.tailReads, m.hoursClosed, m.corrections, m.info)
	}
	for _, r := range []string{"ok", "error"} {
		m.samples.WithLabelValues(r)
	}
	for _, s := range []string{"sample", "daily_close", "monthly_close", stepState} {
		m.errors.WithLabelValues(s)
	}
	for _, r := range []string{"ok", "fallback"} {
		m.tailReads.WithLabelValues(r)
	}
	m.coverage.Set(1)
	return m
}

// init pre-initialises the series of the configured products.
func (m *Metrics) init(mt *Meter) {
	mode := "rate_card"
	if mt.cc.Invoice != nil {
		mode = "invoice"
	}
	m.info.WithLabelValues(mt.cc.Currency, mode).Set(1)
	for i := range mt.cfg.Products {
		p := &mt.cfg.Products[i]
		cc := mt.pricer.productCostCenter(p)
		for _, c := range []string{ComponentStorage, ComponentPartitions, ComponentIngress, ComponentEgress, ComponentCrossAZ} {
			m.cost.WithLabelValues(p.Name, p.Domain, p.Owner, cc, c)
		}
		m.ingress.WithLabelValues(p.Name, p.Domain, p.Owner)
		m.crossAZ.WithLabelValues(p.Name, p.Domain, p.Owner)
		for _, c := range p.Consumers {
			m.egress.WithLabelValues(p.Name, p.Domain, p.Owner, c.Group)
		}
	}
	for _, b := range mt.cc.Budgets {
		m.budgetAlerts.WithLabelValues(b.Name())
	}
}

// labelsOf returns the product, domain and owner labels of topic.
func labelsOf(pr *Pricer, topic string) (string, string, string) {
	if pr.IsShared(topic) {
		return Shared, "", pr.cfg.PlatformOwner
	}
	if p := pr.Product(topic); p != nil {
		return p.Name, p.Domain, p.Owner
	}
	return Unallocated, "", pr.cfg.PlatformOwner
}

// observeUsage updates the usage series after a sample.
func (m *Metrics) observeUsage(pr *Pricer, cur *sample, d delta) {
	storage := map[[3]string]float64{}
	parts := map[[3]string]float64{}
	for topic, ps := range cur.Topics {
		p, dom, o := labelsOf(pr, topic)
		k := [3]string{p, dom, o}
		for _, s := range ps {
			storage[k] += float64(s.Bytes)
			parts[k]++
		}
	}
	m.storage.Reset()
	m.partitions.Reset()
	for k, v := range storage {
		m.storage.WithLabelValues(k[:]...).Set(v)
	}
	for k, v := range parts {
		m.partitions.WithLabelValues(k[:]...).Set(v)
	}
	for topic, v := range d.ingress {
		if v > 0 {
			p, dom, o := labelsOf(pr, topic)
			m.ingress.WithLabelValues(p, dom, o).Add(v)
		}
	}
	for topic, v := range d.crossAZ {
		if v > 0 {
			p, dom, o := labelsOf(pr, topic)
			m.crossAZ.WithLabelValues(p, dom, o).Add(v)
		}
	}
	for topic, gs := range d.egress {
		p, dom, o := labelsOf(pr, topic)
		for g, v := range gs {
			m.egress.WithLabelValues(p, dom, o, g).Add(v)
		}
	}
	for topic, gs := range d.replay {
		p, dom, o := labelsOf(pr, topic)
		for g, v := range gs {
			m.replay.WithLabelValues(p, dom, o, g).Add(v)
		}
	}
}

// addCost adds a row written to the ledger to meshwatch_cost_usd_total.
// A counter cannot go down: a negative correction is in the ledger and
// the reports, not in the counter.
func (m *Metrics) addCost(r *Row) {
	if r.Cost > 0 {
		m.cost.WithLabelValues(r.Product, r.Domain, r.Owner, r.CostCenter, r.Component).Add(r.Cost.Float())
	}
}

// observeClose sets the coverage of a closed hour.
func (m *Metrics) observeClose(rows []Row) {
	var total, covered Money
	for _, r := range rows {
		total += r.Cost
		if r.Product != Idle && r.Product != Unallocated && r.Product != Shared {
			covered += r.Cost
		}
	}
	if total <= 0 {
		m.coverage.Set(1)
		return
	}
	m.coverage.Set(covered.Float() / total.Float())
}

// setMonth sets the month-to-date, forecast and per-hour gauges from the
// meter's sums. The caller holds mt.mu.
func (m *Metrics) setMonth(mt *Meter, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mtd := map[[4]string]Money{}
	for k, v := range mt.mtd {
		mtd[[4]string{k.product, k.domain, k.owner, k.costCenter}] += v
	}
	for k, v := range mt.est {
		mtd[[4]string{k.product, k.domain, k.owner, k.costCenter}] += v
	}
	for k := range m.mtdSeen {
		if _, ok := mtd[k]; !ok {
			m.mtd.WithLabelValues(k[:]...).Set(0)
			m.forecast.WithLabelValues(k[:]...).Set(0)
		}
	}
	for k, v := range mtd {
		m.mtdSeen[k] = true
		m.mtd.WithLabelValues(k[:]...).Set(v.Float())
		m.forecast.WithLabelValues(k[:]...).Set(forecast(v, now).Float())
	}
	for k := range m.hourSeen {
		m.perHour.WithLabelValues(k[:]...).Set(0)
	}
	if mt.estSecs > 0 {
		for k, v := range mt.est {
			lk := [5]string{k.product, k.domain, k.owner, k.costCenter, k.component}
			m.hourSeen[lk] = true
			m.perHour.WithLabelValues(lk[:]...).Set(v.Float() * secondsPerHr / float64(mt.estSecs))
		}
	}
}

// budget sets a budget's gauges.
func (m *Metrics) budget(b Budget, spent, fc Money) {
	name := b.Name()
	m.budgetUsed.WithLabelValues(name).Set(spent.Float() / b.Monthly.Float())
	m.budgetFcst.WithLabelValues(name).Set(fc.Float() / b.Monthly.Float())
}
