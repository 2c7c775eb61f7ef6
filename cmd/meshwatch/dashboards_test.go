package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/meshwatch/meshwatch/dashboards"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/lag"
	"github.com/meshwatch/meshwatch/sla"
)

// demoRun is `meshwatch demo` running in-process.
type demoRun struct {
	addr           string // the agent's HTTP address
	stateDir       string
	stdout, stderr syncBuffer
}

// startDemo runs the demo in-process, as `meshwatch demo -ports 0,0,0
// -http.listen 127.0.0.1:0` with its state in a temporary directory, waits
// until the agent listens, and stops it (checking that it stops cleanly)
// when the test ends. tweaks change the options first.
func startDemo(t *testing.T, tweaks ...func(*demoOptions)) *demoRun {
	t.Helper()
	d := &demoRun{stateDir: filepath.Join(t.TempDir(), "state")}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan int, 1)
	o := demoOptions{
		ports:     []int{0, 0, 0},
		listen:    "127.0.0.1:0",
		stateDir:  d.stateDir,
		listening: func(addr string) { listening <- addr },
	}
	for _, f := range tweaks {
		f(&o)
	}
	log := slog.New(slog.NewTextHandler(&d.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- runDemo(ctx, o, log, &d.stdout, &d.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("demo exited %d\n%s", code, d.stderr.String())
			}
		case <-time.After(shutdownTimeout + 10*time.Second):
			t.Error("the demo did not stop within its shutdown timeout")
		}
	})
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	select {
	case d.addr = <-listening:
	case code := <-done:
		t.Fatalf("demo exited %d before listening\n%s", code, d.stderr.String())
	case <-timeout.C:
		t.Fatal("the demo did not listen within a minute")
	}
	return d
}

// generatedByPrometheus are the series the dashboards and rules read that
// Prometheus makes rather than the agent: the scrape's up, and the rule
// manager's ALERTS. No other name may be missing from the agent.
var generatedByPrometheus = []string{"up", "ALERTS"}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// selector is a series selector of a dashboard query or rule, expanded.
type selector struct {
	query    dashboards.Query
	name     string
	matchers []*labels.Matcher
}

// dashboardSelectors returns every series selector of every dashboard and
// rule, with Grafana's variables expanded to ".*".
func dashboardSelectors(t *testing.T) []selector {
	t.Helper()
	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var out []selector
	for _, q := range qs {
		e, err := parser.ParseExpr(dashboards.Expand(q.Expr, dashboards.DefaultIntervals, ".*"))
		if err != nil {
			t.Fatalf("%s: %v (go test ./dashboards/ says more)", q, err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				s := selector{query: q, name: vs.Name}
				for _, m := range vs.LabelMatchers {
					if m.Name == labels.MetricName {
						s.name = m.Value
						continue
					}
					s.matchers = append(s.matchers, m)
				}
				out = append(out, s)
			}
			return nil
		})
	}
	if len(out) < 100 {
		t.Fatalf("only %d selectors in the dashboards and rules", len(out))
	}
	return out
}

// family returns the metric family that exposes series name: the family of
// that name, or the histogram or summary whose _bucket, _sum or _count it is.
func family(fams map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, bool) {
	if f, ok := fams[name]; ok {
		return f, true
	}
	for suffix, types := range map[string][]dto.MetricType{
		"_bucket": {dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM},
		"_sum":    {dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM, dto.MetricType_SUMMARY},
		"_count":  {dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM, dto.MetricType_SUMMARY},
	} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if f, ok := fams[base]; ok && slices.Contains(types, f.GetType()) {
			return f, true
		}
	}
	return nil, false
}

