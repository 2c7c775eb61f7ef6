package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
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
// 500ms and the bursty product bursts twice for 300ms. The producers run on
// a fakeClock, so these are virtual times: the test takes as long as the
// machine needs, and produces the same records however busy it is.
const (
	runFor      = 2200 * time.Millisecond
	flapEvery   = time.Second
	flapSilence = 500 * time.Millisecond
	burstEvery  = time.Second
	burstFor    = 300 * time.Millisecond

	// hang bounds each wait of these tests; it only catches a hang.
	hang = time.Minute
)

func allTopics() []string {
	var topics []string
	for _, s := range Scenarios() {
		topics = append(topics, s.Topics...)
	}
	return topics
}

// fakeClock is a virtual clock for Producers. Each producer loop's ticker
// is an unbuffered channel; advance sends the ticks that fall due, in time
// order, each to a loop ready to take it, so every loop sees every tick and
// stamps its records with the tick's time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	c    chan time.Time
	d    time.Duration
	next time.Time
}

// newFakeClock returns a clock at t0, truncated to the millisecond so that
// times survive the record timestamps' precision.
func newFakeClock(t0 time.Time) *fakeClock {
	return &fakeClock{now: t0.Truncate(time.Millisecond)}
}

// option makes the producers run on c. Their flush waits up to hang: on a
// fake clock the records of the whole run are buffered at once, and how fast
// they are delivered is not what these tests check.
func (c *fakeClock) option() Option {
	return func(o *options) {
		o.now, o.ticker, o.flushTimeout = c.Now, c.ticker, hang
	}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) ticker(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tk := &fakeTicker{c: make(chan time.Time), d: d, next: c.now.Add(d)}
	c.tickers = append(c.tickers, tk)
	return tk.c, func() {}
}

func (c *fakeClock) numTickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tickers)
}

// advance moves the clock to to, delivering every tick due up to it.
func (c *fakeClock) advance(t *testing.T, to time.Time) {
	t.Helper()
	deadline := time.NewTimer(hang)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		var due *fakeTicker
		for _, tk := range c.tickers {
			if !tk.next.After(to) && (due == nil || tk.next.Before(due.next)) {
				due = tk
			}
		}
		if due == nil {
			c.now = to
			c.mu.Unlock()
			return
		}
		at := due.next
		due.next = at.Add(due.d)
		c.now = at
		c.mu.Unlock()
		select {
		case due.c <- at:
		case <-deadline.C:
			t.Fatalf("a producer loop did not take its tick at %v", at)
		}
	}
}

// runVirtual runs p on clk for d of virtual time and returns what Run
// returned: it waits for every producer loop to start, delivers the ticks
// of d, and then ends the run.
func runVirtual(t *testing.T, p *Producers, clk *fakeClock, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	kafkatest.WaitFor(t, hang, func() bool { return clk.numTickers() == len(p.gens) }, "%d producer loops started", len(p.gens))
	clk.advance(t, clk.Now().Add(d))
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(hang):
		t.Fatal("Run did not return after its context was done")
		return nil
	}
}

