package sla

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func rulesConfig() *meshwatch.Config {
	cfg := &meshwatch.Config{Products: []meshwatch.Product{
		{Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team", SLOs: []meshwatch.SLO{
			{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999, Window: "28d"},
			{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99, Window: "month", MinEvents: 100},
		}},
		{Name: "checkout.orders.silent", Domain: "checkout", Owner: "orders-team"},
		{Name: "payments.card.charged", Domain: "payments", Owner: "payments-team", SLOs: []meshwatch.SLO{
			{Name: "fraud-lag", SLI: meshwatch.SLILag, ConsumerGroup: "fraud-detector", Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99, Window: "30d"},
		}},
	}}
	cfg.SetDefaults()
	return cfg
}

func TestRulesGolden(t *testing.T) {
	got, err := Rules(rulesConfig())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "rules.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("rules differ from %s (-want +got; go test -update rewrites it):\n%s", golden, diff)
	}
	if !bytes.Contains(got, []byte("(0.02 * 672 / 1) * (1 - 0.999)")) {
		t.Error("28d page factor is not derived from the window")
	}
}

// TestRulesRecordEveryWindow checks that every SLO has its error ratio
// recorded over each burn window and its own window, and its budget
// remaining, and nothing else: burn rates and SLIs are that ratio divided
// by the budget or taken from 1, and recording them too would triple the
// series the rules add to Prometheus.
func TestRulesRecordEveryWindow(t *testing.T) {
	cfg := rulesConfig()
	rf, err := BuildRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	windows := map[string]string{"latency": "28d", "freshness": "30d", "fraud-lag": "30d"} // month: 30d
	for i, g := range rf.Groups {
		p := cfg.Products[slices.IndexFunc(cfg.Products, func(p meshwatch.Product) bool { return "meshwatch-slo-"+p.Name == g.Name })]
		for _, s := range p.SLOs {
			sel := fmt.Sprintf("{product=%q, slo=%q}", p.Name, s.Name)
			var got []string
			for _, r := range g.Rules {
				if r.Record != "" && strings.Contains(r.Expr, sel) {
					got = append(got, r.Record)
				}
			}
			var want []string
			for _, prefix := range []string{RecordErrorRatio} {
				for _, w := range []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d", windows[s.Name]} {
					want = append(want, prefix+w)
				}
			}
			want = append(want, RecordRemaining)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("group %d, SLO %s: recorded (-want +got):\n%s", i, s.Name, diff)
			}
		}
	}
}

// promtool returns the path of promtool, skipping the test when it is not
// installed, unless CI is set.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI (Debian package prometheus): %v", err)
		}
		t.Skipf("promtool not installed: %v", err)
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRulesPromtoolCheck(t *testing.T) {
	promtool(t)
	b, err := Rules(rulesConfig())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, dir, "check", "rules", "rules.yaml")
}