// unmet returns what the agent's metrics fams lack for s: the metric, or a
// series whose labels can match s's matchers ("" when nothing is missing).
// A label a matcher names must exist on the metric (Prometheus matches a
// missing label as empty, so a misspelt label would silently match
// everything); an = matcher's value, and a =~ matcher's pattern, must
// match some series.
func unmet(fams map[string]*dto.MetricFamily, s selector) string {
	if slices.Contains(generatedByPrometheus, s.name) {
		return ""
	}
	f, ok := family(fams, s.name)
	if !ok {
		if _, later := appearLater[s.name]; later {
			return "" // documented: TestAppearLaterDocumented
		}
		return "metric " + s.name
	}
	// A matcher on an enumeration's label may name any of its values: only
	// the current one has a series.
	matchers := s.matchers[:0:0]
	for _, mt := range s.matchers {
		values, enum := enumerations[s.name+"/"+mt.Name]
		if !enum {
			matchers = append(matchers, mt)
			continue
		}
		if !slices.ContainsFunc(values, mt.Matches) {
			return fmt.Sprintf("value of %s for %s{%s}, one of %q", mt, s.name, mt.Name, values)
		}
	}
	// The matchers of one selector must all match one series.
	for _, m := range f.GetMetric() {
		lv := map[string]string{}
		for _, lp := range m.GetLabel() {
			lv[lp.GetName()] = lp.GetValue()
		}
		match := true
		for _, mt := range matchers {
			v, ok := lv[mt.Name]
			if !ok && slices.Contains(targetLabels, mt.Name) {
				continue
			}
			if !ok && (mt.Type == labels.MatchEqual || mt.Type == labels.MatchRegexp) {
				match = false
				break
			}
			if !mt.Matches(v) {
				match = false
				break
			}
		}
		if match {
			return ""
		}
	}
	if _, later := appearLater[s.name]; later {
		return "" // a reason or result the demo has not produced yet
	}
	var ms []string
	for _, m := range s.matchers {
		ms = append(ms, m.String())
	}
	return fmt.Sprintf("series %s{%s}", s.name, strings.Join(ms, ", "))
}

// enumerations are the labels whose current value alone has a series
// (metric/label → its values).
var enumerations = map[string][]string{
	"meshwatch_consumer_status/status":           lag.Statuses,
	"meshwatch_consumer_group_lag_method/method": {lag.MethodExact, lag.MethodInterpolated, lag.MethodLowerBound},
	"meshwatch_slo_decision/decision":            sla.Decisions,
}

// appearLater are the series that a healthy product does not have
// (cardinality by design, issue 16): they appear at their first event, or
// exist only for products with a feature the demo does not use. A dashboard
// selector of one of them is met without a series in the demo;
// TestAppearLaterDocumented checks that each is a real metric, listed by its
// package, so that a misspelt name still fails.
var appearLater = map[string]string{
	"meshwatch_event_time_errors_total":           "collector",
	"meshwatch_budget_throttled_total":            "collector",
	"meshwatch_fetch_errors_total":                "collector",
	"meshwatch_records_skipped_total":             "collector",
	"meshwatch_availability_problem":              "collector",
	"meshwatch_product_blind":                     "collector",
	"meshwatch_product_silent":                    "collector",
	"meshwatch_slo_late_events_total":             "sla",
	"meshwatch_quality_records_total":             "quality",
	"meshwatch_quality_undecodable_total":         "quality",
	"meshwatch_quality_required_missing_total":    "quality",
	"meshwatch_quality_completeness_events_total": "quality",
	"meshwatch_quality_validity_events_total":     "quality",
	"meshwatch_quality_sequence_missing_total":    "quality",
	"meshwatch_quality_sequence_duplicates_total": "quality",
	"meshwatch_quality_sequence_resets_total":     "quality",
	"meshwatch_quality_sequence_evictions_total":  "quality",
	"meshwatch_quality_sequence_keys":             "quality",
	"meshwatch_quality_volume_records_per_minute": "quality",
	"meshwatch_quality_silent_partitions":         "quality",
	"meshwatch_quality_dlq_records_total":         "quality",
	"meshwatch_quality_dlq_reasons_total":         "quality",
	"meshwatch_consumer_uncommitted_partitions":   "lag",
	"meshwatch_consumer_lost_records":             "lag",
}

// TestAppearLaterDocumented requires every name of appearLater in its
// package's metric list (doc.go), under a heading or sentence that says when
// it appears.
func TestAppearLaterDocumented(t *testing.T) {
	docs := map[string]string{}
	for name, pkg := range appearLater {
		if _, ok := docs[pkg]; !ok {
			b, err := os.ReadFile(filepath.Join("..", "..", pkg, "doc.go"))
			if err != nil {
				t.Fatal(err)
			}
			docs[pkg] = string(b)
		}
		if !regexp.MustCompile(`(?m)^//\s+` + regexp.QuoteMeta(name) + `\b`).MatchString(docs[pkg]) {
			t.Errorf("%s is not in the metric list of %s/doc.go", name, pkg)
		}
	}
}

