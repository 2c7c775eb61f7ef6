package collector

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// TestRecreatedTopicResumes: a product topic deleted and created again
// (new topic ID, offsets from 0) is sampled again without a restart, and
// without the product ever being reported unavailable for it.
func TestRecreatedTopicResumes(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 2, 3, nil)
	p := product(topic, named(topic)...)
	h := start(t, kc, testConfig(kc, p))
	h.waitSampling(t, p.Name, topic, nil)

	if err := kc.DeleteTopic(context.Background(), topic); err != nil {
		t.Fatal(err)
	}
	kc.MustCreateTopic(t, topic, 3, 3, nil)
	// Within two discovery passes (500 ms each here) plus the time to
	// produce: the bound only stops a hang.
	h.waitSampling(t, p.Name, topic, nil)
	kafkatest.WaitFor(t, hangGuard, func() bool {
		st, _ := h.c.Status(p.Name)
		return st.Partitions == 3
	}, "the recreated topic's third partition was never picked up")
	st, _ := h.c.Status(p.Name)
	if st.Blind != "" {
		t.Errorf("blind after the topic was read again: %+v", st)
	}
}

// TestRebuiltClusterResumes: the cluster is rebuilt without its data on
// the same addresses (new topic IDs, offsets from 0); the agent samples the
// product again without a restart.
func TestRebuiltClusterResumes(t *testing.T) {
	kc, err := kafkatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 1, 3, nil)
	p := product(topic, named(topic)...)
	h := start(t, kc, testConfig(kc, p))
	for range 20 { // some offsets, so that the rebuilt topic's are lower
		h.produce(t, topic, time.Now(), nil)
	}
	h.waitSampling(t, p.Name, topic, nil)

	var ports []kfake.Opt
	var nums []int
	for _, a := range kc.Addrs() {
		_, port, _ := net.SplitHostPort(a)
		n, err := net.LookupPort("tcp", port)
		if err != nil {
			t.Fatal(err)
		}
		nums = append(nums, n)
	}
	ports = append(ports, kfake.Ports(nums...))
	kc.Close()
	var kc2 *kafkatest.Cluster
	kafkatest.WaitFor(t, hangGuard, func() bool {
		kc2, err = kafkatest.Start(ports...)
		return err == nil
	}, "the cluster could not be started again on its ports: %v", lazy(func() any { return err }))
	t.Cleanup(kc2.Close)
	h.kc = kc2
	kc2.MustCreateTopic(t, topic, 1, 3, nil)
	h.waitSampling(t, p.Name, topic, nil)
}

