package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// fixedSource is a condition source that says what it is told.
type fixedSource struct {
	mu    sync.Mutex
	conds []meshwatch.Condition
}

func (s *fixedSource) set(cs ...meshwatch.Condition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conds = cs
}

func (s *fixedSource) Conditions() []meshwatch.Condition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conds
}

// recordingSink records every complete set it is handed.
type recordingSink struct {
	mu   sync.Mutex
	sets [][]meshwatch.Condition
}

func (r *recordingSink) UpdateConditions(_ time.Time, cs []meshwatch.Condition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, cs)
}

func (r *recordingSink) last() (int, []meshwatch.Condition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return 0, nil
	}
	return len(r.sets), r.sets[len(r.sets)-1]
}

func names(cs []meshwatch.Condition) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+"/"+c.Product)
	}
	return out
}

// TestFanIn: an evaluation's hook makes one update with every source's
// conditions; a stop makes a last one with what the sources said last, so
// that the final evaluation is not lost; there is no ticker of its own.
func TestFanIn(t *testing.T) {
	col, slo := &fixedSource{}, &fixedSource{}
	sink := &recordingSink{}
	f := newFanIn(nil)
	f.sources, f.sink = []conditionSource{col, slo, costElsewhere}, sink

	col.set(meshwatch.Condition{Name: meshwatch.AlertProductStale, Product: "a"})
	// Wakes before Run are coalesced into one update.
	f.evaluated()
	f.evaluated()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	kafkatest.WaitFor(t, time.Minute, func() bool { n, _ := sink.last(); return n == 1 }, "no update after an evaluation")

	slo.set(meshwatch.Condition{Name: meshwatch.AlertSLOBurnRate, Product: "a"})
	f.evaluated()
	kafkatest.WaitFor(t, time.Minute, func() bool { n, _ := sink.last(); return n == 2 }, "no update after the second evaluation")
	_, got := sink.last()
	want := "[ProductStale/a SLOBurnRate/a CostBudget/]"
	if s := names(got); len(s) != 3 || "["+s[0]+" "+s[1]+" "+s[2]+"]" != want {
		t.Fatalf("conditions %v, want %s", s, want)
	}
	if !got[2].Unknown() {
		t.Errorf("the cost budget of another agent is not held: %+v", got[2])
	}

	// The final evaluation, then the stop: the last update has it.
	slo.set()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n, got := sink.last()
	if n != 3 || len(got) != 2 {
		t.Errorf("%d updates, last %v: want a third with the final conditions", n, names(got))
	}
}
