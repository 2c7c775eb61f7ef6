package demo

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func TestCatalogDeclaresConsumers(t *testing.T) {
	cfg := Catalog([]string{"127.0.0.1:9092"})
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

func TestConsumers(t *testing.T) {
	c := kafkatest.New(t)
	p, err := NewProducers(c.Addrs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	cons, err := NewConsumers(c.Addrs(), nil, WithConsumerTiming(time.Second, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	done := make(chan error, 2)
	go func() { done <- p.Run(ctx) }()
	go func() { done <- cons.Run(ctx) }()

	// Watch every group's position until the run ends.
	type seen struct {
		maxLag             int64
		behind, caughtUp   bool
		prev               int64
		wentBack, moved    bool
		stoppedWhileBehind int
	}
	adm := c.Admin(t)
	obs := map[string]*seen{}
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
			continue
		case <-tk.C:
		}
		for _, s := range ConsumerScenarios() {
			committed, lag := lagOf(t, adm, s.Group, s.Topics)
			o := obs[s.Group]
			if o == nil {
				o = &seen{prev: committed}
				obs[s.Group] = o
			}
			o.maxLag = max(o.maxLag, lag)
			if lag >= 10 {
				o.behind = true
			} else if o.behind && lag <= 5 {
				o.caughtUp = true
			}
			switch {
			case committed < o.prev:
				o.wentBack = true
			case committed > o.prev:
				o.moved = true
			case lag > 0:
				o.stoppedWhileBehind++
			}
			o.prev = committed
		}
	}
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return after its context was done")
		}
	}
	if err := cons.Run(t.Context()); err != ErrConsumersRunTwice {
		t.Errorf("second Run = %v, want ErrConsumersRunTwice", err)
	}

	for _, s := range ConsumerScenarios() {
		o := obs[s.Group]
		if o == nil || !o.moved {
			t.Errorf("%s never committed progress: %+v", s.Group, o)
			continue
		}
		switch s.Behaviour {
		case KeepsUp:
			if o.maxLag > 30 { // about two ticks of 50 records/s over 3 partitions, with slack
				t.Errorf("%s keeps up but was %d records behind", s.Group, o.maxLag)
			}
		case FallsBehind:
			if !o.behind || !o.caughtUp {
				t.Errorf("%s: fell behind %v (max %d records), caught up after %v; want both", s.Group, o.behind, o.maxLag, o.caughtUp)
			}
		case Stops:
			if o.stoppedWhileBehind < 3 {
				t.Errorf("%s: stood still while behind in %d observations, want a stop", s.Group, o.stoppedWhileBehind)
			}
		case Rewinds:
			if !o.wentBack {
				t.Errorf("%s never went back", s.Group)
			}
		}
	}
}
