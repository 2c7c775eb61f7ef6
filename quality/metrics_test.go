package quality

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch/internal/expo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/srtest"
)

// agentMetrics are the series without product labels.
var agentMetrics = []string{
	"meshwatch_quality_schema_fetches_total",
	"meshwatch_quality_ruleset_refreshes_total",
	"meshwatch_quality_tick_errors_total",
}

// productSeries gathers reg and returns each product's series as
// name{label=value,…} (the product, domain and owner labels left out) with
// their values. It fails on a series without a product label that is not
// an agent metric.
func productSeries(t testing.TB, reg prometheus.Gatherer) map[string]map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var product string
			var ls []string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "product":
					product = lp.GetValue()
				case "domain", "owner":
				default:
					ls = append(ls, lp.GetName()+"="+lp.GetValue())
				}
			}
			if product == "" {
				if !slices.Contains(agentMetrics, mf.GetName()) {
					t.Errorf("series of %s without a product label", mf.GetName())
				}
				continue
			}
			name := mf.GetName()
			if len(ls) > 0 {
				slices.Sort(ls)
				name += "{" + strings.Join(ls, ",") + "}"
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if out[product] == nil {
				out[product] = map[string]float64{}
			}
			out[product][name] = v
		}
	}
	return out
}

// diffSeries describes how got differs from want, or returns "".
func diffSeries(got, want map[string]float64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if w, ok := want[k]; !ok {
			fmt.Fprintf(&b, "\n  unexpected %s = %v", k, got[k])
		} else if got[k] != w {
			fmt.Fprintf(&b, "\n  %s = %v, want %v", k, got[k], w)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[k]; !ok {
			fmt.Fprintf(&b, "\n  missing %s (want %v)", k, want[k])
		}
	}
	return b.String()
}

// TestSteadyStateSeries checks the exact series of products whose records
// all pass: nothing that did not happen, nothing of a feature the product
// does not use. shop.orders.placed (two config rules, json) shares the
// agent with a product that has a sequence check, a volume expectation and
// a dead-letter topic, so end offsets are listed for both. The dead-letter
// series appear with the first dead letter.
func TestSteadyStateSeries(t *testing.T) {
	c := kafkatest.New(t)
	for _, tp := range []string{"orders", "payments", "payments.dlq"} {
		c.MustCreateTopic(t, tp, 1, 1, nil)
	}
	cfg := loadConfig(t, `
products:
  - name: shop.orders.placed
    domain: shop
    owner: shop-team
    topics: [orders]
    format: json
    slos:
      - {name: validity, sli: validity, objective: 99%}
    quality:
      rules:
        - {name: positive_total, expr: "message.order_total > 0"}
        - {name: known_currency, expr: "message.currency in ['EUR', 'USD']"}
  - name: shop.payments.settled
    domain: shop
    owner: shop-team
    topics: [payments]
    dlq_topics: [payments.dlq]
    format: json
    slos:
      - {name: validity, sli: validity, objective: 99%}
      - {name: completeness, sli: completeness, objective: 99%}
      - {name: volume, sli: volume, objective: 99%}
    quality:
      sequence: {field: seq}
      volume: {min_per_minute: 10}
`)
	clock := newClock()
	e, reg, _ := newEngine(t, cfg, Options{Kafka: c.Client(t), Now: clock.Now})
	ctx := t.Context()
	e.doTick(ctx, true) // the baseline of end offsets

	const n = 20
	var orders, payments []*kgo.Record
	for i := range n {
		orders = append(orders, &kgo.Record{Topic: "orders", Value: []byte(`{"order_total":12.5,"currency":"EUR"}`)})
		payments = append(payments, &kgo.Record{Topic: "payments", Value: []byte(`{"seq":` + strconv.Itoa(i+1) + `}`)})
	}
	if err := c.Produce(ctx, append(orders, payments...)...); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e.ObserveRecord("shop.orders.placed", orders[i])
		e.ObserveRecord("shop.payments.settled", payments[i])
	}
	clock.Add(time.Minute)
	e.doTick(ctx, true)
	e.doTick(ctx, false) // a tick without records adds no series either

	want := map[string]map[string]float64{
		"shop.orders.placed": {
			"meshwatch_quality_checked_total":                                  n,
			"meshwatch_quality_records_total{result=pass,rule=known_currency}": n,
			"meshwatch_quality_records_total{result=pass,rule=positive_total}": n,
			"meshwatch_quality_validity_events_total{result=good}":             n,
			"meshwatch_quality_rules{source=config}":                           2,
		},
		"shop.payments.settled": {
			"meshwatch_quality_checked_total":                          n,
			"meshwatch_quality_validity_events_total{result=good}":     n,
			"meshwatch_quality_completeness_events_total{result=good}": n - 1, // numbers expected after the first
			"meshwatch_quality_sequence_keys":                          1,
			"meshwatch_quality_silent_partitions":                      0,
			"meshwatch_quality_volume_records_per_minute":              n,
		},
	}
	got := productSeries(t, reg)
	for _, p := range slices.Sorted(maps.Keys(want)) {
		if d := diffSeries(got[p], want[p]); d != "" {
			t.Errorf("%s series:%s", p, d)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series of %d products, want %d: %v", len(got), len(want), got)
	}

	// The first dead letters: the dead-letter series appear, and the
	// validity events they make bad.
	dlq := []*kgo.Record{{Topic: "payments.dlq", Value: []byte("x")}, {Topic: "payments.dlq", Value: []byte("x")}}
	if err := c.Produce(ctx, dlq...); err != nil {
		t.Fatal(err)
	}
	clock.Add(10 * time.Second)
	e.doTick(ctx, true)
	got = productSeries(t, reg)
	for k, v := range map[string]float64{
		"meshwatch_quality_dlq_records_total":                 2,
		"meshwatch_quality_dlq_reasons_total{reason=unknown}": 2,
		"meshwatch_quality_validity_events_total{result=bad}": 2,
	} {
		want["shop.payments.settled"][k] = v
	}
	if d := diffSeries(got["shop.payments.settled"], want["shop.payments.settled"]); d != "" {
		t.Errorf("shop.payments.settled series after 2 dead letters:%s", d)
	}
	if d := diffSeries(got["shop.orders.placed"], want["shop.orders.placed"]); d != "" {
		t.Errorf("shop.orders.placed series after the other product's dead letters:%s", d)
	}
}

