package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// TestMetaViewSlices: a mesh larger than the metadata view's full size is
// read a slice per tick, in turn, so a partition added to a topic outside
// the next slices shows when its slice comes round, and no sooner; a topic
// whose end offsets its view's leaders cannot give (no leader, deleted) is
// read again the same tick; a topic with a problem is read at every tick,
// so its recovery shows at the next one.
func TestMetaViewSlices(t *testing.T) {
	kc := kafkatest.New(t)
	const n = 12
	var names []string
	var ps []meshwatch.Product
	for i := range n {
		name := fmt.Sprintf("checkout.orders%02d.placed", i)
		kc.MustCreateTopic(t, name, 2, 3, nil)
		names = append(names, name)
		ps = append(ps, product(name, named(name)...))
	}
	cfg := testConfig(kc, ps...)
	// The test ticks, not the tick loop.
	cfg.Collector.Tick, cfg.Collector.Discovery = meshwatch.Duration(time.Hour), meshwatch.Duration(time.Hour)
	h := start(t, kc, cfg, func(o *Options) { o.meta = metaSizes{full: 4, cycle: 3} }) // 4 topics a tick
	ctx := context.Background()
	tick := func() { h.c.tick(ctx, time.Second) }
	parts := func(name string) int { return len(h.c.meta.topics[name].parts) }
	noLeader := func(name string) bool {
		st, _ := h.c.Status(name)
		return slices.Contains(st.Problems, ProblemNoLeader)
	}

	tick() // reads every topic: the view had none; the next slice is names[4:8]
	for _, name := range names {
		if parts(name) != 2 {
			t.Fatalf("the first tick left %s out of the metadata view", name)
		}
	}

	if _, err := kc.Admin(t).CreatePartitions(ctx, 1, names[0]); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{2, 2, 3} { // slices [4:8], [8:12], [0:4]
		tick()
		if got := parts(names[0]); got != want {
			t.Fatalf("tick %d after a partition was added: the view has %d partitions of %s, want %d (read at the third tick, in its slice)", i+1, got, names[0], want)
		}
	}

	remove := kc.Leaderless(names[1], 1)
	tick() // slice [4:8]; names[1]'s end offset fails, so it is read again
	if !noLeader(names[1]) {
		t.Fatalf("the tick after a partition of %s lost its leader does not report no_leader", names[1])
	}
	remove()
	tick() // slice [8:12], and names[1] because it had a problem
	if noLeader(names[1]) {
		t.Fatalf("the tick after the fault was lifted still reports no_leader: a topic with a problem is read at every tick")
	}

	// The next slice is [0:4]: names[9] is outside it.
	if err := kc.DeleteTopic(ctx, names[9]); err != nil {
		t.Fatal(err)
	}
	tick()
	if tm, ok := h.c.meta.topics[names[9]]; ok && !errors.Is(tm.err, kerr.UnknownTopicOrPartition) {
		t.Errorf("after a tick, the view still has the deleted %s as it was", names[9])
	}

	// The next slice is [4:8]. names[10] is deleted outside it, and the
	// second read, of the stale topics (names[10], and names[9] while it is
	// still routed), fails: the slice's answer stands
	// (no product has a metadata problem) and names[10] is read at the
	// next tick.
	var failing atomic.Bool
	failing.Store(true)
	kc.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if !failing.Load() {
			kc.DropControl()
			return nil, nil, false
		}
		kc.KeepControl()
		for _, rt := range kreq.(*kmsg.MetadataRequest).Topics {
			// Fewer than 4 topics: the second read, not the slice's.
			if rt.Topic != nil && *rt.Topic == names[10] && len(kreq.(*kmsg.MetadataRequest).Topics) < 4 {
				return nil, errors.New("injected: metadata of " + names[10]), true
			}
		}
		return nil, nil, false
	})
	if err := kc.DeleteTopic(ctx, names[10]); err != nil {
		t.Fatal(err)
	}
	tick()
	failing.Store(false)
	for _, name := range []string{names[0], names[5]} {
		if st, _ := h.c.Status(name); slices.Contains(st.Problems, ProblemMetadata) {
			t.Errorf("%s reports %v: a failed second read of another topic dropped the slice's answer", name, st.Problems)
		}
	}
	if !h.c.meta.recheck[names[10]] {
		t.Errorf("names[10], whose second read failed, is not read at the next tick (recheck %v)", h.c.meta.recheck)
	}
}

// TestMetaViewAsk: the slices cover every routed topic in turn, and a
// topic the view lacks or saw a problem on is asked at every tick (a
// partition under min ISR still has a leader: only the recheck reads it
// before its slice comes round).
func TestMetaViewAsk(t *testing.T) {
	r := &routes{topics: map[string]*topicRoute{}}
	for i := range 10 {
		name := fmt.Sprintf("t%02d", i)
		r.names = append(r.names, name)
		r.topics[name] = &topicRoute{}
	}
	v := newMetaView(metaSizes{full: 3, cycle: 4}) // max(ceil(10/4), 3) = 3 a tick
	ask, whole := v.ask(r)
	if whole || len(ask) != 10 {
		t.Fatalf("first ask = %v (whole %v), want every topic: the view has none", ask, whole)
	}
	answer := map[string]topicMeta{}
	for _, name := range r.names {
		answer[name] = topicMeta{}
	}
	v.update(ask, answer, whole)

	v.recheck = map[string]bool{"t01": true, "gone": true}
	seen := map[string]int{}
	for i := range 4 {
		ask, _ := v.ask(r)
		for _, name := range ask {
			seen[name]++
		}
		if !slices.Contains(ask, "t01") {
			t.Errorf("ask %d = %v: the rechecked t01 is missing", i+1, ask)
		}
		if slices.Contains(ask, "gone") {
			t.Errorf("ask %d = %v: asks for a topic no longer routed", i+1, ask)
		}
		if len(ask) > 4 {
			t.Errorf("ask %d = %v: more than a slice of 3 and the rechecked topic", i+1, ask)
		}
	}
	for _, name := range r.names {
		if seen[name] == 0 {
			t.Errorf("%s was not asked in 4 ticks (every %d-topic slice in turn)", name, 3)
		}
	}

	r.names = r.names[:9] // t09 is no longer routed
	delete(r.topics, "t09")
	for range 4 {
		v.ask(r) // wraps around at least once
	}
	if _, ok := v.topics["t09"]; ok {
		t.Errorf("the view kept t09 after its slice wrapped around, though it is no longer routed")
	}
	small := newMetaView(metaSizes{full: 20})
	if ask, whole := small.ask(r); !whole || len(ask) != 9 {
		t.Errorf("a mesh within the full size: ask = %v (whole %v), want all 9", ask, whole)
	}
}
