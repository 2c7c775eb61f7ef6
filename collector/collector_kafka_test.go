package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// sink records the SLI events the collector hands over.
type sink struct {
	mu     sync.Mutex
	events []meshwatch.SLIEvents
}

func (s *sink) ObserveSLI(ev []meshwatch.SLIEvents) {
	s.mu.Lock()
	s.events = append(s.events, ev...)
	s.mu.Unlock()
}

// since returns the events of slo after the first n events, and the new n.
func (s *sink) since(n int, slo string) ([]meshwatch.SLIEvents, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []meshwatch.SLIEvents
	for _, e := range s.events[n:] {
		if e.SLO == slo {
			out = append(out, e)
		}
	}
	return out, len(s.events)
}

// hangGuard bounds every wait for something that must happen eventually:
// long enough that only a hang reaches it, however busy the machine.
const hangGuard = time.Minute

// lazy prints as what it returns, for WaitFor messages that must show the
// state at the deadline rather than at the call.
type lazy func() any

func (f lazy) String() string { return fmt.Sprint(f()) }

// stopClock is a collector clock that follows time.Now until stopped, then
// shows the instant it was stopped at until started again, so that what the
// collector measures meanwhile does not depend on how long records took to
// reach it. While it is stopped, a partition held back after a fetch error is
// not released: tests stop it only to measure records on a healthy cluster.
type stopClock struct {
	mu sync.Mutex
	at time.Time // zero while running
}

func (c *stopClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now()
	}
	return c.at
}

// Stop stops the clock and returns the instant it shows.
func (c *stopClock) Stop() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = time.Now()
	return c.at
}

// Start lets the clock follow time.Now again.
func (c *stopClock) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = time.Time{}
}

type harness struct {
	c    *Collector
	reg  *prometheus.Registry
	sink *sink
	kc   *kafkatest.Cluster
}

// testCfg is the model of a test and its collector: section.
type testCfg struct {
	*meshwatch.Config
	Collector Config
}

func testConfig(kc *kafkatest.Cluster, products ...meshwatch.Product) *testCfg {
	return &testCfg{
		Config: &meshwatch.Config{
			Naming:   "off",
			Products: products,
			Owners:   map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders"}},
		},
		Collector: Config{Tick: meshwatch.Duration(200 * time.Millisecond), Discovery: meshwatch.Duration(500 * time.Millisecond)},
	}
}

func product(name string, topics ...meshwatch.TopicSelector) meshwatch.Product {
	return meshwatch.Product{
		Name: name, Domain: strings.Split(name, ".")[0], Owner: "orders-team", Tier: 1,
		Topics: topics,
		SLOs: []meshwatch.SLO{
			{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.99},
			{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Second), Objective: 0.99},
			{Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.999},
		},
	}
}

func named(ts ...string) []meshwatch.TopicSelector {
	var out []meshwatch.TopicSelector
	for _, t := range ts {
		out = append(out, meshwatch.TopicSelector{Name: t})
	}
	return out
}

// tlog writes log lines to the test's log.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) { l.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

// validate applies defaults and validates cfg. Tests tick faster than a
// config may (collector.tick ≥ 1s), so the test timings are set after.
func validate(t *testing.T, cfg *testCfg) {
	t.Helper()
	tick, disc := cfg.Collector.Tick, cfg.Collector.Discovery
	cfg.Collector.Tick, cfg.Collector.Discovery = meshwatch.Duration(time.Second), meshwatch.Duration(time.Second)
	cfg.Collector.SetDefaults()
	cfg.SetDefaultsWith(cfg.Collector.ProductDefaults())
	if errs := append(cfg.Validate(), cfg.Collector.Validate()...).Errors(); len(errs) > 0 {
		t.Fatalf("test config invalid:\n%v", errs)
	}
	cfg.Collector.Tick, cfg.Collector.Discovery = tick, disc
}

