package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
	goldenfile "github.com/meshwatch/meshwatch/internal/golden"
)

// promiseConfig is testConfig with SLOs on checkout.orders.placed: three
// with a time threshold and one without.
func promiseConfig() *meshwatch.Config {
	cfg := testConfig()
	cfg.Products[0].SLOs = []meshwatch.SLO{
		{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999, Window: "28d"},
		{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99, Window: "28d"},
		{Name: "fraud-lag", SLI: meshwatch.SLILag, ConsumerGroup: "fraud-detector", Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99, Window: "month", MinEvents: 100},
		{Name: "validity", SLI: meshwatch.SLIValidity, Objective: 0.995, Window: "28d"},
	}
	return cfg
}

// promiseConditions are SLO conditions as package sla raises them: an
// overspent latency budget, a healthy-budget freshness ticket, a lag page
// over fewer than min_events valid events (no budget, the description
// says so) and a spent validity budget.
func promiseConditions() []meshwatch.Condition {
	f := func(v float64) *float64 { return &v }
	rates := func(r1h float64) []meshwatch.WindowRate {
		return []meshwatch.WindowRate{{Window: "5m", Rate: 20}, {Window: "1h", Rate: r1h}, {Window: "6h", Rate: 5.6000000000000005}, {Window: "1d", Rate: 1}}
	}
	const p = "checkout.orders.placed"
	return []meshwatch.Condition{
		{
			Name: meshwatch.AlertSLOBurnRate, Product: p, SLO: "latency", SLI: meshwatch.SLILatency, Severity: meshwatch.SeverityPage, State: "page",
			Summary:     p + ": SLO latency (99.9% of records within 1s) is burning its error budget",
			Description: "burn rate 15× over 1h and 20× over 5m, both above 13.44× (2% of the 28d budget within 1h)",
			Budget:      &meshwatch.BudgetFacts{Objective: 0.999, Window: "28d", SLI: f(0.97289), Remaining: f(-26.11), BurnRates: rates(15)},
		},
		{
			Name: meshwatch.AlertSLOBurnRate, Product: p, SLO: "freshness", SLI: meshwatch.SLIFreshness, Severity: meshwatch.SeverityTicket, State: "ticket",
			Summary:     p + ": SLO freshness (fresher than 1m 99% of the time) is burning its error budget",
			Description: "burn rate 3.1× over 1d and 3.2× over 2h, both above 2.8× (10% of the 28d budget within 1d)",
			Budget: &meshwatch.BudgetFacts{Objective: 0.99, Window: "28d", SLI: f(0.995), Remaining: f(0.72549), BurnRates: rates(3.2),
				TimeToExhaustion: 53*time.Hour + 20*time.Minute},
		},
		{
			Name: meshwatch.AlertSLOBurnRate, Product: p, SLO: "fraud-lag", SLI: meshwatch.SLILag, Severity: meshwatch.SeverityPage, State: "page",
			Summary: p + ": SLO fraud-lag (group fraud-detector at most 30s behind 99% of the time) is burning its error budget",
			Description: "burn rate 40× over 1h and 100× over 5m, both above 14.4× (2% of the 30d budget within 1h); " +
				"not enough data (30 of 100 events) in the window to judge its budget",
			Budget: &meshwatch.BudgetFacts{Objective: 0.99, Window: "month", SLI: f(0), BurnRates: rates(40)},
		},
		{
			Name: meshwatch.AlertSLOBudgetExhausted, Product: p, SLO: "validity", SLI: meshwatch.SLIValidity, Severity: meshwatch.SeverityTicket, State: "exhausted",
			Summary:     p + ": the error budget of SLO validity (99.5% of records valid) is spent",
			Description: "error budget spent: 0.62% errors over the window against a budget of 0.5%, no burn-rate rule fires",
			Budget:      &meshwatch.BudgetFacts{Objective: 0.995, Window: "28d", SLI: f(0.9938), Remaining: f(-0.24), BurnRates: rates(0.5)},
		},
	}
}

