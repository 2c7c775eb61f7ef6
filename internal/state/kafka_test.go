package state

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func openKafka(t *testing.T, c *kafkatest.Cluster, topic string) *Kafka {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	log, _ := newLogger()
	k, err := NewKafka(ctx, c.Client(t, kgo.ProducerLinger(0)), topic, log)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKafkaContract(t *testing.T) {
	c := kafkatest.New(t)
	k := openKafka(t, c, "")
	storeContract(t, k)

	// The topic was created compacted.
	rcs, err := c.Admin(t).DescribeTopicConfigs(t.Context(), DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, rc := range rcs {
		for _, cfg := range rc.Configs {
			if cfg.Key == "cleanup.policy" {
				policy = cfg.MaybeValue()
			}
		}
	}
	if policy != "compact" {
		t.Errorf("cleanup.policy %q, want compact", policy)
	}

	// A second store (a restarted agent) loads the latest value of every
	// key, without the deleted and set-aside ones.
	k2 := openKafka(t, c, "")
	want, _ := k.Keys(t.Context(), "")
	got, _ := k2.Keys(t.Context(), "")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("reloaded keys %q, want %q", got, want)
	}
	if v, ok, _ := k2.Get(t.Context(), "sla/checkout.orders.placed/latency"); !ok || string(v) != "v2" {
		t.Errorf("reloaded value %q %v, want v2", v, ok)
	}
	if aside, _ := k2.Keys(t.Context(), asidePrefix); len(aside) != 1 || aside[0] != asidePrefix+"alert/outbox/1" {
		t.Errorf("aside keys %q", aside)
	}
}

// TestKafkaLoadsLatest overwrites keys many times and checks that a new
// store reads the topic to its end and keeps only the latest values, and
// that Sync picks up what another store wrote since.
func TestKafkaLoadsLatest(t *testing.T) {
	c := kafkatest.New(t)
	const topic = "state-test"
	c.MustCreateTopic(t, topic, 3, 1, nil) // exists already, several partitions
	a := openKafka(t, c, topic)
	ctx := t.Context()
	for i := range 50 {
		if err := a.PutMany(ctx, map[string][]byte{
			fmt.Sprintf("k/%d", i%7): fmt.Appendf(nil, "%d", i),
			"k/last":                 fmt.Appendf(nil, "%d", i),
		}); err != nil {
			t.Fatal(err)
		}
	}
	b := openKafka(t, c, topic)
	for i := 43; i < 50; i++ {
		key := fmt.Sprintf("k/%d", i%7)
		if v, ok, _ := b.Get(ctx, key); !ok || string(v) != fmt.Sprint(i) {
			t.Errorf("%s = %q %v, want %d", key, v, ok, i)
		}
	}
	if v, _, _ := b.Get(ctx, "k/last"); string(v) != "49" {
		t.Errorf("k/last = %q, want 49", v)
	}

	if err := a.Put(ctx, "k/last", []byte("failover")); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "k/0"); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := b.Get(ctx, "k/last"); string(v) != "failover" {
		t.Errorf("after Sync k/last = %q, want failover", v)
	}
	if _, ok, _ := b.Get(ctx, "k/0"); ok {
		t.Error("after Sync k/0 survives its tombstone")
	}
	// Nothing new: Sync returns at once.
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}
