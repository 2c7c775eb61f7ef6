package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
)

// TestProductConditions is the table of the collector's condition rules.
func TestProductConditions(t *testing.T) {
	p := &meshwatch.Product{Name: "orders", SLOs: []meshwatch.SLO{
		{Name: "fresh", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99, Window: "28d"},
		{Name: "fast", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second)},
		{Name: "keeps-up", SLI: meshwatch.SLILag, Threshold: meshwatch.Duration(time.Minute)},
	}}
	// want lists each condition as "name/state/severity/slo" (unknown:
	// "?name/slo").
	tests := []struct {
		name     string
		problems []string
		blind    string
		silent   bool
		age      time.Duration
		want     []string
		summary  string
	}{
		{name: "healthy and fresh", age: 10 * time.Second, want: nil},
		{name: "stale", age: 2 * time.Minute, want: []string{"ProductStale/stale/page/fresh"},
			summary: "orders is stale: the newest event is 2m0s old (threshold 1m)"},
		{name: "at the threshold is fresh", age: time.Minute, want: nil},
		{name: "silent since start, under the threshold: unknown", silent: true, age: 30 * time.Second,
			want: []string{"?ProductStale/fresh"}},
		{name: "silent since start, past the threshold: stale", silent: true, age: 90 * time.Second,
			want: []string{"ProductStale/stale/page/fresh"}, summary: "orders is stale: no event for 1m30s (threshold 1m)"},
		{name: "no leader", problems: []string{ProblemNoLeader, ProblemUnderMinISR}, age: time.Second,
			want: []string{"ProductUnavailable/unavailable/page/"}, summary: "orders is unavailable"},
		{name: "blind: a ticket, sampled SLOs unknown, not unavailable", problems: []string{ProblemFetchErrors, ProblemBlind},
			blind: BlindFetchErrors, age: time.Hour,
			want:    []string{"ProductBlind/fetch_errors/ticket/", "?/fresh", "?/fast"},
			summary: "meshwatch cannot read orders"},
		{name: "blind and without a leader", problems: []string{ProblemNoLeader, ProblemBlind}, blind: BlindStalled,
			want: []string{"ProductBlind/stalled/ticket/", "?/fresh", "?/fast", "ProductUnavailable/unavailable/page/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := ProductConditions(p, tc.problems, tc.blind, tc.silent, tc.age)
			var got []string
			for _, c := range cs {
				if c.Product != "orders" {
					t.Errorf("condition %+v of product %q", c, c.Product)
				}
				if c.Unknown() {
					got = append(got, "?"+c.Name+"/"+c.SLO)
					continue
				}
				got = append(got, c.Name+"/"+c.State+"/"+c.Severity+"/"+c.SLO)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("conditions %q, want %q", got, tc.want)
			}
			if tc.summary != "" && (len(cs) == 0 || !strings.HasPrefix(cs[0].Summary, tc.summary)) {
				t.Errorf("summary of %+v, want it to start with %q", cs, tc.summary)
			}
		})
	}
}

// TestFreshnessRule: the SLI events and the stale condition follow one
// rule.
func TestFreshnessRule(t *testing.T) {
	for _, tc := range []struct {
		silent       bool
		age          time.Duration
		stale, known bool
	}{
		{false, 59 * time.Second, false, true},
		{false, 61 * time.Second, true, true},
		{true, 59 * time.Second, false, false},
		{true, 61 * time.Second, true, true},
	} {
		stale, known := freshness(tc.silent, tc.age, time.Minute)
		if stale != tc.stale || known != tc.known {
			t.Errorf("freshness(%v, %s) = %v, %v, want %v, %v", tc.silent, tc.age, stale, known, tc.stale, tc.known)
		}
	}
}

// TestCandidates: a product declared by names is matched against its
// names only; one with a pattern against every topic.
func TestCandidates(t *testing.T) {
	all := []string{"a", "b", "c", "orders.x", "orders.y"}
	tds := map[string]topicMeta{}
	for _, n := range all {
		tds[n] = topicMeta{}
	}
	for _, tc := range []struct {
		sel  []meshwatch.TopicSelector
		want string
	}{
		{[]meshwatch.TopicSelector{{Name: "c"}, {Name: "a"}, {Name: "a"}}, "a c"},
		{[]meshwatch.TopicSelector{{Name: "missing"}}, ""},
		{[]meshwatch.TopicSelector{{Name: "a"}, {Pattern: `^orders\.`}}, "a b c orders.x orders.y"},
	} {
		got := strings.Join(candidates(&meshwatch.Product{Topics: tc.sel}, all, tds), " ")
		if got != tc.want {
			t.Errorf("candidates(%v) = %q, want %q", tc.sel, got, tc.want)
		}
	}
}
