package lag

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/expo"
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
// ParseGranularity), or when reg refuses the metrics. The per-group series
// are an expo.Source: registered with an expo.Registry, /metrics streams
// them; any other Registerer collects them as client_golang metrics.
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
// group or partition that is gone are gone with it. It is an expo.Source:
// /metrics streams its series family by family, without a client_golang
// metric per series.
type snapshotCollector struct {
	expo.Collector
	mon         atomic.Pointer[Monitor]
	lagExporter bool
	granularity Granularity

	// lagRecords and lagSeconds are per topic or per partition, nil at
	// GranularityGroup.
	lagRecords, lagSeconds           *expo.Family
	groupLagRecords, groupLagSeconds *expo.Family
	status, state, members, method   *expo.Family
	risk, lost, uncommitted, noData  *expo.Family
	lastPass, groups                 *expo.Family
	// kafka-lag-exporter's: leLag and leLagSeconds at GranularityPartition,
	// leTopicSum at GranularityTopic and GranularityPartition (as
	// kafka-lag-exporter exports it beside its partition series), the others
	// at every granularity.
	leLag, leLagSeconds, leTopicSum *expo.Family
	leMax, leMaxSeconds, leSum      *expo.Family
}

func newSnapshotCollector(lagExporter bool, gr Granularity) *snapshotCollector {
	d := func(name, help string, labels []string) *expo.Family {
		return expo.NewFamily(name, help, expo.Gauge, labels...)
	}
	c := &snapshotCollector{
		lagExporter:     lagExporter,
		granularity:     gr,
		groupLagRecords: d("meshwatch_consumer_group_lag_records", "Sum of the group's offset lags on the product's partitions.", groupLabels),
		groupLagSeconds: d("meshwatch_consumer_group_lag_seconds", "Largest time lag of the group on the product's partitions (how it was measured: meshwatch_consumer_group_lag_method).", groupLabels),
		method:          d("meshwatch_consumer_group_lag_method", "How the group's time lag was measured, always 1: exact (read from Kafka), interpolated (from sampled end offsets, over the lag.exact_fetches budget) or lower_bound (a committed offset older than the sampled history, as after a start: the lag is at least the value).", withGroupLabels("method")),
		status:          d("meshwatch_consumer_status", "The group's current status on the product (OK, WARN, STALL, STOP, REWIND, LOST), always 1; no series while the group has no committed offset (meshwatch_consumer_group_no_data).", withGroupLabels("status")),
		state:           d("meshwatch_consumer_group_state", "The group's current Kafka state (Dead when it does not exist), always 1; one series per group, whatever the products it reads.", withOwnGroupLabels("state")),
		members:         d("meshwatch_consumer_group_members", "Members of the group; one series per group, whatever the products it reads.", ownGroupLabels),
		risk:            d("meshwatch_consumer_retention_risk_ratio", "Largest time lag of the group on a partition as a share of the topic's retention.ms: at 1, records expire unread (0 without time-based retention).", groupLabels),
		lost:            d("meshwatch_consumer_lost_records", "Records between the group's committed offsets and the log start offsets, which it will never read: data loss (a committed offset below its partition's log start, records expired or deleted before the group read them); no series while there is none.", groupLabels),
		uncommitted:     d("meshwatch_consumer_uncommitted_partitions", "Partitions of the group's topics that it never committed; no series while there is none.", groupLabels),
		noData:          d("meshwatch_consumer_group_no_data", "1 while the group has no committed offset on the product's topics (a declared consumer that never consumed).", groupLabels),
		lastPass:        d("meshwatch_lag_last_pass_timestamp_seconds", "When the last successful lag pass sampled the offsets, Unix seconds.", nil),
		groups:          d("meshwatch_lag_groups", "Consumer groups of the products at the last pass.", nil),
		leMax:           d("kafka_consumergroup_group_max_lag", "Max group offset lag (kafka-lag-exporter compatible).", lagExporterGroupLabels),
		leMaxSeconds:    d("kafka_consumergroup_group_max_lag_seconds", "Max group time lag (kafka-lag-exporter compatible).", lagExporterGroupLabels),
		leSum:           d("kafka_consumergroup_group_sum_lag", "Sum of group offset lag (kafka-lag-exporter compatible).", lagExporterGroupLabels),
	}
	switch gr {
	case GranularityPartition:
		c.lagRecords = d("meshwatch_consumer_lag_records", "Offset lag of the group on a partition: end offset minus committed offset (never committed partitions have no series).", withGroupLabels("topic", "partition"))
		c.lagSeconds = d("meshwatch_consumer_lag_seconds", "Time lag of the group on a partition: how long the record at the committed offset has waited.", withGroupLabels("topic", "partition"))
		c.leLag = d("kafka_consumergroup_group_lag", "Group offset lag of a partition (kafka-lag-exporter compatible).", lagExporterPartitionLabels)
		c.leLagSeconds = d("kafka_consumergroup_group_lag_seconds", "Group time lag of a partition (kafka-lag-exporter compatible).", lagExporterPartitionLabels)
		c.leTopicSum = d("kafka_consumergroup_group_topic_sum_lag", "Sum of group offset lag across topic partitions (kafka-lag-exporter compatible).", lagExporterTopicLabels)
	case GranularityTopic:
		c.lagRecords = d("meshwatch_consumer_lag_records", "Offset lag of the group on a topic: the sum over the partitions it committed of end offset minus committed offset (a topic it never committed has no series).", withGroupLabels("topic"))
		c.lagSeconds = d("meshwatch_consumer_lag_seconds", "Time lag of the group on a topic: the largest of its committed partitions', how long the record at the committed offset has waited.", withGroupLabels("topic"))
		c.leTopicSum = d("kafka_consumergroup_group_topic_sum_lag", "Sum of group offset lag across topic partitions (kafka-lag-exporter compatible).", lagExporterTopicLabels)
	}
	c.Collector = expo.Collector{Fams: c.families(), Write: c.write}
	return c
}

