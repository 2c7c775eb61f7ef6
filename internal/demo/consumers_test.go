package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func TestCatalogDeclaresConsumers(t *testing.T) {
	cfg := Catalog()
	cfg.SetDefaults()
	if errs := cfg.Validate().Errors(); len(errs) > 0 {
		t.Fatalf("catalog invalid: %v", errs)
	}
	lagSLOs := 0
	for _, s := range ConsumerScenarios() {
		i := slices.IndexFunc(cfg.Products, func(p meshwatch.Product) bool { return p.Name == s.Product })
		if i < 0 {
			t.Fatalf("%s: no product %s", s.Group, s.Product)
		}
		p := &cfg.Products[i]
		if got := p.ConsumerOwner(s.Group); got != s.Owner {
			t.Errorf("%s: %s declares owner %q, want %q", s.Group, p.Name, got, s.Owner)
		}
		for _, topic := range s.Topics {
			if !slices.ContainsFunc(p.Topics, func(sel meshwatch.TopicSelector) bool { return sel.Matches(topic) }) {
				t.Errorf("%s reads %s, which %s does not select", s.Group, topic, p.Name)
			}
		}
		for _, slo := range p.SLOs {
			if slo.SLI == meshwatch.SLILag && slo.ConsumerGroup == s.Group {
				lagSLOs++
			}
		}
	}
	if lagSLOs != 1 {
		t.Errorf("%d lag SLOs on the demo groups, want 1", lagSLOs)
	}
}

// lagOf returns a group's committed offsets and offset lag summed over its
// topics' partitions.
func lagOf(t *testing.T, adm *kadm.Client, group string, topics []string) (committed, lag int64) {
	t.Helper()
	ends, err := adm.ListEndOffsets(t.Context(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	os, err := adm.FetchOffsets(t.Context(), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, 0 // no commit yet
	}
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(lo kadm.ListedOffset) {
		if c, ok := os.Lookup(lo.Topic, lo.Partition); ok {
			committed += c.At
			lag += lo.Offset - c.At
		}
	})
	return committed, lag
}

// consumerTopics returns the topics the demo consumer groups read.
func consumerTopics() []string {
	var topics []string
	for _, s := range ConsumerScenarios() {
		for _, topic := range s.Topics {
			if !slices.Contains(topics, topic) {
				topics = append(topics, topic)
			}
		}
	}
	return topics
}

// groupTicks is what TestConsumers saw of one group: its committed offsets
// and offset lag summed over its partitions, after each tick, and whether
// the tick was in the second half of its period.
type groupTicks struct {
	committed, lag []int64
	second         []bool
}

// TestConsumers runs the consumer behaviours in virtual time. Each tick the
// test produces the tick's records, then makes the tick as Run does (list
// the end offsets, step every group with the time elapsed), then looks at
// what every group committed. Nothing runs on a timer: the run is the same
// however busy the machine is, so each behaviour is checked tick by tick.
func TestConsumers(t *testing.T) {
	const (
		period  = time.Second
		tick    = 50 * time.Millisecond
		half    = int(period / tick / 2) // ticks in half a period
		ticks   = 5 * half               // two and a half periods
		perTick = 2                      // records per partition per tick
	)
	c := kafkatest.New(t)
	topics := consumerTopics()
	for _, topic := range topics {
		c.MustCreateTopic(t, topic, topicPartitions, 1, nil)
	}
	cons, err := NewConsumers(c.Addrs(), nil, WithConsumerTiming(period, tick))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cons.Close)
	pr := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	adm := c.Admin(t)
	ctx := t.Context()
	waitMembers(t, adm)

	seen := map[string]*groupTicks{}
	for k := 1; k <= ticks; k++ {
		var recs []*kgo.Record
		for _, topic := range topics {
			for p := range int32(topicPartitions) {
				for range perTick {
					recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("{}")})
				}
			}
		}
		if err := pr.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		// The tick, as Run makes it.
		elapsed := time.Duration(k) * tick
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range cons.groups {
			cons.step(ctx, g, ends, elapsed)
		}
		for _, s := range ConsumerScenarios() {
			committed, lag := lagOf(t, adm, s.Group, s.Topics)
			o := seen[s.Group]
			if o == nil {
				o = &groupTicks{}
				seen[s.Group] = o
			}
			o.committed = append(o.committed, committed)
			o.lag = append(o.lag, lag)
			o.second = append(o.second, elapsed%period >= period/2)
		}
	}

	for _, s := range ConsumerScenarios() {
		o := seen[s.Group]
		moved := 0
		for k := 1; k < ticks; k++ {
			if o.committed[k] > o.committed[k-1] {
				moved++
			}
		}
		// ok fails the test, once, at the first tick after which cond
		// does not hold.
		ok := func(what string, cond func(k int) bool) {
			t.Helper()
			for k := range ticks {
				if !cond(k) {
					t.Errorf("%s (%s), tick %d (second half %v): %s; committed %v, lag %v", s.Group, s.Behaviour, k+1, o.second[k], what, o.committed, o.lag)
					return
				}
			}
		}
		if moved == 0 {
			t.Errorf("%s never committed progress: committed %v", s.Group, o.committed)
			continue
		}
		switch s.Behaviour {
		case KeepsUp:
			ok("keeps up: no lag", func(k int) bool { return o.lag[k] == 0 })
		case FallsBehind:
			// Caught up in the first half; in the second it reads at
			// slowShare of the rate: it moves, but falls behind by the
			// rest, less a record per partition of rounding.
			parts := len(s.Topics) * topicPartitions
			behind := int64((1-slowShare)*float64(perTick*half*parts)) - int64(parts)
			ok("caught up in the first half", func(k int) bool { return o.second[k] || o.lag[k] == 0 })
			ok("moves, and its lag does not shrink, in the second half", func(k int) bool {
				return !o.second[k] || o.committed[k] > o.committed[k-1] && o.lag[k] >= o.lag[k-1]
			})
			ok(fmt.Sprintf("behind by at least %d records at the end of a second half", behind), func(k int) bool {
				return k+1 == ticks || !o.second[k] || o.second[k+1] || o.lag[k] >= behind
			})
		case Stops:
			ok("caught up in the first half", func(k int) bool { return o.second[k] || o.lag[k] == 0 })
			ok("stands still in the second half", func(k int) bool {
				return !o.second[k] || o.committed[k] == o.committed[k-1] && o.lag[k] > o.lag[k-1]
			})
		case Stalls:
			ok("caught up in the first half", func(k int) bool { return o.second[k] || o.lag[k] == 0 })
			ok("re-commits the same offset in the second half while records arrive", func(k int) bool {
				return !o.second[k] || o.committed[k] == o.committed[k-1] && o.lag[k] > o.lag[k-1]
			})
			d, err := adm.DescribeGroups(ctx, s.Group)
			if g := d[s.Group]; err != nil || len(g.Members) != 1 || len(g.AssignedPartitions()) == 0 {
				t.Errorf("%s: %v members, assigned %v (%v); want its live member, assigned", s.Group, len(g.Members), g.AssignedPartitions(), err)
			}
		case Rewinds:
			// Back at the start of every second half, and nowhere else;
			// then replayed faster than produced: caught up before the
			// next rewind.
			ok("goes back when, and only when, a second half starts", func(k int) bool {
				rewound := k > 0 && o.committed[k] < o.committed[k-1]
				return rewound == (k > 0 && o.second[k] && !o.second[k-1])
			})
			ok("catches up before the next rewind", func(k int) bool {
				return k+1 == ticks || !o.second[k+1] || o.second[k] || o.lag[k] == 0
			})
		default:
			t.Errorf("%s: behaviour %q not checked", s.Group, s.Behaviour)
		}
	}
}