// TestBlindIsReported: a product whose fetches keep failing while records
// arrive is reported blind — metric, status, availability — within the
// blind delay, and seen again once the fetches work.
func TestBlindIsReported(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 1, 3, nil)
	p := product(topic, named(topic)...)
	h := start(t, kc, testConfig(kc, p))
	h.waitSampling(t, p.Name, topic, nil)
	// Only the current reasons have a series: none while the agent reads
	// the product.
	if s := familySeries(t, h.reg, p.Name, "meshwatch_product_blind"); len(s) > 0 {
		t.Fatalf("blind before anything failed: %v", s)
	}

	// The broker answers every fetch of the topic as if it did not know
	// its ID: what a topic recreated behind the client's back looks like
	// when discovery cannot repair it.
	fault := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: topic, Err: kerr.UnknownTopicID, Count: -1})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		kc.ProduceEvery(ctx, 20*time.Millisecond, func() *kgo.Record { return &kgo.Record{Topic: topic, Timestamp: time.Now()} })
	}()
	defer func() { stop(); <-done }()

	// Blind takes minBlindAfter of failing fetches, on the collector's
	// clock; the guard adds a hang's bound to it.
	kafkatest.WaitFor(t, minBlindAfter+hangGuard, func() bool {
		st, _ := h.c.Status(p.Name)
		return st.Blind == BlindFetchErrors
	}, "the product was never reported blind while its fetches failed")
	st, _ := h.c.Status(p.Name)
	if st.Available {
		t.Errorf("a blind product is available: %+v", st)
	}
	var series map[string]float64
	kafkatest.WaitFor(t, hangGuard, func() bool {
		series = productSeries(t, h.reg, p.Name)
		avail, ok := series["meshwatch_available"]
		return series[`meshwatch_product_blind{reason="fetch_errors"}`] == 1 &&
			series[`meshwatch_availability_problem{reason="blind"}`] == 1 &&
			ok && avail == 0
	}, "the metrics never said the product is blind: %v", lazy(func() any { return series }))
	if _, ok := series[`meshwatch_product_blind{reason="stalled"}`]; ok {
		t.Errorf("blind for fetch errors, yet a stalled series exists: %v", series)
	}

	// Blind ticks are no availability events: the product may be fine.
	_, n := h.sink.since(0, "")
	kafkatest.WaitFor(t, hangGuard, func() bool {
		ev, _ := h.sink.since(n, "freshness")
		return len(ev) >= 3
	}, "ticks stopped")
	ev, _ := h.sink.since(n, "availability")
	for _, e := range ev {
		if st, _ := h.c.Status(p.Name); st.Blind != "" && e.Good == 0 {
			t.Errorf("a blind tick counted as a bad availability event: %+v", e)
		}
	}

	fault.Remove()
	// Seen again once a record is fetched, or after minBlindAfter without
	// an error.
	kafkatest.WaitFor(t, minBlindAfter+hangGuard, func() bool {
		st, _ := h.c.Status(p.Name)
		return st.Blind == "" && st.Available
	}, "the product was still blind after its fetches worked again")
	// The status and the series come from the same tick: the reasons are
	// gone with it.
	for _, name := range []string{"meshwatch_product_blind", "meshwatch_availability_problem"} {
		if s := familySeries(t, h.reg, p.Name, name); len(s) > 0 {
			t.Errorf("%v still exported once the product is read and available again", s)
		}
	}
	h.waitSampling(t, p.Name, topic, nil)
}

// TestTransactionalTopicIsNotBlind: a topic written in transactions ends
// with a commit marker, which takes an offset but is no record; the
// sampler reads past it and the product is never reported blind.
func TestTransactionalTopicIsNotBlind(t *testing.T) {
	if testing.Short() {
		t.Skip("produces transactions for longer than the blind delay")
	}
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 1, 3, nil)
	p := product(topic, named(topic)...)
	h := start(t, kc, testConfig(kc, p))
	h.waitSampling(t, p.Name, topic, nil)

	// Two ticks first: the first after the partition was added forgives
	// whatever it lists (the sampler started at the tail), which would hide
	// the commit markers if the transactions were in by then.
	kafkatest.WaitFor(t, hangGuard, func() bool {
		ev, _ := h.sink.since(0, "availability")
		return len(ev) >= 2
	}, "ticks stopped")
	txn := kc.Client(t, kgo.TransactionalID("meshwatch-test-txn"), kgo.DefaultProduceTopic(topic))
	ctx := context.Background()
	produceTxn := func() {
		t.Helper()
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := txn.ProduceSync(ctx, &kgo.Record{Timestamp: time.Now()}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		produceTxn()
	}
	// Then quiet, with a commit marker as the partition's last offset, for
	// well over the blind delay of the collector's clock (the default,
	// time.Now), through ticks however far apart a busy machine puts them.
	_, n := h.sink.since(0, "")
	quiet := time.Now()
	kafkatest.WaitFor(t, 3*minBlindAfter+hangGuard, func() bool {
		if st, _ := h.c.Status(p.Name); st.Blind != "" {
			t.Fatalf("a transactional topic read to its end is reported blind: %+v", st)
		}
		ev, _ := h.sink.since(n, "availability")
		return len(ev) >= 3 && ev[len(ev)-1].To.Sub(quiet) >= 3*minBlindAfter
	}, "no tick came %v after the topic fell quiet", 3*minBlindAfter)
	// The tick that flushed the last event had set the status before.
	if st, _ := h.c.Status(p.Name); st.Blind != "" {
		t.Errorf("a transactional topic read to its end is reported blind: %+v", st)
	}
}
