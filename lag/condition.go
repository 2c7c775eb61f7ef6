package lag

import (
	"fmt"

	"github.com/meshwatch/meshwatch"
)

// GroupCondition returns the alert condition of one consumer group of
// product p, and false when it raises none. A group that stopped (STOP),
// stalls (STALL) or lost records (LOST) is a ConsumerLag condition: a page
// when it lost records or is a declared consumer, a ticket otherwise. It
// goes to the team that runs the group when the product declares it with
// an owner that has a Slack channel in owners (the description names the
// product's owner, who is not paged), else to the product's owner, who is
// told whose group it is. A group that raises none while its status
// is not settled yet (after a start or a takeover) is unknown: an open
// alert is held.
func GroupCondition(p *meshwatch.Product, g *GroupLag, owners map[string]meshwatch.Owner) (meshwatch.Condition, bool) {
	c := meshwatch.Condition{
		Name: meshwatch.AlertConsumerLag, Product: p.Name, Group: g.Group, SLI: meshwatch.SLILag,
	}
	var why string
	share := g.Type == TypeShare // acknowledges records rather than commits
	switch g.Status {
	case StatusStop:
		why = "is not committing while behind"
		if share {
			why = "has no member acknowledging while records wait"
		}
	case StatusStall:
		why = "commits without progress while behind"
		if share {
			why = "has members but acknowledges nothing while records wait"
		}
	case StatusLost:
		why = fmt.Sprintf("lost %d records: they expired before it read them", g.LostRecords)
	default:
		if !g.Settled {
			c.State = meshwatch.StateUnknown
			return c, true
		}
		return meshwatch.Condition{}, false
	}
	c.State, c.Severity = g.Status, meshwatch.SeverityTicket
	if g.Status == StatusLost || g.Declared {
		c.Severity = meshwatch.SeverityPage
	}
	if o, known := owners[g.Owner]; g.Declared && known && o.SlackChannel != "" && g.Owner != p.Owner {
		// A team without a channel would leave the alert to the default
		// channel, or to none: the product's owner hears of it instead.
		c.Owner = g.Owner
	}
	kind := "consumer group"
	if share {
		kind = "share group"
	}
	c.Summary = fmt.Sprintf("%s %s (%s) of %s %s", kind, g.Group, g.Owner, p.Name, why)
	c.Description = fmt.Sprintf("Status %s; %d records and %.0fs behind (%s); retention risk %.0f%%.",
		g.Status, g.LagRecords, g.LagSeconds, g.estimate(), 100*g.RetentionRisk)
	if c.Owner != "" {
		// The team that runs the group is paged; the product's owner is
		// named for context, not paged.
		c.Description += fmt.Sprintf(" The product's owner, %s, is not paged: the group is %s's.", p.Owner, g.Owner)
	}
	return c, true
}

// notPassed is what is known before the first pass: nothing.
var notPassed = []meshwatch.Condition{{Name: meshwatch.AlertConsumerLag, State: meshwatch.StateUnknown}}

// Conditions returns the alert conditions of every product's groups as of
// the last pass (GroupCondition), or an unknown condition for every group
// before the first pass. A group no longer listed has no condition: it no
// longer lags. Computed once per pass, linear in products and groups; the
// result is shared and must not be modified. Safe for concurrent use.
func (m *Monitor) Conditions() []meshwatch.Condition {
	s := m.snap.Load()
	if s == nil {
		return notPassed
	}
	s.condsOnce.Do(func() {
		for _, pr := range m.products {
			pl := s.products[pr.p.Name]
			if pl == nil {
				continue
			}
			for i := range pl.Groups {
				if c, ok := GroupCondition(pr.p, &pl.Groups[i], m.cfg.Owners); ok {
					s.conds = append(s.conds, c)
				}
			}
		}
	})
	return s.conds
}
