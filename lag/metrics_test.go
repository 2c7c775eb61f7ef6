package lag

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// series returns the series of every metric family as name → label sets.
func series(t *testing.T, h *harness) map[string][]map[string]string {
	t.Helper()
	mfs, err := h.reg.Gather()
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

func TestMetrics(t *testing.T) {
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
	h := start(t, kc, testConfig(t, kc, p), Options{})
	h.waitGroup(t, topic, "fraud-detector", "exact", func(g GroupLag) bool { return g.Method == MethodExact })

	s := series(t, h)
	want := map[string]map[string]string{
		"meshwatch_consumer_lag_records":            {"product": topic, "group": "fraud-detector", "owner": "fraud-team", "topic": topic, "partition": "0"},
		"meshwatch_consumer_lag_seconds":            {"product": topic, "group": "fraud-detector", "owner": "fraud-team", "topic": topic, "partition": "0", "method": "exact"},
		"meshwatch_consumer_status":                 {"product": topic, "group": "fraud-detector", "owner": "fraud-team", "status": "STOP"},
		"meshwatch_consumer_group_state":            {"product": topic, "group": "fraud-detector", "owner": "fraud-team", "state": "Empty"},
		"meshwatch_consumer_group_members":          {"product": topic, "group": "fraud-detector", "owner": "fraud-team"},
		"meshwatch_consumer_retention_risk_ratio":   {"product": topic, "group": "fraud-detector", "owner": "fraud-team"},
		"meshwatch_consumer_data_loss":              {"product": topic, "group": "fraud-detector", "owner": "fraud-team"},
		"meshwatch_consumer_lag_hdr_seconds":        {"product": topic, "group": "fraud-detector", "owner": "fraud-team", "quantile": "0.99"},
		"meshwatch_consumer_lag_hdr_window_samples": {"product": topic, "group": "fraud-detector", "owner": "fraud-team"},
		"meshwatch_consumer_group_lag_seconds":      {"product": topic, "group": "fraud-detector", "owner": "fraud-team", "method": "exact"},
		"kafka_consumergroup_group_lag":             {"cluster_name": "test", "group": "fraud-detector", "topic": topic, "partition": "0", "member_host": "unknown", "consumer_id": "unknown", "client_id": "unknown"},
		"kafka_consumergroup_group_lag_seconds":     {"cluster_name": "test", "group": "fraud-detector", "topic": topic, "partition": "1", "member_host": "unknown", "consumer_id": "unknown", "client_id": "unknown"},
		"kafka_consumergroup_group_max_lag":         {"cluster_name": "test", "group": "fraud-detector"},
		"kafka_consumergroup_group_max_lag_seconds": {"cluster_name": "test", "group": "temp"},
		"kafka_consumergroup_group_sum_lag":         {"cluster_name": "test", "group": "fraud-detector"},
		"meshwatch_lag_pass_duration_seconds":       {},
	}
	for name, l := range want {
		found := false
		for _, got := range s[name] {
			match := len(got) == len(l)
			for k, v := range l {
				if got[k] != v && !(name == "meshwatch_consumer_status" && k == "status") {
					match = false
				}
			}
			found = found || match
		}
		if !found {
			t.Errorf("no series %s%v; have %v", name, l, s[name])
		}
	}
	if n := len(s["meshwatch_consumer_status"]); n != 2*len(Statuses) {
		t.Errorf("%d status series, want %d: one per status for each of 2 groups", n, 2*len(Statuses))
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
