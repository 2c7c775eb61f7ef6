package lag

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

const testInterval = 100 * time.Millisecond

// hang bounds every wait of these tests for something the monitor does on
// its own timers. It only catches a hang: a busy machine may take many times
// longer than an idle one to run the passes a wait needs.
const hang = time.Minute

// sink records the SLI events the monitor hands over.
type sink struct {
	mu     sync.Mutex
	events [][]meshwatch.SLIEvents
}

func (s *sink) ObserveSLI(ev []meshwatch.SLIEvents) {
	s.mu.Lock()
	s.events = append(s.events, slices.Clone(ev))
	s.mu.Unlock()
}

func (s *sink) last() []meshwatch.SLIEvents {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return nil
	}
	return s.events[len(s.events)-1]
}

// clock is a settable clock for exact time-lag tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// tlog writes log lines to the test's log.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) { l.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

func testProduct(name string, topics ...string) meshwatch.Product {
	p := meshwatch.Product{Name: name, Domain: strings.Split(name, ".")[0], Owner: "orders-team", Tier: 1}
	for _, t := range topics {
		p.Topics = append(p.Topics, meshwatch.TopicSelector{Name: t})
	}
	return p
}

// testConfig validates a config of products on kc and then sets the test
// timings, faster than a config may be.
func testConfig(t *testing.T, kc *kafkatest.Cluster, products ...meshwatch.Product) *testCfg {
	t.Helper()
	cfg := &testCfg{Config: &meshwatch.Config{
		Naming:   "off",
		Cluster:  meshwatch.Cluster{Name: "test"},
		Products: products,
		Owners:   map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders"}},
	}}
	cfg.SetDefaults()
	cfg.Lag.SetDefaults(meshwatch.Duration(10 * time.Second))
	if errs := cfg.Validate().Errors(); len(errs) > 0 {
		t.Fatalf("test config invalid:\n%v", errs)
	}
	cfg.Lag.Interval = meshwatch.Duration(testInterval)
	cfg.Lag.Passes = 2
	return cfg
}

// testCfg is the model of a test, its lag: section and the granularity of
// its lag metrics ("": the default).
type testCfg struct {
	*meshwatch.Config
	Lag         Config
	Granularity Granularity
}

// metricsOptions are the options of the test's metrics.
func (c *testCfg) metricsOptions() MetricsOptions {
	return MetricsOptions{KafkaLagExporter: c.Lag.LagExporterMetrics(), Granularity: c.Granularity}
}

type harness struct {
	m    *Monitor
	reg  *prometheus.Registry
	sink *sink
}

// start runs a monitor of cfg until the test ends and waits for its first
// pass.
func start(t *testing.T, kc *kafkatest.Cluster, cfg *testCfg, o Options) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewPedanticRegistry(), sink: &sink{}}
	o.Metrics = NewMetrics(h.reg, cfg.metricsOptions())
	o.Sink = h.sink
	o.Logger = slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.StuckAfter == 0 {
		o.StuckAfter = 300 * time.Millisecond
	}
	h.m = New(cfg.Config, cfg.Lag, kc.Client(t), o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(hang):
			t.Errorf("monitor did not stop within %v of cancel", hang)
		}
	})
	h.waitPasses(t, 1)
	return h
}

// manual returns a monitor of cfg that observes with clk (nil: its default,
// the real clock) and makes a pass only when the test calls h.pass: nothing
// runs on a timer, so what the passes see is decided by the test, not by
// when the machine runs them.
func manual(t *testing.T, kc *kafkatest.Cluster, cfg *testCfg, clk *clock) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewPedanticRegistry(), sink: &sink{}}
	var now func() time.Time
	if clk != nil {
		now = clk.Now
	}
	h.m = New(cfg.Config, cfg.Lag, kc.Client(t), Options{
		Metrics:    NewMetrics(h.reg, cfg.metricsOptions()),
		Sink:       h.sink,
		Logger:     slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        now,
		StuckAfter: time.Hour,
	})
	return h
}

// pass makes one pass at the monitor's clock time and fails the test if it
// fails. Its deadline only bounds a hang.
func (h *harness) pass(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := h.m.pass(ctx); err != nil {
		t.Fatalf("pass: %v", err)
	}
}