// start validates cfg, runs a collector on it until the test ends, and
// waits until its topics are resolved.
func start(t *testing.T, kc *kafkatest.Cluster, cfg *testCfg, opts ...func(*Options)) *harness {
	t.Helper()
	validate(t, cfg)
	h := &harness{reg: prometheus.NewPedanticRegistry(), sink: &sink{}, kc: kc}
	log := slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := Options{Metrics: NewMetrics(h.reg), Sink: h.sink, Logger: log}
	for _, f := range opts {
		f(&o)
	}
	c, err := New(cfg.Config, cfg.Collector, []kgo.Opt{kgo.SeedBrokers(kc.Addrs()...)}, o)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(hangGuard):
			t.Errorf("collector did not stop within %v of cancel", hangGuard)
		}
	})
	kafkatest.WaitFor(t, hangGuard, c.Ready, "collector never resolved its topics")
	return h
}

// waitSampling waits until the product samples, producing marker records
// (mk's, or plain ones with mk nil) until one is measured. It returns how many
// markers it produced; the last ones may still be in flight.
func (h *harness) waitSampling(t *testing.T, product, topic string, mk func(now time.Time) *kgo.Record) int {
	t.Helper()
	ps := h.c.byName[product]
	before := float64(ps.sampledTotal())
	sent := 0
	kafkatest.WaitFor(t, hangGuard, func() bool {
		r := &kgo.Record{Timestamp: time.Now()}
		if mk != nil {
			r = mk(time.Now())
		}
		h.produce(t, topic, r.Timestamp, r.Value, r.Headers...)
		sent++
		return float64(ps.sampledTotal()) > before
	}, "product %s never sampled a record of %s", product, topic)
	return sent
}

