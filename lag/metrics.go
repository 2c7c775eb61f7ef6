package lag

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// groupLabels are carried by every group series: the product, the group and
// the group's owner (the consuming team, not the product's owner).
var groupLabels = []string{"product", "group", "owner"}

func withGroupLabels(extra ...string) []string {
	return append(append([]string{}, groupLabels...), extra...)
}

// Kafka's group states, exported at 0 when not current so that alerts on a
// state work before a group ever enters it.
var groupStates = []string{"Stable", "Empty", "PreparingRebalance", "CompletingRebalance", stateDead}

// kafka-lag-exporter's label sets.
var (
	lagExporterPartitionLabels = []string{"cluster_name", "group", "topic", "partition", "member_host", "consumer_id", "client_id"}
	lagExporterGroupLabels     = []string{"cluster_name", "group"}
)

// lagExporterUnknown is what kafka-lag-exporter labels a partition no
// member is assigned with.
const lagExporterUnknown = "unknown"

// Metrics are the lag monitor's Prometheus metrics. Create them once with
// NewMetrics and pass them to New; they export the snapshot of the monitor
// they were passed to.
type Metrics struct {
	coll        *snapshotCollector
	passSeconds prometheus.Histogram
	passErrors  *prometheus.CounterVec
	reads       *prometheus.CounterVec
}

// NewMetrics creates the lag metrics and registers them with reg. With
// lagExporterNames, lag is also exported under kafka-lag-exporter's names
// and labels.
func NewMetrics(reg prometheus.Registerer, lagExporterNames bool) *Metrics {
	m := &Metrics{
		coll: newSnapshotCollector(lagExporterNames),
		passSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meshwatch_lag_pass_duration_seconds", Help: "Time one lag pass took: groups, offsets, exact reads and evaluation.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 8),
		}),
		passErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_lag_pass_errors_total", Help: "Failed Kafka requests of the lag passes, by step.",
		}, []string{"step"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_lag_exact_reads_total", Help: "Records at committed offsets the lag monitor wanted to read for exact time lag, by result (over_budget: interpolated because lag.exact_fetches was spent).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.coll, m.passSeconds, m.passErrors, m.reads)
	for _, step := range []string{"list_groups", "fetch_offsets", "metadata", "describe_groups", "end_offsets", "start_offsets", "topic_configs"} {
		m.passErrors.WithLabelValues(step)
	}
	for _, r := range []string{"ok", "error", "timeout", "over_budget"} {
		m.reads.WithLabelValues(r)
	}
	return m
}

// attach makes m export mo's snapshots.
func (m *Metrics) attach(mo *Monitor) { m.coll.mon.Store(mo) }

// snapshotCollector exports the monitor's last snapshot. A scrape reads the
// snapshot the last pass swapped in and never calls Kafka; the series of a
// group or partition that is gone are gone with it.
type snapshotCollector struct {
	mon         atomic.Pointer[Monitor]
	lagExporter bool

	lagRecords, lagSeconds                          *prometheus.Desc
	groupLagRecords, groupLagSeconds                *prometheus.Desc
	status, state, members                          *prometheus.Desc
	risk, dataLoss, lost, uncommitted, noData       *prometheus.Desc
	hdrSeconds, hdrSamples                          *prometheus.Desc
	lastPass, groups                                *prometheus.Desc
	leLag, leLagSeconds, leMax, leMaxSeconds, leSum *prometheus.Desc
}

