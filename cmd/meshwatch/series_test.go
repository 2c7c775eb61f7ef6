package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/expo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// seriesConfig is one product as `make scale` configures them: JSON with
// an event time, 2 SLOs, 2 CEL rules, one topic and one declared consumer
// group. The thresholds are loose, so that a busy machine does not make an
// SLO burn (which adds its time to exhaustion).
const seriesConfig = `
cluster: {name: test, brokers: [%s]}
http: {listen: "127.0.0.1:0"}
state: {dir: %q}
owners:
  team-a: {}
products:
  - name: scale.p1.updated
    domain: scale
    owner: team-a
    topics: [scale.p1.updated]
    format: json
    event_time: {field: ts, format: unix_ms}
    slos:
      - {name: latency, sli: latency, threshold: 1h, objective: 99%%}
      - {name: freshness, sli: freshness, threshold: 1h, objective: 99%%}
    quality:
      rules:
        - {name: positive_amount, expr: "message.amount > 0"}
        - {name: known_currency, expr: "message.currency in ['EUR', 'USD', 'GBP']"}
    consumers:
      - {group: readers, owner: team-a}
`

// TestSeriesPerProduct counts what the whole agent exports for one product
// in steady state with the default metrics: settings — the series budget of
// the README (Series per product): 39 series with its product label and
// kafka-lag-exporter's topic sum, 40 in all. A series that comes back at 0,
// a window or a quantile more, fails it.
func TestSeriesPerProduct(t *testing.T) {
	const product, topic, group = "scale.p1.updated", "scale.p1.updated", "readers"
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	yaml := fmt.Sprintf(seriesConfig, strings.Join(kc.Addrs(), ", "), t.TempDir())
	set, _, err := config.Load("series.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	set.Collector.Tick = meshwatch.Duration(300 * time.Millisecond)
	set.Lag.Interval = set.Collector.Tick
	app, err := NewApp(set, slog.New(slog.DiscardHandler), AppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Go(func() { _ = app.Run(ctx) })
	wg.Go(func() {
		kc.ProduceEvery(ctx, 20*time.Millisecond, func() *kgo.Record {
			v := fmt.Sprintf(`{"ts": %d, "amount": 5, "currency": "EUR"}`, time.Now().UnixMilli())
			return &kgo.Record{Topic: topic, Value: []byte(v)}
		})
	})
	adm := kc.Admin(t)
	wg.Go(func() { commitBehind(ctx, adm, group, topic) })

	// Steady state: everything the budget counts is there.
	want := map[string]int{
		// the product
		"meshwatch_product_info": 1, "meshwatch_records_sampled_total": 1, "meshwatch_sampled_bytes_total": 1,
		"meshwatch_sample_ratio": 1, "meshwatch_records_produced_total": 1, "meshwatch_produced_bytes_total": 1,
		"meshwatch_latency_seconds": 3, "meshwatch_latency_hdr_seconds": 2, "meshwatch_freshness_seconds": 1,
		"meshwatch_available": 1, "meshwatch_product_partitions": 1,
		// 2 SLOs
		"meshwatch_slo_objective_ratio": 2, "meshwatch_slo_error_budget_remaining_ratio": 2, "meshwatch_slo_decision": 2,
		"meshwatch_slo_good_total": 2, "meshwatch_slo_valid_total": 2, "meshwatch_slo_threshold_seconds": 2,
		// 2 rules
		"meshwatch_quality_checked_total": 1, "meshwatch_quality_rules": 1, "meshwatch_quality_validity_events_total": 1,
		"meshwatch_quality_records_total": 2,
		// 1 group on 1 topic
		"meshwatch_consumer_status": 1, "meshwatch_consumer_group_lag_records": 1, "meshwatch_consumer_group_lag_seconds": 1,
		"meshwatch_consumer_group_lag_method": 1, "meshwatch_consumer_group_no_data": 1,
		"meshwatch_consumer_retention_risk_ratio": 1,
		"meshwatch_consumer_lag_records":          1, "meshwatch_consumer_lag_seconds": 1,
		"kafka_consumergroup_group_topic_sum_lag": 1,
	}
	var got map[string]int
	kafkatest.WaitFor(t, time.Minute, func() bool {
		got = productSeriesCount(t, app, product, topic)
		for name := range want {
			if got[name] == 0 {
				return false
			}
		}
		return true
	}, "the product never reached its steady state: %v", &got)
	total := 0
	for _, n := range got {
		total += n
	}
	if !maps.Equal(got, want) || total != 40 {
		names := maps.Clone(want)
		maps.Copy(names, got)
		var diff []string
		for _, name := range slices.Sorted(maps.Keys(names)) {
			if got[name] != want[name] {
				diff = append(diff, fmt.Sprintf("%s: %d series, want %d", name, got[name], want[name]))
			}
		}
		t.Errorf("%d series for one product, want 40 (README: Series per product):\n\t%s", total, strings.Join(diff, "\n\t"))
	}
}

// productSeriesCount counts the agent's series per metric whose product or
// topic label names the product or its topic, in the text format /metrics
// streams: a histogram is its classic buckets, +Inf, _sum and _count (a
// Prometheus that scrapes native histograms stores it as one series).
func productSeriesCount(t *testing.T, a *App, product, topic string) map[string]int {
	t.Helper()
	var b strings.Builder
	if err := expo.WriteText(&b, a.registries()); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	family := ""
	for line := range strings.Lines(b.String()) {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			family, _, _ = strings.Cut(name, " ")
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Contains(line, `product="`+product+`"`) || strings.Contains(line, `topic="`+topic+`"`) {
			out[family]++
		}
	}
	return out
}

// commitBehind commits group's offsets on topic a few records behind its
// end, every 200 ms, as a consumer that keeps up would, until ctx is done.
func commitBehind(ctx context.Context, adm *kadm.Client, group, topic string) {
	tk := time.NewTicker(200 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			continue
		}
		var offs kadm.Offsets
		ends.Each(func(o kadm.ListedOffset) {
			offs.AddOffset(o.Topic, o.Partition, max(0, o.Offset-3), -1)
		})
		_, _ = adm.CommitOffsets(ctx, group, offs)
	}
}