// scrapeFamilies reads the agent's /metrics in the text format.
func scrapeFamilies(t *testing.T, addr string) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// lines prints the current list when a wait times out.
type lines []string

func (l *lines) String() string { return "\n\t" + strings.Join(*l, "\n\t") }

// TestDashboardMetricsExist runs the demo and requires every metric that a
// dashboard or an agent rule references — and a series with every label
// and value its selector names — to be on the agent's /metrics.
func TestDashboardMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for up to a minute")
	}
	sels := dashboardSelectors(t)
	d := startDemo(t)

	var missing lines
	var last time.Time
	kafkatest.WaitFor(t, 40*time.Second, func() bool {
		if time.Since(last) < 500*time.Millisecond {
			return false // a scrape every half second is enough
		}
		last = time.Now()
		fams, err := scrapeFamilies(t, d.addr)
		if err != nil {
			missing = lines{err.Error()}
			return false
		}
		missing = missing[:0]
		seen := map[string]bool{}
		for _, s := range sels {
			if u := unmet(fams, s); u != "" && !seen[u+s.query.String()] {
				seen[u+s.query.String()] = true
				missing = append(missing, fmt.Sprintf("%s: no %s", s.query, u))
			}
		}
		return len(missing) == 0
	}, "the demo's /metrics lacks what these dashboard queries and rules read:%v", &missing)
}

// TestUnmet checks the metric lookup of TestDashboardMetricsExist on a
// fixed exposition, so that it is known to fail when it should.
func TestUnmet(t *testing.T) {
	const text = `# TYPE meshwatch_tick_duration_seconds histogram
meshwatch_tick_duration_seconds_bucket{le="1"} 1
meshwatch_tick_duration_seconds_bucket{le="+Inf"} 1
meshwatch_tick_duration_seconds_sum 0.5
meshwatch_tick_duration_seconds_count 1
# TYPE meshwatch_slo_burn_rate gauge
meshwatch_slo_burn_rate{product="a.b.c",slo="latency",window="1h"} 2
# TYPE meshwatch_ready gauge
meshwatch_ready 1
# TYPE meshwatch_consumer_status gauge
meshwatch_consumer_status{product="a.b.c",group="g",status="OK"} 1
`
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expr string
		ok   bool
	}{
		{`rate(meshwatch_tick_duration_seconds_bucket[1m])`, true},
		{`meshwatch_tick_duration_seconds_count`, true},
		{`meshwatch_slo_burn_rate{product=~".*", window="1h", job=~".*", instance="x:1"}`, true},
		{`up == 0 or ALERTS`, true},
		{`meshwatch_ready_total`, false},
		{`meshwatch_slo_burn_rate_bucket`, false},                         // a gauge has no buckets
		{`meshwatch_slo_burn_rate{window="2h"}`, false},                   // no such value
		{`meshwatch_slo_burn_rate{prodcut=~".*"}`, false},                 // no such label
		{`meshwatch_slo_burn_rate{product=~"x.*", slo="latency"}`, false}, // no series matches both
		{`meshwatch_slo_burn_rate{slo!="freshness", owner!="x"}`, true},
		// an enumeration has a series for its current value only
		{`meshwatch_consumer_status{status="STALL", group=~".*"}`, true},
		{`meshwatch_consumer_status{status="STALLED"}`, false}, // not one of its values
		{`meshwatch_consumer_status{status="OK", group="h"}`, false},
		// appears at its first event: no series needed
		{`rate(meshwatch_fetch_errors_total{product=~".*"}[5m])`, true},
		{`meshwatch_fetch_error_total`, false},
	}
	for _, tt := range tests {
		e, err := parser.ParseExpr(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		var problems []string
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				s := selector{name: vs.Name}
				for _, m := range vs.LabelMatchers {
					if m.Name != labels.MetricName {
						s.matchers = append(s.matchers, m)
					}
				}
				if u := unmet(fams, s); u != "" {
					problems = append(problems, u)
				}
			}
			return nil
		})
		if ok := len(problems) == 0; ok != tt.ok {
			t.Errorf("%s: met = %v %v, want %v", tt.expr, ok, problems, tt.ok)
		}
	}
}