// waitPasses waits until n more passes have completed.
func (h *harness) waitPasses(t *testing.T, n uint64) {
	t.Helper()
	target := h.m.passes.Load() + n
	kafkatest.WaitFor(t, hang, func() bool { return h.m.passes.Load() >= target }, "%d passes", n)
}

// sampleGap returns the time between the sampled end offsets around the
// record at offset o of a partition, 0 if they do not cover it.
func (h *harness) sampleGap(topic string, p int32, o int64) time.Duration {
	h.m.passMu.Lock()
	defer h.m.passMu.Unlock()
	hist := h.m.hist[tp{topic, p}]
	if hist == nil {
		return 0
	}
	for i := 1; i < len(hist.points); i++ {
		if hist.points[i-1].Offset <= o && o < hist.points[i].Offset {
			return hist.points[i].Time.Sub(hist.points[i-1].Time)
		}
	}
	return 0
}

// group returns the named group of product in the last snapshot.
func (h *harness) group(t *testing.T, product, group string) (GroupLag, bool) {
	t.Helper()
	pl, ok := h.m.Snapshot(product)
	if !ok {
		return GroupLag{}, false
	}
	for _, g := range pl.Groups {
		if g.Group == group {
			return g, true
		}
	}
	return GroupLag{}, false
}

// waitGroup waits until the group satisfies cond and returns it.
func (h *harness) waitGroup(t *testing.T, product, group string, what string, cond func(GroupLag) bool) GroupLag {
	t.Helper()
	var g GroupLag
	kafkatest.WaitFor(t, hang, func() bool {
		var ok bool
		g, ok = h.group(t, product, group)
		return ok && cond(g)
	}, "group %s: %s (last: status %q, lag %v s %s)", group, what, g.Status, g.LagSeconds, g.Method)
	return g
}

// produce writes n records to partition p of topic, the i-th with
// timestamp ts(i), in one batch.
func produce(t *testing.T, cl *kgo.Client, topic string, p int32, n int, ts func(i int) time.Time) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: p, Value: []byte("v"), Timestamp: ts(i)}
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func producer(t *testing.T, kc *kafkatest.Cluster) *kgo.Client {
	return kc.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
}

func commit(t *testing.T, adm *kadm.Client, group, topic string, offsets map[int32]int64) {
	t.Helper()
	os := kadm.Offsets{}
	for p, o := range offsets {
		os.AddOffset(topic, p, o, -1)
	}
	if err := adm.CommitAllOffsets(t.Context(), group, os); err != nil {
		t.Fatalf("commit %s %v: %v", group, offsets, err)
	}
}

func TestExactTimeLag(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	// Records ten seconds apart: reading a neighbour would be off by 10 s.
	produce(t, producer(t, kc), topic, 0, 10, func(i int) time.Time { return base.Add(time.Duration(i) * 10 * time.Second) })
	commit(t, kc.Admin(t), "fraud-detector", topic, map[int32]int64{0: 4})

	p := testProduct(topic, topic)
	p.Consumers = []meshwatch.Consumer{{Group: "fraud-detector", Owner: "fraud-team"}}
	clk := &clock{t: base.Add(200 * time.Second)}
	h := start(t, kc, testConfig(t, kc, p), Options{Now: clk.Now})

	g := h.waitGroup(t, topic, "fraud-detector", "exact lag", func(g GroupLag) bool { return g.Method == MethodExact })
	want := 200.0 - 40.0 // now − timestamp of record 4
	if math.Abs(g.LagSeconds-want) > 0.05 {
		t.Errorf("time lag %v s, want %v s ± 50 ms", g.LagSeconds, want)
	}
	if g.Owner != "fraud-team" || !g.Declared || g.LagRecords != 6 || len(g.Partitions) != 1 {
		t.Errorf("group %+v, want owner fraud-team, declared, 6 records behind on 1 partition", g)
	}
	if pl := g.Partitions[0]; pl.Committed == nil || *pl.Committed != 4 || pl.End != 10 || pl.Method != MethodExact {
		t.Errorf("partition %+v", pl)
	}
	// The same record is not read again while the offset stays.
	reads := h.m.m.reads.WithLabelValues("ok")
	before := testutil.ToFloat64(reads)
	h.waitPasses(t, 3)
	if after := testutil.ToFloat64(reads); after != before {
		t.Errorf("%v more reads of an unchanged committed offset, want 0", after-before)
	}
}

