package lag

import (
	stdcmp "cmp"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// round is the simulated time between two passes of the group-kind tests:
// the monitor's clock advances by it, whatever the machine's speed.
const round = 10 * time.Second

// produceAt writes n records to partition 0 of topic, timestamped at.
func produceAt(t *testing.T, cl *kgo.Client, topic string, n int, at time.Time) {
	t.Helper()
	produce(t, cl, topic, 0, n, func(int) time.Time { return at })
}

// pollN polls cl until it has n records or the hang bound passes.
func pollN(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var got []*kgo.Record
	deadline := time.Now().Add(hang)
	for len(got) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		fs := cl.PollRecords(ctx, n-len(got))
		cancel()
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	if len(got) < n {
		t.Fatalf("polled %d records within %v, want %d", len(got), hang, n)
	}
	return got
}

// TestKIP848Group: a group of the KIP-848 consumer protocol
// (group.protocol=consumer) is described with ConsumerGroupDescribe, so a
// live group has its members (DescribeGroups would say none and make it
// look stopped), is OK while it keeps up, and STOP within 30 s of leaving.
func TestKIP848Group(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.kip848.events"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	p := testProduct(topic, topic)
	cfg := testConfig(t, kc, p)
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	h := manual(t, kc, cfg, clk)
	pr := producer(t, kc)
	member := kc.Client(t, kgo.ConsumerGroup("kip848"), kgo.ConsumeTopics(topic),
		kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	adm := kc.Admin(t)
	kafkatest.WaitFor(t, hang, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		member.PollRecords(ctx, 1) // joins; nothing is produced yet
		cancel()
		d, err := adm.DescribeConsumerGroups(t.Context(), "kip848")
		g := d["kip848"]
		// kadm names the assigned topics by their names, which Kafka
		// leaves empty: the monitor resolves their IDs.
		return err == nil && len(g.Members) == 1 && len(g.AssignedPartitions()) == 1
	}, "KIP-848 member assigned")

	// Keeping up: 10 records a round, read and committed.
	for i := range 6 {
		produceAt(t, pr, topic, 10, clk.Now())
		recs := pollN(t, member, 10)
		if err := member.CommitRecords(t.Context(), recs...); err != nil {
			t.Fatal(err)
		}
		clk.advance(round)
		h.pass(t)
		g, ok := h.group(t, topic, "kip848")
		if !ok {
			t.Fatalf("round %d: group not seen", i)
		}
		if g.Type != TypeConsumer || g.Members != 1 || g.State != "Stable" {
			t.Fatalf("round %d: type %q, %d members, state %q; want consumer, 1, Stable", i, g.Type, g.Members, g.State)
		}
		if g.Status != StatusOK {
			t.Fatalf("round %d: status %s while the group keeps up", i, g.Status)
		}
		if g.Partitions[0].MemberID == "" {
			t.Fatalf("round %d: the partition has no member", i)
		}
	}

	// It leaves: records keep coming, nobody commits.
	member.Close()
	kafkatest.WaitFor(t, hang, func() bool {
		d, err := adm.DescribeConsumerGroups(t.Context(), "kip848")
		return err == nil && len(d["kip848"].Members) == 0
	}, "KIP-848 member gone")
	left := clk.Now()
	for {
		produceAt(t, pr, topic, 10, clk.Now())
		clk.advance(round)
		h.pass(t)
		g, _ := h.group(t, topic, "kip848")
		if g.Status == StatusStop {
			if d := clk.Now().Sub(left); d > 30*time.Second {
				t.Errorf("STOP %v after the group left, want ≤ 30s", d)
			}
			if g.Members != 0 {
				t.Errorf("stopped group has %d members", g.Members)
			}
			break
		}
		if g.Status != StatusOK && g.Status != StatusWarn { // its lag grows: WARN is right
			t.Fatalf("status %s before STOP", g.Status)
		}
		if clk.Now().Sub(left) > 2*time.Minute {
			t.Fatalf("no STOP 2 minutes after the group left (status %s)", g.Status)
		}
	}
}

// TestShareGroup: a share group (KIP-932) that acknowledges half of what
// is produced has a growing backlog (the broker's count of records not yet
// acknowledged), a time lag read at its share-partition start offset, its
// members and type, and WARN; once its member leaves, STOP.
func TestShareGroup(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.jobs.queued"
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	p := testProduct(topic, topic)
	// A lag SLO on the share group: its backlog's age is the SLI.
	p.SLOs = []meshwatch.SLO{{Name: "jobs-lag", SLI: meshwatch.SLILag, ConsumerGroup: "jobs", Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99, Window: "28d"}}
	cfg := testConfig(t, kc, p)
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	h := manual(t, kc, cfg, clk)
	pr := producer(t, kc)
	worker := kc.Client(t, kgo.ShareGroup("jobs"), kgo.ConsumeTopics(topic),
		kgo.ShareMaxRecords(5), kgo.ShareMaxRecordsStrict())
	adm := kc.Admin(t)
	// A share group starts at the latest offset: join before producing.
	kafkatest.WaitFor(t, hang, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		worker.PollRecords(ctx, 1)
		cancel()
		d, err := adm.DescribeShareGroups(t.Context(), "jobs")
		g := d["jobs"]
		return err == nil && len(g.Members) == 1 && len(g.AssignedPartitions()) == 1
	}, "share member assigned")

	var prev int64 = -1
	warned := false
	for i := range 20 {
		produceAt(t, pr, topic, 10, clk.Now())
		recs := pollN(t, worker, 5)
		worker.MarkAcks(kgo.AckAccept, recs...)
		if err := worker.FlushAcks(t.Context()); err != nil {
			t.Fatal(err)
		}
		clk.advance(round)
		h.pass(t)
		g, ok := h.group(t, topic, "jobs")
		if !ok {
			t.Fatalf("round %d: share group not seen", i)
		}
		if g.Type != TypeShare || g.Members != 1 || g.NoData {
			t.Fatalf("round %d: type %q, %d members, no data %v; want share, 1, false", i, g.Type, g.Members, g.NoData)
		}
		if g.Partitions[0].MemberID == "" {
			t.Fatalf("round %d: the partition has no member", i)
		}
		ev := h.sink.last()
		if len(ev) != 1 || ev[0].SLO != "jobs-lag" || ev[0].Valid != 1 || (ev[0].Good == 1) != (g.LagSeconds <= 30) {
			t.Fatalf("round %d: lag SLI events %+v for a time lag of %v s, want one valid, good while ≤ 30 s", i, ev, g.LagSeconds)
		}
		if g.LagRecords <= prev {
			t.Fatalf("round %d: backlog %d, not above the previous %d", i, g.LagRecords, prev)
		}
		prev = g.LagRecords
		t.Logf("round %d: backlog %d, %v s (%s), status %s", i, g.LagRecords, g.LagSeconds, g.Method, g.Status)
		if g.Status == StatusStall || g.Status == StatusStop {
			t.Fatalf("round %d: %s while the group acknowledges", i, g.Status)
		}
		if g.Status == StatusWarn {
			warned = true
			if g.LagSeconds <= 0 || g.Method != MethodExact {
				t.Errorf("round %d: time lag %v s (%s), want the age of the record at the start offset, read", i, g.LagSeconds, g.Method)
			}
			break
		}
	}
	if !warned {
		t.Fatal("no WARN in 20 rounds of a growing backlog")
	}

	// Nobody consumes any more: STOP.
	worker.Close()
	left := clk.Now()
	for {
		produceAt(t, pr, topic, 10, clk.Now())
		clk.advance(round)
		h.pass(t)
		g, _ := h.group(t, topic, "jobs")
		if g.Status == StatusStop {
			if g.Members != 0 {
				t.Errorf("stopped share group has %d members", g.Members)
			}
			break
		}
		if clk.Now().Sub(left) > 2*time.Minute {
			t.Fatalf("no STOP 2 minutes after the member left (status %s, %d members)", g.Status, g.Members)
		}
	}
}

