package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lazy formats as what it returns when the message is formatted, so that a
// WaitFor message shows the last state rather than the first.
type lazy func() string

func (f lazy) String() string { return f() }

// pollFor polls cl once for at most d.
func pollFor(t *testing.T, cl *kgo.Client, d time.Duration) kgo.Fetches {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return cl.PollFetches(ctx)
}

func TestFailFetches(t *testing.T) {
	c := New(t)
	const topic, other = "payments.transactions.settled", "checkout.orders.placed"
	c.MustCreateTopic(t, topic, 3, 3, nil)
	c.MustCreateTopic(t, other, 1, 3, nil)

	remove := c.FailFetches(topic)

	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte("{}")})
	}
	recs = append(recs, &kgo.Record{Topic: other, Value: []byte("{}")})
	if err := c.Produce(t.Context(), recs...); err != nil {
		t.Fatal(err)
	}

	// Direct assignment, as the collector reads.
	cl := c.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()},
		other: {0: kgo.NewOffset().AtStart()},
	}))

	failed := map[int32]bool{}
	var otherRecords int
	WaitFor(t, waitTimeout, func() bool {
		fs := pollFor(t, cl, 200*time.Millisecond)
		for _, e := range fs.Errors() {
			if errors.Is(e.Err, context.DeadlineExceeded) {
				continue
			}
			if e.Topic != topic || !errors.Is(e.Err, kerr.UnknownServerError) {
				t.Fatalf("fetch error on %s[%d]: %v, want UNKNOWN_SERVER_ERROR on %s only", e.Topic, e.Partition, e.Err, topic)
			}
			failed[e.Partition] = true
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic == topic {
				t.Fatalf("consumed a record of %s[%d] while its fetches fail", topic, r.Partition)
			}
			otherRecords++
		})
		return len(failed) == 3 && otherRecords == 1
	}, "want fetch errors on all 3 partitions of %s and the record of %s; got %v", topic, other,
		lazy(func() string { return fmt.Sprintf("errors on %v and %d records", failed, otherRecords) }))

	remove()
	remove() // idempotent

	got := 0
	WaitFor(t, waitTimeout, func() bool {
		fs := pollFor(t, cl, 200*time.Millisecond)
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic == topic {
				got++
			}
		})
		return got == 30
	}, "after remove: consumed %v of 30 records of %s", lazy(func() string { return strconv.Itoa(got) }), topic)
}