// TestConsumersRun runs the consumers on their real ticker until the group
// that keeps up has committed the end offsets, then stops them. Only hangs
// are bounded in time: TestConsumers checks the behaviours.
func TestConsumersRun(t *testing.T) {
	c := kafkatest.New(t)
	topics := consumerTopics()
	for _, topic := range topics {
		c.MustCreateTopic(t, topic, topicPartitions, 1, nil)
	}
	var recs []*kgo.Record
	for _, topic := range topics {
		for i := range 10 {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte{byte(i)}, Value: []byte("{}")})
		}
	}
	if err := c.Produce(t.Context(), recs...); err != nil {
		t.Fatal(err)
	}
	cons, err := NewConsumers(c.Addrs(), nil, WithConsumerTiming(time.Hour, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()

	adm := c.Admin(t)
	keepsUp := ConsumerScenarios()[slices.IndexFunc(ConsumerScenarios(), func(s ConsumerScenario) bool { return s.Behaviour == KeepsUp })]
	kafkatest.WaitFor(t, hang, func() bool {
		committed, lag := lagOf(t, adm, keepsUp.Group, keepsUp.Topics)
		return committed == 10 && lag == 0
	}, "%s never committed the end offsets of %v", keepsUp.Group, keepsUp.Topics)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(hang):
		t.Fatal("Run did not return after its context was done")
	}
	if err := cons.Run(t.Context()); !errors.Is(err, ErrConsumersRunTwice) {
		t.Errorf("second Run = %v, want ErrConsumersRunTwice", err)
	}
}

// waitMembers waits until every Stalls group's member holds its partitions:
// only then does Kafka take its commits.
func waitMembers(t *testing.T, adm *kadm.Client) {
	t.Helper()
	for _, s := range ConsumerScenarios() {
		if s.Behaviour != Stalls {
			continue
		}
		kafkatest.WaitFor(t, hang, func() bool {
			d, err := adm.DescribeGroups(t.Context(), s.Group)
			g := d[s.Group]
			return err == nil && g.State == "Stable" && len(g.AssignedPartitions()) > 0
		}, "the member of %s assigned", s.Group)
	}
}
