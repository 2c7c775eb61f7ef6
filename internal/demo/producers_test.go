package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// Shortened periods: within runFor the flapping product is silent twice for
// 500ms and the bursty product bursts twice for 300ms.
const (
	runFor      = 2200 * time.Millisecond
	flapEvery   = time.Second
	flapSilence = 500 * time.Millisecond
	burstEvery  = time.Second
	burstFor    = 300 * time.Millisecond
)

func allTopics() []string {
	var topics []string
	for _, s := range Scenarios() {
		topics = append(topics, s.Topics...)
	}
	return topics
}

// runProducers runs p for d and returns what Run returned.
func runProducers(t *testing.T, p *Producers, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d + 2*flushTimeout):
		t.Fatal("Run did not return after its context was done")
		return nil
	}
}

func TestProducers(t *testing.T) {
	c := kafkatest.New(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := NewProducers(c.Addrs(), logger, WithFlapping(flapEvery, flapSilence), WithBursts(burstEvery, burstFor))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateTopics(t.Context()); err != nil {
		t.Fatalf("CreateTopics on existing topics: %v", err)
	}
	details, err := c.Admin(t).ListTopics(t.Context(), allTopics()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range allTopics() {
		td := details[topic]
		if len(td.Partitions) != 3 || td.Partitions.NumReplicas() != 3 {
			t.Errorf("%s: %d partitions of %d replicas, want 3 of 3", topic, len(td.Partitions), td.Partitions.NumReplicas())
		}
	}

	if err := runProducers(t, p, runFor); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := p.Run(t.Context()); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run: err = %v, want ErrRunTwice", err)
	}

	byTopic := consumeAll(t, c, allTopics())
	byProduct := map[string][]*kgo.Record{}
	for _, s := range Scenarios() {
		for _, topic := range s.Topics {
			if len(byTopic[topic]) == 0 {
				t.Errorf("%s (%s): no records on topic %s", s.Product, s.Behaviour, topic)
			}
			byProduct[s.Product] = append(byProduct[s.Product], byTopic[topic]...)
		}
	}

	for product, recs := range byProduct {
		for _, r := range recs {
			if len(r.Key) == 0 || !json.Valid(r.Value) {
				t.Fatalf("%s: record without a key or with invalid JSON: key %q, value %q", product, r.Key, r.Value)
			}
		}
	}

	// Healthy timing: event time (placed_at, Unix ms) is the produce time;
	// a few orders break a rule on purpose (OrderWithInvalid), never the key.
	for _, r := range byProduct[OrdersPlaced] {
		var v struct {
			OrderID    string  `json:"order_id"`
			CustomerID *string `json:"customer_id"`
			OrderTotal float64 `json:"order_total"`
			Currency   string  `json:"currency"`
			PlacedAt   int64   `json:"placed_at"`
		}
		mustUnmarshal(t, r, &v)
		if v.OrderID != string(r.Key) || v.OrderTotal == 0 || len(v.Currency) != 3 {
			t.Fatalf("orders: incomplete payload %s", r.Value)
		}
		if d := r.Timestamp.Sub(time.UnixMilli(v.PlacedAt)); d < 0 || d > 10*time.Millisecond {
			t.Fatalf("orders: placed_at is %v before the record timestamp, want ~0", d)
		}
	}

	// Late: the x-event-time header (RFC 3339) is 2–5 s before the record
	// was produced.
	for _, r := range byProduct[TransactionsSettled] {
		h := header(r, "x-event-time")
		at, err := time.Parse(time.RFC3339, h)
		if err != nil {
			t.Fatalf("payments: x-event-time %q: %v", h, err)
		}
		if d := r.Timestamp.Sub(at); d < 1800*time.Millisecond || d > 5200*time.Millisecond {
			t.Fatalf("payments: event time %v before produce time, want 2-5s (±0.2s)", d)
		}
	}

	// Flapping: event.ts (Unix ms) is the produce time, and the product
	// fell silent.
	var parcelTimes []time.Time
	for _, r := range byProduct[ParcelsScanned] {
		var v struct {
			Event struct {
				TS int64 `json:"ts"`
			} `json:"event"`
			ParcelID string `json:"parcel_id"`
		}
		mustUnmarshal(t, r, &v)
		if v.ParcelID != string(r.Key) {
			t.Fatalf("parcels: key %q, parcel_id %q", r.Key, v.ParcelID)
		}
		if d := r.Timestamp.Sub(time.UnixMilli(v.Event.TS)); d < 0 || d > 10*time.Millisecond {
			t.Fatalf("parcels: event.ts is %v before the record timestamp, want ~0", d)
		}
		parcelTimes = append(parcelTimes, r.Timestamp)
	}
	if gap := maxGap(parcelTimes); gap < flapSilence-100*time.Millisecond {
		t.Errorf("flapping: longest silence %v, want about %v", gap, flapSilence)
	}
	if gap := maxGap(timestamps(byProduct[OrdersPlaced])); gap > flapSilence/2 {
		t.Errorf("healthy: longest silence %v, want steady traffic", gap)
	}

	// Rates: steady ~50/s; bursty ~5/s plus two bursts of ~600.
	secs := runFor.Seconds()
	if n := len(byProduct[OrdersPlaced]); n < int(0.6*steadyRate*secs) || n > int(1.5*steadyRate*secs) {
		t.Errorf("healthy: %d records in %v, want about %v", n, runFor, steadyRate*secs)
	}
	wantBurst := 2 * burstRate * burstFor.Seconds()
	if n := len(byProduct[CartsUpdated]); n < int(0.6*wantBurst) {
		t.Errorf("bursty: %d records in %v, want about %v", n, runFor, wantBurst)
	}

	// Nothing of a payload reached the log.
	out := logs.String()
	if !strings.Contains(out, "demo producer stopped") {
		t.Errorf("log lacks the stop summary:\n%s", out)
	}
	for _, r := range byProduct[OrdersPlaced] {
		if strings.Contains(out, string(r.Key)) {
			t.Fatalf("log contains order ID %s:\n%s", r.Key, out)
		}
	}
}

// TestProducersLogErrorsWithoutPayload fails every produce of one product
// and checks that the failure is logged once, counted, and leaks nothing of
// the payload.
func TestProducersLogErrorsWithoutPayload(t *testing.T) {
	c := kafkatest.New(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	p, err := NewProducers(c.Addrs(), logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	fault := c.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Produce},
		Topic: TransactionsSettled,
		Err:   kerr.InvalidRecord,
		Count: -1,
	})
	defer fault.Remove()

	if err := runProducers(t, p, time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}

	out := logs.String()
	if n := strings.Count(out, "demo produce failed"); n != 1 {
		t.Errorf("logged %d produce failures, want 1 (at most one per %v):\n%s", n, errorLogInterval, out)
	}
	if !strings.Contains(out, "product="+TransactionsSettled) || !strings.Contains(out, "INVALID_RECORD") {
		t.Errorf("failure log lacks the product or the error:\n%s", out)
	}
	for _, leak := range []string{"txn-", "ord-", "settled_at", "x-event-time", `{"`} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains payload fragment %q:\n%s", leak, out)
		}
	}
	var failed int64
	for _, g := range p.gens {
		if g.Product == TransactionsSettled {
			failed = g.failed.Load()
		} else if g.failed.Load() != 0 {
			t.Errorf("%s: %d failures, want 0", g.Product, g.failed.Load())
		}
	}
	if failed < 10 {
		t.Errorf("%s: %d failures counted, want every record of ~1s", TransactionsSettled, failed)
	}
}

