package lag

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
)

// Granularity is how finely the lag monitor exports a group's lag on a
// product (metrics.lag_granularity): the per-partition series multiply with
// the partitions of every topic a group reads, so they are opt-in.
type Granularity string

// The granularities of the lag series.
const (
	// GranularityGroup exports the lag of a group on a product only
	// (meshwatch_consumer_group_lag_records and _seconds, and
	// kafka-lag-exporter's per-group names).
	GranularityGroup Granularity = "group"
	// GranularityTopic adds the lag of the group on each topic of the
	// product, and kafka_consumergroup_group_topic_sum_lag. The default.
	GranularityTopic Granularity = "topic"
	// GranularityPartition exports the lag of the group on each partition
	// instead of each topic, and adds kafka-lag-exporter's per-partition
	// names.
	GranularityPartition Granularity = "partition"
)

// granularities lists the valid granularities, from the coarsest.
var granularities = []Granularity{GranularityGroup, GranularityTopic, GranularityPartition}

// ParseGranularity returns the granularity named s; "" is the default,
// GranularityTopic.
func ParseGranularity(s string) (Granularity, error) {
	if s == "" {
		return GranularityTopic, nil
	}
	for _, g := range granularities {
		if s == string(g) {
			return g, nil
		}
	}
	return "", fmt.Errorf("unknown lag granularity %q: must be group, topic or partition", s)
}

// MetricsOptions select what NewMetrics exports. The zero value exports
// meshwatch's series at GranularityTopic and no kafka-lag-exporter names.
type MetricsOptions struct {
	// KafkaLagExporter also exports lag under kafka-lag-exporter's names and
	// labels (lag.kafka_lag_exporter_metrics, see Config.LagExporterMetrics).
	KafkaLagExporter bool
	// Granularity of the lag series (metrics.lag_granularity); "" is
	// GranularityTopic.
	Granularity Granularity
}

// groupLabels are carried by every series of a group on a product: the
// product, the group, the group's owner (the consuming team, not the
// product's owner) and the group's type (GroupLag.Type: classic, consumer,
// share; empty while Kafka does not list the group).
var groupLabels = []string{"product", "group", "owner", "group_type"}

func withGroupLabels(extra ...string) []string {
	return append(append([]string{}, groupLabels...), extra...)
}

// ownGroupLabels are carried by the series of a group's own properties
// (its Kafka state and members), exported once per group whatever the
// products it reads.
var ownGroupLabels = []string{"group", "owner", "group_type"}

func withOwnGroupLabels(extra ...string) []string {
	return append(append([]string{}, ownGroupLabels...), extra...)
}

