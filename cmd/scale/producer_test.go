package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// TestMain lets the test binary be the producer child, as the scale
// program is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == producerChildFlag {
		os.Exit(producerChild(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The producer child writes every product's records and commits the
// groups' offsets, at the priority asked, reports its counts to the
// parent, and stops when told.
func TestProducerChild(t *testing.T) {
	kc := kafkatest.New(t)
	w := &workload{products: 3, partitions: 2, rate: 20, groups: 1, commit: 200 * time.Millisecond}
	for i := range w.products {
		kc.MustCreateTopic(t, topicName(i), w.partitions, 1, nil)
	}
	_, stop, err := startProducer(w, kc.Addrs(), 0)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = stop()
		}
	}()
	adm := kc.Admin(t)
	ctx := context.Background()
	kafkatest.WaitFor(t, time.Minute, func() bool {
		offs, err := adm.FetchOffsets(ctx, groupName(0))
		return err == nil && w.produced.Load() > 0 && len(offs) > 0
	}, "the producer child never reported records produced and committed (%s)", w.status())
	ends, err := adm.ListEndOffsets(ctx, topicName(0), topicName(1), topicName(2))
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset == 0 {
			t.Errorf("%s[%d] has no records", o.Topic, o.Partition)
		}
	})
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	if n := w.produced.Load(); n == 0 {
		t.Errorf("produced = %d after the last report", n)
	}
	// The last report counts every record the topics hold: the child
	// flushed before it.
	ends, err = adm.ListEndOffsets(ctx, topicName(0), topicName(1), topicName(2))
	if err != nil {
		t.Fatal(err)
	}
	var written int64
	ends.Each(func(o kadm.ListedOffset) { written += o.Offset })
	if n := w.produced.Load(); n != written {
		t.Errorf("the last report says %d records produced; the topics hold %d", n, written)
	}
}
