package kafkatest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// partView is what a Metadata answer says of one partition, in the fields
// every Metadata version carries.
type partView struct {
	leader   int32
	err      int16
	replicas []int32
	isr      []int32
}

func (p partView) String() string {
	return fmt.Sprintf("leader %d err %v replicas %v isr %v", p.leader, kerr.ErrorForCode(p.err), p.replicas, p.isr)
}

// topicView is what a Metadata answer says of one topic.
type topicView struct {
	err   int16
	parts map[int32]partView
}

// metaView reduces a Metadata answer to its topics.
func metaView(resp *kmsg.MetadataResponse) map[string]topicView {
	out := make(map[string]topicView, len(resp.Topics))
	for _, t := range resp.Topics {
		name := "<nil>"
		if t.Topic != nil {
			name = *t.Topic
		}
		tv := topicView{err: t.ErrorCode, parts: make(map[int32]partView, len(t.Partitions))}
		for _, p := range t.Partitions {
			tv.parts[p.Partition] = partView{p.Leader, p.ErrorCode, slices.Clone(p.Replicas), slices.Clone(p.ISR)}
		}
		out[name] = tv
	}
	return out
}

// diffMeta describes how got differs from want, or returns "".
func diffMeta(got, want map[string]topicView) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w := want[name]
		g, ok := got[name]
		if !ok {
			fmt.Fprintf(&b, "; topic %s missing", name)
			continue
		}
		if g.err != w.err {
			fmt.Fprintf(&b, "; topic %s: error %v, want %v", name, kerr.ErrorForCode(g.err), kerr.ErrorForCode(w.err))
		}
		if len(g.parts) != len(w.parts) {
			fmt.Fprintf(&b, "; topic %s: %d partitions, want %d", name, len(g.parts), len(w.parts))
		}
		for p, wp := range w.parts {
			gp, ok := g.parts[p]
			switch {
			case !ok:
				fmt.Fprintf(&b, "; %s[%d] missing", name, p)
			case gp.leader != wp.leader || gp.err != wp.err || !slices.Equal(gp.replicas, wp.replicas) || !slices.Equal(gp.isr, wp.isr):
				fmt.Fprintf(&b, "; %s[%d]: %v, want %v", name, p, gp, wp)
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			fmt.Fprintf(&b, "; unexpected topic %s", name)
		}
	}
	return strings.TrimPrefix(b.String(), "; ")
}

// only keeps the named topics of a view.
func only(all map[string]topicView, names ...string) map[string]topicView {
	out := make(map[string]topicView, len(names))
	for _, n := range names {
		out[n] = all[n]
	}
	return out
}

