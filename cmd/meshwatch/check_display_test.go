package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/sla"
)

// negativePercent finds a negative percentage: what an owner must never
// read for a budget.
var negativePercent = regexp.MustCompile(`[−-]\d[\d.,]*\s?%`)

// displayConfig has a brand-new latency SLO and a lag SLO on a calendar
// month a few minutes old, both with min_events 100.
func displayConfig() *meshwatch.Config {
	cfg := &meshwatch.Config{
		Cluster: meshwatch.Cluster{Name: "prod-eu"},
		Products: []meshwatch.Product{{
			Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team", Tier: 1,
			Topics: []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}},
			SLOs: []meshwatch.SLO{
				{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999, MinEvents: 100},
				{Name: "fraud-lag", SLI: meshwatch.SLILag, ConsumerGroup: "fraud-detector", Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99, Window: "month", MinEvents: 100},
			},
		}},
		Owners: map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders-data"}},
	}
	cfg.SetDefaults()
	return cfg
}

// TestCheckNotEnoughDataEverywhere: an SLO with fewer valid events than its
// min_events shows "not enough data (n of m events)" — never a negative
// percentage — in /api/v1/slos's display field, in the meshwatch check
// table and in the Slack message of its alert.
//
// The latency SLO is the issue's: 37 events a few seconds after the start,
// 36 of them bad: −97197% raw. The lag SLO pages on the 1st of the month:
// its burn windows reach into February's traffic, its budget holds 30
// events of March.
func TestCheckNotEnoughDataEverywhere(t *testing.T) {
	cfg := displayConfig()
	start := time.Date(2026, 2, 28, 22, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, err := sla.New(cfg, sla.Options{Now: clock, Metrics: sla.NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	tick := func(slo string, good, valid int64) {
		mu.Lock()
		from := now
		now = now.Add(10 * time.Second)
		to := now
		mu.Unlock()
		e.ObserveSLI([]meshwatch.SLIEvents{{Product: "checkout.orders.placed", SLO: slo, Good: good, Valid: valid, From: from, To: to}})
	}
	for range 720 { // February's last two hours: 10% of the group's ticks late
		tick("fraud-lag", 900, 1000)
	}
	for range 30 { // March: 30 late ticks
		tick("fraud-lag", 0, 1)
	}
	var tally sla.Tally
	latency := []meshwatch.SLIEvents{{Product: "checkout.orders.placed", SLO: "latency", Good: 1, Valid: 37, From: now, To: now.Add(10 * time.Second)}}
	e.ObserveSLI(latency)
	tally.ObserveSLI(latency)
	e.Evaluate()

	// /api/v1/slos
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/slos", nil))
	var resp sla.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.SLOs) != 2 {
		t.Fatalf("GET /api/v1/slos: %v, %d SLOs\n%s", err, len(resp.SLOs), rec.Body.String())
	}
	wantDisplay := map[string]string{"latency": "not enough data (37 of 100 events)", "fraud-lag": "not enough data (30 of 100 events)"}
	for _, st := range resp.SLOs {
		if st.RemainingDisplay != wantDisplay[st.SLO] {
			t.Errorf("API %s: budget_remaining_display %q, want %q", st.SLO, st.RemainingDisplay, wantDisplay[st.SLO])
		}
		if st.Remaining >= 0 {
			t.Errorf("API %s: raw budget_remaining %v, want the overspent raw value kept", st.SLO, st.Remaining)
		}
		if m := negativePercent.FindString(st.Why + st.RemainingDisplay); m != "" {
			t.Errorf("API %s: a negative percentage %q in %q", st.SLO, m, st.Why)
		}
	}
	if resp.SLOs[1].Decision != sla.DecisionPage {
		t.Fatalf("fraud-lag: decision %s, want page (why: %s)", resp.SLOs[1].Decision, resp.SLOs[1].Why)
	}

	// meshwatch check
	var table strings.Builder
	if err := sla.WriteTable(&table, tally.Results(cfg, "")); err != nil {
		t.Fatal(err)
	}
	row := ""
	for _, line := range strings.Split(table.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "latency" {
			row = line
		}
	}
	if !strings.Contains(row, "NO: not enough data (37 of 100 events)") || !strings.Contains(row, "99.9% of records within 1s") {
		t.Errorf("check: latency row %q, want its promise and not enough data\n%s", row, table.String())
	}
	if m := negativePercent.FindString(table.String()); m != "" {
		t.Errorf("check: a negative percentage %q\n%s", m, table.String())
	}

	// Slack: the lag SLO's page.
	blocks := slackRoot(t, cfg, e.Conditions())
	if !strings.Contains(blocks, "not enough data (30 of 100 events)") {
		t.Errorf("Slack: no \"not enough data (30 of 100 events)\" in\n%s", blocks)
	}
	if !strings.Contains(blocks, `*Promise*\ngroup fraud-detector at most 30s behind 99% of the time`) {
		t.Errorf("Slack: no promise in\n%s", blocks)
	}
	if strings.Contains(blocks, "Budget remaining") || strings.Contains(blocks, "exhausted") {
		t.Errorf("Slack: a budget over fewer than min_events events\n%s", blocks)
	}
	if m := negativePercent.FindString(blocks); m != "" {
		t.Errorf("Slack: a negative percentage %q\n%s", m, blocks)
	}
}

// slackRoot runs an alert Manager on conds with a fake Slack, and returns
// the blocks of the first root message posted.
func slackRoot(t *testing.T, cfg *meshwatch.Config, conds []meshwatch.Condition) string {
	t.Helper()
	posted := make(chan string, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		if strings.HasSuffix(r.URL.Path, "chat.postMessage") && form.Get("thread_ts") == "" {
			posted <- form.Get("blocks")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C1","ts":"1772445600.000001"}`)
	}))
	defer srv.Close()
	slack := alert.NewSlack(alert.SlackOptions{Token: "xoxb-test", APIURL: srv.URL + "/api/", HTTPClient: srv.Client()})
	m, err := alert.New(cfg, alert.Options{
		Logger: slog.New(slog.DiscardHandler), Metrics: alert.NewMetrics(prometheus.NewRegistry()),
		Notifiers: []alert.Notifier{slack}, Routing: alert.Routing{GroupWait: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	m.UpdateConditions(time.Now(), conds)
	select {
	case b := <-posted:
		return b
	case <-time.After(time.Minute):
		t.Fatal("no Slack message within a minute")
		return ""
	}
}

// TestCheckPromisesAgree: the promise Slack shows (the alert Manager's,
// from the configuration) is the one /api/v1/slos and meshwatch check
// show (package sla's), for every indicator.
func TestCheckPromisesAgree(t *testing.T) {
	p := meshwatch.Product{
		Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team",
		Quality: meshwatch.Quality{Volume: &meshwatch.Volume{MinPerMinute: 100}},
		SLOs: []meshwatch.SLO{
			{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(1500 * time.Millisecond), Objective: 0.999},
			{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(90 * time.Second), Objective: 0.99},
			{Name: "fraud-lag", SLI: meshwatch.SLILag, ConsumerGroup: "fraud-detector", Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99},
			{Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.9995},
			{Name: "completeness", SLI: meshwatch.SLICompleteness, Objective: 0.99},
			{Name: "validity", SLI: meshwatch.SLIValidity, Objective: 0.995},
			{Name: "volume", SLI: meshwatch.SLIVolume, Objective: 0.99},
		},
	}
	cfg := &meshwatch.Config{Products: []meshwatch.Product{p}}
	cfg.SetDefaults()
	m, err := alert.New(cfg, alert.Options{Logger: slog.New(slog.DiscardHandler), Metrics: alert.NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	var conds []meshwatch.Condition
	for _, s := range p.SLOs {
		conds = append(conds, meshwatch.Condition{Name: meshwatch.AlertSLONoData, Product: p.Name, SLO: s.Name, SLI: s.SLI, Severity: meshwatch.SeverityTicket, State: sla.DecisionNoData})
	}
	m.UpdateConditions(time.Now(), conds)
	got := map[string]alert.AlertView{}
	for _, v := range m.Alerts() {
		got[v.SLO] = v
	}
	for i := range cfg.Products[0].SLOs {
		s := &cfg.Products[0].SLOs[i]
		want := sla.Promise(&cfg.Products[0], s)
		th, _ := sla.Threshold(s)
		if v := got[s.Name]; v.Promise != want || v.ThresholdSeconds != th.Seconds() {
			t.Errorf("%s: alert promise %q threshold %v, sla says %q %v", s.Name, v.Promise, v.ThresholdSeconds, want, th.Seconds())
		}
	}
}