func (h *harness) produce(t *testing.T, topic string, ts time.Time, value []byte, headers ...kgo.RecordHeader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := h.kc.Produce(ctx, &kgo.Record{Topic: topic, Timestamp: ts, Value: value, Headers: headers}); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestLatencyP50 measures records whose event time, read from each place
// it can be, is 2 s before the collector's clock, stopped meanwhile: p50 is
// 2 s within the histogram's precision, however long the records took to
// arrive.
func TestLatencyP50(t *testing.T) {
	const (
		lag = 2 * time.Second
		// Two significant digits keep a value within 1 %; event times in
		// seconds with three decimals are rounded to the millisecond.
		precision = lag/100 + time.Millisecond
	)
	for _, tc := range []struct {
		name string
		et   meshwatch.EventTime
		// rec builds a record whose event time is evt.
		rec func(evt time.Time) (ts time.Time, value []byte, headers []kgo.RecordHeader)
	}{
		{"record timestamp", meshwatch.EventTime{}, func(evt time.Time) (time.Time, []byte, []kgo.RecordHeader) {
			return evt, []byte(`{}`), nil
		}},
		{"header rfc3339", meshwatch.EventTime{Header: "x-event-time"}, func(evt time.Time) (time.Time, []byte, []kgo.RecordHeader) {
			return time.Now(), []byte(`{}`), []kgo.RecordHeader{{Key: "x-event-time", Value: []byte(evt.UTC().Format(time.RFC3339Nano))}}
		}},
		{"json field seconds", meshwatch.EventTime{Field: "placed_at", Format: meshwatch.TimeFormatUnixS}, func(evt time.Time) (time.Time, []byte, []kgo.RecordHeader) {
			return time.Now(), fmt.Appendf(nil, `{"order_id":"o-1","placed_at":%.3f}`, float64(evt.UnixNano())/1e9), nil
		}},
		{"json field rfc3339", meshwatch.EventTime{Field: "meta.placed_at"}, func(evt time.Time) (time.Time, []byte, []kgo.RecordHeader) {
			return time.Now(), fmt.Appendf(nil, `{"meta":{"placed_at":%q}}`, evt.Format(time.RFC3339Nano)), nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := kafkatest.New(t)
			kc.MustCreateTopic(t, "checkout.orders.placed", 2, 3, nil)
			p := product("checkout.orders.placed", named("checkout.orders.placed")...)
			p.EventTime = tc.et
			if tc.et.Field != "" {
				p.Format = meshwatch.FormatJSON
			}
			clk := &stopClock{}
			h := start(t, kc, testConfig(kc, p), func(o *Options) { o.Now = clk.Now })
			// Markers carry a valid event time (now), so they cannot show
			// as event-time errors; the few measured late barely move p50.
			h.waitSampling(t, p.Name, "checkout.orders.placed", func(now time.Time) *kgo.Record {
				ts, v, hs := tc.rec(now)
				return &kgo.Record{Timestamp: ts, Value: v, Headers: hs}
			})
			// From here on every record is measured at now, however late it
			// arrives; a marker still in flight, produced before now, at a
			// latency of 0 or more.
			now := clk.Stop()
			defer clk.Start()
			// Measure only the records produced from here on.
			ps := h.c.byName[p.Name]
			ps.mu.Lock()
			ps.win = newLatencyWindow()
			ps.mu.Unlock()
			errsBefore := ps.snapshot().eventTimeErrors
			for range 40 {
				ts, v, hs := tc.rec(now.Add(-lag))
				h.produce(t, "checkout.orders.placed", ts, v, hs...)
			}
			kafkatest.WaitFor(t, hangGuard, func() bool {
				_, n, _ := h.c.Latency(p.Name, "5m", 0.5)
				return n >= 40
			}, "the 40 records were not all measured")
			p50, _, _ := h.c.Latency(p.Name, "5m", 0.5)
			if p50 < lag-precision || p50 > lag+precision {
				t.Errorf("p50 latency %v, want %v ± %v", p50, lag, precision)
			}
			for r := ReasonOK + 1; r < numReasons; r++ {
				if n := ps.snapshot().eventTimeErrors[r]; n != errsBefore[r] {
					t.Errorf("%v event-time errors: %v, want %v (the markers')", r, n, errsBefore[r])
				}
			}
		})
	}
}

func TestFreshnessGoesBadAndRecovers(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 2, 3, nil)
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	clk := &stopClock{}
	h := start(t, kc, testConfig(kc, p), func(o *Options) { o.Now = clk.Now })
	h.waitSampling(t, p.Name, "checkout.orders.placed", nil)

	// While records flow, freshness ticks are good. The collector's clock
	// stands still meanwhile, so that a record is fresh at every tick however
	// long a busy machine takes to deliver it.
	clk.Stop()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		kc.ProduceEvery(ctx, 50*time.Millisecond, func() *kgo.Record {
			return &kgo.Record{Topic: "checkout.orders.placed", Timestamp: time.Now()}
		})
	})
	_, n := h.sink.since(0, "")
	var good int
	kafkatest.WaitFor(t, hangGuard, func() bool {
		ev, _ := h.sink.since(n, "freshness")
		good = 0
		for _, e := range ev {
			good += int(e.Good)
		}
		return good >= 3
	}, "no good freshness ticks while producing")

	// The producer stops and the clock runs: freshness passes the 1s
	// threshold and ticks turn bad.
	stop()
	wg.Wait()
	clk.Start()
	_, n = h.sink.since(0, "")
	kafkatest.WaitFor(t, hangGuard, func() bool {
		ev, _ := h.sink.since(n, "freshness")
		return len(ev) >= 2 && ev[len(ev)-1].Good == 0 && ev[len(ev)-2].Good == 0
	}, "freshness ticks never turned bad after the producer stopped")
	st, _ := h.c.Status(p.Name)
	if st.Freshness <= time.Second {
		t.Errorf("freshness %v after the producer stopped, want > 1s", st.Freshness)
	}
	if g, _ := seriesValue(t, h.reg, p.Name, "meshwatch_freshness_seconds"); g <= 1 {
		t.Errorf("meshwatch_freshness_seconds = %v, want > 1", g)
	}

	// It resumes: good again, the clock standing still as before.
	clk.Stop()
	defer clk.Start()
	h.produce(t, "checkout.orders.placed", time.Now(), nil)
	_, n = h.sink.since(0, "")
	kafkatest.WaitFor(t, hangGuard, func() bool {
		h.produce(t, "checkout.orders.placed", time.Now(), nil)
		ev, _ := h.sink.since(n, "freshness")
		return len(ev) > 0 && ev[len(ev)-1].Good == 1
	}, "freshness never recovered")
}

