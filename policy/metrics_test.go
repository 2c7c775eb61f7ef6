package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshwatch/meshwatch/internal/doctest"
)

func TestDocMetrics(t *testing.T) {
	doctest.Metrics(t, "doc.go", func(reg prometheus.Registerer) { reg.MustRegister(NewCollector(func() []Violation { return nil })) })
}

// TestCollector checks that the collector counts the violations per
// policy, product and severity, unowned topics under product "".
func TestCollector(t *testing.T) {
	vs := []Violation{
		{Policy: "naming", Product: "a.b.c", Severity: "warning", Why: "1"},
		{Policy: "topic_config", Product: "a.b.c", Topic: "t1", Severity: "error", Why: "2"},
		{Policy: "topic_config", Product: "a.b.c", Topic: "t2", Severity: "error", Why: "3"},
		{Policy: "pii", Product: "a.b.c", Severity: "warning", Why: "4"},
		{Policy: "pii", Product: "a.b.c", Topic: "t1", Severity: "error", Why: "5"},
		{Policy: "unowned_topics", Topic: "x", Severity: "error", Why: "6"},
		{Policy: "unowned_topics", Topic: "y", Severity: "error", Why: "7"},
	}
	const want = `# HELP meshwatch_policy_violations Violations of a governance policy (policies:) by a product, at the policy's severity (error or warning); product is empty for the topics that no product claims (unowned_topics).
# TYPE meshwatch_policy_violations gauge
meshwatch_policy_violations{policy="naming",product="a.b.c",severity="warning"} 1
meshwatch_policy_violations{policy="pii",product="a.b.c",severity="error"} 1
meshwatch_policy_violations{policy="pii",product="a.b.c",severity="warning"} 1
meshwatch_policy_violations{policy="topic_config",product="a.b.c",severity="error"} 2
meshwatch_policy_violations{policy="unowned_topics",product="",severity="error"} 2
`
	c := NewCollector(func() []Violation { return vs })
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(NewCollector(func() []Violation { return nil }), strings.NewReader("")); err != nil {
		t.Error(err)
	}
}

func TestViolationJSON(t *testing.T) {
	for v, want := range map[Violation]string{
		{Policy: "unowned_topics", Topic: "x", Severity: "error", Why: "w"}:   `{"policy":"unowned_topics","topic":"x","severity":"error","why":"w"}`,
		{Policy: "metadata", Product: "a.b.c", Severity: "warning", Why: "w"}: `{"policy":"metadata","product":"a.b.c","severity":"warning","why":"w"}`,
	} {
		got, err := json.Marshal(v)
		if err != nil || string(got) != want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", v, got, err, want)
		}
	}
}