// TestSlackPromises: the root message an owner reads on a phone shows each
// SLO's promise — objective and threshold in words — a budget that reads
// "spent" instead of −2611%, and no budget at all over fewer than
// min_events valid events. The payload is golden.
func TestSlackPromises(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	m, err := New(promiseConfig(), Options{
		Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry()),
		Store: newTestStore(), Now: clk.Now, Notifiers: []Notifier{newSlackFor(fs, clk, nil)},
		Routing: Routing{DefaultChannel: "#data-alerts"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.UpdateConditions(t0, promiseConditions())
	step(t, m, clk, t0.Add(30*time.Second))
	reqs := fs.requests()
	if len(reqs) != 1 || fs.roots() != 1 {
		t.Fatalf("%d requests, %d roots; want 1 root", len(reqs), fs.roots())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Slack's <url|text> links stay readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(reqs); err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, filepath.Join("testdata", "slack_promises.json"), buf.String(), *update)

	blocks := string(reqs[0].Blocks)
	for _, want := range []string{
		`*Promise*\n99.9% of records within 1s`,
		`*Promise*\nfresher than 1m 99% of the time`,
		`*Promise*\ngroup fraud-detector at most 30s behind 99% of the time`,
		`*Promise*\n99.5% of records valid`,
		`*Budget remaining*\nspent`,
		`*Budget remaining*\n72.5%`,
		"not enough data (30 of 100 events)",
	} {
		if !strings.Contains(blocks, want) {
			t.Errorf("the message lacks %q", want)
		}
	}
	if neg := regexp.MustCompile(`-\d[\d.]*%`).FindString(blocks); neg != "" {
		t.Errorf("a negative percentage in the message: %s", neg)
	}

	// The same promise and threshold in /api/v1/alerts and the webhook.
	rec := httptest.NewRecorder()
	m.AlertsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/alerts", nil))
	body := rec.Body.String()
	for _, want := range []string{`"threshold_seconds": 1,`, `"promise": "99.9% of records within 1s"`, `"threshold_seconds": 30,`} {
		if !strings.Contains(body, want) {
			t.Errorf("/api/v1/alerts lacks %s", want)
		}
	}
	if strings.Contains(body, `\u00`) {
		t.Error("/api/v1/alerts is HTML-escaped")
	}
}

// TestAlertmanagerAnnotations: a forwarded SLO alert says its promise and
// threshold, and its budget as people read it.
func TestAlertmanagerAnnotations(t *testing.T) {
	clk := newClock()
	m, err := New(promiseConfig(), Options{Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry()), Store: newTestStore(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	conds := promiseConditions()
	a := m.fill(FromCondition(&conds[0]))
	ann := postable(&a).Annotations
	if ann["promise"] != "99.9% of records within 1s" || ann["threshold"] != "1s" || ann["budget_remaining"] != "spent" || ann["objective"] != "99.9%" {
		t.Errorf("annotations %v", ann)
	}
	a = m.fill(FromCondition(&conds[3]))
	if ann := postable(&a).Annotations; ann["threshold"] != "" || ann["promise"] != "99.5% of records valid" {
		t.Errorf("an SLO without a threshold: annotations %v", ann)
	}
}

// TestJSONNotHTMLEscaped: what the agent writes as JSON — the webhook's
// body, Alertmanager's, /api/v1/alerts — keeps "<", ">" and "&" as
// written, not \u003c, \u003e and \u0026.
func TestJSONNotHTMLEscaped(t *testing.T) {
	const desc = "rule amount > 0 && currency != '' failed for <5% of records"
	a := sloAlert("validity", meshwatch.SLIValidity, SeverityTicket)
	a.Annotations["description"] = desc
	bodies := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
	}))
	defer srv.Close()
	n := &Notification{Kind: KindFire, Status: StatusFiring, Alerts: []Alert{a}}
	if err := NewWebhook(srv.URL, "").Notify(context.Background(), n, &Thread{}); err != nil {
		t.Fatal(err)
	}
	if err := NewAlertmanager(srv.URL).Forward(context.Background(), []Alert{a}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, viewOf(&a))
	for name, body := range map[string]string{"webhook": <-bodies, "alertmanager": <-bodies, "api": rec.Body.String()} {
		if !strings.Contains(body, desc) || strings.Contains(body, `\u00`) {
			t.Errorf("%s: the description is not as written:\n%s", name, body)
		}
	}
}
