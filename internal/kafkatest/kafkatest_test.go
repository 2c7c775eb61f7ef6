package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// waitTimeout bounds each wait of these tests for what a cluster or a
// client does on its own timers (retries, metadata refreshes). It only
// catches a hang: a busy machine may take many times longer than an idle one.
const waitTimeout = time.Minute

func TestStart(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	addrs := c.Addrs()
	if len(addrs) != NumBrokers {
		t.Fatalf("Addrs() = %v, want %d brokers", addrs, NumBrokers)
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Errorf("broker address %q is not on 127.0.0.1", a)
		}
	}
	addrs[0] = "mutated"
	if c.Addrs()[0] == "mutated" {
		t.Error("Addrs returned the cluster's own slice")
	}

	meta, err := c.Admin(t).BrokerMetadata(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != NumBrokers {
		t.Errorf("metadata lists %d brokers, want %d", len(meta.Brokers), NumBrokers)
	}

	c.Close()
	c.Close() // idempotent
	if err := c.Produce(t.Context(), &kgo.Record{Topic: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Produce after Close: err = %v, want ErrClosed", err)
	}
}

func TestStartOptionsOverride(t *testing.T) {
	c := New(t, kfake.NumBrokers(1))
	if n := len(c.Addrs()); n != 1 {
		t.Fatalf("with kfake.NumBrokers(1): %d brokers, want 1", n)
	}
}

func TestCreateProduceConsumeDelete(t *testing.T) {
	c := New(t)
	ctx := t.Context()
	const topic = "checkout.orders.placed"
	c.MustCreateTopic(t, topic, 3, 3, map[string]*string{"retention.ms": new("3600000")})

	err := c.CreateTopic(ctx, topic, 3, 3, nil)
	if !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Errorf("creating %s twice: err = %v, want TOPIC_ALREADY_EXISTS", topic, err)
	}
	if err := c.CreateTopic(ctx, "too.many.replicas", 1, NumBrokers+1, nil); err == nil {
		t.Error("creating a topic with more replicas than brokers succeeded")
	}

	details, err := c.Admin(t).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	td := details[topic]
	if len(td.Partitions) != 3 || td.Partitions.NumReplicas() != 3 {
		t.Errorf("topic has %d partitions of %d replicas, want 3 of 3", len(td.Partitions), td.Partitions.NumReplicas())
	}

	// A timestamp far from now proves the producer keeps the one given.
	ts := time.Date(2024, 2, 29, 12, 30, 45, 123e6, time.UTC)
	in := []*kgo.Record{
		{Topic: topic, Key: []byte("k1"), Value: []byte(`{"n":1}`), Timestamp: ts,
			Headers: []kgo.RecordHeader{{Key: "x-event-time", Value: []byte("2024-02-29T12:30:44Z")}}},
		{Topic: topic, Key: []byte("k2"), Value: []byte(`{"n":2}`)},
	}
	before := time.Now().Truncate(time.Millisecond)
	if err := c.Produce(ctx, in...); err != nil {
		t.Fatal(err)
	}

	got := consumeN(t, c, topic, 2)
	byKey := map[string]*kgo.Record{}
	for _, r := range got {
		byKey[string(r.Key)] = r
	}
	if r := byKey["k1"]; r == nil || !r.Timestamp.Equal(ts) {
		t.Errorf("k1 timestamp = %v, want %v", r.Timestamp, ts)
	} else if len(r.Headers) != 1 || r.Headers[0].Key != "x-event-time" || string(r.Headers[0].Value) != "2024-02-29T12:30:44Z" {
		t.Errorf("k1 headers = %v, want the x-event-time header as produced", r.Headers)
	}
	if r := byKey["k2"]; r == nil || r.Timestamp.Before(before) {
		t.Errorf("k2 (zero timestamp) = %v, want the time of Produce (≥ %v)", r.Timestamp, before)
	}

	if err := c.DeleteTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTopic(ctx, topic); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("deleting %s twice: err = %v, want UNKNOWN_TOPIC_OR_PARTITION", topic, err)
	}
}

// consumeN reads the first n records of every partition of topic.
func consumeN(t *testing.T, c *Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(recs), n, topic, err)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("fetch %s[%d]: %v", e.Topic, e.Partition, e.Err)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func TestWaitFor(t *testing.T) {
	var mu sync.Mutex
	n := 0
	WaitFor(t, waitTimeout, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n++
		return n >= 3
	}, "condition never held")
	if n != 3 {
		t.Errorf("cond evaluated %d times, want 3 (stop at the first true)", n)
	}
}

func TestWaitForTimesOut(t *testing.T) {
	ft := &fatalTB{TB: t}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		WaitFor(ft, 100*time.Millisecond, func() bool { return false }, "partition %d never got a leader", 7)
	}()
	<-done
	if ft.msg == "" {
		t.Fatal("WaitFor returned without failing the test")
	}
	if want := "partition 7 never got a leader"; !strings.Contains(ft.msg, want) {
		t.Errorf("failure message %q does not contain %q", ft.msg, want)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("WaitFor failed after %v, before its 100ms timeout", elapsed)
	}
}

// fatalTB records Fatalf and stops the goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
