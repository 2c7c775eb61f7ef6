package lag

import (
	stdcmp "cmp"
	"context"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

const testInterval = 100 * time.Millisecond

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
func testConfig(t *testing.T, kc *kafkatest.Cluster, products ...meshwatch.Product) *meshwatch.Config {
	t.Helper()
	cfg := &meshwatch.Config{
		Naming:   "off",
		Cluster:  meshwatch.Cluster{Name: "test", Brokers: kc.Addrs()},
		Products: products,
		Owners:   map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders"}},
	}
	cfg.SetDefaults()
	if errs := cfg.Validate().Errors(); len(errs) > 0 {
		t.Fatalf("test config invalid:\n%v", errs)
	}
	cfg.Lag.Interval = meshwatch.Duration(testInterval)
	cfg.Lag.Passes = 2
	return cfg
}

type harness struct {
	m    *Monitor
	reg  *prometheus.Registry
	sink *sink
}

// start runs a monitor of cfg until the test ends and waits for its first
// pass.
func start(t *testing.T, kc *kafkatest.Cluster, cfg *meshwatch.Config, o Options) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewPedanticRegistry(), sink: &sink{}}
	o.Metrics = NewMetrics(h.reg, cfg.Lag.LagExporterMetrics())
	o.Sink = h.sink
	o.Logger = slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.StuckAfter == 0 {
		o.StuckAfter = 300 * time.Millisecond
	}
	h.m = New(cfg, kc.Client(t), o)
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
		case <-time.After(10 * time.Second):
			t.Error("monitor did not stop within 10s of cancel")
		}
	})
	h.waitPasses(t, 1)
	return h
}

// waitPasses waits until n more passes have completed.
func (h *harness) waitPasses(t *testing.T, n uint64) {
	t.Helper()
	target := h.m.passes.Load() + n
	kafkatest.WaitFor(t, 10*time.Second, func() bool { return h.m.passes.Load() >= target }, "%d passes", n)
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
	kafkatest.WaitFor(t, 15*time.Second, func() bool {
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

func TestExactTimeLagRealClock(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "payments.transactions.settled"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	T := time.Now().Add(-30 * time.Second).Truncate(time.Millisecond)
	produce(t, producer(t, kc), topic, 0, 3, func(i int) time.Time { return T.Add(time.Duration(i) * time.Second) })
	commit(t, kc.Admin(t), "ledger", topic, map[int32]int64{0: 0})
	h := start(t, kc, testConfig(t, kc, testProduct(topic, topic)), Options{})
	h.waitGroup(t, topic, "ledger", "exact lag", func(g GroupLag) bool { return g.Method == MethodExact })
	before := time.Now()
	h.waitPasses(t, 1)
	pl, _ := h.m.Snapshot(topic)
	after := time.Now()
	g := pl.Groups[0]
	lo, hi := before.Add(-testInterval).Sub(T).Seconds()-0.05, after.Sub(T).Seconds()+0.05
	if g.LagSeconds < lo || g.LagSeconds > hi || g.Method != MethodExact {
		t.Errorf("time lag %v s (%s), want now − T: between %v and %v", g.LagSeconds, g.Method, lo, hi)
	}
	if got := pl.At.Sub(T).Seconds(); math.Abs(got-g.LagSeconds) > 0.05 {
		t.Errorf("time lag %v s, pass time − T %v s", g.LagSeconds, got)
	}
}

// steady produces one record every step until ctx is done (n records per
// step while burst says so), recording when each offset was produced.
type steady struct {
	mu    sync.Mutex
	times map[int64]time.Time
	end   int64
}

func (s *steady) run(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, step time.Duration, burst func() bool) {
	tk := time.NewTicker(step)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		n := 1
		if burst != nil && burst() {
			n = 10
		}
		recs := make([]*kgo.Record, n)
		now := time.Now()
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Value: []byte("v"), Timestamp: now}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			if ctx.Err() == nil {
				t.Errorf("produce: %v", err)
			}
			return
		}
		s.mu.Lock()
		for _, r := range recs {
			s.times[r.Offset] = now
			s.end = max(s.end, r.Offset+1)
		}
		s.mu.Unlock()
	}
}

func (s *steady) producedAt(o int64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.times[o]
	return t, ok
}

func (s *steady) endOffset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