// TestExactTimeLagRealClock runs a monitor on its default clock, the real
// one: the exact time lag is the time a pass sampled minus the timestamp of
// the record at the committed offset, and that time is when the pass ran.
// The bounds are times the test read just before and after the pass,
// however long the machine took to run it.
func TestExactTimeLagRealClock(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "payments.transactions.settled"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	T := time.Now().Add(-30 * time.Second).Truncate(time.Millisecond)
	produce(t, producer(t, kc), topic, 0, 3, func(i int) time.Time { return T.Add(time.Duration(i) * time.Second) })
	commit(t, kc.Admin(t), "ledger", topic, map[int32]int64{0: 0})
	h := manual(t, kc, testConfig(t, kc, testProduct(topic, topic)), nil)
	// Passes until one has read the record: a read that timed out leaves
	// that pass's lag interpolated, and the next pass reads again. Then the
	// record's timestamp is kept while the offset stays, and every pass is
	// exact.
	kafkatest.WaitFor(t, hang, func() bool {
		h.pass(t)
		g, ok := h.group(t, topic, "ledger")
		return ok && g.Method == MethodExact
	}, "an exact time lag")
	before := time.Now()
	h.pass(t)
	after := time.Now()
	pl, _ := h.m.Snapshot(topic)
	if pl.At.Before(before) || pl.At.After(after) {
		t.Errorf("snapshot at %v, want a time of the pass: between %v and %v", pl.At, before, after)
	}
	g := pl.Groups[0]
	if want := pl.At.Sub(T).Seconds(); g.Method != MethodExact || math.Abs(g.LagSeconds-want) > 1e-6 {
		t.Errorf("time lag %v s (%s), want exact: the pass time − T, %v s", g.LagSeconds, g.Method, want)
	}
}

// stamped produces to partition 0 of a topic records stamped with the
// times the test gives, and remembers each offset's timestamp: the truth
// the monitor's estimates are measured against.
type stamped struct {
	cl    *kgo.Client
	topic string
	times []time.Time // by offset
}

// produce appends n records stamped at, in one batch, and returns when
// they are in the log.
func (s *stamped) produce(t *testing.T, n int, at time.Time) {
	t.Helper()
	if n == 0 {
		return
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: s.topic, Partition: 0, Value: []byte("v"), Timestamp: at}
	}
	if err := s.cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Offset != int64(len(s.times)) {
			t.Fatalf("record at offset %d, want %d: the log has records the test did not produce", r.Offset, len(s.times))
		}
		s.times = append(s.times, at)
	}
}

func (s *stamped) end() int64 { return int64(len(s.times)) }

// checkInterpolated checks the group's interpolated time lag on partition 0
// at the last pass against the truth: the pass time minus the timestamp of
// the record at the committed offset. Interpolation places that record
// between the two sampled end offsets around it, so it may be off by less
// than their distance, which it returns; the monitor sampled at every pass
// the test made, every testInterval of the clock, so that is testInterval.
func checkInterpolated(t *testing.T, h *harness, s *stamped, topic, group string, now time.Time) (lag, truth time.Duration) {
	t.Helper()
	g, ok := h.group(t, topic, group)
	if !ok || len(g.Partitions) != 1 || g.Partitions[0].Committed == nil {
		t.Fatalf("group %s: %+v, want its committed offset on one partition", group, g)
	}
	pl := g.Partitions[0]
	c := *pl.Committed
	if c < 0 || c >= s.end() {
		t.Fatalf("group %s: committed offset %d outside the log [0, %d)", group, c, s.end())
	}
	if snap, _ := h.m.Snapshot(topic); !snap.At.Equal(now) {
		t.Fatalf("snapshot at %v, want the clock's %v", snap.At, now)
	}
	if pl.Method != MethodInterpolated || pl.LowerBound || math.IsNaN(pl.LagSeconds) {
		t.Fatalf("offset %d: method %q, lower bound %v, lag %v; want interpolated from the history", c, pl.Method, pl.LowerBound, pl.LagSeconds)
	}
	gap := h.sampleGap(topic, 0, c)
	if gap != testInterval {
		t.Fatalf("samples around offset %d are %v apart, want the %v between passes", c, gap, testInterval)
	}
	lag = time.Duration(pl.LagSeconds * float64(time.Second))
	truth = now.Sub(s.times[c])
	if d := lag - truth; d <= -gap || d >= gap {
		t.Errorf("offset %d: interpolated time lag %v, truth %v: %v apart, want less than the %v between the samples around it", c, lag, truth, d, gap)
	}
	return lag, truth
}

