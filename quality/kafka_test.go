package quality

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func TestVolumeAndDeadLetters(t *testing.T) {
	c := kafkatest.New(t)
	c.MustCreateTopic(t, "orders", 2, 1, nil)
	c.MustCreateTopic(t, "orders.dlq", 1, 1, nil)
	cfg := loadConfig(t, `
products:
  - name: shop.orders.placed
    domain: shop
    owner: shop-team
    topics: [orders]
    dlq_topics: [orders.dlq]
    format: json
    slos:
      - {name: validity, sli: validity, objective: 99%}
      - {name: volume, sli: volume, objective: 99%}
    quality:
      volume: {min_per_minute: 10}
`)
	clock := newClock()
	e, _, s := newEngine(t, cfg, Options{Kafka: c.Client(t), Now: clock.Now})
	ctx := t.Context()
	e.doTick(ctx, true) // the baseline of end offsets

	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(strconv.Itoa(i)), Value: []byte(`{"n":` + strconv.Itoa(i) + `}`)})
	}
	if err := c.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		e.ObserveRecord("shop.orders.placed", r) // the collector samples everything
	}
	var dlq []*kgo.Record
	for i := range 10 {
		r := &kgo.Record{Topic: "orders.dlq", Value: []byte(`{"n":"SECRET"}`)}
		switch {
		case i < 5:
			r.Headers = []kgo.RecordHeader{{Key: "__rule.name", Value: []byte("positive_total")}}
		case i < 7:
			r.Headers = []kgo.RecordHeader{{Key: "__rule.name", Value: []byte("not a name: SECRET")}}
		}
		dlq = append(dlq, r)
	}
	if err := c.Produce(ctx, dlq...); err != nil {
		t.Fatal(err)
	}

	clock.Add(time.Minute)
	e.doTick(ctx, true)
	if g, v := s.sum("volume"); g != 1 || v != 1 {
		t.Errorf("volume after a minute of 30 records = %d/%d, want 1/1", g, v)
	}
	// DLQ share: 10 / (30 + 10).
	if g, v := s.sum("validity"); g != 30 || v != 40 {
		t.Errorf("validity = %d/%d, want 30/40", g, v)
	}
	rep, _ := e.Quality("shop.orders.placed")
	want := map[string]int64{"positive_total": 5, ReasonLabelOther: 2, ReasonLabelUnknown: 3}
	if rep.DLQ == nil || rep.DLQ.Records != 10 || len(rep.DLQ.Reasons) != 3 {
		t.Fatalf("dlq report = %+v, want 10 records with reasons %v", rep.DLQ, want)
	}
	for k, n := range want {
		if rep.DLQ.Reasons[k] != n {
			t.Errorf("dlq reason %s = %d, want %d", k, rep.DLQ.Reasons[k], n)
		}
	}

	clock.Add(time.Minute) // a silent minute
	e.doTick(ctx, true)
	if g, v := s.sum("volume"); g != 1 || v != 2 {
		t.Errorf("volume after a silent minute = %d/%d, want 1/2", g, v)
	}
	rep, _ = e.Quality("shop.orders.placed")
	if rep.Volume.PartitionsSilent != 2 || rep.Volume.LastPerMinute != 0 {
		t.Errorf("volume report = %+v, want 2 silent partitions and 0/min", rep.Volume)
	}
}

// TestRunFlushesOnShutdown checks that Run returns nil when cancelled and
// that its final flush emits what the last interval counted. It does not
// wait for a periodic tick.
func TestRunFlushesOnShutdown(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      rules: [{name: ok, expr: "true"}]`))
	e, _, s := newEngine(t, cfg, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	e.ObserveRecord("shop.orders.placed", &kgo.Record{Topic: "orders", Value: []byte(`{}`)})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if g, v := s.sum("validity"); g != 1 || v != 1 {
		t.Errorf("validity after shutdown = %d/%d, want 1/1", g, v)
	}
}