// families returns every family c may export, in the order write writes
// them.
func (c *snapshotCollector) families() []*expo.Family {
	fs := []*expo.Family{c.groupLagRecords, c.groupLagSeconds, c.method,
		c.status, c.risk, c.lost, c.uncommitted, c.noData,
		c.state, c.members, c.lastPass, c.groups}
	if c.lagExporter {
		fs = append(fs, c.leMax, c.leMaxSeconds, c.leSum)
	}
	for _, f := range []*expo.Family{c.lagRecords, c.lagSeconds} {
		if f != nil {
			fs = append(fs, f)
		}
	}
	if c.lagExporter {
		for _, f := range []*expo.Family{c.leLag, c.leLagSeconds, c.leTopicSum} {
			if f != nil {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// groupProps are the properties of a group itself, exported once per group
// however many products it reads.
type groupProps struct {
	name, owner, state, typ string
	members                 int
}

// groupTopic keys kafka_consumergroup_group_topic_sum_lag.
type groupTopic struct{ group, topic string }

// topicSum is a series of kafka_consumergroup_group_topic_sum_lag.
type topicSum struct {
	groupTopic
	records int64
}

// metricsView is what the series derive from a snapshot beyond its
// products' own fields. A snapshot does not change once swapped in, so it
// is computed once per pass, by the first scrape, and the scrapes only
// write.
type metricsView struct {
	products []*ProductLag // in config order
	groups   int           // groups of the products, a group once per product it reads
	// props hold each group once, in order of first appearance: owner,
	// state and members come from its first product in config order,
	// except that the owner is the first one a product declares (the first
	// that is not meshwatch.UnknownOwner), so that an undeclared reading of
	// a group by an earlier product does not hide its owner.
	props []groupProps
}

// metricsView returns s's view, computing it on first demand.
func (s *snapshot) metricsView() *metricsView {
	s.viewOnce.Do(func() {
		v := &metricsView{products: make([]*ProductLag, 0, len(s.order))}
		idx := make(map[string]int, len(s.order))
		for _, name := range s.order {
			pl := s.products[name]
			if pl == nil {
				continue
			}
			v.products = append(v.products, pl)
			for gi := range pl.Groups {
				g := &pl.Groups[gi]
				v.groups++
				i, ok := idx[g.Group]
				if !ok {
					idx[g.Group] = len(v.props)
					v.props = append(v.props, groupProps{name: g.Group, owner: g.Owner, state: cmp.Or(g.State, stateDead), typ: g.Type, members: g.Members})
				} else if gp := &v.props[i]; gp.owner == meshwatch.UnknownOwner && g.Owner != meshwatch.UnknownOwner {
					gp.owner = g.Owner
				}
			}
		}
		s.view = v
	})
	return s.view
}

// topicSums returns the series of kafka_consumergroup_group_topic_sum_lag,
// computed on first demand: the offset lag of a group on a topic summed
// over the products (a topic belongs to one product, but a duplicate
// series would fail the whole scrape), in order of first appearance.
func (s *snapshot) topicSums() []topicSum {
	s.topicSumsOnce.Do(func() {
		idx := map[groupTopic]int{}
		for _, pl := range s.metricsView().products {
			for gi := range pl.Groups {
				g := &pl.Groups[gi]
				forTopics(g, func(topic string, records int64, _ float64) {
					k := groupTopic{g.Group, topic}
					if i, ok := idx[k]; ok {
						s.sums[i].records += records
						return
					}
					idx[k] = len(s.sums)
					s.sums = append(s.sums, topicSum{k, records})
				})
			}
		}
	})
	return s.sums
}

// write writes the series of the monitor's last snapshot, family by family
// (a family's series must be together): it implements expo.Source through
// c.Collector, and prometheus.Collector's Collect with it.
func (c *snapshotCollector) write(w expo.Writer) {
	mo := c.mon.Load()
	if mo == nil {
		return
	}
	s := mo.snap.Load()
	if s == nil {
		return
	}
	v := s.metricsView()
	cluster := mo.cfg.Cluster.Name
	// lv holds the label values of the series being written, reused by
	// every series: the writers copy what they keep. 7 is the most labels a
	// family has.
	lv := make([]string, 0, 7)
	// eachGroup begins f and calls series for each group of each product,
	// with the group's labels (groupLabels) in gl, to which series may
	// append its own.
	eachGroup := func(f *expo.Family, series func(g *GroupLag, gl []string)) {
		w.Begin(f)
		for _, pl := range v.products {
			for gi := range pl.Groups {
				g := &pl.Groups[gi]
				series(g, append(lv[:0], pl.Product, g.Group, g.Owner, g.Type))
			}
		}
	}

	// A group without data has no lag to speak of: no lag series rather
	// than zeros.
	eachGroup(c.groupLagRecords, func(g *GroupLag, gl []string) {
		if !g.NoData {
			w.Sample(float64(g.LagRecords), gl...)
		}
	})
	eachGroup(c.groupLagSeconds, func(g *GroupLag, gl []string) {
		if !g.NoData {
			w.Sample(g.LagSeconds, gl...)
		}
	})
	eachGroup(c.method, func(g *GroupLag, gl []string) {
		if !g.NoData {
			w.Sample(1, append(gl, g.estimate())...)
		}
	})
	eachGroup(c.status, func(g *GroupLag, gl []string) {
		if g.Status != "" {
			w.Sample(1, append(gl, g.Status)...)
		}
	})
	eachGroup(c.risk, func(g *GroupLag, gl []string) {
		if !g.NoData {
			w.Sample(g.RetentionRisk, gl...)
		}
	})
	eachGroup(c.lost, func(g *GroupLag, gl []string) {
		if !g.NoData && g.LostRecords > 0 {
			w.Sample(float64(g.LostRecords), gl...)
		}
	})
	eachGroup(c.uncommitted, func(g *GroupLag, gl []string) {
		if g.Uncommitted > 0 {
			w.Sample(float64(g.Uncommitted), gl...)
		}
	})
	eachGroup(c.noData, func(g *GroupLag, gl []string) {
		w.Sample(b2f(g.NoData), gl...)
	})

	// The group's own series, once per group.
	w.Begin(c.state)
	for i := range v.props {
		gp := &v.props[i]
		w.Sample(1, append(lv[:0], gp.name, gp.owner, gp.typ, gp.state)...)
	}
	w.Begin(c.members)
	for i := range v.props {
		gp := &v.props[i]
		w.Sample(float64(gp.members), append(lv[:0], gp.name, gp.owner, gp.typ)...)
	}
	w.Begin(c.lastPass)
	w.Sample(float64(s.at.UnixNano()) / 1e9)
	w.Begin(c.groups)
	w.Sample(float64(v.groups))

	if c.lagExporter {
		for _, f := range []*expo.Family{c.leMax, c.leMaxSeconds, c.leSum} {
			w.Begin(f)
			for i := range s.exporter {
				x := &s.exporter[i]
				if !x.hasData {
					continue
				}
				var val float64
				switch f {
				case c.leMax:
					val = float64(x.maxLag)
				case c.leMaxSeconds:
					val = x.maxLagSeconds
				default:
					val = float64(x.sumLag)
				}
				w.Sample(val, append(lv[:0], cluster, x.group)...)
			}
		}
	}

	switch c.granularity {
	case GranularityTopic:
		eachGroup(c.lagRecords, func(g *GroupLag, gl []string) {
			forTopics(g, func(topic string, records int64, _ float64) {
				w.Sample(float64(records), append(gl, topic)...)
			})
		})
		eachGroup(c.lagSeconds, func(g *GroupLag, gl []string) {
			forTopics(g, func(topic string, _ int64, seconds float64) {
				w.Sample(seconds, append(gl, topic)...)
			})
		})
	case GranularityPartition:
		for _, f := range []*expo.Family{c.lagRecords, c.lagSeconds} {
			eachGroup(f, func(g *GroupLag, gl []string) {
				for pi := range g.Partitions {
					if p := &g.Partitions[pi]; p.Committed != nil {
						w.Sample(partitionLag(p, f == c.lagRecords), append(gl, p.Topic, strconv.Itoa(int(p.Partition)))...)
					}
				}
			})
		}
		if c.lagExporter {
			for _, f := range []*expo.Family{c.leLag, c.leLagSeconds} {
				eachGroup(f, func(g *GroupLag, _ []string) {
					for pi := range g.Partitions {
						p := &g.Partitions[pi]
						if p.Committed == nil {
							continue
						}
						host, id, client := p.MemberHost, p.MemberID, p.ClientID
						if id == "" {
							host, id, client = lagExporterUnknown, lagExporterUnknown, lagExporterUnknown
						}
						w.Sample(partitionLag(p, f == c.leLag), append(lv[:0], cluster, g.Group, p.Topic, strconv.Itoa(int(p.Partition)), host, id, client)...)
					}
				})
			}
		}
	}
	if c.leTopicSum != nil && c.lagExporter {
		w.Begin(c.leTopicSum)
		for _, ts := range s.topicSums() {
			w.Sample(float64(ts.records), append(lv[:0], cluster, ts.group, ts.topic)...)
		}
	}
}

// partitionLag is p's offset lag (records) or time lag.
func partitionLag(p *PartitionLag, records bool) float64 {
	if records {
		return float64(p.LagRecords)
	}
	return p.LagSeconds
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