func TestInterpolatedTimeLag(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.carts.updated"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	cfg := testConfig(t, kc, testProduct(topic, topic))
	cfg.Lag.ExactFetches = new(0) // interpolate everything
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	h := manual(t, kc, cfg, clk)
	s := &stamped{cl: producer(t, kc), topic: topic}
	adm := kc.Admin(t)

	// Uneven traffic: every 10 ms of the clock, 0 to most records, where
	// most changes every testInterval, so that neither the records of an
	// interval arrive evenly, as interpolation assumes, nor does the rate
	// hold from one interval to the next. A pass every testInterval.
	// Before each pass after the first second, the group commits an offset
	// produced 200-400 ms ago, if the traffic left one.
	const step = 10 * time.Millisecond
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: every run sees the same traffic
	most := 0
	checked := 0
	var worst time.Duration
	for elapsed := step; checked < 30; elapsed += step {
		if elapsed > time.Minute {
			t.Fatalf("checked %d passes in a minute of traffic, want 30", checked)
		}
		if (elapsed-step)%testInterval == 0 {
			most = []int{0, 1, 4, 16}[rng.IntN(4)]
		}
		clk.advance(step)
		now := clk.Now()
		s.produce(t, rng.IntN(most+1), now)
		if elapsed%testInterval != 0 {
			continue
		}
		if elapsed < time.Second {
			h.pass(t)
			continue
		}
		from, _ := slices.BinarySearchFunc(s.times, now.Add(-400*time.Millisecond), time.Time.Compare)
		to, _ := slices.BinarySearchFunc(s.times, now.Add(-200*time.Millisecond), time.Time.Compare)
		if to <= from {
			h.pass(t)
			continue
		}
		c := int64(from + rng.IntN(to-from))
		commit(t, adm, "analytics", topic, map[int32]int64{0: c})
		h.pass(t)
		lag, truth := checkInterpolated(t, h, s, topic, "analytics", now)
		worst = max(worst, (lag - truth).Abs())
		checked++
	}
	// The estimates are not exact: the traffic is uneven.
	if worst == 0 {
		t.Error("every interpolated time lag was exact: the test's traffic is too even to tell interpolation from a lookup")
	}
}

func TestBurstDoesNotSpike(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.carts.updated"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	cfg := testConfig(t, kc, testProduct(topic, topic))
	cfg.Lag.ExactFetches = new(0)
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	h := manual(t, kc, cfg, clk)
	s := &stamped{cl: producer(t, kc), topic: topic}
	adm := kc.Admin(t)

	// One record every 10 ms of the clock, fifty from 1 s to 2.5 s: a 50x
	// burst. A pass every testInterval; after the first, a group that
	// keeps up commits the end offset every 20 ms, so that at a pass the
	// oldest record it has not read is 10 ms old, burst or not. Turned
	// into time at any rate but the burst's, the records it is behind in
	// the burst would be far more than one testInterval.
	const (
		step       = 10 * time.Millisecond
		burst      = 50 // records per step in the burst, against 1
		burstFrom  = time.Second
		burstUntil = 2500 * time.Millisecond
		runFor     = 3 * time.Second
	)
	var worst, worstTruth time.Duration
	inBurst := 0
	for elapsed := step; elapsed <= runFor; elapsed += step {
		clk.advance(step)
		now := clk.Now()
		n := 1
		if elapsed > burstFrom && elapsed <= burstUntil {
			n = burst
		}
		s.produce(t, n, now)
		if elapsed%testInterval == 0 {
			h.pass(t)
			if _, ok := h.group(t, topic, "keeps-up"); ok {
				lag, truth := checkInterpolated(t, h, s, topic, "keeps-up", now)
				worst, worstTruth = max(worst, lag), max(worstTruth, truth)
				if elapsed > burstFrom && elapsed <= burstUntil {
					inBurst++
				}
			}
		}
		if elapsed > testInterval && elapsed%(2*step) == 0 {
			commit(t, adm, "keeps-up", topic, map[int32]int64{0: s.end()})
		}
	}
	if want := int((burstUntil - burstFrom) / testInterval); inBurst != want {
		t.Fatalf("checked %d passes inside the burst, want %d", inBurst, want)
	}
	if worstTruth != step {
		t.Fatalf("the group was up to %v behind, want %v: it does not keep up as the test means it to", worstTruth, step)
	}
	if limit := worstTruth + testInterval; worst >= limit {
		t.Errorf("time lag reached %v through a %dx burst; the group kept within %v (limit %v)", worst, burst, worstTruth, limit)
	}
}

