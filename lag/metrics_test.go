package lag

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/doctest"
	"github.com/meshwatch/meshwatch/internal/expo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// removedMetrics were exported before the series budget (ticket: ≤40 series
// per product) and must not come back: the quantiles are
// quantile_over_time of meshwatch_consumer_group_lag_seconds, data loss is
// meshwatch_consumer_lost_records > 0.
var removedMetrics = []string{
	"meshwatch_consumer_lag_hdr_seconds",
	"meshwatch_consumer_lag_hdr_window_samples",
	"meshwatch_consumer_data_loss",
}

// series returns the series of every metric family as name → label sets.
func series(t *testing.T, h *harness) map[string][]map[string]string {
	t.Helper()
	return gatheredSeries(t, h.reg)
}

func gatheredSeries(t *testing.T, g prometheus.Gatherer) map[string][]map[string]string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string][]map[string]string{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] = append(out[mf.GetName()], labels(m))
		}
	}
	return out
}

func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// line formats a series as name{k="v",…} value, its labels sorted by name.
func line(name string, v float64, kv ...string) string {
	pairs := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "} " + strconv.FormatFloat(v, 'g', -1, 64)
}

// collected returns what NewMetrics(o) exports for a monitor of cluster
// "test" whose last snapshot is s, one line per series (see line), sorted.
// The registry is pedantic: a series of a metric Describe did not announce
// fails the test.
func collected(t *testing.T, o MetricsOptions, s *snapshot) []string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, o)
	mo := &Monitor{cfg: &meshwatch.Config{Cluster: meshwatch.Cluster{Name: "test"}}}
	mo.snap.Store(s)
	m.attach(mo)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []string
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			var kv []string
			for _, lp := range mt.GetLabel() {
				kv = append(kv, lp.GetName(), lp.GetValue())
			}
			var v float64
			switch {
			case mt.GetGauge() != nil:
				v = mt.GetGauge().GetValue()
			case mt.GetCounter() != nil:
				v = mt.GetCounter().GetValue()
			case mt.GetHistogram() != nil:
				v = float64(mt.GetHistogram().GetSampleCount())
			}
			out = append(out, line(mf.GetName(), v, kv...))
		}
	}
	slices.Sort(out)
	return out
}

// testAt is when the passes of the hand-made snapshots sampled the offsets.
var testAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// agentSeries are the series NewMetrics exports whatever the snapshot, but
// for the two of the last pass.
func agentSeries() []string {
	out := []string{line("meshwatch_lag_pass_duration_seconds", 0)}
	for _, step := range []string{"list_groups", "fetch_offsets", "share_offsets", "metadata", "describe_groups", "end_offsets", "start_offsets", "topic_configs"} {
		out = append(out, line("meshwatch_lag_pass_errors_total", 0, "step", step))
	}
	for _, r := range []string{"ok", "error", "timeout", "over_budget"} {
		out = append(out, line("meshwatch_lag_exact_reads_total", 0, "result", r))
	}
	return out
}

// lastPassSeries are the series of a last pass at testAt over n product
// groups.
func lastPassSeries(n int) []string {
	return []string{
		line("meshwatch_lag_last_pass_timestamp_seconds", float64(testAt.Unix())),
		line("meshwatch_lag_groups", float64(n)),
	}
}

func committed(o int64) *int64 { return &o }

const (
	testProductName = "checkout.orders"
	topicCreated    = "checkout.orders.created"
	topicPaid       = "checkout.orders.paid"
)

// twoTopicsSnapshot is a pass over one product read by one group, on 2
// topics × 2 partitions: partition 1 of topicPaid was never committed.
func twoTopicsSnapshot() *snapshot {
	g := GroupLag{
		Group: "fraud-detector", Owner: "fraud-team", Declared: true, Type: TypeConsumer,
		State: "Stable", Members: 2, Status: StatusStall, Settled: true,
		LagRecords: 15, LagSeconds: 20, Method: MethodInterpolated,
		P50Seconds: 5, P99Seconds: 19, Samples: 30,
		RetentionRisk: 0.25, Uncommitted: 1,
		Partitions: []PartitionLag{
			{Topic: topicCreated, Partition: 0, Committed: committed(95), End: 100, LagRecords: 5, LagSeconds: 10, Method: MethodExact, Status: StatusOK,
				MemberID: "m-1", ClientID: "c-1", MemberHost: "/10.0.0.1"},
			{Topic: topicCreated, Partition: 1, Committed: committed(47), End: 50, LagRecords: 3, LagSeconds: 20, Method: MethodInterpolated, Status: StatusStall,
				MemberID: "m-2", ClientID: "c-2", MemberHost: "/10.0.0.2"},
			{Topic: topicPaid, Partition: 0, Committed: committed(10), End: 17, LagRecords: 7, LagSeconds: 4, Method: MethodExact, Status: StatusOK},
			{Topic: topicPaid, Partition: 1, End: 12},
		},
	}
	return &snapshot{
		at:       testAt,
		order:    []string{testProductName},
		products: map[string]*ProductLag{testProductName: {Product: testProductName, At: testAt, Groups: []GroupLag{g}}},
		exporter: []exporterGroup{{group: "fraud-detector", maxLag: 7, sumLag: 15, maxLagSeconds: 20, hasData: true}},
	}
}