func TestRate(t *testing.T) {
	o := options{flapEvery: 3 * time.Minute, flapSilence: time.Minute, burstEvery: 30 * time.Second, burstFor: 3 * time.Second}
	tests := []struct {
		name      string
		behaviour string
		elapsed   time.Duration
		want      float64
	}{
		{"healthy", Healthy, time.Hour, steadyRate},
		{"late", Late, 0, steadyRate},
		{"flapping starts healthy", Flapping, 0, steadyRate},
		{"flapping before silence", Flapping, 2*time.Minute - time.Millisecond, steadyRate},
		{"flapping silent", Flapping, 2 * time.Minute, 0},
		{"flapping silent end", Flapping, 3*time.Minute - time.Millisecond, 0},
		{"flapping next period", Flapping, 3 * time.Minute, steadyRate},
		{"bursty quiet", Bursty, 0, quietRate},
		{"bursty burst", Bursty, 27 * time.Second, burstRate},
		{"bursty second burst", Bursty, 59 * time.Second, burstRate},
		{"bursty quiet again", Bursty, 60 * time.Second, quietRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := o.rate(tt.behaviour, tt.elapsed); got != tt.want {
				t.Errorf("rate(%s, %v) = %v, want %v", tt.behaviour, tt.elapsed, got, tt.want)
			}
		})
	}
}

func TestNewProducersNoBrokers(t *testing.T) {
	if _, err := NewProducers(nil, nil); err == nil {
		t.Error("NewProducers without brokers succeeded")
	}
}

// consumeAll reads every record of topics from the start to the end offsets
// listed now, by direct assignment.
func consumeAll(t *testing.T, c *kafkatest.Cluster, topics []string) map[string][]*kgo.Record {
	t.Helper()
	ends, err := c.Admin(t).ListEndOffsets(t.Context(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	if err := ends.Error(); err != nil {
		t.Fatal(err)
	}
	assign := map[string]map[int32]kgo.Offset{}
	var want int64
	ends.Each(func(o kadm.ListedOffset) {
		if assign[o.Topic] == nil {
			assign[o.Topic] = map[int32]kgo.Offset{}
		}
		assign[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		want += o.Offset
	})
	cl := c.Client(t, kgo.ConsumePartitions(assign))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got := map[string][]*kgo.Record{}
	var n int64
	for n < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", n, want, ctx.Err())
		}
		if err := fs.Err0(); err != nil {
			t.Fatalf("fetch: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Topic] = append(got[r.Topic], r)
			n++
		})
	}
	return got
}

func mustUnmarshal(t *testing.T, r *kgo.Record, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Value, v); err != nil {
		t.Fatalf("%s: %v", r.Topic, err)
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func timestamps(recs []*kgo.Record) []time.Time {
	ts := make([]time.Time, len(recs))
	for i, r := range recs {
		ts[i] = r.Timestamp
	}
	return ts
}

// maxGap returns the longest time between consecutive times.
func maxGap(ts []time.Time) time.Duration {
	slices.SortFunc(ts, time.Time.Compare)
	var gap time.Duration
	for i := 1; i < len(ts); i++ {
		gap = max(gap, ts[i].Sub(ts[i-1]))
	}
	return gap
}