func TestIdleCaughtUp(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "logistics.parcels.scanned"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	produce(t, producer(t, kc), topic, 0, 10, func(int) time.Time { return time.Now().Add(-time.Hour) })
	commit(t, kc.Admin(t), "tracker", topic, map[int32]int64{0: 10})
	h := start(t, kc, testConfig(t, kc, testProduct(topic, topic)), Options{})
	h.waitPasses(t, 5)
	g, ok := h.group(t, topic, "tracker")
	if !ok {
		t.Fatal("group not reported")
	}
	if g.LagSeconds != 0 || g.LagRecords != 0 || g.Status != StatusOK || g.Method != MethodExact || g.P99Seconds != 0 {
		t.Errorf("idle caught-up group: %+v, want 0 s, 0 records, OK, exact", g)
	}
	if g.Owner != meshwatch.UnknownOwner || g.Declared {
		t.Errorf("undeclared group: owner %q declared %v, want unknown", g.Owner, g.Declared)
	}
}

func TestStatuses(t *testing.T) {
	kc := kafkatest.New(t)
	old := func(int) time.Time { return time.Now().Add(-time.Minute) }
	caughtUp := func(g GroupLag) bool { return g.Status == StatusOK && g.LagRecords == 0 }

	t.Run("stop", func(t *testing.T) {
		t.Parallel()
		topic := "checkout.stop.events"
		kc.MustCreateTopic(t, topic, 1, 1, nil)
		produce(t, producer(t, kc), topic, 0, 20, old)
		adm := kc.Admin(t)
		commit(t, adm, "stopper", topic, map[int32]int64{0: 5})
		h := start(t, kc, testConfig(t, kc, testProduct(topic, topic)), Options{})
		g := h.waitGroup(t, topic, "stopper", "STOP", func(g GroupLag) bool { return g.Status == StatusStop })
		if g.Members != 0 || g.State != "Empty" {
			t.Errorf("stopped group: state %q with %d members, want Empty with 0", g.State, g.Members)
		}
		commit(t, adm, "stopper", topic, map[int32]int64{0: 20})
		h.waitGroup(t, topic, "stopper", "OK again", caughtUp)
	})

	t.Run("stall", func(t *testing.T) {
		t.Parallel()
		topic := "checkout.stall.events"
		kc.MustCreateTopic(t, topic, 1, 1, nil)
		produce(t, producer(t, kc), topic, 0, 20, old)
		// A live member that commits without progress: it is assigned the
		// partition but never polls.
		member := kc.Client(t, kgo.ConsumerGroup("staller"), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
		adm := kc.Admin(t)
		kafkatest.WaitFor(t, hang, func() bool {
			d, err := adm.DescribeGroups(t.Context(), "staller")
			g := d["staller"]
			return err == nil && g.State == "Stable" && len(g.AssignedPartitions()[topic]) == 1
		}, "member assigned")
		commitAs := func(o int64) { memberCommit(t, member, topic, o) }
		commitAs(5)
		h := start(t, kc, testConfig(t, kc, testProduct(topic, topic)), Options{})
		g := h.waitGroup(t, topic, "staller", "STALL", func(g GroupLag) bool { return g.Status == StatusStall })
		if g.Members != 1 || g.Partitions[0].MemberID == "" {
			t.Errorf("stalled group: %d members, partition member %q; want the member", g.Members, g.Partitions[0].MemberID)
		}
		commitAs(20)
		h.waitGroup(t, topic, "staller", "OK again", caughtUp)
	})

	t.Run("rewind", func(t *testing.T) {
		t.Parallel()
		topic := "checkout.rewind.events"
		kc.MustCreateTopic(t, topic, 1, 1, nil)
		produce(t, producer(t, kc), topic, 0, 100, old)
		adm := kc.Admin(t)
		commit(t, adm, "rewinder", topic, map[int32]int64{0: 50})
		h := start(t, kc, testConfig(t, kc, testProduct(topic, topic)), Options{StuckAfter: time.Hour})
		h.waitPasses(t, 1)
		commit(t, adm, "rewinder", topic, map[int32]int64{0: 20})
		h.waitGroup(t, topic, "rewinder", "REWIND", func(g GroupLag) bool { return g.Status == StatusRewind })
		commit(t, adm, "rewinder", topic, map[int32]int64{0: 100})
		h.waitGroup(t, topic, "rewinder", "OK again", caughtUp)
	})

	t.Run("lost", func(t *testing.T) {
		t.Parallel()
		topic := "checkout.lost.events"
		kc.MustCreateTopic(t, topic, 1, 1, nil)
		produce(t, producer(t, kc), topic, 0, 100, old)
		adm := kc.Admin(t)
		commit(t, adm, "loser", topic, map[int32]int64{0: 10})
		h := start(t, kc, testConfig(t, kc, testProduct(topic, topic)), Options{StuckAfter: time.Hour})
		dr := kadm.Offsets{}
		dr.AddOffset(topic, 0, 50, -1)
		if _, err := adm.DeleteRecords(t.Context(), dr); err != nil {
			t.Fatal(err)
		}
		g := h.waitGroup(t, topic, "loser", "LOST", func(g GroupLag) bool { return g.Status == StatusLost })
		if !g.DataLoss || g.LostRecords != 40 || g.Partitions[0].LogStart != 50 {
			t.Errorf("lost group: data loss %v, %d lost records, log start %d; want true, 40, 50", g.DataLoss, g.LostRecords, g.Partitions[0].LogStart)
		}
		commit(t, adm, "loser", topic, map[int32]int64{0: 100})
		g = h.waitGroup(t, topic, "loser", "OK again", caughtUp)
		if g.DataLoss {
			t.Error("data loss still reported after the group moved past the log start")
		}
	})
}

func TestPartialAssignmentAndDeclared(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 4, 1, nil)
	pr := producer(t, kc)
	for p := range int32(4) {
		produce(t, pr, topic, p, 10, func(int) time.Time { return time.Now() })
	}
	// The group consumes partitions 0 and 1 only.
	commit(t, kc.Admin(t), "half", topic, map[int32]int64{0: 10, 1: 7})
	p := testProduct(topic, topic)
	p.Consumers = []meshwatch.Consumer{{Group: "half", Owner: "half-team"}, {Group: "ghost", Owner: "ghost-team"}}
	p.SLOs = []meshwatch.SLO{
		{Name: "half-lag", SLI: meshwatch.SLILag, ConsumerGroup: "half", Threshold: meshwatch.Duration(time.Minute), Objective: 0.99, Window: "28d"},
		{Name: "ghost-lag", SLI: meshwatch.SLILag, ConsumerGroup: "ghost", Threshold: meshwatch.Duration(time.Minute), Objective: 0.99, Window: "28d"},
	}
	// One pass, by hand: the group is 3 records behind and does not move,
	// so passes on a timer would turn it STOP, or WARN, once enough time
	// has passed, and how much has passed when the test looks would be up
	// to the machine. The first observation of a partition is OK.
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	h := manual(t, kc, testConfig(t, kc, p), clk)
	clk.advance(testInterval)
	h.pass(t)
	g, ok := h.group(t, topic, "half")
	if !ok || g.Method == "" {
		t.Fatalf("group half: %+v, want its lag", g)
	}
	if g.LagRecords != 3 || g.Uncommitted != 2 || g.Status != StatusOK || g.Owner != "half-team" || len(g.Partitions) != 4 {
		t.Errorf("group %+v: want 3 records behind, 2 uncommitted partitions of 4, OK, owner half-team", g)
	}
	for _, pl := range g.Partitions {
		committed := pl.Partition < 2
		if (pl.Committed != nil) != committed || (!committed && (pl.Status != "" || pl.LagRecords != 0 || pl.Method != "")) {
			t.Errorf("partition %d: %+v; uncommitted partitions have no offset, lag or status", pl.Partition, pl)
		}
	}
	ghost, ok := h.group(t, topic, "ghost")
	if !ok || !ghost.NoData || ghost.Status != "" || ghost.State != stateDead || ghost.Owner != "ghost-team" || ghost.Members != 0 {
		t.Errorf("declared absent group: %+v, want no data, no status, Dead", ghost)
	}
	evs := h.sink.last()
	want := []meshwatch.SLIEvents{
		{Product: topic, SLO: "half-lag", SLI: meshwatch.SLILag, Good: 1, Valid: 1},
		{Product: topic, SLO: "ghost-lag", SLI: meshwatch.SLILag},
	}
	if diff := cmp.Diff(want, evs, cmpIgnoreTimes); diff != "" {
		t.Errorf("SLI events (-want +got):\n%s", diff)
	}
	if evs[0].From.IsZero() || !evs[0].To.After(evs[0].From) {
		t.Errorf("SLI interval (%v, %v]", evs[0].From, evs[0].To)
	}
}