// TestMetricsGranularity checks the exact series of a product read by one
// group on 2 topics × 2 partitions at each granularity, with and without
// kafka-lag-exporter's names: the lag series per partition, per topic or
// not at all, the current status and state only, state and members without
// product, and none of the removed series.
func TestMetricsGranularity(t *testing.T) {
	pg := func(kv ...string) []string {
		return append([]string{"product", testProductName, "group", "fraud-detector", "owner", "fraud-team", "group_type", "consumer"}, kv...)
	}
	common := append(agentSeries(), lastPassSeries(1)...)
	common = append(common,
		line("meshwatch_consumer_group_lag_records", 15, pg()...),
		line("meshwatch_consumer_group_lag_seconds", 20, pg()...),
		line("meshwatch_consumer_group_lag_method", 1, pg("method", "interpolated")...),
		line("meshwatch_consumer_status", 1, pg("status", "STALL")...),
		line("meshwatch_consumer_uncommitted_partitions", 1, pg()...),
		line("meshwatch_consumer_group_no_data", 0, pg()...),
		line("meshwatch_consumer_retention_risk_ratio", 0.25, pg()...),
		line("meshwatch_consumer_group_state", 1, "group", "fraud-detector", "owner", "fraud-team", "group_type", "consumer", "state", "Stable"),
		line("meshwatch_consumer_group_members", 2, "group", "fraud-detector", "owner", "fraud-team", "group_type", "consumer"),
	)
	kleGroup := []string{
		line("kafka_consumergroup_group_max_lag", 7, "cluster_name", "test", "group", "fraud-detector"),
		line("kafka_consumergroup_group_max_lag_seconds", 20, "cluster_name", "test", "group", "fraud-detector"),
		line("kafka_consumergroup_group_sum_lag", 15, "cluster_name", "test", "group", "fraud-detector"),
	}
	topic := []string{
		line("meshwatch_consumer_lag_records", 8, pg("topic", topicCreated)...),
		line("meshwatch_consumer_lag_records", 7, pg("topic", topicPaid)...),
		line("meshwatch_consumer_lag_seconds", 20, pg("topic", topicCreated)...),
		line("meshwatch_consumer_lag_seconds", 4, pg("topic", topicPaid)...),
	}
	kleTopic := []string{
		line("kafka_consumergroup_group_topic_sum_lag", 8, "cluster_name", "test", "group", "fraud-detector", "topic", topicCreated),
		line("kafka_consumergroup_group_topic_sum_lag", 7, "cluster_name", "test", "group", "fraud-detector", "topic", topicPaid),
	}
	partition := []string{
		line("meshwatch_consumer_lag_records", 5, pg("topic", topicCreated, "partition", "0")...),
		line("meshwatch_consumer_lag_records", 3, pg("topic", topicCreated, "partition", "1")...),
		line("meshwatch_consumer_lag_records", 7, pg("topic", topicPaid, "partition", "0")...),
		line("meshwatch_consumer_lag_seconds", 10, pg("topic", topicCreated, "partition", "0")...),
		line("meshwatch_consumer_lag_seconds", 20, pg("topic", topicCreated, "partition", "1")...),
		line("meshwatch_consumer_lag_seconds", 4, pg("topic", topicPaid, "partition", "0")...),
	}
	kle := func(topic, partition, host, id, client string) []string {
		return []string{"cluster_name", "test", "group", "fraud-detector", "topic", topic, "partition", partition,
			"member_host", host, "consumer_id", id, "client_id", client}
	}
	klePartition := []string{
		line("kafka_consumergroup_group_lag", 5, kle(topicCreated, "0", "/10.0.0.1", "m-1", "c-1")...),
		line("kafka_consumergroup_group_lag", 3, kle(topicCreated, "1", "/10.0.0.2", "m-2", "c-2")...),
		line("kafka_consumergroup_group_lag", 7, kle(topicPaid, "0", "unknown", "unknown", "unknown")...),
		line("kafka_consumergroup_group_lag_seconds", 10, kle(topicCreated, "0", "/10.0.0.1", "m-1", "c-1")...),
		line("kafka_consumergroup_group_lag_seconds", 20, kle(topicCreated, "1", "/10.0.0.2", "m-2", "c-2")...),
		line("kafka_consumergroup_group_lag_seconds", 4, kle(topicPaid, "0", "unknown", "unknown", "unknown")...),
	}
	cat := func(parts ...[]string) []string {
		out := slices.Concat(parts...)
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		name string
		o    MetricsOptions
		want []string
	}{
		{"group", MetricsOptions{Granularity: GranularityGroup}, cat(common)},
		{"group+kle", MetricsOptions{Granularity: GranularityGroup, KafkaLagExporter: true}, cat(common, kleGroup)},
		{"topic", MetricsOptions{Granularity: GranularityTopic}, cat(common, topic)},
		{"topic+kle", MetricsOptions{Granularity: GranularityTopic, KafkaLagExporter: true}, cat(common, topic, kleGroup, kleTopic)},
		{"default", MetricsOptions{}, cat(common, topic)},
		{"default+kle", MetricsOptions{KafkaLagExporter: true}, cat(common, topic, kleGroup, kleTopic)},
		{"partition", MetricsOptions{Granularity: GranularityPartition}, cat(common, partition)},
		{"partition+kle", MetricsOptions{Granularity: GranularityPartition, KafkaLagExporter: true}, cat(common, partition, kleGroup, klePartition, kleTopic)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := collected(t, tc.o, twoTopicsSnapshot())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("series (-want +got):\n%s", diff)
			}
			for _, l := range got {
				for _, name := range removedMetrics {
					if strings.HasPrefix(l, name+"{") {
						t.Errorf("removed series exported: %s", l)
					}
				}
			}
		})
	}
}