// TestRulesPromtoolTest reproduces the workbook cases of TestEvaluateWorkbook
// in Prometheus: each product is one case, one sample a minute for 25 hours.
func TestRulesPromtoolTest(t *testing.T) {
	promtool(t)
	type tcase struct {
		product     string
		minEvents   int
		valid, good string
		page        bool
		ticket      bool
	}
	cases := []tcase{
		// 1.5 % for the last hour pages by 1h/5m.
		{product: "test.case.page1h", valid: "0+1000x1500", good: "0+1000x1440 1440985+985x59", page: true},
		// 0.7 % for the last 6 hours pages by 6h/30m.
		{product: "test.case.page6h", valid: "0+1000x1500", good: "0+1000x1140 1140993+993x359", page: true},
		// 0.35 % for 25 hours opens a ticket by 1d/2h, and does not page.
		{product: "test.case.ticket1d", valid: "0+1000x1500", good: "0+996.5x1500", ticket: true},
		// 0.05 % is within the budget.
		{product: "test.case.healthy", valid: "0+1000x1500", good: "0+999.5x1500"},
		// 3 bad of 5 events in the last hour: held back by min_events 10.
		{product: "test.case.lowtraffic", minEvents: 10, valid: "0x1495 1 2 3 4 5", good: "0x1495 1 1 1 2 2"},
		// No valid event at all: no alert.
		{product: "test.case.nodata", valid: "0x1500", good: "0x1500"},
	}
	cfg := &meshwatch.Config{}
	for _, c := range cases {
		cfg.Products = append(cfg.Products, meshwatch.Product{Name: c.product, Domain: "test", Owner: "sre", SLOs: []meshwatch.SLO{
			{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999, Window: "30d", MinEvents: c.minEvents},
		}})
	}
	cfg.SetDefaults()
	rf, err := BuildRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Rules(cfg)
	if err != nil {
		t.Fatal(err)
	}

	type series struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	type alert struct {
		ExpLabels      map[string]string `yaml:"exp_labels"`
		ExpAnnotations map[string]string `yaml:"exp_annotations"`
	}
	type alertTest struct {
		EvalTime  string  `yaml:"eval_time"`
		Alertname string  `yaml:"alertname"`
		ExpAlerts []alert `yaml:"exp_alerts"`
	}
	type sample struct {
		Labels string  `yaml:"labels"`
		Value  float64 `yaml:"value"`
	}
	type exprTest struct {
		Expr       string   `yaml:"expr"`
		EvalTime   string   `yaml:"eval_time"`
		ExpSamples []sample `yaml:"exp_samples"`
	}
	type unitTest struct {
		Interval   string      `yaml:"interval"`
		InputSeris []series    `yaml:"input_series"`
		AlertTests []alertTest `yaml:"alert_rule_test"`
		ExprTests  []exprTest  `yaml:"promql_expr_test"`
	}
	ut := unitTest{Interval: "1m"}
	pages := alertTest{EvalTime: "1500m", Alertname: AlertPage, ExpAlerts: []alert{}}
	tickets := alertTest{EvalTime: "1500m", Alertname: AlertTicket, ExpAlerts: []alert{}}
	annotations := func(product, name string) map[string]string {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == name && strings.Contains(g.Name, product) {
					return r.Annotations
				}
			}
		}
		t.Fatalf("no %s for %s", name, product)
		return nil
	}
	for _, c := range cases {
		l := `{product="` + c.product + `", domain="test", owner="sre", slo="latency", sli="latency"}`
		ut.InputSeris = append(ut.InputSeris,
			series{MetricValid + l, c.valid},
			series{MetricGood + l, c.good})
		labels := func(sev string) map[string]string {
			return map[string]string{"product": c.product, "domain": "test", "owner": "sre", "slo": "latency", "sli": "latency", "severity": sev}
		}
		if c.page {
			pages.ExpAlerts = append(pages.ExpAlerts, alert{labels(SeverityPage), annotations(c.product, AlertPage)})
		}
		if c.ticket {
			tickets.ExpAlerts = append(tickets.ExpAlerts, alert{labels(SeverityTicket), annotations(c.product, AlertTicket)})
		}
	}
	// 0.7 % for 6 hours also opens a ticket by 3d/6h: the 3d window holds
	// only 25 hours, 0.17 % errors; the Evaluator says the same.
	tickets.ExpAlerts = append(tickets.ExpAlerts[:0:0], append([]alert{{
		map[string]string{"product": "test.case.page6h", "domain": "test", "owner": "sre", "slo": "latency", "sli": "latency", "severity": SeverityTicket},
		annotations("test.case.page6h", AlertTicket),
	}}, tickets.ExpAlerts...)...)
	ut.AlertTests = []alertTest{pages, tickets}
	// The recorded error ratios: 1.5 % errors over the last hour (a burn
	// rate of 15 on a 0.1 % budget, as the Evaluator says,
	// TestEvaluatorWorkbook); 0.35 % over the last day; 0.05 % over the
	// 5m and the 30d window of the healthy product.
	// promtool compares exactly; rates are extrapolated, so round to 6
	// decimal places (which drops the name, but the selector has it).
	rec := func(name, product string, v float64) exprTest {
		l := `{product="` + product + `", domain="test", owner="sre", slo="latency", sli="latency"}`
		return exprTest{Expr: "round(" + name + l + " * 1e6) / 1e6", EvalTime: "1500m", ExpSamples: []sample{{Labels: l, Value: v}}}
	}
	ut.ExprTests = []exprTest{
		rec(RecordErrorRatio+"1h", "test.case.page1h", 0.015),
		rec(RecordErrorRatio+"1d", "test.case.ticket1d", 0.0035),
		rec(RecordErrorRatio+"5m", "test.case.healthy", 0.0005),
		rec(RecordErrorRatio+"30d", "test.case.healthy", 0.0005),
	}
	tests := map[string]any{
		"rule_files":          []string{"rules.yaml"},
		"evaluation_interval": "30m", // alerts have no for: only the last step matters
		"tests":               []unitTest{ut},
	}
	tb, err := yaml.Marshal(tests)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string][]byte{"rules.yaml": b, "tests.yaml": tb} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runPromtool(t, dir, "test", "rules", "tests.yaml")
}