func TestFreshnessProbeFindsUnsampledRecords(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 3, nil)
	// Records produced before the agent starts are never sampled (it reads
	// from the tail), but the probe reads the last one for freshness.
	evt := time.Now().Add(-30 * time.Minute).Truncate(time.Millisecond)
	ctx := context.Background()
	for i := range 3 {
		if err := kc.Produce(ctx, &kgo.Record{Topic: "checkout.orders.placed", Timestamp: evt.Add(time.Duration(i-2) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	cfg := testConfig(kc, p)
	// The test ticks, with an interval that bounds the tick's requests and
	// its probe only against a hang: each end offset is probed once, so a
	// probe cut short by a busy machine would leave the product silent.
	cfg.Collector.Tick = meshwatch.Duration(time.Hour)
	h := start(t, kc, cfg, func(o *Options) { o.ProbeTimeout = hangGuard })
	h.c.tick(context.Background(), hangGuard)
	st, _ := h.c.Status(p.Name)
	if st.Silent {
		t.Fatalf("the probe did not find the newest record: %+v", st)
	}
	if !st.Newest.Equal(evt) {
		t.Errorf("newest event %v, want the last record's %v", st.Newest, evt)
	}
	if got := float64(h.c.byName[p.Name].sampledTotal()); got != 0 {
		t.Errorf("sampled %v records that were produced before the agent started", got)
	}
}

func TestAvailabilityFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		inject  func(kc *kafkatest.Cluster) (remove func())
		problem string
	}{
		{"fetch errors", func(kc *kafkatest.Cluster) func() { return kc.FailFetches("checkout.orders.placed") }, ProblemFetchErrors},
		{"leaderless partition", func(kc *kafkatest.Cluster) func() { return kc.Leaderless("checkout.orders.placed", 1) }, ProblemNoLeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := kafkatest.New(t)
			kc.MustCreateTopic(t, "checkout.orders.placed", 2, 3, nil)
			p := product("checkout.orders.placed", named("checkout.orders.placed")...)
			h := start(t, kc, testConfig(kc, p))
			h.waitSampling(t, p.Name, "checkout.orders.placed", nil)
			lastAvail := func(n int) (meshwatch.SLIEvents, bool) {
				ev, _ := h.sink.since(n, "availability")
				if len(ev) == 0 {
					return meshwatch.SLIEvents{}, false
				}
				return ev[len(ev)-1], true
			}
			kafkatest.WaitFor(t, hangGuard, func() bool {
				e, ok := lastAvail(0)
				st, _ := h.c.Status(p.Name)
				return ok && e.Good == 1 && st.Available
			}, "never available before the fault")
			// An available product exports no problem series, not one
			// per reason at 0.
			if s := familySeries(t, h.reg, p.Name, "meshwatch_availability_problem"); len(s) > 0 {
				t.Errorf("problem series while available: %v", s)
			}

			remove := tc.inject(kc)
			_, n := h.sink.since(0, "")
			// The fault may first show as another problem (a fetch error
			// from the old leader before metadata says it has none); wait
			// for the tick that names it.
			var st Status
			kafkatest.WaitFor(t, hangGuard, func() bool {
				e, ok := lastAvail(n)
				st, _ = h.c.Status(p.Name)
				return ok && e.Good == 0 && e.Valid == 1 && slices.Contains(st.Problems, tc.problem)
			}, "availability ticks never turned bad for %s under the fault (last problems %v)", tc.problem, lazy(func() any { return st.Problems }))
			// The series come from the tick whose problems Status shows, or
			// a later one under the same fault.
			key := `meshwatch_availability_problem{reason="` + tc.problem + `"}`
			if g, ok := seriesValue(t, h.reg, p.Name, key); g != 1 {
				t.Errorf("%s = %v (exists: %v), want 1", key, g, ok)
			}

			remove()
			_, n = h.sink.since(0, "")
			kafkatest.WaitFor(t, hangGuard, func() bool {
				e, ok := lastAvail(n)
				return ok && e.Good == 1
			}, "availability never recovered after the fault was lifted")
			// The cleared reason is gone, not left at 0: the series and
			// Status read the same tick's problems.
			var left []string
			kafkatest.WaitFor(t, hangGuard, func() bool {
				st, _ := h.c.Status(p.Name)
				left = familySeries(t, h.reg, p.Name, "meshwatch_availability_problem")
				return st.Available && len(left) == 0
			}, "problem series stayed after the product recovered: %v", lazy(func() any { return left }))
			// And it still samples.
			h.waitSampling(t, p.Name, "checkout.orders.placed", nil)
		})
	}
}