// kafka-lag-exporter's label sets.
var (
	lagExporterPartitionLabels = []string{"cluster_name", "group", "topic", "partition", "member_host", "consumer_id", "client_id"}
	lagExporterTopicLabels     = []string{"cluster_name", "group", "topic"}
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

// NewMetrics creates the lag metrics and registers them with reg, at the
// granularity of o (see Granularity); with o.KafkaLagExporter, lag is also
// exported under kafka-lag-exporter's names and labels. It panics when
// o.Granularity is not one of the Granularity constants or "" (use
// ParseGranularity), or when reg refuses the metrics.
func NewMetrics(reg prometheus.Registerer, o MetricsOptions) *Metrics {
	gr := cmp.Or(o.Granularity, GranularityTopic)
	if !slices.Contains(granularities, gr) {
		panic(fmt.Sprintf("lag.NewMetrics: unknown granularity %q", o.Granularity))
	}
	m := &Metrics{
		coll: newSnapshotCollector(o.KafkaLagExporter, gr),
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
	for _, step := range []string{"list_groups", "fetch_offsets", "share_offsets", "metadata", "describe_groups", "end_offsets", "start_offsets", "topic_configs"} {
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
	granularity Granularity

	// lagRecords and lagSeconds are per topic or per partition, nil at
	// GranularityGroup.
	lagRecords, lagSeconds           *prometheus.Desc
	groupLagRecords, groupLagSeconds *prometheus.Desc
	status, state, members, method   *prometheus.Desc
	risk, lost, uncommitted, noData  *prometheus.Desc
	lastPass, groups                 *prometheus.Desc
	// kafka-lag-exporter's: leLag and leLagSeconds at GranularityPartition,
	// leTopicSum at GranularityTopic and GranularityPartition (as
	// kafka-lag-exporter exports it beside its partition series), the others
	// at every granularity.
	leLag, leLagSeconds, leTopicSum *prometheus.Desc
	leMax, leMaxSeconds, leSum      *prometheus.Desc
}

func newSnapshotCollector(lagExporter bool, gr Granularity) *snapshotCollector {
	d := prometheus.NewDesc
	c := &snapshotCollector{
		lagExporter:     lagExporter,
		granularity:     gr,
		groupLagRecords: d("meshwatch_consumer_group_lag_records", "Sum of the group's offset lags on the product's partitions.", groupLabels, nil),
		groupLagSeconds: d("meshwatch_consumer_group_lag_seconds", "Largest time lag of the group on the product's partitions (how it was measured: meshwatch_consumer_group_lag_method).", groupLabels, nil),
		method:          d("meshwatch_consumer_group_lag_method", "How the group's time lag was measured, always 1: exact (read from Kafka), interpolated (from sampled end offsets, over the lag.exact_fetches budget) or lower_bound (a committed offset older than the sampled history, as after a start: the lag is at least the value).", withGroupLabels("method"), nil),
		status:          d("meshwatch_consumer_status", "The group's current status on the product (OK, WARN, STALL, STOP, REWIND, LOST), always 1; no series while the group has no committed offset (meshwatch_consumer_group_no_data).", withGroupLabels("status"), nil),
		state:           d("meshwatch_consumer_group_state", "The group's current Kafka state (Dead when it does not exist), always 1; one series per group, whatever the products it reads.", withOwnGroupLabels("state"), nil),
		members:         d("meshwatch_consumer_group_members", "Members of the group; one series per group, whatever the products it reads.", ownGroupLabels, nil),
		risk:            d("meshwatch_consumer_retention_risk_ratio", "Largest time lag of the group on a partition as a share of the topic's retention.ms: at 1, records expire unread (0 without time-based retention).", groupLabels, nil),
		lost:            d("meshwatch_consumer_lost_records", "Records between the group's committed offsets and the log start offsets, which it will never read: data loss (a committed offset below its partition's log start, records expired or deleted before the group read them); no series while there is none.", groupLabels, nil),
		uncommitted:     d("meshwatch_consumer_uncommitted_partitions", "Partitions of the group's topics that it never committed; no series while there is none.", groupLabels, nil),
		noData:          d("meshwatch_consumer_group_no_data", "1 while the group has no committed offset on the product's topics (a declared consumer that never consumed).", groupLabels, nil),
		lastPass:        d("meshwatch_lag_last_pass_timestamp_seconds", "When the last successful lag pass sampled the offsets, Unix seconds.", nil, nil),
		groups:          d("meshwatch_lag_groups", "Consumer groups of the products at the last pass.", nil, nil),
		leMax:           d("kafka_consumergroup_group_max_lag", "Max group offset lag (kafka-lag-exporter compatible).", lagExporterGroupLabels, nil),
		leMaxSeconds:    d("kafka_consumergroup_group_max_lag_seconds", "Max group time lag (kafka-lag-exporter compatible).", lagExporterGroupLabels, nil),
		leSum:           d("kafka_consumergroup_group_sum_lag", "Sum of group offset lag (kafka-lag-exporter compatible).", lagExporterGroupLabels, nil),
	}
	switch gr {
	case GranularityPartition:
		c.lagRecords = d("meshwatch_consumer_lag_records", "Offset lag of the group on a partition: end offset minus committed offset (never committed partitions have no series).", withGroupLabels("topic", "partition"), nil)
		c.lagSeconds = d("meshwatch_consumer_lag_seconds", "Time lag of the group on a partition: how long the record at the committed offset has waited.", withGroupLabels("topic", "partition"), nil)
		c.leLag = d("kafka_consumergroup_group_lag", "Group offset lag of a partition (kafka-lag-exporter compatible).", lagExporterPartitionLabels, nil)
		c.leLagSeconds = d("kafka_consumergroup_group_lag_seconds", "Group time lag of a partition (kafka-lag-exporter compatible).", lagExporterPartitionLabels, nil)
		c.leTopicSum = d("kafka_consumergroup_group_topic_sum_lag", "Sum of group offset lag across topic partitions (kafka-lag-exporter compatible).", lagExporterTopicLabels, nil)
	case GranularityTopic:
		c.lagRecords = d("meshwatch_consumer_lag_records", "Offset lag of the group on a topic: the sum over the partitions it committed of end offset minus committed offset (a topic it never committed has no series).", withGroupLabels("topic"), nil)
		c.lagSeconds = d("meshwatch_consumer_lag_seconds", "Time lag of the group on a topic: the largest of its committed partitions', how long the record at the committed offset has waited.", withGroupLabels("topic"), nil)
		c.leTopicSum = d("kafka_consumergroup_group_topic_sum_lag", "Sum of group offset lag across topic partitions (kafka-lag-exporter compatible).", lagExporterTopicLabels, nil)
	}
	return c
}

// descs returns the descriptions of every metric c may export.
func (c *snapshotCollector) descs() []*prometheus.Desc {
	ds := []*prometheus.Desc{c.groupLagRecords, c.groupLagSeconds, c.method,
		c.status, c.state, c.members, c.risk, c.lost, c.uncommitted, c.noData,
		c.lastPass, c.groups}
	if c.lagExporter {
		ds = append(ds, c.leMax, c.leMaxSeconds, c.leSum)
	}
	for _, d := range []*prometheus.Desc{c.lagRecords, c.lagSeconds} {
		if d != nil {
			ds = append(ds, d)
		}
	}
	if c.lagExporter {
		for _, d := range []*prometheus.Desc{c.leLag, c.leLagSeconds, c.leTopicSum} {
			if d != nil {
				ds = append(ds, d)
			}
		}
	}
	return ds
}

// Describe implements prometheus.Collector.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// groupProps are the properties of a group itself, exported once per group
// however many products it reads.
type groupProps struct {
	name, owner, state, typ string
	members                 int
}

// groupTopic keys kafka_consumergroup_group_topic_sum_lag.
type groupTopic struct{ group, topic string }

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
	// The group's own series, once per group: owner, state and members
	// come from its first product in config order, except that the owner
	// is the first one a product declares (the first declared owner that
	// is not meshwatch.UnknownOwner), so that an undeclared reading of a
	// group by an earlier product does not hide its owner.
	props := map[string]*groupProps{}
	var propsOrder []*groupProps
	// kafka_consumergroup_group_topic_sum_lag, summed over the products
	// (a topic belongs to one product, but a duplicate series would fail
	// the whole scrape).
	var topicSums map[groupTopic]int64
	var topicOrder []groupTopic
	leTopic := c.lagExporter && c.granularity != GranularityGroup
	if leTopic {
		topicSums = map[groupTopic]int64{}
	}
	for _, name := range s.order {
		pl := s.products[name]
		for gi := range pl.Groups {
			g := &pl.Groups[gi]
			ngroups++
			lv := []string{pl.Product, g.Group, g.Owner, g.Type}
			with := func(extra ...string) []string { return append(append(make([]string, 0, 7), lv...), extra...) }
			if c.granularity == GranularityPartition {
				c.collectPartitions(gauge, cluster, g, with)
			}
			if c.granularity == GranularityTopic || leTopic {
				forTopics(g, func(topic string, records int64, seconds float64) {
					if c.granularity == GranularityTopic {
						gauge(c.lagRecords, float64(records), with(topic)...)
						gauge(c.lagSeconds, seconds, with(topic)...)
					}
					if leTopic {
						k := groupTopic{g.Group, topic}
						if _, ok := topicSums[k]; !ok {
							topicOrder = append(topicOrder, k)
						}
						topicSums[k] += records
					}
				})
			}
			if gp := props[g.Group]; gp == nil {
				gp = &groupProps{name: g.Group, owner: g.Owner, state: cmp.Or(g.State, stateDead), typ: g.Type, members: g.Members}
				props[g.Group] = gp
				propsOrder = append(propsOrder, gp)
			} else if gp.owner == meshwatch.UnknownOwner && g.Owner != meshwatch.UnknownOwner {
				gp.owner = g.Owner
			}
			if g.Status != "" {
				gauge(c.status, 1, with(g.Status)...)
			}
			if g.Uncommitted > 0 {
				gauge(c.uncommitted, float64(g.Uncommitted), lv...)
			}
			gauge(c.noData, b2f(g.NoData), lv...)
			if g.NoData {
				continue // no lag to speak of: no lag series rather than zeros
			}
			gauge(c.groupLagRecords, float64(g.LagRecords), lv...)
			gauge(c.groupLagSeconds, g.LagSeconds, lv...)
			gauge(c.method, 1, with(g.estimate())...)
			gauge(c.risk, g.RetentionRisk, lv...)
			if g.LostRecords > 0 {
				gauge(c.lost, float64(g.LostRecords), lv...)
			}
		}
	}
	for _, gp := range propsOrder {
		gauge(c.state, 1, gp.name, gp.owner, gp.typ, gp.state)
		gauge(c.members, float64(gp.members), gp.name, gp.owner, gp.typ)
	}
	gauge(c.lastPass, float64(s.at.UnixNano())/1e9)
	gauge(c.groups, float64(ngroups))
	if !c.lagExporter {
		return
	}
	for _, k := range topicOrder {
		gauge(c.leTopicSum, float64(topicSums[k]), cluster, k.group, k.topic)
	}
	for _, x := range s.exporter {
		if !x.hasData {
			continue
		}
		gauge(c.leMax, float64(x.maxLag), cluster, x.group)
		gauge(c.leMaxSeconds, x.maxLagSeconds, cluster, x.group)
		gauge(c.leSum, float64(x.sumLag), cluster, x.group)
	}
}

// collectPartitions exports the per-partition lag series of g.
func (c *snapshotCollector) collectPartitions(gauge func(*prometheus.Desc, float64, ...string), cluster string, g *GroupLag, with func(...string) []string) {
	for pi := range g.Partitions {
		p := &g.Partitions[pi]
		if p.Committed == nil {
			continue
		}
		part := strconv.Itoa(int(p.Partition))
		gauge(c.lagRecords, float64(p.LagRecords), with(p.Topic, part)...)
		gauge(c.lagSeconds, p.LagSeconds, with(p.Topic, part)...)
		if c.lagExporter {
			host, id, client := p.MemberHost, p.MemberID, p.ClientID
			if id == "" {
				host, id, client = lagExporterUnknown, lagExporterUnknown, lagExporterUnknown
			}
			gauge(c.leLag, float64(p.LagRecords), cluster, g.Group, p.Topic, part, host, id, client)
			gauge(c.leLagSeconds, p.LagSeconds, cluster, g.Group, p.Topic, part, host, id, client)
		}
	}
}

// forTopics calls f for each topic of g with a committed partition, with
// the sum of those partitions' offset lags and the largest of their time
// lags. g.Partitions are ordered by topic, so a topic's partitions are
// adjacent.
func forTopics(g *GroupLag, f func(topic string, records int64, seconds float64)) {
	var (
		topic   string
		records int64
		seconds float64
		open    bool
	)
	for pi := range g.Partitions {
		p := &g.Partitions[pi]
		if p.Committed == nil {
			continue
		}
		if open && p.Topic != topic {
			f(topic, records, seconds)
			open = false
		}
		if !open {
			topic, records, seconds, open = p.Topic, 0, p.LagSeconds, true
		}
		records += p.LagRecords
		seconds = max(seconds, p.LagSeconds)
	}
	if open {
		f(topic, records, seconds)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// MethodLowerBound is the method label of
// meshwatch_consumer_group_lag_method when a partition's time lag is a
// lower bound; otherwise it is MethodExact or MethodInterpolated.
const MethodLowerBound = "lower_bound"

// estimate returns how g's time lag was measured: MethodLowerBound when a
// partition's is a lower bound (the group's, its largest, is then at least
// the value), else the method of its largest partition.
func (g *GroupLag) estimate() string {
	if g.LowerBound {
		return MethodLowerBound
	}
	return cmp.Or(g.Method, MethodExact)
}