// TestLeaderlessConcurrentMetadata hammers a cluster with a leaderless
// partition with Metadata requests of every shape (all topics, named topics
// with and without the faulted one, no topics, a topic ID, an unknown topic),
// from several clients at once, at several request versions, through kgo's
// request routing and straight to each broker. Every answer must be what the
// cluster answered before the fault, topic for topic and partition for
// partition, except that the leaderless partition is listed with leader -1
// and LEADER_NOT_AVAILABLE. An answer meant for another request, an
// all-topics request answered as a named or empty one, or a lost partition
// all show up as a difference.
func TestLeaderlessConcurrentMetadata(t *testing.T) {
	c := New(t)
	ctx := t.Context()
	const (
		faulted = "warehouse.stock.adjusted"
		sibling = "warehouse.stock.counted"
		single  = "warehouse.bins.moved"
		missing = "warehouse.never.created"
	)
	c.MustCreateTopic(t, faulted, 4, 3, nil)
	c.MustCreateTopic(t, sibling, 3, 3, nil)
	c.MustCreateTopic(t, single, 1, 2, nil)

	// The healthy answer, taken before the fault.
	base := c.Client(t)
	allReq := kmsg.NewPtrMetadataRequest()
	before, err := allReq.RequestWith(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	healthy := metaView(before)
	if len(healthy) != 3 || len(healthy[faulted].parts) != 4 {
		t.Fatalf("cluster before the fault: %v", healthy)
	}
	var faultedID [16]byte
	for _, tp := range before.Topics {
		if tp.Topic != nil && *tp.Topic == faulted {
			faultedID = tp.TopicID
		}
	}

	want := maps.Clone(healthy)
	fp := want[faulted]
	fp.parts = maps.Clone(fp.parts)
	p2 := fp.parts[2]
	p2.leader, p2.err = -1, kerr.LeaderNotAvailable.Code
	fp.parts[2] = p2
	want[faulted] = fp
	want[missing] = topicView{err: kerr.UnknownTopicOrPartition.Code, parts: map[int32]partView{}}

	remove := c.Leaderless(faulted, 2)
	defer remove()

	type shape struct {
		name   string
		minV   int16 // the request needs at least this version
		topics func() []kmsg.MetadataRequestTopic
		want   map[string]topicView
	}
	named := func(ns ...string) func() []kmsg.MetadataRequestTopic {
		return func() []kmsg.MetadataRequestTopic {
			ts := []kmsg.MetadataRequestTopic{} // non-nil: named, not all
			for _, n := range ns {
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = kmsg.StringPtr(n)
				ts = append(ts, rt)
			}
			return ts
		}
	}
	shapes := []shape{
		{"all topics", 1, func() []kmsg.MetadataRequestTopic { return nil }, only(want, faulted, sibling, single)},
		{"faulted topic", 0, named(faulted), only(want, faulted)},
		{"other topic", 0, named(sibling), only(want, sibling)},
		{"faulted and others", 0, named(single, faulted, sibling), only(want, faulted, sibling, single)},
		{"faulted and unknown", 0, named(faulted, missing), only(want, faulted, missing)},
		{"no topics", 1, named(), only(want)},
		{"faulted by ID", 10, func() []kmsg.MetadataRequestTopic {
			rt := kmsg.NewMetadataRequestTopic()
			rt.TopicID = faultedID
			return []kmsg.MetadataRequestTopic{rt}
		}, only(want, faulted)},
	}

	// Clients as the collector has them: kafkatest's own, one with
	// franz-go's defaults, and two pinned to older Metadata versions (the
	// answer is reissued at the cluster's version and must be sent back at
	// the request's).
	maxMeta := func(v int16) kgo.Opt {
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(int16(kmsg.Metadata), v)
		return kgo.MaxVersions(vs)
	}
	type client struct {
		name string
		cl   *kgo.Client
		maxV int16
	}
	clients := []client{
		{"kafkatest", c.Client(t), 13},
		{"kafkatest 2", c.Client(t), 13},
		{"defaults", c.Client(t, kgo.MetadataMinAge(5*time.Second)), 13},
		{"v9", c.Client(t, maxMeta(9)), 9},
		{"v4", c.Client(t, maxMeta(4)), 4},
	}
	const goroutinesPerClient, rounds = 3, 12

	var (
		mu       sync.Mutex
		failures []string
		answers  = map[string]int{}
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}

	var wg sync.WaitGroup
	for _, cl := range clients {
		for g := range goroutinesPerClient {
			wg.Go(func() {
				for r := range rounds {
					s := shapes[(g+r)%len(shapes)]
					if s.minV > cl.maxV {
						continue
					}
					req := kmsg.NewPtrMetadataRequest()
					req.Topics = s.topics()
					var (
						kresp kmsg.Response
						err   error
						via   string
					)
					// Alternate kgo's routing (any broker, through
					// the client's metadata handling) with a request
					// pinned to one broker, which pipelines requests
					// on one connection.
					if r%2 == 0 {
						via = "kgo"
						kresp, err = cl.cl.Request(ctx, req)
					} else {
						node := int32((g + r) % NumBrokers)
						via = fmt.Sprintf("broker %d", node)
						kresp, err = cl.cl.Broker(int(node)).Request(ctx, req)
					}
					if err != nil {
						fail("%s client, %s via %s: %v", cl.name, s.name, via, err)
						continue
					}
					resp := kresp.(*kmsg.MetadataResponse)
					if resp.Version != req.Version {
						fail("%s client, %s via %s: answer v%d to request v%d", cl.name, s.name, via, resp.Version, req.Version)
					}
					if len(resp.Brokers) != NumBrokers {
						fail("%s client, %s via %s: %d brokers, want %d", cl.name, s.name, via, len(resp.Brokers), NumBrokers)
					}
					if d := diffMeta(metaView(resp), s.want); d != "" {
						fail("%s client, %s (v%d) via %s: %s", cl.name, s.name, req.Version, via, d)
					}
					mu.Lock()
					answers[s.name]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()

	sort.Strings(failures)
	for _, f := range failures {
		t.Error(f)
	}
	for _, s := range shapes {
		if answers[s.name] == 0 {
			t.Errorf("no answer checked for %s", s.name)
		}
	}
	if t.Failed() {
		return
	}

	// Lifted, every shape is answered as before the fault.
	remove()
	WaitFor(t, waitTimeout, func() bool {
		resp, err := allReq.RequestWith(ctx, base)
		return err == nil && diffMeta(metaView(resp), healthy) == ""
	}, "cluster not healthy again after remove")
}

// TestLeaderlessKeepsTopicListed runs the collector's pattern on one franz-go
// client with its default 5 s MetadataMinAge: all-topics listings answered
// from kgo's metadata cache (kadm.ListTopics, as discovery does) while end
// offsets are listed (kadm.ListEndOffsets, as every tick does) just after a
// partition went leaderless. Every listing must keep the topic and all its
// partitions.
//
// kgo evicts a topic from its metadata cache when a ListOffsets partition
// answers NOT_LEADER_OR_FOLLOWER, but leaves the cached all-topics answer
// fresh, and only refetches after its retry backoff (about 250 ms): in
// between, an all-topics RequestCachedMetadata of that client answers
// without the topic, without asking the cluster. Leaderless must not make
// ListOffsets answer in a way that makes kgo drop a topic that exists.
func TestLeaderlessKeepsTopicListed(t *testing.T) {
	c := New(t)
	ctx := t.Context()
	const topic, other = "billing.invoices.issued", "billing.invoices.paid"
	c.MustCreateTopic(t, topic, 2, 3, nil)
	c.MustCreateTopic(t, other, 1, 3, nil)

	adm := kadm.NewClient(c.Client(t, kgo.MetadataMinAge(5*time.Second)))
	listed := func() string {
		tds, err := adm.ListTopics(ctx)
		if err != nil {
			return err.Error()
		}
		var problems []string
		for name, n := range map[string]int{topic: 2, other: 1} {
			td, ok := tds[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s missing (listed %v)", name, tds.Names()))
			case td.Err != nil:
				problems = append(problems, fmt.Sprintf("%s: %v", name, td.Err))
			case len(td.Partitions) != n:
				problems = append(problems, fmt.Sprintf("%s: %d partitions, want %d", name, len(td.Partitions), n))
			}
		}
		return strings.Join(problems, "; ")
	}

	// Warm the cache: an all-topics listing and the leaders of topic.
	if p := listed(); p != "" {
		t.Fatalf("before the fault: %s", p)
	}
	if _, err := adm.ListEndOffsets(ctx, topic); err != nil {
		t.Fatal(err)
	}

	remove := c.Leaderless(topic, 1)
	defer remove()

	type result struct {
		ends kadm.ListedOffsets
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ends, err := adm.ListEndOffsets(ctx, topic)
		done <- result{ends, err}
	}()
	var (
		res    result
		checks int
	)
	for finished := false; !finished; {
		select {
		case res = <-done:
			finished = true // one more listing after it returned
		default:
		}
		checks++
		if p := listed(); p != "" {
			t.Fatalf("listing %d, while end offsets were listed under the fault: %s", checks, p)
		}
	}

	// The end offsets still tell the leaderless partition apart: an error
	// for it, the offset of the other.
	if p0, ok := res.ends[topic][0]; !ok || p0.Err != nil || p0.Offset != 0 {
		t.Errorf("%s[0]: %+v (err %v), want end offset 0", topic, p0, res.err)
	}
	if p1, ok := res.ends[topic][1]; !errors.Is(res.err, kerr.LeaderNotAvailable) && !(ok && errors.Is(p1.Err, kerr.LeaderNotAvailable)) {
		t.Errorf("%s[1]: %+v (err %v), want LEADER_NOT_AVAILABLE", topic, p1, res.err)
	}
}