func TestLeaderless(t *testing.T) {
	c := New(t)
	ctx := t.Context()
	const topic, other = "logistics.parcels.scanned", "logistics.parcels.delivered"
	c.MustCreateTopic(t, topic, 3, 3, nil)
	c.MustCreateTopic(t, other, 3, 3, nil)
	adm := c.Admin(t)

	// leaders returns the leader and error of every partition of topic,
	// by a metadata request for topic alone (named) or for all topics.
	var last map[int32]kadm.PartitionDetail // for failure messages
	leaders := func(all bool) map[int32]kadm.PartitionDetail {
		t.Helper()
		var (
			m   kadm.Metadata
			err error
		)
		if all {
			m, err = adm.Metadata(ctx)
		} else {
			m, err = adm.Metadata(ctx, topic)
		}
		if err != nil {
			t.Fatal(err)
		}
		last = m.Topics[topic].Partitions
		return last
	}
	healthy := func(all bool) bool {
		ps := leaders(all)
		for _, p := range ps {
			if p.Leader < 0 || p.Err != nil {
				return false
			}
		}
		return len(ps) == 3
	}
	onlyOneLeaderless := func(all bool) bool {
		ps := leaders(all)
		for _, p := range ps {
			if p.Partition == 1 {
				if p.Leader != -1 || !errors.Is(p.Err, kerr.LeaderNotAvailable) {
					return false
				}
				continue
			}
			if p.Leader < 0 || p.Err != nil {
				t.Fatalf("partition %d: leader %d, err %v; want only partition 1 leaderless", p.Partition, p.Leader, p.Err)
			}
		}
		return len(ps) == 3
	}

	WaitFor(t, waitTimeout, func() bool { return healthy(false) }, "%s has a partition without a leader before any fault", topic)

	remove := c.Leaderless(topic, 1)
	WaitFor(t, waitTimeout, func() bool { return onlyOneLeaderless(false) }, "named metadata: partition 1 never leaderless: %v", &last)
	WaitFor(t, waitTimeout, func() bool { return onlyOneLeaderless(true) }, "all-topics metadata: partition 1 never leaderless: %v", &last)

	// The rest of the answer is the cluster's own: other topics, replicas.
	m, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Topics[other]; !ok || len(m.Brokers) != NumBrokers {
		t.Errorf("all-topics metadata lost %s or brokers: %v", other, m)
	}
	if p := m.Topics[topic].Partitions[1]; len(p.Replicas) != 3 {
		t.Errorf("leaderless partition lists replicas %v, want the real 3", p.Replicas)
	}
	for _, p := range m.Topics[other].Partitions {
		if p.Leader < 0 || p.Err != nil {
			t.Errorf("%s[%d] is affected: leader %d, err %v", other, p.Partition, p.Leader, p.Err)
		}
	}

	// The last leader refuses the partition: LEADER_NOT_AVAILABLE to
	// ListOffsets, as the sharding client reports it without sending it
	// (no leader to send it to), and NOT_LEADER_OR_FOLLOWER to Produce.
	listEnd := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition = 1
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	listEnd.Topics = append(listEnd.Topics, lt)
	raw := c.Client(t)
	if _, err := listEnd.RequestWith(ctx, raw); !errors.Is(err, kerr.LeaderNotAvailable) {
		t.Errorf("ListOffsets of the leaderless partition through kgo: err = %v, want LEADER_NOT_AVAILABLE", err)
	}
	kresp, err := raw.Broker(int(c.LeaderFor(topic, 1))).Request(ctx, listEnd)
	if err != nil {
		t.Fatal(err)
	}
	resp := kresp.(*kmsg.ListOffsetsResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.LeaderNotAvailable.Code {
		t.Errorf("ListOffsets of the leaderless partition: error %v, want LEADER_NOT_AVAILABLE", kerr.ErrorForCode(code))
	}
	produce := kmsg.NewPtrProduceRequest()
	produce.Acks = -1
	produce.TimeoutMillis = 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pt.TopicID = m.Topics[topic].ID // Produce v13+ names topics by ID
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition = 1
	pt.Partitions = append(pt.Partitions, pp)
	produce.Topics = append(produce.Topics, pt)
	kresp, err = raw.Broker(int(c.LeaderFor(topic, 1))).Request(ctx, produce)
	if err != nil {
		t.Fatal(err)
	}
	if code := kresp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Errorf("Produce to the leaderless partition: error %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(code))
	}

	// A second fault on the same partition keeps it leaderless until both
	// are removed.
	removeAgain := c.Leaderless(topic, 1)
	remove()
	remove() // idempotent: must not lift the second fault
	if !onlyOneLeaderless(false) {
		t.Fatal("partition 1 has a leader while a second Leaderless is in force")
	}
	removeAgain()
	WaitFor(t, waitTimeout, func() bool { return healthy(false) && healthy(true) }, "partition 1 still leaderless after remove: %v", &last)

	// Producing to the partition works again.
	rec := &kgo.Record{Topic: topic, Partition: 1, Value: []byte("{}")}
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("produce to partition 1 after remove: %v", err)
	}

	// The control dropped itself once the faults were lifted; a new
	// fault installs it again.
	remove = c.Leaderless(topic, 1)
	WaitFor(t, waitTimeout, func() bool { return onlyOneLeaderless(false) }, "second round: partition 1 never leaderless: %v", &last)
	remove()
	WaitFor(t, waitTimeout, func() bool { return healthy(false) }, "second round: partition 1 still leaderless after remove: %v", &last)
}

// TestLeaderlessClose closes a cluster with a partition still leaderless:
// Close must not wait on the Metadata control or its client.
func TestLeaderlessClose(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.MustCreateTopic(t, "checkout.carts.updated", 1, 3, nil)
	c.Leaderless("checkout.carts.updated", 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m, err := kadm.NewClient(cl).Metadata(t.Context(), "checkout.carts.updated")
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Topics["checkout.carts.updated"].Partitions[0]; p.Leader != -1 {
		t.Fatalf("partition 0 has leader %d, want -1", p.Leader)
	}
	c.Close()
	if err := c.Produce(t.Context(), &kgo.Record{Topic: "checkout.carts.updated"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Produce after Close: err = %v, want ErrClosed", err)
	}
}