func TestProducers(t *testing.T) {
	c := kafkatest.New(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := newFakeClock(time.Now())
	t0 := clk.Now()
	p, err := NewProducers(c.Addrs(), logger, WithFlapping(flapEvery, flapSilence), WithBursts(burstEvery, burstFor), clk.option())
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
		want := 3
		if topic == LedgerEntries {
			want = 1 // the governance violation the demo's policies find
		}
		if len(td.Partitions) != 3 || td.Partitions.NumReplicas() != want {
			t.Errorf("%s: %d partitions of %d replicas, want 3 of %d", topic, len(td.Partitions), td.Partitions.NumReplicas(), want)
		}
	}
	scratch, err := c.Admin(t).ListTopics(t.Context(), ScratchTopic)
	if err != nil || len(scratch[ScratchTopic].Partitions) != 3 {
		t.Errorf("%s: %+v (%v), want a topic of 3 partitions", ScratchTopic, scratch[ScratchTopic], err)
	}

	if err := runVirtual(t, p, clk, runFor); err != nil {
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

	// Every record was delivered and counted, and is stamped with a tick
	// of the run.
	for _, g := range p.gens {
		if n := int64(len(byProduct[g.Product])); g.produced.Load() != n || g.failed.Load() != 0 {
			t.Errorf("%s: counted %d produced and %d failed; %d records on its topics", g.Product, g.produced.Load(), g.failed.Load(), n)
		}
	}
	for product, recs := range byProduct {
		for _, r := range recs {
			if len(r.Key) == 0 || !json.Valid(r.Value) {
				t.Fatalf("%s: record without a key or with invalid JSON: key %q, value %q", product, r.Key, r.Value)
			}
			if at := r.Timestamp.Sub(t0); at <= 0 || at > runFor || at%tickInterval != 0 {
				t.Fatalf("%s: record timestamp t0%+v, want a tick of the run (every %v up to %v)", product, at, tickInterval, runFor)
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
		if v.PlacedAt != r.Timestamp.UnixMilli() {
			t.Fatalf("orders: placed_at %d, record timestamp %d; want the same", v.PlacedAt, r.Timestamp.UnixMilli())
		}
	}

	// Late: the x-event-time header (RFC 3339), and settled_at, are 2–5 s
	// before the record was produced, spread over that range.
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for _, r := range byProduct[TransactionsSettled] {
		h := header(r, "x-event-time")
		at, err := time.Parse(time.RFC3339, h)
		if err != nil {
			t.Fatalf("payments: x-event-time %q: %v", h, err)
		}
		var v struct {
			SettledAt string `json:"settled_at"`
		}
		mustUnmarshal(t, r, &v)
		if v.SettledAt != h {
			t.Fatalf("payments: settled_at %q, x-event-time %q; want the same", v.SettledAt, h)
		}
		// Both times are whole milliseconds: the delay, drawn from
		// [2s, 5s), is truncated down to one.
		d := r.Timestamp.Sub(at)
		if d < 2*time.Second || d > 5*time.Second {
			t.Fatalf("payments: event time %v before produce time, want 2-5s", d)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if hi-lo < time.Second {
		t.Errorf("payments: event times %v to %v before produce time, want spread over 2-5s", lo, hi)
	}

	// Flapping: event.ts (Unix ms) is the produce time, and the product
	// fell silent for flapSilence once every flapEvery.
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
		if v.Event.TS != r.Timestamp.UnixMilli() {
			t.Fatalf("parcels: event.ts %d, record timestamp %d; want the same", v.Event.TS, r.Timestamp.UnixMilli())
		}
		parcelTimes = append(parcelTimes, r.Timestamp)
	}
	// Steady traffic has a record at least every 1/steadyRate, give or
	// take a tick; a silence ends with the first tick after it.
	steadyGap := time.Duration(float64(time.Second)/steadyRate) + tickInterval
	silences := gaps(parcelTimes, steadyGap)
	if want := int(runFor / flapEvery); len(silences) != want {
		t.Errorf("flapping: silences %v, want %d", silences, want)
	}
	for _, g := range silences {
		if g < flapSilence || g > flapSilence+tickInterval {
			t.Errorf("flapping: silent for %v, want %v (up to one tick of %v more)", g, flapSilence, tickInterval)
		}
	}
	for _, product := range []string{OrdersPlaced, TransactionsSettled} {
		if g := gaps(timestamps(byProduct[product]), steadyGap); len(g) > 0 {
			t.Errorf("%s: silences %v, want steady traffic (gaps up to %v)", product, g, steadyGap)
		}
	}

	// Rates: steady 50/s, except for the flapping product's silences; the
	// bursty product 5/s plus two bursts of 2000/s for burstFor. Each
	// count may be off by the fractions of records owed at the edges.
	var inBurst, quiet int
	for _, r := range byProduct[CartsUpdated] {
		if r.Timestamp.Sub(t0)%burstEvery >= burstEvery-burstFor {
			inBurst++
		} else {
			quiet++
		}
	}
	burstTime := (runFor / burstEvery) * burstFor // whole bursts only
	for _, c := range []struct {
		what string
		n    int
		want float64
	}{
		{"healthy", len(byProduct[OrdersPlaced]), steadyRate * runFor.Seconds()},
		{"late", len(byProduct[TransactionsSettled]), steadyRate * runFor.Seconds()},
		{"flapping", len(parcelTimes), steadyRate * (runFor - time.Duration(len(silences))*flapSilence).Seconds()},
		{"bursty in bursts", inBurst, burstRate * burstTime.Seconds()},
		{"bursty between bursts", quiet, quietRate * (runFor - burstTime).Seconds()},
	} {
		if math.Abs(float64(c.n)-c.want) > 2 {
			t.Errorf("%s: %d records in %v, want %v", c.what, c.n, runFor, c.want)
		}
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
	clk := newFakeClock(time.Now())
	p, err := NewProducers(c.Addrs(), logger, clk.option())
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

	// A second of virtual time: every failure is within errorLogInterval
	// of the first.
	const d = time.Second
	if err := runVirtual(t, p, clk, d); err != nil {
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
	for _, g := range p.gens {
		switch {
		case g.Product != TransactionsSettled && g.failed.Load() != 0:
			t.Errorf("%s: %d failures, want 0", g.Product, g.failed.Load())
		case g.Product == TransactionsSettled:
			if want := steadyRate * d.Seconds(); g.produced.Load() != 0 || math.Abs(float64(g.failed.Load())-want) > 2 {
				t.Errorf("%s: %d produced, %d failures counted; want every record of %v (%v) failed", g.Product, g.produced.Load(), g.failed.Load(), d, want)
			}
		}
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
	ctx, cancel := context.WithTimeout(t.Context(), hang)
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

// gaps returns the times between consecutive times, sorted, that are
// longer than over.
func gaps(ts []time.Time, over time.Duration) []time.Duration {
	slices.SortFunc(ts, time.Time.Compare)
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		if g := ts[i].Sub(ts[i-1]); g > over {
			out = append(out, g)
		}
	}
	return out
}
