package lag

import (
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch"
)

// TestGroupCondition is the table of the lag condition rules, with the
// routing of a declared consumer's alert to its team.
func TestGroupCondition(t *testing.T) {
	p := &meshwatch.Product{Name: "payments", Owner: "payments-team"}
	owners := map[string]meshwatch.Owner{
		"payments-team": {SlackChannel: "#payments"},
		"finance-team":  {SlackChannel: "#finance"},
		"bi-team":       {}, // no channel
	}
	tests := []struct {
		name string
		g    GroupLag
		ok   bool
		// state, severity and owner of the condition
		state, severity, owner string
		summary, desc          string
	}{
		{name: "undeclared group stops: a ticket to the product owner",
			g:  GroupLag{Group: "etl", Owner: meshwatch.UnknownOwner, Status: StatusStop, Settled: true},
			ok: true, state: StatusStop, severity: meshwatch.SeverityTicket,
			summary: "consumer group etl (unknown) of payments is not committing while behind"},
		{name: "declared group stalls: a page to the team that runs it",
			g:  GroupLag{Group: "ledger-writer", Owner: "finance-team", Declared: true, Status: StatusStall, Settled: true},
			ok: true, state: StatusStall, severity: meshwatch.SeverityPage, owner: "finance-team",
			summary: "consumer group ledger-writer (finance-team) of payments commits without progress while behind",
			desc:    "The product's owner, payments-team, is not paged: the group is finance-team's."},
		{name: "share group stops: named as such, with a lower-bound lag",
			g:  GroupLag{Group: "jobs", Owner: "finance-team", Declared: true, Type: TypeShare, Status: StatusStop, Settled: true, Method: MethodInterpolated, LowerBound: true},
			ok: true, state: StatusStop, severity: meshwatch.SeverityPage, owner: "finance-team",
			summary: "share group jobs (finance-team) of payments has no member acknowledging while records wait", desc: "(lower_bound)"},
		{name: "declared by a team without owners entry: to the product owner",
			g:  GroupLag{Group: "audit", Owner: "audit-team", Declared: true, Status: StatusStop, Settled: true},
			ok: true, state: StatusStop, severity: meshwatch.SeverityPage},
		{name: "declared by a team without a channel: to the product owner",
			g:  GroupLag{Group: "bi-loader", Owner: "bi-team", Declared: true, Status: StatusStop, Settled: true},
			ok: true, state: StatusStop, severity: meshwatch.SeverityPage},
		{name: "lost records page even undeclared",
			g:  GroupLag{Group: "etl", Owner: meshwatch.UnknownOwner, Status: StatusLost, LostRecords: 42, Settled: true},
			ok: true, state: StatusLost, severity: meshwatch.SeverityPage, summary: "lost 42 records"},
		{name: "a stop before settled is raised",
			g:  GroupLag{Group: "etl", Status: StatusStop},
			ok: true, state: StatusStop, severity: meshwatch.SeverityTicket},
		{name: "OK and settled: nothing", g: GroupLag{Group: "etl", Status: StatusOK, Settled: true}},
		{name: "WARN: nothing", g: GroupLag{Group: "etl", Status: StatusWarn, Settled: true}},
		{name: "OK, not settled: unknown",
			g:  GroupLag{Group: "etl", Status: StatusOK},
			ok: true, state: meshwatch.StateUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := GroupCondition(p, &tc.g, owners)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tc.ok, c)
			}
			if !ok {
				return
			}
			if c.Name != meshwatch.AlertConsumerLag || c.Product != "payments" || c.Group != tc.g.Group || c.SLI != meshwatch.SLILag {
				t.Errorf("identity %+v", c)
			}
			if c.State != tc.state || c.Severity != tc.severity || c.Owner != tc.owner {
				t.Errorf("state %q severity %q owner %q, want %q %q %q", c.State, c.Severity, c.Owner, tc.state, tc.severity, tc.owner)
			}
			if !strings.Contains(c.Summary, tc.summary) {
				t.Errorf("summary %q, want it to contain %q", c.Summary, tc.summary)
			}
			if !strings.Contains(c.Description, tc.desc) {
				t.Errorf("description %q, want it to contain %q", c.Description, tc.desc)
			}
			if tc.owner == "" && strings.Contains(c.Description, "not paged") {
				t.Errorf("description %q: the product's owner is paged here", c.Description)
			}
		})
	}
}