// TestSeriesAppearAtFirstEvent checks that a result, reason, missing field
// or sequence series is absent until its first event, is there right after
// it, and that its siblings stay absent.
func TestSeriesAppearAtFirstEvent(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      required: [order_id]
      rules:
        - {name: positive_total, expr: "message.order_total > 0"}
      sequence: {field: seq, key: producer}`))
	e, reg, _ := newEngine(t, cfg, Options{})
	const p = "shop.orders.placed"
	observe := func(v string) {
		e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: []byte(v)})
	}
	step := func(what string, want map[string]float64) {
		t.Helper()
		if d := diffSeries(productSeries(t, reg)[p], want); d != "" {
			t.Errorf("after %s:%s", what, d)
		}
	}
	want := map[string]float64{
		"meshwatch_quality_checked_total":        0,
		"meshwatch_quality_rules{source=config}": 1,
		"meshwatch_quality_sequence_keys":        0,
	}
	step("start", want)

	observe(`{"order_id":"a","order_total":5,"seq":1,"producer":"p"}`)
	e.doTick(context.Background(), false)
	want["meshwatch_quality_checked_total"] = 1
	want["meshwatch_quality_records_total{result=pass,rule=positive_total}"] = 1
	want["meshwatch_quality_validity_events_total{result=good}"] = 1
	want["meshwatch_quality_completeness_events_total{result=good}"] = 1
	want["meshwatch_quality_sequence_keys"] = 1
	step("a good record", want)

	observe(`{"order_id":"b","order_total":-1,"seq":2,"producer":"p"}`)
	want["meshwatch_quality_checked_total"] = 2
	want["meshwatch_quality_records_total{result=fail,rule=positive_total}"] = 1
	step("the first failing record", want)

	observe(`{"order_id":"c","order_total":"x","seq":3,"producer":"p"}`)
	want["meshwatch_quality_checked_total"] = 3
	want["meshwatch_quality_records_total{result=error,rule=positive_total}"] = 1
	step("the first rule error", want)

	observe(`not json`)
	want["meshwatch_quality_checked_total"] = 4
	want["meshwatch_quality_undecodable_total{reason=not_json}"] = 1
	step("the first undecodable record", want)

	observe(`{"order_total":5,"seq":6,"producer":"p"}`) // 4 and 5 skipped, order_id missing
	want["meshwatch_quality_checked_total"] = 5
	want["meshwatch_quality_records_total{result=pass,rule=positive_total}"] = 2
	want["meshwatch_quality_required_missing_total{field=order_id}"] = 1
	want["meshwatch_quality_sequence_missing_total"] = 2
	step("the first missing field and sequence gap", want)

	observe(`{"order_id":"d","order_total":5,"seq":6,"producer":"p"}`)
	want["meshwatch_quality_checked_total"] = 6
	want["meshwatch_quality_records_total{result=pass,rule=positive_total}"] = 3
	want["meshwatch_quality_sequence_duplicates_total"] = 1
	step("the first duplicate", want)

	e.doTick(context.Background(), false)
	// Good: the first record, the order_id of the next three decoded ones
	// and the sequence numbers 2, 3 and 6; bad: the undecodable record, the
	// missing order_id, and 4 and 5.
	want["meshwatch_quality_completeness_events_total{result=good}"] = 1 + 3 + 3
	want["meshwatch_quality_completeness_events_total{result=bad}"] = 1 + 1 + 2
	want["meshwatch_quality_validity_events_total{result=good}"] = 3
	want["meshwatch_quality_validity_events_total{result=bad}"] = 3
	step("the tick", want)
}

// TestRulesSeriesOnlyForSourcesWithRules: a product without config rules
// has no rules{source="config"}; rules{source="registry"} exists while its
// subjects have rules, and goes when they are dropped.
func TestRulesSeriesOnlyForSourcesWithRules(t *testing.T) {
	sreg := srtest.New(t)
	sreg.MustRegister(t, "orders-value", sr.Schema{
		Schema: taggedAvsc,
		SchemaRuleSet: &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{
			{Name: "checkTotal", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "CEL", Expr: "message.order_total < 1000.0"},
		}},
	})
	cfg := loadConfig(t, `
schema_registry: {url: "`+sreg.URL()+`"}
products:
  - {name: shop.orders.placed, domain: shop, owner: shop-team, topics: [orders], format: avro}
`)
	e, reg, _ := newEngine(t, cfg, Options{})
	rules := func() map[string]float64 {
		out := map[string]float64{}
		for k, v := range productSeries(t, reg)["shop.orders.placed"] {
			if strings.HasPrefix(k, "meshwatch_quality_rules") {
				out[k] = v
			}
		}
		return out
	}
	if d := diffSeries(rules(), map[string]float64{}); d != "" {
		t.Errorf("before the refresh:%s", d)
	}
	e.refreshRuleSets(context.Background(), e.knownTopics())
	if d := diffSeries(rules(), map[string]float64{"meshwatch_quality_rules{source=registry}": 1}); d != "" {
		t.Errorf("with a registry rule:%s", d)
	}
	if _, _, err := sreg.Register("orders-value", sr.Schema{Schema: taggedAvsc}); err != nil {
		t.Fatal(err)
	}
	e.refreshRuleSets(context.Background(), e.knownTopics())
	if d := diffSeries(rules(), map[string]float64{}); d != "" {
		t.Errorf("after the rules were dropped:%s", d)
	}
}

// TestCount: no series before the first event, nor after an add of 0;
// records of one product observed from several goroutines while /metrics
// is scraped make one series each and lose nothing; counting does not
// allocate.
func TestCount(t *testing.T) {
	var c count
	c.add(0)
	if c.created != 0 || c.n != 0 {
		t.Fatalf("after an add of 0: %+v, want no series", c)
	}
	c.inc()
	c.add(2)
	if c.created == 0 || c.n != 3 {
		t.Fatalf("after 3 events: %+v", c)
	}
	if a := testing.AllocsPerRun(100, func() { c.inc(); c.add(2) }); a != 0 {
		t.Errorf("an increment allocates %v times, want 0", a)
	}

	cfg := loadConfig(t, jsonConfig(`      rules:
        - {name: positive_total, expr: "message.order_total > 0"}`))
	e, reg, _ := newEngine(t, cfg, Options{})
	const p = "shop.orders.placed"
	const goroutines, each = 8, 250
	r := &kgo.Record{Topic: "orders", Value: []byte(`{"order_total":5}`)}
	var wg sync.WaitGroup
	start, stop := make(chan struct{}), make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			for range each {
				e.ObserveRecord(p, r)
			}
		})
	}
	scrapes := make(chan error, 1)
	go func() {
		<-start
		var err error
		for err == nil {
			select {
			case <-stop:
				scrapes <- nil
				return
			default:
			}
			_, err = reg.Gather()
			err = errors.Join(err, expo.Check(&expo.Collector{Fams: productFamilies, Write: e.m.write}))
		}
		scrapes <- err
	}()
	close(start)
	wg.Wait()
	close(stop)
	if err := <-scrapes; err != nil {
		t.Fatalf("a scrape while records were counted: %v", err)
	}
	want := map[string]float64{
		"meshwatch_quality_checked_total":                                  goroutines * each,
		"meshwatch_quality_records_total{result=pass,rule=positive_total}": goroutines * each,
		"meshwatch_quality_rules{source=config}":                           1,
	}
	if d := diffSeries(productSeries(t, reg)[p], want); d != "" {
		t.Errorf("series:%s", d)
	}
}

// TestDLQReasonsBound: the reason series appear at their first record;
// unknown keeps its place among the maxReasons labels although its series
// is not made in advance, so it is never counted as other.
func TestDLQReasonsBound(t *testing.T) {
	cfg := loadConfig(t, `
products:
  - {name: shop.orders.placed, domain: shop, owner: shop-team, topics: [orders], dlq_topics: [orders.dlq]}
`)
	e, reg, _ := newEngine(t, cfg, Options{})
	p := e.byName["shop.orders.placed"]
	reasons := func() map[string]float64 {
		out := map[string]float64{}
		for k, v := range productSeries(t, reg)["shop.orders.placed"] {
			if r, ok := strings.CutPrefix(k, "meshwatch_quality_dlq_reasons_total{reason="); ok {
				out[strings.TrimSuffix(r, "}")] = v
			}
		}
		return out
	}
	if got := reasons(); len(got) != 0 {
		t.Fatalf("reason series before any dead letter: %v", got)
	}
	p.mu.Lock()
	for i := range maxReasons + 5 {
		p.countDLQReason("r" + strconv.Itoa(i))
	}
	p.countDLQReason(ReasonLabelUnknown)
	p.mu.Unlock()
	got := reasons()
	want := map[string]float64{ReasonLabelUnknown: 1, ReasonLabelOther: 6}
	for i := range maxReasons - 1 {
		want["r"+strconv.Itoa(i)] = 1
	}
	if d := diffSeries(got, want); d != "" {
		t.Errorf("reason series:%s", d)
	}
}

// TestRegistryCheck registers the metrics with an expo.Registry, as the
// agent does, and checks with Registry.Check that the product Source
// streams what it collects, each family once and every series once: with
// several products, a required field listed twice, passing, failing and
// erring rules, undecodable records, sequence gaps, volume and a
// dead-letter topic, and registry rules that are replaced and dropped.
func TestRegistryCheck(t *testing.T) {
	sreg := srtest.New(t)
	checkTotal := sr.SchemaRule{Name: "checkTotal", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "CEL", Expr: "message.order_total < 1000.0"}
	id := sreg.MustRegister(t, "avro-orders-value", sr.Schema{Schema: taggedAvsc, SchemaRuleSet: &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{checkTotal}}})
	cfg := loadConfig(t, `
schema_registry: {url: "`+sreg.URL()+`"}
owners:
  shop-team: {slack_channel: "#shop"}
  pay-team: {slack_channel: "#pay"}
products:
  - name: shop.orders.placed
    domain: shop
    owner: shop-team
    topics: [orders]
    dlq_topics: [orders.dlq]
    format: json
    quality:
      required: [order_id, customer_id, order_id]
      rules:
        - {name: positive_total, expr: "message.order_total > 0"}
        - {name: known_currency, expr: "message.currency in ['EUR', 'USD']"}
      sequence: {field: seq}
      volume: {min_per_minute: 10}
  - name: pay.payments.settled
    domain: pay
    owner: pay-team
    topics: [payments]
    format: json
    quality:
      rules:
        - {name: positive_amount, expr: "message.amount > 0"}
  - {name: shop.orders.avro, domain: shop, owner: shop-team, topics: [avro-orders], format: avro}
`)
	reg := expo.NewRegistry()
	clock := newClock()
	e, err := New(cfg.Config, Options{Metrics: NewMetrics(reg), SchemaRegistry: cfg.registry, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	check := func(when string) {
		t.Helper()
		if err := reg.Check(); err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
	check("before any record")

	e.refreshRuleSets(ctx, e.knownTopics())
	const orders, pay, avroP = "shop.orders.placed", "pay.payments.settled", "shop.orders.avro"
	for i, v := range []string{
		`{"order_id":"a","customer_id":"c","order_total":5,"currency":"EUR","seq":1}`,
		`{"order_id":"b","order_total":-1,"currency":"EUR","seq":2}`,
		`{"customer_id":"c","order_total":"x","currency":"GBP","seq":5}`,
		`{"order_id":"d","customer_id":"c","order_total":5,"currency":"EUR","seq":5}`,
		`not json`,
	} {
		e.ObserveRecord(orders, &kgo.Record{Topic: "orders", Offset: int64(i), Value: []byte(v)})
	}
	for _, v := range []string{`{"amount":1}`, `{"amount":-1}`, `{"amount":1`} {
		e.ObserveRecord(pay, &kgo.Record{Topic: "payments", Value: []byte(v)})
	}
	schema := avro.MustParse(taggedAvsc)
	avroRec := func(total float64) *kgo.Record {
		return &kgo.Record{Topic: "avro-orders", Value: wire(id, nil, encodeAvroOrder(t, schema, avroOrder{
			OrderID: "o-1", OrderTotal: total, Items: 1, Status: "PLACED", PlacedAt: time.Unix(0, 0)}))}
	}
	e.ObserveRecord(avroP, avroRec(10))
	e.ObserveRecord(avroP, avroRec(5000))
	e.ObserveRecord(avroP, &kgo.Record{Topic: "avro-orders", Value: []byte{0, 0}})

	// End offsets: a baseline, then a minute of traffic and three dead
	// letters, one partition silent.
	p := e.byName[orders]
	ends := func(orders0, orders1, dlq int64) kadm.ListedOffsets {
		return kadm.ListedOffsets{
			"orders":     {0: {Topic: "orders", Partition: 0, Offset: orders0}, 1: {Topic: "orders", Partition: 1, Offset: orders1}},
			"orders.dlq": {0: {Topic: "orders.dlq", Partition: 0, Offset: dlq}},
		}
	}
	e.offsetDeltas(p, ends(100, 7, 10), clock.Now())
	clock.Add(time.Minute)
	e.offsetDeltas(p, ends(160, 7, 13), clock.Now())
	p.mu.Lock()
	for _, r := range []string{"r1", ReasonLabelUnknown, "r1"} {
		p.countDLQReason(r)
	}
	p.mu.Unlock()
	e.doTick(ctx, false)
	check("with records, dead letters and volume")

	got := productSeries(t, reg)
	for product, want := range map[string]map[string]float64{
		orders: {
			"meshwatch_quality_checked_total":                                   5,
			"meshwatch_quality_records_total{result=pass,rule=positive_total}":  2,
			"meshwatch_quality_records_total{result=fail,rule=positive_total}":  1,
			"meshwatch_quality_records_total{result=error,rule=positive_total}": 1,
			"meshwatch_quality_records_total{result=pass,rule=known_currency}":  3,
			"meshwatch_quality_records_total{result=fail,rule=known_currency}":  1,
			"meshwatch_quality_undecodable_total{reason=not_json}":              1,
			// order_id is required twice: one series counts both places.
			"meshwatch_quality_required_missing_total{field=order_id}":    2,
			"meshwatch_quality_required_missing_total{field=customer_id}": 1,
			// Records a and d, and 2 of the 4 numbers after seq 1.
			"meshwatch_quality_completeness_events_total{result=good}": 2 + 2,
			// Records b, c and not json, and seq 3 and 4.
			"meshwatch_quality_completeness_events_total{result=bad}": 3 + 2,
			"meshwatch_quality_validity_events_total{result=good}":    2,
			"meshwatch_quality_validity_events_total{result=bad}":     3,
			"meshwatch_quality_sequence_missing_total":                2,
			"meshwatch_quality_sequence_duplicates_total":             1,
			"meshwatch_quality_sequence_keys":                         1,
			"meshwatch_quality_volume_records_per_minute":             60,
			"meshwatch_quality_silent_partitions":                     1,
			"meshwatch_quality_dlq_records_total":                     3,
			"meshwatch_quality_dlq_reasons_total{reason=r1}":          2,
			"meshwatch_quality_dlq_reasons_total{reason=unknown}":     1,
			"meshwatch_quality_rules{source=config}":                  2,
		},
		pay: {
			"meshwatch_quality_checked_total":                                   3,
			"meshwatch_quality_records_total{result=pass,rule=positive_amount}": 1,
			"meshwatch_quality_records_total{result=fail,rule=positive_amount}": 1,
			"meshwatch_quality_undecodable_total{reason=not_json}":              1,
			"meshwatch_quality_validity_events_total{result=good}":              1,
			"meshwatch_quality_validity_events_total{result=bad}":               2,
			"meshwatch_quality_rules{source=config}":                            1,
		},
		avroP: {
			"meshwatch_quality_checked_total":                              3,
			"meshwatch_quality_records_total{result=pass,rule=checktotal}": 1,
			"meshwatch_quality_records_total{result=fail,rule=checktotal}": 1,
			"meshwatch_quality_undecodable_total{reason=truncated}":        1,
			"meshwatch_quality_validity_events_total{result=good}":         1,
			"meshwatch_quality_validity_events_total{result=bad}":          2,
			"meshwatch_quality_rules{source=registry}":                     1,
		},
	} {
		if d := diffSeries(got[product], want); d != "" {
			t.Errorf("%s series:%s", product, d)
		}
	}

	// A new version replaces checktotal and adds a rule: the rule's
	// series counts on, as a vector's child did; then a version without
	// rules drops both, and their series stay while the rules gauge goes.
	if _, _, err := sreg.Register("avro-orders-value", sr.Schema{Schema: taggedAvsc, SchemaRuleSet: &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{
		checkTotal,
		{Name: "fewItems", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "CEL", Expr: "message.items < 2"},
	}}}); err != nil {
		t.Fatal(err)
	}
	e.refreshRuleSets(ctx, e.knownTopics())
	e.ObserveRecord(avroP, avroRec(10))
	check("after the rules were replaced")
	if _, _, err := sreg.Register("avro-orders-value", sr.Schema{Schema: taggedAvsc}); err != nil {
		t.Fatal(err)
	}
	e.refreshRuleSets(ctx, e.knownTopics())
	e.ObserveRecord(avroP, avroRec(5000))
	check("after the rules were dropped")
	rules := map[string]float64{}
	for k, v := range productSeries(t, reg)[avroP] {
		if strings.HasPrefix(k, "meshwatch_quality_rules") || strings.HasPrefix(k, "meshwatch_quality_records_total") {
			rules[k] = v
		}
	}
	if d := diffSeries(rules, map[string]float64{
		"meshwatch_quality_records_total{result=pass,rule=checktotal}": 2,
		"meshwatch_quality_records_total{result=fail,rule=checktotal}": 1,
		"meshwatch_quality_records_total{result=pass,rule=fewitems}":   1,
	}); d != "" {
		t.Errorf("rule series after a replacement and a drop:%s", d)
	}
}