func TestInterpolatedTimeLag(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.carts.updated"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	cfg := testConfig(t, kc, testProduct(topic, topic))
	cfg.Lag.ExactFetches = 0 // interpolate everything
	h := start(t, kc, cfg, Options{StuckAfter: time.Hour})

	s := &steady{times: map[int64]time.Time{}}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { s.run(ctx, t, kc.Client(t, kgo.ProducerLinger(0)), topic, 10*time.Millisecond, nil) })
	defer wg.Wait()
	defer cancel()

	// A group a steady distance behind: it commits the offset produced
	// about 300 ms ago, every 50 ms.
	adm := kc.Admin(t)
	kafkatest.WaitFor(t, 10*time.Second, func() bool { return s.endOffset() > 60 }, "steady production")
	checked := 0
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for checked < 10 {
		<-tk.C
		c := s.endOffset() - 30
		commit(t, adm, "analytics", topic, map[int32]int64{0: c})
		h.waitPasses(t, 1)
		g, ok := h.group(t, topic, "analytics")
		if !ok || len(g.Partitions) != 1 || g.Partitions[0].Committed == nil {
			continue
		}
		pl, _ := h.m.Snapshot(topic)
		committed := *g.Partitions[0].Committed
		produced, ok := s.producedAt(committed)
		if !ok {
			continue
		}
		truth := pl.At.Sub(produced).Seconds()
		if g.Method != MethodInterpolated {
			t.Fatalf("method %q, want interpolated with exact_fetches 0", g.Method)
		}
		// One poll interval: the time between the two samples of the end
		// offset around the committed record (the ticker's interval unless
		// a pass ran late), plus the time the producer took to append it.
		gap := h.sampleGap(topic, 0, committed)
		if gap <= 0 || gap > 5*testInterval {
			t.Fatalf("samples around offset %d are %v apart, want about %v", committed, gap, testInterval)
		}
		if math.IsNaN(g.LagSeconds) || math.Abs(g.LagSeconds-truth) > (gap+50*time.Millisecond).Seconds() {
			t.Errorf("interpolated time lag %.3f s, truth %.3f s: more than one poll interval (%v) apart", g.LagSeconds, truth, gap)
		}
		checked++
	}
}

func TestBurstDoesNotSpike(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.carts.updated"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	cfg := testConfig(t, kc, testProduct(topic, topic))
	cfg.Lag.ExactFetches = 0
	h := start(t, kc, cfg, Options{StuckAfter: time.Hour})

	s := &steady{times: map[int64]time.Time{}}
	var bursting sync.Mutex
	burst := false
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		s.run(ctx, t, kc.Client(t, kgo.ProducerLinger(0)), topic, 10*time.Millisecond, func() bool {
			bursting.Lock()
			defer bursting.Unlock()
			return burst
		})
	})
	defer wg.Wait()
	defer cancel()

	// A group that keeps up: it commits the end offset every 20 ms, so its
	// true lag stays around 20 ms through a 10x burst.
	adm := kc.Admin(t)
	var worst float64
	deadline := time.NewTimer(3 * time.Second)
	defer deadline.Stop()
	burstAt := time.NewTimer(time.Second)
	defer burstAt.Stop()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for done := false; !done; {
		select {
		case <-deadline.C:
			done = true
		case <-burstAt.C:
			bursting.Lock()
			burst = true
			bursting.Unlock()
		case <-tk.C:
			if e := s.endOffset(); e > 0 {
				commit(t, adm, "keeps-up", topic, map[int32]int64{0: e})
			}
			if g, ok := h.group(t, topic, "keeps-up"); ok {
				worst = max(worst, g.LagSeconds)
			}
		}
	}
	if worst == 0 {
		t.Fatal("never saw the group")
	}
	if limit := testInterval.Seconds() + 0.05; worst > limit {
		t.Errorf("time lag reached %.3f s through a 10x burst; the group kept within 20 ms (limit %.3f s)", worst, limit)
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
		kafkatest.WaitFor(t, 10*time.Second, func() bool {
			d, err := adm.DescribeGroups(t.Context(), "staller")
			g := d["staller"]
			return err == nil && g.State == "Stable" && len(g.AssignedPartitions()[topic]) == 1
		}, "member assigned")
		commitAs := func(o int64) {
			var err error
			member.CommitOffsetsSync(t.Context(), map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: o}}},
				func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, cerr error) {
					err = cerr
					for _, rt := range resp.Topics {
						for _, rp := range rt.Partitions {
							err = stdcmp.Or(err, kerr.ErrorForCode(rp.ErrorCode))
						}
					}
				})
			if err != nil {
				t.Fatalf("member commit: %v", err)
			}
		}
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
	h := start(t, kc, testConfig(t, kc, p), Options{})
	g := h.waitGroup(t, topic, "half", "exact", func(g GroupLag) bool { return g.Method != "" })
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