// memberCommit commits offset o of partition 0 of topic as cl, a member of
// its group, and fails the test if Kafka refuses it.
func memberCommit(t *testing.T, cl *kgo.Client, topic string, o int64) {
	t.Helper()
	var err error
	cl.CommitOffsetsSync(t.Context(), map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: o}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, cerr error) {
			err = cerr
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					err = stdcmp.Or(err, kerr.ErrorForCode(rp.ErrorCode))
				}
			}
		})
	if err != nil {
		t.Fatalf("member commit %d: %v", o, err)
	}
}

// TestScenarios runs the eight groups of the side-by-side comparison with
// Burrow on one kfake cluster, one topic each, 10 records a round (10 s of
// simulated time per pass): a group that keeps up, one at half speed, one
// that stops, one that stalls with a member, one whose member re-commits the
// same offset, a 60 s rewind, records deleted past a committed offset, and
// an idle caught-up group. It asserts the detection targets (STOP and both
// STALLs ≤ 30 s, LOST and REWIND ≤ 20 s, REWIND cleared at the pass that sees
// the group back) and zero misfires.
func TestScenarios(t *testing.T) {
	kc := kafkatest.New(t)
	names := []string{"keep", "half", "stop", "stall", "recommit", "rewind", "lost", "idle"}
	var products []meshwatch.Product
	for _, n := range names {
		topic := "scenario." + n + ".events"
		kc.MustCreateTopic(t, topic, 1, 1, nil)
		products = append(products, testProduct(topic, topic))
	}
	topic := func(n string) string { return "scenario." + n + ".events" }
	cfg := testConfig(t, kc, products...)
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	h := manual(t, kc, cfg, clk)
	pr := producer(t, kc)
	adm := kc.Admin(t)

	// The two groups that stall have a live member, assigned, that never
	// polls: they commit as members.
	members := map[string]*kgo.Client{}
	for _, n := range []string{"stall", "recommit"} {
		cl := kc.Client(t, kgo.ConsumerGroup(n), kgo.ConsumeTopics(topic(n)), kgo.DisableAutoCommit())
		kafkatest.WaitFor(t, hang, func() bool {
			d, err := adm.DescribeGroups(t.Context(), n)
			g := d[n]
			return err == nil && g.State == "Stable" && len(g.AssignedPartitions()[topic(n)]) == 1
		}, "member of %s assigned", n)
		members[n] = cl
	}
	produceAt(t, pr, topic("idle"), 10, clk.Now())
	commit(t, adm, "idle", topic("idle"), map[int32]int64{0: 10})

	const warmup, after = 8, 8
	end := int64(0) // the end offset of the busy topics
	half := int64(0)
	var rewoundFrom int64
	first := map[string]time.Duration{} // scenario → time from the event to its status
	var event time.Time
	var halfWarned bool
	for r := range warmup + after {
		busy := names[:7]
		for _, n := range busy {
			produceAt(t, pr, topic(n), 10, clk.Now())
		}
		end += 10
		half += 5
		ev := r >= warmup
		if r == warmup {
			event = clk.Now()
		}
		commit(t, adm, "keep", topic("keep"), map[int32]int64{0: end})
		commit(t, adm, "half", topic("half"), map[int32]int64{0: half})
		if !ev {
			commit(t, adm, "stop", topic("stop"), map[int32]int64{0: end})
			memberCommit(t, members["stall"], topic("stall"), end)
			memberCommit(t, members["recommit"], topic("recommit"), end)
			commit(t, adm, "rewind", topic("rewind"), map[int32]int64{0: end})
			commit(t, adm, "lost", topic("lost"), map[int32]int64{0: end - 10}) // 10 s behind, steadily
		} else {
			// recommit keeps committing the offset it stalled at.
			memberCommit(t, members["recommit"], topic("recommit"), end-10*int64(r-warmup+1))
		}
		switch r {
		case warmup: // rewind 60 s (6 rounds) back; delete past lost's offset
			rewoundFrom = end - 10
			commit(t, adm, "rewind", topic("rewind"), map[int32]int64{0: rewoundFrom - 60})
			dr := kadm.Offsets{}
			dr.AddOffset(topic("lost"), 0, end-5, -1)
			if _, err := adm.DeleteRecords(t.Context(), dr); err != nil {
				t.Fatal(err)
			}
		case warmup + 2, warmup + 3, warmup + 4: // rewind catches up by 30 a round
			commit(t, adm, "rewind", topic("rewind"), map[int32]int64{0: rewoundFrom - 60 + 30*int64(r-warmup-1)})
		}
		clk.advance(round)
		h.pass(t)
		for _, n := range names {
			g, ok := h.group(t, topic(n), n)
			if !ok {
				t.Fatalf("round %d: group %s not seen", r, n)
			}
			t.Logf("round %d %s: %s, %d records, %.0f s", r, n, g.Status, g.LagRecords, g.LagSeconds)
			switch n {
			case "keep", "idle":
				if g.Status != StatusOK {
					t.Errorf("round %d: %s is %s, a misfire", r, n, g.Status)
				}
			case "half":
				if g.Status == StatusWarn {
					halfWarned = true
				} else if halfWarned {
					t.Errorf("round %d: the half-speed group went back to %s after WARN", r, g.Status)
				}
				if g.Status == StatusStall || g.Status == StatusStop {
					t.Errorf("round %d: the half-speed group is %s, a misfire", r, g.Status)
				}
			default:
				if !ev {
					if g.Status != StatusOK {
						t.Errorf("round %d: %s is %s before its event", r, n, g.Status)
					}
					continue
				}
				if n == "rewind" && r == warmup+3 && g.Status == StatusRewind {
					t.Errorf("round %d: rewind is back at its old position and still REWIND", r)
				}
				want := map[string]string{"stop": StatusStop, "stall": StatusStall, "recommit": StatusStall, "rewind": StatusRewind, "lost": StatusLost}[n]
				if _, done := first[n]; !done && g.Status == want {
					first[n] = clk.Now().Sub(event)
				}
			}
		}
	}
	if !halfWarned {
		t.Error("the half-speed group never WARNed")
	}
	for n, limit := range map[string]time.Duration{"stop": 30 * time.Second, "stall": 30 * time.Second, "recommit": 30 * time.Second, "rewind": 20 * time.Second, "lost": 20 * time.Second} {
		d, ok := first[n]
		switch {
		case !ok:
			t.Errorf("%s: never reported", n)
		case d > limit:
			t.Errorf("%s: reported %v after the event, want ≤ %v", n, d, limit)
		}
	}
}