func TestTopicDiscovery(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "logistics.parcels.a", 2, 3, nil)
	p := product("logistics.parcels.scanned", meshwatch.TopicSelector{Pattern: `^logistics\.parcels\..*$`})
	h := start(t, kc, testConfig(kc, p))
	h.waitSampling(t, p.Name, "logistics.parcels.a", nil)

	// A topic created later that matches is picked up.
	kc.MustCreateTopic(t, "logistics.parcels.b", 3, 3, nil)
	kafkatest.WaitFor(t, hangGuard, func() bool {
		st, _ := h.c.Status(p.Name)
		return len(st.Topics) == 2 && st.Partitions == 5
	}, "new topic was not picked up")
	h.waitSampling(t, p.Name, "logistics.parcels.b", nil)

	// A deleted topic is dropped quietly: a few fetch errors at most, then none.
	_, deleted := h.sink.since(0, "")
	ctx := context.Background()
	if err := kc.DeleteTopic(ctx, "logistics.parcels.a"); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, hangGuard, func() bool {
		st, _ := h.c.Status(p.Name)
		return len(st.Topics) == 1 && st.Topics[0] == "logistics.parcels.b"
	}, "deleted topic was not dropped")
	// meshwatch_fetch_errors_total, 0 while it has no series.
	errs := func() float64 {
		v, _ := seriesValue(t, h.reg, p.Name, "meshwatch_fetch_errors_total")
		return v
	}
	// A poll that began before the topic was dropped may still count its
	// errors; the one that measures a record produced after has the new
	// routes, and every poll before it is done.
	h.waitSampling(t, p.Name, "logistics.parcels.b", nil)
	settled := errs()
	// Wait several ticks and discovery passes: no new errors may appear.
	kafkatest.WaitFor(t, hangGuard, func() bool {
		ev, _ := h.sink.since(deleted, "availability")
		return len(ev) >= 5
	}, "ticks stopped")
	if after := errs(); after != settled || settled > 20 {
		t.Errorf("fetch errors went from %v to %v after the topic was dropped; want a handful, then none", settled, after)
	}
	// Deleting a topic is not an outage of the product: no tick is bad.
	ev, _ := h.sink.since(deleted, "availability")
	for _, e := range ev {
		if e.Good != 1 {
			t.Errorf("an availability tick after the deletion is bad: %+v", e)
		}
	}
}