// TestOffsetsUnchanged checks that the monitor never changes what it
// observes: every group's committed offsets are the same after passes with
// exact reads, and the monitor created no group of its own.
func TestOffsetsUnchanged(t *testing.T) {
	kc := kafkatest.New(t)
	topics := []string{"checkout.orders.placed", "checkout.carts.updated"}
	pr := producer(t, kc)
	adm := kc.Admin(t)
	for _, topic := range topics {
		kc.MustCreateTopic(t, topic, 3, 1, nil)
		for p := range int32(3) {
			produce(t, pr, topic, p, 20, func(i int) time.Time { return time.Now().Add(-time.Duration(20-i) * time.Second) })
		}
	}
	for i, g := range []string{"a", "b", "c"} {
		for _, topic := range topics {
			commit(t, adm, g, topic, map[int32]int64{0: int64(i * 5), 1: int64(10 + i), 2: 20})
		}
	}
	fetchAll := func() map[string]kadm.Offsets {
		out := map[string]kadm.Offsets{}
		groups, err := adm.ListGroups(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups.Groups() {
			os, err := adm.FetchOffsets(t.Context(), g)
			if err != nil {
				t.Fatal(err)
			}
			out[g] = os.Offsets()
		}
		return out
	}
	before := fetchAll()
	p := testProduct("checkout.orders.placed", topics...)
	h := start(t, kc, testConfig(t, kc, p), Options{})
	h.waitGroup(t, p.Name, "a", "exact", func(g GroupLag) bool { return g.Method == MethodExact })
	h.waitPasses(t, 3)
	if diff := cmp.Diff(before, fetchAll()); diff != "" {
		t.Errorf("committed offsets changed while the monitor ran (-before +after):\n%s", diff)
	}
}

var cmpIgnoreTimes = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.Last().String()
	return s == ".From" || s == ".To"
}, cmp.Ignore())