func cmpOr(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// TestMetricsDescribe checks the metrics each granularity announces: only
// those it may export, never a removed one.
func TestMetricsDescribe(t *testing.T) {
	group := []string{
		"meshwatch_consumer_group_lag_records", "meshwatch_consumer_group_lag_seconds", "meshwatch_consumer_group_lag_method",
		"meshwatch_consumer_status", "meshwatch_consumer_group_state", "meshwatch_consumer_group_members",
		"meshwatch_consumer_retention_risk_ratio", "meshwatch_consumer_lost_records",
		"meshwatch_consumer_uncommitted_partitions", "meshwatch_consumer_group_no_data",
		"meshwatch_lag_last_pass_timestamp_seconds", "meshwatch_lag_groups",
		"meshwatch_lag_pass_duration_seconds", "meshwatch_lag_pass_errors_total", "meshwatch_lag_exact_reads_total",
	}
	lag := []string{"meshwatch_consumer_lag_records", "meshwatch_consumer_lag_seconds"}
	kleGroup := []string{"kafka_consumergroup_group_max_lag", "kafka_consumergroup_group_max_lag_seconds", "kafka_consumergroup_group_sum_lag"}
	for _, tc := range []struct {
		o    MetricsOptions
		want []string
	}{
		{MetricsOptions{Granularity: GranularityGroup}, group},
		{MetricsOptions{Granularity: GranularityGroup, KafkaLagExporter: true}, slices.Concat(group, kleGroup)},
		{MetricsOptions{Granularity: GranularityTopic}, slices.Concat(group, lag)},
		{MetricsOptions{Granularity: GranularityTopic, KafkaLagExporter: true}, slices.Concat(group, lag, kleGroup, []string{"kafka_consumergroup_group_topic_sum_lag"})},
		{MetricsOptions{}, slices.Concat(group, lag)},
		{MetricsOptions{Granularity: GranularityPartition}, slices.Concat(group, lag)},
		{MetricsOptions{Granularity: GranularityPartition, KafkaLagExporter: true}, slices.Concat(group, lag, kleGroup, []string{"kafka_consumergroup_group_lag", "kafka_consumergroup_group_lag_seconds", "kafka_consumergroup_group_topic_sum_lag"})},
	} {
		t.Run(fmt.Sprintf("%s/kle=%t", tc.o.Granularity, tc.o.KafkaLagExporter), func(t *testing.T) {
			got, err := doctest.Registered(func(reg prometheus.Registerer) { NewMetrics(reg, tc.o) })
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(tc.want))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("described metrics (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetricsSeriesPerProduct pins the series budget of the ticket: at the
// defaults (topic granularity, kafka-lag-exporter's names on), a product
// read by one group on one topic has 8 series labelled with it, and one
// kafka_consumergroup_group_topic_sum_lag, however many partitions the
// topic has.
func TestMetricsSeriesPerProduct(t *testing.T) {
	g := GroupLag{Group: "g", Owner: meshwatch.UnknownOwner, State: "Stable", Members: 1, Status: StatusOK, Method: MethodExact}
	for p := range int32(12) {
		g.Partitions = append(g.Partitions, PartitionLag{Topic: topicCreated, Partition: p, Committed: committed(10), End: 11, LagRecords: 1, LagSeconds: 1, Method: MethodExact, Status: StatusOK})
		g.LagRecords++
	}
	s := &snapshot{
		at: testAt, order: []string{testProductName},
		products: map[string]*ProductLag{testProductName: {Product: testProductName, Groups: []GroupLag{g}}},
		exporter: []exporterGroup{{group: "g", maxLag: 1, sumLag: 12, maxLagSeconds: 1, hasData: true}},
	}
	reg := prometheus.NewPedanticRegistry()
	o, err := ParseGranularity("")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(reg, MetricsOptions{KafkaLagExporter: true, Granularity: o})
	mo := &Monitor{cfg: &meshwatch.Config{Cluster: meshwatch.Cluster{Name: "test"}}}
	mo.snap.Store(s)
	m.attach(mo)
	perProduct := 0
	for name, ls := range gatheredSeries(t, reg) {
		for _, l := range ls {
			if l["product"] == testProductName {
				perProduct++
			}
		}
		if name == "kafka_consumergroup_group_topic_sum_lag" && len(ls) != 1 {
			t.Errorf("%d kafka_consumergroup_group_topic_sum_lag series, want 1: %v", len(ls), ls)
		}
	}
	if perProduct != 8 {
		t.Errorf("%d series labelled with the product, want 8", perProduct)
	}
}

// TestMetricsNoDataGroup checks a declared group that does not exist: state
// Dead, no_data 1, and no status, lag, retention or loss series.
func TestMetricsNoDataGroup(t *testing.T) {
	s := &snapshot{
		at: testAt, order: []string{testProductName},
		products: map[string]*ProductLag{testProductName: {Product: testProductName, Groups: []GroupLag{{
			Group: "ghost", Owner: "ghost-team", Declared: true, State: stateDead, NoData: true, Uncommitted: 2,
			Partitions: []PartitionLag{{Topic: topicCreated, Partition: 0, End: 5}, {Topic: topicCreated, Partition: 1, End: 5}},
		}}}},
	}
	pg := []string{"product", testProductName, "group", "ghost", "owner", "ghost-team", "group_type", ""}
	for _, gr := range granularities {
		t.Run(string(gr), func(t *testing.T) {
			want := slices.Concat(agentSeries(), lastPassSeries(1), []string{
				line("meshwatch_consumer_uncommitted_partitions", 2, pg...),
				line("meshwatch_consumer_group_no_data", 1, pg...),
				line("meshwatch_consumer_group_state", 1, "group", "ghost", "owner", "ghost-team", "group_type", "", "state", "Dead"),
				line("meshwatch_consumer_group_members", 0, "group", "ghost", "owner", "ghost-team", "group_type", ""),
			})
			slices.Sort(want)
			got := collected(t, MetricsOptions{KafkaLagExporter: true, Granularity: gr}, s)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("series (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetricsGroupOnce checks that the state and members of a group that
// reads several products are exported once, with the owner the first
// product declaring one gives it, and that
// kafka_consumergroup_group_topic_sum_lag sums a topic over the products.
func TestMetricsGroupOnce(t *testing.T) {
	const unknown = meshwatch.UnknownOwner
	for _, tc := range []struct {
		name   string
		owners []string // the group's owner under each product, in config order
		want   string
	}{
		{"first declares", []string{"team-a", "team-b"}, "team-a"},
		{"second declares", []string{unknown, "team-b", "team-c"}, "team-b"},
		{"none declares", []string{unknown, unknown}, unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &snapshot{at: testAt, products: map[string]*ProductLag{}}
			var want []string
			for i, owner := range tc.owners {
				name := fmt.Sprintf("product-%d", i)
				// Each product reads partition i of the same topic: the
				// sum of kafka-lag-exporter is over every product.
				g := GroupLag{
					Group: "shared", Owner: owner, Declared: owner != unknown, Type: TypeClassic,
					State: "PreparingRebalance", Members: 3, Status: StatusOK,
					LagRecords: int64(i + 1), LagSeconds: 1, Method: MethodExact,
					Partitions: []PartitionLag{{Topic: topicCreated, Partition: int32(i), Committed: committed(0), End: int64(i + 1), LagRecords: int64(i + 1), LagSeconds: 1, Method: MethodExact, Status: StatusOK}},
				}
				s.order = append(s.order, name)
				s.products[name] = &ProductLag{Product: name, Groups: []GroupLag{g}}
				pg := []string{"product", name, "group", "shared", "owner", owner, "group_type", "classic"}
				want = append(want,
					line("meshwatch_consumer_lag_records", float64(i+1), append(pg, "topic", topicCreated)...),
					line("meshwatch_consumer_lag_seconds", 1, append(pg, "topic", topicCreated)...),
					line("meshwatch_consumer_group_lag_records", float64(i+1), pg...),
					line("meshwatch_consumer_group_lag_seconds", 1, pg...),
					line("meshwatch_consumer_group_lag_method", 1, append(pg, "method", "exact")...),
					line("meshwatch_consumer_status", 1, append(pg, "status", "OK")...),
					line("meshwatch_consumer_group_no_data", 0, pg...),
					line("meshwatch_consumer_retention_risk_ratio", 0, pg...),
				)
			}
			n := len(tc.owners)
			sum := float64(n * (n + 1) / 2)
			s.exporter = []exporterGroup{{group: "shared", maxLag: int64(n), sumLag: int64(sum), maxLagSeconds: 1, hasData: true}}
			want = append(want, agentSeries()...)
			want = append(want, lastPassSeries(n)...)
			want = append(want,
				line("meshwatch_consumer_group_state", 1, "group", "shared", "owner", tc.want, "group_type", "classic", "state", "PreparingRebalance"),
				line("meshwatch_consumer_group_members", 3, "group", "shared", "owner", tc.want, "group_type", "classic"),
				line("kafka_consumergroup_group_topic_sum_lag", sum, "cluster_name", "test", "group", "shared", "topic", topicCreated),
				line("kafka_consumergroup_group_max_lag", float64(n), "cluster_name", "test", "group", "shared"),
				line("kafka_consumergroup_group_max_lag_seconds", 1, "cluster_name", "test", "group", "shared"),
				line("kafka_consumergroup_group_sum_lag", sum, "cluster_name", "test", "group", "shared"),
			)
			slices.Sort(want)
			got := collected(t, MetricsOptions{KafkaLagExporter: true}, s)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("series (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetricsCurrentStateOnly checks that a state Kafka reports outside the
// usual ones is exported as is, alone, and that the status is the current
// one alone whatever it is.
func TestMetricsCurrentStateOnly(t *testing.T) {
	for _, st := range slices.Concat(Statuses, []string{"Assigning"}) {
		status := cmpOr(slices.Contains(Statuses, st), st, StatusOK)
		g := GroupLag{Group: "g", Owner: "o", State: st, Status: status, Method: MethodExact,
			Partitions: []PartitionLag{{Topic: topicCreated, Committed: committed(1), End: 1, Method: MethodExact, Status: status}}}
		s := &snapshot{at: testAt, order: []string{testProductName},
			products: map[string]*ProductLag{testProductName: {Product: testProductName, Groups: []GroupLag{g}}}}
		got := collected(t, MetricsOptions{}, s)
		var states, statuses []string
		for _, l := range got {
			switch {
			case strings.HasPrefix(l, "meshwatch_consumer_group_state{"):
				states = append(states, l)
			case strings.HasPrefix(l, "meshwatch_consumer_status{"):
				statuses = append(statuses, l)
			}
		}
		wantState := []string{line("meshwatch_consumer_group_state", 1, "group", "g", "owner", "o", "group_type", "", "state", st)}
		wantStatus := []string{line("meshwatch_consumer_status", 1, "product", testProductName, "group", "g", "owner", "o", "group_type", "", "status", status)}
		if diff := cmp.Diff(wantState, states); diff != "" {
			t.Errorf("state %s (-want +got):\n%s", st, diff)
		}
		if diff := cmp.Diff(wantStatus, statuses); diff != "" {
			t.Errorf("status %s (-want +got):\n%s", status, diff)
		}
	}
}

func TestForTopics(t *testing.T) {
	type call struct {
		Topic   string
		Records int64
		Seconds float64
	}
	c := committed(1)
	for _, tc := range []struct {
		name  string
		parts []PartitionLag
		want  []call
	}{
		{"none", nil, nil},
		{"never committed", []PartitionLag{{Topic: "a"}, {Topic: "a", Partition: 1}}, nil},
		{"tie", []PartitionLag{
			{Topic: "a", Committed: c, LagRecords: 1, LagSeconds: 5, Method: MethodExact},
			{Topic: "a", Partition: 1, Committed: c, LagRecords: 2, LagSeconds: 5, Method: MethodInterpolated},
		}, []call{{"a", 3, 5}}},
		{"largest time lag", []PartitionLag{
			{Topic: "a", Committed: c, LagRecords: 1, LagSeconds: 5, Method: MethodExact},
			{Topic: "a", Partition: 1, Committed: c, LagRecords: 2, LagSeconds: 6, Method: MethodInterpolated},
			{Topic: "a", Partition: 2, Committed: c, LagRecords: 4, LagSeconds: 1, Method: MethodExact},
		}, []call{{"a", 7, 6}}},
		{"uncommitted between topics", []PartitionLag{
			{Topic: "a", Committed: c, LagRecords: 1, LagSeconds: 1, Method: MethodExact},
			{Topic: "a", Partition: 1},
			{Topic: "b"},
			{Topic: "b", Partition: 1, Committed: c, LagRecords: 0, LagSeconds: 0, Method: MethodExact},
			{Topic: "c"},
		}, []call{{"a", 1, 1}, {"b", 0, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []call
			forTopics(&GroupLag{Partitions: tc.parts}, func(topic string, records int64, seconds float64) {
				got = append(got, call{topic, records, seconds})
			})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGranularity(t *testing.T) {
	for in, want := range map[string]Granularity{"": GranularityTopic, "group": GranularityGroup, "topic": GranularityTopic, "partition": GranularityPartition} {
		if got, err := ParseGranularity(in); err != nil || got != want {
			t.Errorf("ParseGranularity(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Topic", "partitions", " topic", "product"} {
		got, err := ParseGranularity(in)
		if err == nil {
			t.Errorf("ParseGranularity(%q) = %q, want an error", in, got)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, strconv.Quote(in)) || !strings.Contains(msg, "group, topic or partition") {
			t.Errorf("ParseGranularity(%q): %q names neither the value nor the valid ones", in, msg)
		}
	}
}

func TestNewMetricsUnknownGranularity(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `"partitions"`) {
			t.Errorf("NewMetrics with granularity partitions: panic %v, want one naming it", r)
		}
	}()
	NewMetrics(prometheus.NewRegistry(), MetricsOptions{Granularity: "partitions"})
}

// TestMetrics checks the series of a monitor of a real (fake) cluster at
// each granularity, and that a group that is gone takes its series along.
func TestMetrics(t *testing.T) {
	for _, gr := range []Granularity{"", GranularityPartition, GranularityGroup} {
		t.Run(cmpOr(gr == "", "default", string(gr)), func(t *testing.T) { testMetrics(t, gr) })
	}
}

func testMetrics(t *testing.T, gr Granularity) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 2, 1, nil)
	pr := producer(t, kc)
	produce(t, pr, topic, 0, 10, func(int) time.Time { return time.Now().Add(-time.Minute) })
	produce(t, pr, topic, 1, 10, func(int) time.Time { return time.Now().Add(-time.Minute) })
	adm := kc.Admin(t)
	commit(t, adm, "fraud-detector", topic, map[int32]int64{0: 5, 1: 10})
	commit(t, adm, "temp", topic, map[int32]int64{0: 1})
	p := testProduct(topic, topic)
	p.Consumers = []meshwatch.Consumer{{Group: "fraud-detector", Owner: "fraud-team"}}
	cfg := testConfig(t, kc, p)
	cfg.Granularity = gr
	h := start(t, kc, cfg, Options{})
	h.waitGroup(t, topic, "fraud-detector", "exact", func(g GroupLag) bool { return g.Method == MethodExact })

	s := series(t, h)
	pg := map[string]string{"product": topic, "group": "fraud-detector", "owner": "fraud-team", "group_type": "classic"}
	with := func(kv ...string) map[string]string {
		l := maps.Clone(pg)
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return l
	}
	want := map[string]map[string]string{
		"meshwatch_consumer_group_state":            {"group": "fraud-detector", "owner": "fraud-team", "group_type": "classic", "state": "Empty"},
		"meshwatch_consumer_group_members":          {"group": "fraud-detector", "owner": "fraud-team", "group_type": "classic"},
		"meshwatch_consumer_retention_risk_ratio":   pg,
		"meshwatch_consumer_group_lag_records":      pg,
		"meshwatch_consumer_group_lag_seconds":      pg,
		"meshwatch_consumer_group_lag_method":       with("method", "exact"),
		"kafka_consumergroup_group_max_lag":         {"cluster_name": "test", "group": "fraud-detector"},
		"kafka_consumergroup_group_max_lag_seconds": {"cluster_name": "test", "group": "temp"},
		"kafka_consumergroup_group_sum_lag":         {"cluster_name": "test", "group": "fraud-detector"},
		"meshwatch_lag_pass_duration_seconds":       {},
	}
	absent := slices.Clone(removedMetrics)
	switch gr {
	case GranularityPartition:
		want["meshwatch_consumer_lag_records"] = with("topic", topic, "partition", "0")
		want["meshwatch_consumer_lag_seconds"] = with("topic", topic, "partition", "0")
		want["kafka_consumergroup_group_lag"] = map[string]string{"cluster_name": "test", "group": "fraud-detector", "topic": topic, "partition": "0", "member_host": "unknown", "consumer_id": "unknown", "client_id": "unknown"}
		want["kafka_consumergroup_group_lag_seconds"] = map[string]string{"cluster_name": "test", "group": "fraud-detector", "topic": topic, "partition": "1", "member_host": "unknown", "consumer_id": "unknown", "client_id": "unknown"}
	case GranularityGroup:
		absent = append(absent, "meshwatch_consumer_lag_records", "meshwatch_consumer_lag_seconds",
			"kafka_consumergroup_group_lag", "kafka_consumergroup_group_lag_seconds", "kafka_consumergroup_group_topic_sum_lag")
	default:
		want["meshwatch_consumer_lag_records"] = with("topic", topic)
		want["meshwatch_consumer_lag_seconds"] = with("topic", topic)
		want["kafka_consumergroup_group_topic_sum_lag"] = map[string]string{"cluster_name": "test", "group": "fraud-detector", "topic": topic}
		absent = append(absent, "kafka_consumergroup_group_lag", "kafka_consumergroup_group_lag_seconds")
	}
	for name, l := range want {
		if !slices.ContainsFunc(s[name], func(got map[string]string) bool { return maps.Equal(got, l) }) {
			t.Errorf("no series %s%v; have %v", name, l, s[name])
		}
	}
	for _, name := range absent {
		if len(s[name]) > 0 {
			t.Errorf("%s exported at granularity %q: %v", name, gr, s[name])
		}
	}
	// One status per group, the current one; one state per group.
	for _, name := range []string{"meshwatch_consumer_status", "meshwatch_consumer_group_state"} {
		if n := len(s[name]); n != 2 {
			t.Errorf("%d %s series, want 2, one for each group: %v", n, name, s[name])
		}
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if name := mf.GetName(); name == "meshwatch_consumer_status" || name == "meshwatch_consumer_group_state" {
			for _, m := range mf.GetMetric() {
				if v := m.GetGauge().GetValue(); v != 1 {
					t.Errorf("%s%v = %v, want 1", name, labels(m), v)
				}
			}
		}
	}

	// A group that disappears takes its series with it.
	if _, err := adm.DeleteGroup(t.Context(), "temp"); err != nil {
		t.Fatal(err)
	}
	h.waitPasses(t, 2)
	for name, ss := range series(t, h) {
		for _, l := range ss {
			if l["group"] == "temp" {
				t.Errorf("series %s%v of a deleted group remains", name, l)
			}
		}
	}
}

func TestMetricsWithoutLagExporter(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	produce(t, producer(t, kc), topic, 0, 3, func(int) time.Time { return time.Now() })
	commit(t, kc.Admin(t), "g", topic, map[int32]int64{0: 1})
	cfg := testConfig(t, kc, testProduct(topic, topic))
	off := false
	cfg.Lag.KafkaLagExporterMetrics = &off
	h := start(t, kc, cfg, Options{})
	h.waitGroup(t, topic, "g", "data", func(g GroupLag) bool { return !g.NoData })
	s := series(t, h)
	if len(s["meshwatch_consumer_lag_records"]) != 1 {
		t.Errorf("meshwatch series: %v", s["meshwatch_consumer_lag_records"])
	}
	for name := range s {
		if len(name) > 6 && name[:6] == "kafka_" {
			t.Errorf("%s exported with kafka_lag_exporter_metrics off", name)
		}
	}
}

// TestMetricsSparse: lost records and uncommitted partitions have a series
// only while above 0.
func TestMetricsSparse(t *testing.T) {
	for _, n := range []int64{0, 40} {
		g := GroupLag{Group: "g", Owner: "o", Type: TypeClassic, Status: StatusLost, Method: MethodExact, LostRecords: n, Uncommitted: int(n),
			Partitions: []PartitionLag{{Topic: topicCreated, Committed: committed(1), End: 1, Method: MethodExact, Status: StatusLost}}}
		s := &snapshot{at: testAt, order: []string{testProductName},
			products: map[string]*ProductLag{testProductName: {Product: testProductName, Groups: []GroupLag{g}}}}
		got := collected(t, MetricsOptions{}, s)
		pg := []string{"product", testProductName, "group", "g", "owner", "o", "group_type", "classic"}
		for _, name := range []string{"meshwatch_consumer_lost_records", "meshwatch_consumer_uncommitted_partitions"} {
			want := line(name, float64(n), pg...)
			has := slices.Contains(got, want)
			if has != (n > 0) {
				t.Errorf("%s with %d: series present %v, want %v\n%v", name, n, has, n > 0, got)
			}
		}
	}
}

// mixedSnapshot is a pass over several products: checkout.orders of
// twoTopicsSnapshot, also declared by a group that does not exist (no
// data) and read by one that lost records; and two products read by a
// group of undeclared then declared owner, on two partitions of the same
// topic.
func mixedSnapshot() *snapshot {
	s := twoTopicsSnapshot()
	pl := s.products[testProductName]
	pl.Groups = append(pl.Groups,
		GroupLag{Group: "ghost", Owner: "ghost-team", Declared: true, State: stateDead, NoData: true, Uncommitted: 2,
			Partitions: []PartitionLag{{Topic: topicCreated, Partition: 0, End: 100}, {Topic: topicCreated, Partition: 1, End: 50}}},
		GroupLag{Group: "late", Owner: "o", Type: TypeClassic, State: "Empty", Status: StatusLost, Method: MethodExact,
			LostRecords: 40, DataLoss: true, RetentionRisk: 1, Uncommitted: 1, LagRecords: 2, LagSeconds: 3, LowerBound: true,
			Partitions: []PartitionLag{
				{Topic: topicPaid, Partition: 0, Committed: committed(1), End: 3, LogStart: 41, LagRecords: 2, LagSeconds: 3, Method: MethodExact, LowerBound: true, LostRecords: 40, Status: StatusLost},
				{Topic: topicPaid, Partition: 1, End: 12},
			}},
	)
	s.exporter = append(s.exporter, exporterGroup{group: "late", maxLag: 2, sumLag: 2, maxLagSeconds: 3, hasData: true})
	for i, owner := range []string{meshwatch.UnknownOwner, "team-b"} {
		name := fmt.Sprintf("product-%d", i)
		s.order = append(s.order, name)
		s.products[name] = &ProductLag{Product: name, At: testAt, Groups: []GroupLag{{
			Group: "shared", Owner: owner, Declared: owner != meshwatch.UnknownOwner, Type: TypeClassic,
			State: "Stable", Members: 3, Status: StatusOK, LagRecords: int64(i + 1), LagSeconds: 1, Method: MethodExact,
			Partitions: []PartitionLag{{Topic: "shared.topic", Partition: int32(i), Committed: committed(0), End: int64(i + 1),
				LagRecords: int64(i + 1), LagSeconds: 1, Method: MethodExact, Status: StatusOK}},
		}}}
	}
	s.exporter = append(s.exporter, exporterGroup{group: "shared", maxLag: 2, sumLag: 3, maxLagSeconds: 1, hasData: true})
	return s
}

// TestMetricsStreamed checks, at each granularity with and without
// kafka-lag-exporter's names, that the lag metrics are a well-formed
// expo.Source (each family begun once, no duplicate series) and that
// /metrics streams exactly the series a Gatherer reads.
func TestMetricsStreamed(t *testing.T) {
	for _, gr := range granularities {
		for _, kle := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/kle=%t", gr, kle), func(t *testing.T) {
				reg := expo.NewRegistry()
				m := NewMetrics(reg, MetricsOptions{KafkaLagExporter: kle, Granularity: gr})
				if err := reg.Check(); err != nil {
					t.Errorf("before any pass: %v", err)
				}
				mo := &Monitor{cfg: &meshwatch.Config{Cluster: meshwatch.Cluster{Name: "test"}}}
				mo.snap.Store(mixedSnapshot())
				m.attach(mo)
				if err := reg.Check(); err != nil {
					t.Error(err)
				}
				s := gatheredSeries(t, reg)
				if n := len(s["meshwatch_consumer_group_state"]); n != 4 {
					t.Errorf("%d meshwatch_consumer_group_state series, want 4: %v", n, s["meshwatch_consumer_group_state"])
				}
				for _, l := range s["meshwatch_consumer_group_state"] {
					if l["group"] == "shared" && l["owner"] != "team-b" {
						t.Errorf("state of the shared group: %v, want owner team-b", l)
					}
				}
				for name, want := range map[string]int{
					"meshwatch_consumer_lost_records":           1,
					"meshwatch_consumer_uncommitted_partitions": 3,
					"meshwatch_consumer_group_no_data":          5,
					"meshwatch_consumer_status":                 4,
					"kafka_consumergroup_group_topic_sum_lag":   map[bool]int{true: 4}[kle && gr != GranularityGroup],
				} {
					if n := len(s[name]); n != want {
						t.Errorf("%d %s series, want %d: %v", n, name, want, s[name])
					}
				}
			})
		}
	}
}