func TestReadOnly(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 3, 3, nil)
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	h := start(t, kc, testConfig(kc, p))
	markers := h.waitSampling(t, p.Name, "checkout.orders.placed", nil)
	produced := 0
	for range 50 {
		h.produce(t, "checkout.orders.placed", time.Now(), []byte(`{}`))
	}
	kafkatest.WaitFor(t, hangGuard, func() bool { return float64(h.c.byName[p.Name].sampledTotal()) >= 50 }, "records not sampled")

	adm := kc.Admin(t)
	ctx := context.Background()
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := groups.Groups(); len(names) != 0 {
		t.Errorf("the agent left consumer groups behind: %v", names)
	}
	ends, err := adm.ListEndOffsets(ctx, "checkout.orders.placed")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) { produced += int(o.Offset) })
	if produced != 50+markers {
		t.Errorf("topic holds %d records; the test wrote %d", produced, 50+markers)
	}
}

func TestKcatInterop(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed; .ci/run must install the Debian package kcat")
		}
		t.Skip("kcat not installed (apt-get install kcat)")
	}
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 3, nil)
	kc.MustCreateTopic(t, "checkout.carts.updated", 1, 3, nil)
	field := product("checkout.orders.placed", named("checkout.orders.placed")...)
	field.Format = meshwatch.FormatJSON
	field.EventTime = meshwatch.EventTime{Field: "placed_at"}
	stamp := product("checkout.carts.updated", named("checkout.carts.updated")...)
	clk := &stopClock{}
	h := start(t, kc, testConfig(kc, field, stamp), func(o *Options) { o.Now = clk.Now })
	h.waitSampling(t, field.Name, "checkout.orders.placed", nil)
	h.waitSampling(t, stamp.Name, "checkout.carts.updated", nil)
	for _, name := range []string{field.Name, stamp.Name} {
		ps := h.c.byName[name]
		ps.mu.Lock()
		ps.win = newLatencyWindow()
		ps.mu.Unlock()
	}

	run := func(topic, input string) {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", strings.Join(kc.Addrs(), ","), "-t", topic, "-X", "broker.address.family=v4")
		cmd.Stdin = strings.NewReader(input)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat: %v\n%s", err, out)
		}
	}
	measured := func(name string) {
		kafkatest.WaitFor(t, hangGuard, func() bool {
			_, n, _ := h.c.Latency(name, "5m", 0.5)
			return n >= 20
		}, "%s: kcat's records were not measured", name)
	}
	// Two significant digits keep a value within 1 %; a latency is counted
	// in whole milliseconds, a CreateTime too.
	precision := func(d time.Duration) time.Duration { return d/100 + 2*time.Millisecond }

	// Event time in a JSON field, 2 s before the collector's clock, which
	// stays there until kcat's records are measured.
	const lag = 2 * time.Second
	now := clk.Stop()
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, `{"order_id":"o-%d","placed_at":%q}`+"\n", i, now.Add(-lag).UTC().Format(time.RFC3339Nano))
	}
	run("checkout.orders.placed", b.String())
	measured(field.Name)
	clk.Start()
	if p50, _, _ := h.c.Latency(field.Name, "5m", 0.5); p50 < lag-precision(lag) || p50 > lag+precision(lag) {
		t.Errorf("p50 of kcat records with an event time 2s before the collector's clock = %v, want %v ± %v", p50, lag, precision(lag))
	}

	// Record timestamps set by librdkafka (CreateTime) as kcat produces:
	// each is measured after it, and before the test sees it measured.
	began := time.Now()
	run("checkout.carts.updated", strings.Repeat(`{"cart":"c-1"}`+"\n", 20))
	measured(stamp.Name)
	within := time.Since(began)
	if p50, _, _ := h.c.Latency(stamp.Name, "5m", 0.5); p50 > within+precision(within) {
		t.Errorf("p50 of kcat records by CreateTime = %v, want at most the %v from kcat's start until they were seen measured", p50, within)
	}
}

