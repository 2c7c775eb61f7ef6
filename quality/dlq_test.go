package quality

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func dlqRecs(n int, reason string) []*kgo.Record {
	var out []*kgo.Record
	for range n {
		out = append(out, &kgo.Record{Topic: "shared.dlq", Value: []byte("x"), Headers: []kgo.RecordHeader{{Key: "__rule.name", Value: []byte(reason)}}})
	}
	return out
}

// TestSharedDLQCountsForEveryProduct: a dead-letter topic two products
// name is read once, and each product counts its reasons from its own cursor.
func TestSharedDLQCountsForEveryProduct(t *testing.T) {
	c := kafkatest.New(t)
	c.MustCreateTopic(t, "a", 1, 1, nil)
	c.MustCreateTopic(t, "b", 1, 1, nil)
	c.MustCreateTopic(t, "shared.dlq", 1, 1, nil)
	cfg := loadConfig(t, `
products:
  - name: p.a
    domain: shop
    owner: shop-team
    topics: [a]
    dlq_topics: [shared.dlq]
    format: json
    slos:
      - {name: validity, sli: validity, objective: 99%}
  - name: p.b
    domain: shop
    owner: shop-team
    topics: [b]
    dlq_topics: [shared.dlq]
    format: json
    slos:
      - {name: validity, sli: validity, objective: 99%}
`)
	clock := newClock()
	e, _, _ := newEngine(t, cfg, Options{Kafka: c.Client(t), Now: clock.Now})
	ctx := t.Context()
	e.doTick(ctx, true)
	if err := c.Produce(ctx, dlqRecs(4, "r1")...); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	e.doTick(ctx, true)
	for _, name := range []string{"p.a", "p.b"} {
		rep, _ := e.Quality(name)
		t.Logf("%s: %+v", name, rep.DLQ)
		if rep.DLQ == nil || rep.DLQ.Reasons["r1"] != 4 {
			t.Errorf("%s reasons %+v, want r1: 4", name, rep.DLQ)
		}
	}
	if err := c.Produce(ctx, dlqRecs(2, "r2")...); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	e.doTick(ctx, true)
	for _, name := range []string{"p.a", "p.b"} {
		rep, _ := e.Quality(name)
		if rep.DLQ == nil || rep.DLQ.Reasons["r1"] != 4 || rep.DLQ.Reasons["r2"] != 2 {
			t.Errorf("%s reasons %+v, want r1: 4, r2: 2", name, rep.DLQ)
		}
	}
}

// TestDLQExpiredCursor: a read position below the log start counts one
// dlq_fetch error and moves to the end, instead of failing every tick.
func TestDLQExpiredCursor(t *testing.T) {
	c := kafkatest.New(t)
	c.MustCreateTopic(t, "orders", 1, 1, nil)
	c.MustCreateTopic(t, "shared.dlq", 1, 1, nil)
	cfg := loadConfig(t, `
products:
  - name: p.a
    domain: shop
    owner: shop-team
    topics: [orders]
    dlq_topics: [shared.dlq]
    format: json
    slos:
      - {name: validity, sli: validity, objective: 99%}
`)
	clock := newClock()
	e, _, _ := newEngine(t, cfg, Options{Kafka: c.Client(t), Now: clock.Now})
	ctx := t.Context()
	e.doTick(ctx, true)
	if err := c.Produce(ctx, dlqRecs(5, "old")...); err != nil {
		t.Fatal(err)
	}
	below := kadm.Offsets{}
	below.AddOffset("shared.dlq", 0, 5, -1)
	if _, err := c.Admin(t).DeleteRecords(ctx, below); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	e.doTick(ctx, true) // out of range: moves to the end
	if err := c.Produce(ctx, dlqRecs(3, "new")...); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	e.doTick(ctx, true)
	clock.Add(time.Minute)
	e.doTick(ctx, true)
	rep, _ := e.Quality("p.a")
	t.Logf("%+v errors %v", rep.DLQ, testutil.ToFloat64(e.m.tickErrors.WithLabelValues("dlq_fetch")))
	if rep.DLQ == nil || rep.DLQ.Reasons["new"] != 3 || rep.DLQ.Reasons["old"] != 0 {
		t.Errorf("reasons %+v, want new: 3", rep.DLQ)
	}
	if n := testutil.ToFloat64(e.m.tickErrors.WithLabelValues("dlq_fetch")); n != 1 {
		t.Errorf("dlq_fetch errors %v, want 1", n)
	}
}
