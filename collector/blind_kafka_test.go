package collector

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// produceUntil produces a record to topic every 20 ms until stop is
// closed, so that the product keeps having traffic.
func (h *harness) produceUntil(t *testing.T, topic string, stop <-chan struct{}) {
	t.Helper()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = h.kc.Produce(ctx, &kgo.Record{Topic: topic, Timestamp: time.Now()})
			cancel()
		}
	}
}

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
	kafkatest.WaitFor(t, 10*time.Second, func() bool {
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
	kafkatest.WaitFor(t, 10*time.Second, func() bool {
		kc2, err = kafkatest.Start(ports...)
		return err == nil
	}, "the cluster could not be started again on its ports: %v", err)
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
	ps := h.c.byName[p.Name]
	blindGauge := func(reason string) float64 {
		return testutil.ToFloat64(ps.m.m.blind.WithLabelValues(p.Name, ps.p.Domain, ps.p.Owner, reason))
	}
	if blindGauge(BlindFetchErrors) != 0 || blindGauge(BlindStalled) != 0 {
		t.Fatal("blind before anything failed")
	}

	// The broker answers every fetch of the topic as if it did not know
	// its ID: what a topic recreated behind the client's back looks like
	// when discovery cannot repair it.
	fault := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: topic, Err: kerr.UnknownTopicID, Count: -1})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); h.produceUntil(t, topic, stop) }()
	defer func() { close(stop); <-done }()

	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		st, _ := h.c.Status(p.Name)
		return st.Blind == BlindFetchErrors
	}, "the product was never reported blind while its fetches failed")
	st, _ := h.c.Status(p.Name)
	if st.Available {
		t.Errorf("a blind product is available: %+v", st)
	}
	kafkatest.WaitFor(t, 5*time.Second, func() bool {
		return blindGauge(BlindFetchErrors) == 1 &&
			testutil.ToFloat64(ps.m.m.availProblem.WithLabelValues(p.Name, ps.p.Domain, ps.p.Owner, ProblemBlind)) == 1 &&
			testutil.ToFloat64(ps.m.m.available.WithLabelValues(p.Name, ps.p.Domain, ps.p.Owner)) == 0
	}, "the metrics never said the product is blind")

	// Blind ticks are no availability events: the product may be fine.
	_, n := h.sink.since(0, "")
	kafkatest.WaitFor(t, 10*time.Second, func() bool {
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
	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		st, _ := h.c.Status(p.Name)
		return st.Blind == "" && st.Available && blindGauge(BlindFetchErrors) == 0
	}, "the product was still blind after its fetches worked again")
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
	// longer than the blind delay: ticks of the test config are 200 ms.
	_, n := h.sink.since(0, "")
	ticks := int(2 * minBlindAfter / (200 * time.Millisecond))
	kafkatest.WaitFor(t, 10*minBlindAfter, func() bool {
		ev, _ := h.sink.since(n, "availability")
		if st, _ := h.c.Status(p.Name); st.Blind != "" {
			t.Fatalf("a transactional topic read to its end is reported blind: %+v", st)
		}
		return len(ev) >= ticks
	}, "ticks stopped")
}