func TestRunStopsEverything(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 2, 3, nil)
	ignore := goleak.IgnoreCurrent()
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	cfg := testConfig(kc, p)
	validate(t, cfg)
	c, err := New(cfg.Config, cfg.Collector, []kgo.Opt{kgo.SeedBrokers(kc.Addrs()...)}, Options{Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	kafkatest.WaitFor(t, hangGuard, c.Ready, "never ready")
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(hangGuard):
		t.Fatalf("Run did not return within %v of cancel", hangGuard)
	}
	// goleak.VerifyNone looks for half a second; the goroutines of closed
	// connections may take longer to end on a busy machine. Only one that
	// never ends is a leak.
	var leak error
	kafkatest.WaitFor(t, hangGuard, func() bool {
		leak = goleak.Find(ignore)
		return leak == nil
	}, "goroutines left running after Run returned: %v", lazy(func() any { return leak }))
}

func TestLeaderMoveIsNotAnOutage(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 2, 3, nil)
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	h := start(t, kc, testConfig(kc, p))
	h.waitSampling(t, p.Name, "checkout.orders.placed", nil)
	_, n := h.sink.since(0, "")
	// One NOT_LEADER answer, as every leader election gives a consumer. The
	// freshness probe's client may take it instead of the sampling client;
	// then inject again, two ticks later, until sampling has seen one.
	// meshwatch_fetch_errors_total, 0 while it has no series.
	errs := func() float64 {
		v, _ := seriesValue(t, h.reg, p.Name, "meshwatch_fetch_errors_total")
		return v
	}
	var hits *kfake.FaultHandle
	injectedAt := 0
	kafkatest.WaitFor(t, hangGuard, func() bool {
		if errs() > 0 {
			return true
		}
		_, ticks := h.sink.since(0, "")
		if hits == nil || (hits.Hits() > 0 && ticks-injectedAt >= 2*3) { // 3 SLOs a tick
			hits = kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "checkout.orders.placed", Err: kerr.NotLeaderForPartition, Count: 1})
			injectedAt = ticks
		}
		return false
	}, "the sampling client never saw the injected NOT_LEADER")
	_, seen := h.sink.since(0, "")
	kafkatest.WaitFor(t, hangGuard, func() bool {
		ev, _ := h.sink.since(seen, "availability")
		return len(ev) >= 4
	}, "ticks stopped")
	// One faulted Fetch request carries both partitions.
	if got := errs(); got < 1 || got > 2 {
		t.Errorf("fetch errors = %v, want the injected request's (one per partition, ≤ 2)", got)
	}
	ev, _ := h.sink.since(n, "availability")
	for _, e := range ev {
		if e.Good != 1 {
			t.Errorf("a leader move spent availability budget: %+v", e)
		}
	}
}

func TestProbeSkipsEmptiedPartitions(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 3, nil)
	ctx := context.Background()
	for range 3 {
		if err := kc.Produce(ctx, &kgo.Record{Topic: "checkout.orders.placed", Timestamp: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	// Every record is deleted: the log start reaches the end, nothing is
	// left to probe.
	adm := kc.Admin(t)
	os := kadm.Offsets{}
	os.AddOffset("checkout.orders.placed", 0, 3, -1)
	if _, err := adm.DeleteRecords(ctx, os); err != nil {
		t.Fatal(err)
	}
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	h := start(t, kc, testConfig(kc, p))
	_, n := h.sink.since(0, "")
	kafkatest.WaitFor(t, hangGuard, func() bool {
		ev, _ := h.sink.since(n, "freshness")
		return len(ev) >= 5
	}, "ticks stopped (a probe waiting out its timeout on every tick?)")
	if got := testutil.ToFloat64(h.c.m.probes.WithLabelValues("timeout")); got != 0 {
		t.Errorf("%v probes timed out on a partition with nothing to read", got)
	}
	st, _ := h.c.Status(p.Name)
	if !st.Silent {
		t.Errorf("product with no readable record is not silent: %+v", st)
	}
	// Silent is never perfect: its freshness ticks are bad.
	ev, _ := h.sink.since(n, "freshness")
	for _, e := range ev {
		if e.Good != 0 {
			t.Errorf("a silent product had a good freshness tick: %+v", e)
		}
	}
}
