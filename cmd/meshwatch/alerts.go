package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
)

// conditionSource is a source of alert conditions: the collector, the SLO
// evaluator, the lag monitor, the cost meter. Conditions returns what held
// at its last evaluation, without I/O.
type conditionSource interface {
	Conditions() []meshwatch.Condition
}

// conditionSink takes the complete set of conditions: the alert manager.
type conditionSink interface {
	UpdateConditions(now time.Time, conds []meshwatch.Condition)
}

// fanIn hands the alert manager the complete set of conditions each time a
// source has evaluated: the collector's tick, the SLO evaluation, the lag
// pass. The sources own the rules (meshwatch.Condition); the leaves never
// import each other, and this is where their conditions meet. A condition
// that no longer holds resolves; one its source cannot tell now is held.
type fanIn struct {
	sources []conditionSource // set before Run
	sink    conditionSink     // set before Run
	now     func() time.Time
	wake    chan struct{}
}

func newFanIn(now func() time.Time) *fanIn {
	if now == nil {
		now = time.Now
	}
	return &fanIn{now: now, wake: make(chan struct{}, 1)}
}

// evaluated is the sources' hook: it wakes Run and never blocks; wakes
// that come while an update is due are one update.
func (f *fanIn) evaluated() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run updates the sink after each evaluation until ctx is done, then once
// more: it runs in a shutdown stage of its own, after the SLO evaluator's
// final pass and before the alert manager's last delivery, so that the
// final evaluation is not lost.
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

func (f *fanIn) update() {
	var all []meshwatch.Condition
	for _, s := range f.sources {
		all = append(all, s.Conditions()...)
	}
	f.sink.UpdateConditions(f.now(), all)
}

// heldConditions is a source that only holds: the CostBudget alerts of a
// fleet member without the cost meter, which another agent runs.
type heldConditions []meshwatch.Condition

func (h heldConditions) Conditions() []meshwatch.Condition { return h }

var costElsewhere = heldConditions{{Name: meshwatch.AlertCostBudget, State: meshwatch.StateUnknown}}

// lagToInferredTeams routes the lag conditions of a group that no product
// declares, but whose team the lineage infers (owners.<team>.groups or
// clients), to that team, as a declared consumer's go to its team: its own
// groups' lag reaches it first.
type lagToInferredTeams struct {
	src     conditionSource
	cfg     *meshwatch.Config
	teams   func() map[string]string
	ownerOf map[string]string // product → owner
}

func newLagToInferredTeams(src conditionSource, cfg *meshwatch.Config, teams func() map[string]string) lagToInferredTeams {
	l := lagToInferredTeams{src: src, cfg: cfg, teams: teams, ownerOf: make(map[string]string, len(cfg.Products))}
	for i := range cfg.Products {
		l.ownerOf[cfg.Products[i].Name] = cfg.Products[i].Owner
	}
	return l
}

func (l lagToInferredTeams) Conditions() []meshwatch.Condition {
	conds := l.src.Conditions()
	var teams map[string]string
	copied := false // the source's slice is its own: change a copy
	for i := range conds {
		c := &conds[i]
		if c.Name != meshwatch.AlertConsumerLag || c.Owner != "" || c.Group == "" || c.Unknown() {
			continue
		}
		if teams == nil {
			teams = l.teams()
		}
		team, ok := teams[c.Group]
		o, known := l.cfg.Owners[team]
		if !ok || !known || o.SlackChannel == "" || team == l.ownerOf[c.Product] {
			continue
		}
		if !copied {
			conds, copied = slices.Clone(conds), true
			c = &conds[i]
		}
		c.Owner = team
		c.Summary = strings.Replace(c.Summary, " ("+meshwatch.UnknownOwner+") ", " ("+team+", inferred) ", 1)
		c.Description += fmt.Sprintf(" The group is %s's by its owners.%s.groups or clients pattern; the product's owner is not paged.", team, team)
	}
	return conds
}