// TestTopicListReused: a pass reuses the cluster's topic list for
// topicsMaxAge, lists again after it, and at once when a group commits on
// a product's topic created since the last list.
func TestTopicListReused(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
	p := meshwatch.Product{Name: "checkout.orders.all", Domain: "checkout", Owner: "orders-team", Tier: 1,
		Topics: []meshwatch.TopicSelector{{Pattern: `checkout\.orders\..*`}}}
	cfg := testConfig(t, kc, p)
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	h := manual(t, kc, cfg, clk)

	h.pass(t)
	clk.advance(topicsMaxAge / 2)
	h.pass(t)
	if n := h.m.topicLists.Load(); n != 1 {
		t.Errorf("%d topic lists in two passes %v apart, want 1", n, topicsMaxAge/2)
	}
	clk.advance(topicsMaxAge / 2)
	h.pass(t)
	if n := h.m.topicLists.Load(); n != 2 {
		t.Errorf("%d topic lists after %v, want 2", n, topicsMaxAge)
	}

	// A topic created since, committed on by a group: listed at once, and
	// its lag counted in this very pass.
	const created = "checkout.orders.refunded"
	kc.MustCreateTopic(t, created, 1, 1, nil)
	if err := kc.Produce(t.Context(), &kgo.Record{Topic: created, Value: []byte("x")}, &kgo.Record{Topic: created, Value: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	commit(t, kc.Admin(t), "refunds", created, map[int32]int64{0: 1})
	clk.advance(time.Second)
	h.pass(t)
	if n := h.m.topicLists.Load(); n != 3 {
		t.Errorf("%d topic lists after a group committed on a new topic, want 3", n)
	}
	g, ok := h.group(t, p.Name, "refunds")
	if !ok || g.NoData || g.LagRecords != 1 {
		t.Errorf("group on the new topic: %+v (found %v), want 1 record of lag", g, ok)
	}
}