func newSnapshotCollector(lagExporter bool) *snapshotCollector {
	d := prometheus.NewDesc
	return &snapshotCollector{
		lagExporter:     lagExporter,
		lagRecords:      d("meshwatch_consumer_lag_records", "Offset lag of the group on a partition: end offset minus committed offset (never committed partitions have no series).", withGroupLabels("topic", "partition"), nil),
		lagSeconds:      d("meshwatch_consumer_lag_seconds", "Time lag of the group on a partition: how long the record at the committed offset has waited; method says whether it was read (exact) or interpolated from sampled end offsets.", withGroupLabels("topic", "partition", "method"), nil),
		groupLagRecords: d("meshwatch_consumer_group_lag_records", "Sum of the group's offset lags on the product's partitions.", groupLabels, nil),
		groupLagSeconds: d("meshwatch_consumer_group_lag_seconds", "Largest time lag of the group on the product's partitions, with the method of that value.", withGroupLabels("method"), nil),
		status:          d("meshwatch_consumer_status", "1 for the group's current status (OK, WARN, STALL, STOP, REWIND, LOST), 0 for the others; all 0 while the group has no committed offset.", withGroupLabels("status"), nil),
		state:           d("meshwatch_consumer_group_state", "1 for the group's current Kafka state (Dead when it does not exist), 0 for the other usual states.", withGroupLabels("state"), nil),
		members:         d("meshwatch_consumer_group_members", "Members of the group.", groupLabels, nil),
		risk:            d("meshwatch_consumer_retention_risk_ratio", "Largest time lag of the group on a partition as a share of the topic's retention.ms: at 1, records expire unread (0 without time-based retention).", groupLabels, nil),
		dataLoss:        d("meshwatch_consumer_data_loss", "1 while a committed offset of the group is below its partition's log start: records expired before the group read them.", groupLabels, nil),
		lost:            d("meshwatch_consumer_lost_records", "Records between the group's committed offsets and the log start offsets, which it will never read.", groupLabels, nil),
		uncommitted:     d("meshwatch_consumer_uncommitted_partitions", "Partitions of the group's topics that it never committed.", groupLabels, nil),
		noData:          d("meshwatch_consumer_group_no_data", "1 while the group has no committed offset on the product's topics (a declared consumer that never consumed).", groupLabels, nil),
		hdrSeconds:      d("meshwatch_consumer_lag_hdr_seconds", "Quantiles of the group's time lag over the last 5m, from an HDR histogram of one sample per pass.", withGroupLabels("quantile"), nil),
		hdrSamples:      d("meshwatch_consumer_lag_hdr_window_samples", "Passes behind meshwatch_consumer_lag_hdr_seconds; its quantiles mean nothing while this is 0.", groupLabels, nil),
		lastPass:        d("meshwatch_lag_last_pass_timestamp_seconds", "When the last successful lag pass sampled the offsets, Unix seconds.", nil, nil),
		groups:          d("meshwatch_lag_groups", "Consumer groups of the products at the last pass.", nil, nil),
		leLag:           d("kafka_consumergroup_group_lag", "Group offset lag of a partition (kafka-lag-exporter compatible).", lagExporterPartitionLabels, nil),
		leLagSeconds:    d("kafka_consumergroup_group_lag_seconds", "Group time lag of a partition (kafka-lag-exporter compatible).", lagExporterPartitionLabels, nil),
		leMax:           d("kafka_consumergroup_group_max_lag", "Max group offset lag (kafka-lag-exporter compatible).", lagExporterGroupLabels, nil),
		leMaxSeconds:    d("kafka_consumergroup_group_max_lag_seconds", "Max group time lag (kafka-lag-exporter compatible).", lagExporterGroupLabels, nil),
		leSum:           d("kafka_consumergroup_group_sum_lag", "Sum of group offset lag (kafka-lag-exporter compatible).", lagExporterGroupLabels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lagRecords, c.lagSeconds, c.groupLagRecords, c.groupLagSeconds,
		c.status, c.state, c.members, c.risk, c.dataLoss, c.lost, c.uncommitted, c.noData,
		c.hdrSeconds, c.hdrSamples, c.lastPass, c.groups} {
		ch <- d
	}
	if c.lagExporter {
		for _, d := range []*prometheus.Desc{c.leLag, c.leLagSeconds, c.leMax, c.leMaxSeconds, c.leSum} {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	mo := c.mon.Load()
	if mo == nil {
		return
	}
	s := mo.snap.Load()
	if s == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	cluster := mo.cfg.Cluster.Name
	ngroups := 0
	quantiles := make([]string, len(Quantiles))
	for i, q := range Quantiles {
		quantiles[i] = strconv.FormatFloat(q, 'f', -1, 64)
	}
	for _, name := range s.order {
		pl := s.products[name]
		for gi := range pl.Groups {
			g := &pl.Groups[gi]
			ngroups++
			lv := []string{pl.Product, g.Group, g.Owner}
			with := func(extra ...string) []string { return append(append(make([]string, 0, 6), lv...), extra...) }
			for pi := range g.Partitions {
				p := &g.Partitions[pi]
				if p.Committed == nil {
					continue
				}
				part := strconv.Itoa(int(p.Partition))
				gauge(c.lagRecords, float64(p.LagRecords), with(p.Topic, part)...)
				gauge(c.lagSeconds, p.LagSeconds, with(p.Topic, part, p.Method)...)
				if c.lagExporter {
					host, id, client := p.MemberHost, p.MemberID, p.ClientID
					if id == "" {
						host, id, client = lagExporterUnknown, lagExporterUnknown, lagExporterUnknown
					}
					gauge(c.leLag, float64(p.LagRecords), cluster, g.Group, p.Topic, part, host, id, client)
					gauge(c.leLagSeconds, p.LagSeconds, cluster, g.Group, p.Topic, part, host, id, client)
				}
			}
			for _, st := range Statuses {
				v := 0.0
				if st == g.Status {
					v = 1
				}
				gauge(c.status, v, with(st)...)
			}
			known := false
			for _, st := range groupStates {
				v := 0.0
				if st == g.State {
					v, known = 1, true
				}
				gauge(c.state, v, with(st)...)
			}
			if !known {
				gauge(c.state, 1, with(g.State)...)
			}
			gauge(c.members, float64(g.Members), lv...)
			gauge(c.uncommitted, float64(g.Uncommitted), lv...)
			gauge(c.noData, b2f(g.NoData), lv...)
			if g.NoData {
				continue // no lag to speak of: no lag series rather than zeros
			}
			gauge(c.groupLagRecords, float64(g.LagRecords), lv...)
			gauge(c.groupLagSeconds, g.LagSeconds, with(g.Method)...)
			gauge(c.risk, g.RetentionRisk, lv...)
			gauge(c.dataLoss, b2f(g.DataLoss), lv...)
			gauge(c.lost, float64(g.LostRecords), lv...)
			gauge(c.hdrSamples, float64(g.Samples), lv...)
			for i, v := range []float64{g.P50Seconds, g.P99Seconds} {
				gauge(c.hdrSeconds, v, with(quantiles[i])...)
			}
		}
	}
	gauge(c.lastPass, float64(s.at.UnixNano())/1e9)
	gauge(c.groups, float64(ngroups))
	if c.lagExporter {
		for _, x := range s.exporter {
			if !x.hasData {
				continue
			}
			gauge(c.leMax, float64(x.maxLag), cluster, x.group)
			gauge(c.leMaxSeconds, x.maxLagSeconds, cluster, x.group)
			gauge(c.leSum, float64(x.sumLag), cluster, x.group)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
