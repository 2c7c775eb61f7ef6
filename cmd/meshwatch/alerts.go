package main

import (
	"context"
	"time"

	"github.com/meshwatch/meshwatch"
)

// fanIn hands the alert manager the complete set of conditions each time a
// source has evaluated: the collector's tick, the SLO evaluation, the lag
// pass. The sources own the rules (meshwatch.Condition); the leaves never
// import each other, and this is where their conditions meet. A condition
// that no longer holds resolves; one its source cannot tell now is held.
type fanIn struct {
	c    *core
	now  func() time.Time
	wake chan struct{}
}

func newFanIn(c *core, now func() time.Time) *fanIn {
	if now == nil {
		now = time.Now
	}
	return &fanIn{c: c, now: now, wake: make(chan struct{}, 1)}
}

// evaluated is the sources' hook: it wakes Run and never blocks.
func (f *fanIn) evaluated() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run updates the alert manager after each evaluation, and once more on
// shutdown so that the final evaluation is not lost.
func (f *fanIn) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			f.update()
			return nil
		case <-f.wake:
			f.update()
		}
	}
}

func (f *fanIn) update() { f.c.alerts.UpdateConditions(f.now(), f.conditions()) }

// costUnknown holds CostBudget alerts in a core without the cost meter:
// another agent of the fleet owns them.
var costUnknown = meshwatch.Condition{Name: meshwatch.AlertCostBudget, State: meshwatch.StateUnknown}

// conditions returns every source's conditions as of its last evaluation.
func (f *fanIn) conditions() []meshwatch.Condition {
	col, slo, lag := f.c.col.Conditions(), f.c.slo.Conditions(), f.c.lag.Conditions()
	out := make([]meshwatch.Condition, 0, len(col)+len(slo)+len(lag)+1)
	out = append(append(append(out, col...), slo...), lag...)
	if f.c.meter != nil {
		return append(out, f.c.meter.Conditions()...)
	}
	return append(out, costUnknown)
}
