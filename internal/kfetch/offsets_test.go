package kfetch_test

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/meshwatch/meshwatch/internal/kfetch"
)

// TestListOffsets checks that ListOffsets answers what kadm's listings
// answer for the same partitions, without their metadata request: end and
// start offsets after records and a deletion, and an error (not a missing
// entry) for a topic the cluster does not have.
func TestListOffsets(t *testing.T) {
	h := newHarness(t)
	h.c.MustCreateTopic(t, "a", 3, 1, nil)
	h.c.MustCreateTopic(t, "b", 1, 1, nil)
	h.produceAt(t, "a", 0, 0, 5, 10)
	h.produceAt(t, "a", 2, 0, 2, 10)
	h.produceAt(t, "b", 0, 0, 3, 10)
	if _, err := h.adm.DeleteRecords(h.ctx, kadm.Offsets{"b": {0: {At: 2}}}); err != nil {
		t.Fatal(err)
	}
	parts := map[string][]int32{"a": {0, 1, 2}, "b": {0}}
	tds, err := h.adm.ListTopics(h.ctx, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	fresh := kfetch.MetadataLeaders(tds)
	for name, leaders := range map[string]kfetch.Leaders{
		"through the client": nil,
		"direct":             fresh,
		// Stale metadata: each partition's leader is another broker (or
		// one that does not exist): asked again through the client.
		"stale": func(topic string, p int32) (int32, [16]byte, bool) {
			b, id, ok := fresh(topic, p)
			if p == 1 {
				return 99, id, ok
			}
			return b + 1, id, ok
		},
	} {
		t.Run(name, func(t *testing.T) { listOffsets(t, h, leaders, parts) })
	}
}

func listOffsets(t *testing.T, h *harness, leaders kfetch.Leaders, parts map[string][]int32) {
	for _, tc := range []struct {
		ts   int64
		kadm func() (kadm.ListedOffsets, error)
	}{
		{kfetch.Latest, func() (kadm.ListedOffsets, error) { return h.adm.ListEndOffsets(h.ctx, "a", "b") }},
		{kfetch.Earliest, func() (kadm.ListedOffsets, error) { return h.adm.ListStartOffsets(h.ctx, "a", "b") }},
	} {
		want, err := tc.kadm()
		if err != nil {
			t.Fatal(err)
		}
		got, err := kfetch.ListOffsets(h.ctx, h.cl, leaders, tc.ts, parts)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		want.Each(func(w kadm.ListedOffset) {
			n++
			g, ok := got.Lookup(w.Topic, w.Partition)
			if !ok || g.Offset != w.Offset || !errors.Is(g.Err, w.Err) {
				t.Errorf("timestamp %d: %s/%d = %+v (found %v), want offset %d err %v", tc.ts, w.Topic, w.Partition, g, ok, w.Offset, w.Err)
			}
		})
		if n != 4 {
			t.Errorf("timestamp %d: kadm listed %d partitions, want 4", tc.ts, n)
		}
	}
	if got, _ := kfetch.ListOffsets(h.ctx, h.cl, leaders, kfetch.Latest, parts); got["a"][0].Offset != 5 || got["b"][0].Offset != 3 {
		t.Errorf("end offsets a/0 %d, b/0 %d, want 5 and 3", got["a"][0].Offset, got["b"][0].Offset)
	}
	if got, _ := kfetch.ListOffsets(h.ctx, h.cl, leaders, kfetch.Earliest, parts); got["b"][0].Offset != 2 {
		t.Errorf("start offset b/0 %d, want 2 (after the deletion)", got["b"][0].Offset)
	}
	got, err := kfetch.ListOffsets(h.ctx, h.cl, leaders, kfetch.Latest, map[string][]int32{"a": {0}, "gone": {0}})
	if lo, ok := got.Lookup("gone", 0); !ok || lo.Err == nil || err == nil {
		t.Errorf("a topic the cluster does not have: %+v (found %v), error %v; want an error in both", lo, ok, err)
	}
	if lo, _ := got.Lookup("a", 0); lo.Err != nil || lo.Offset != 5 {
		t.Errorf("beside a missing topic: a/0 = %+v, want offset 5", lo)
	}
	if got, err := kfetch.ListOffsets(h.ctx, h.cl, leaders, kfetch.Latest, map[string][]int32{"gone": {0}}); got != nil || err == nil {
		t.Errorf("only a missing topic: %v, %v; want no list and an error", got, err)
	}
}
