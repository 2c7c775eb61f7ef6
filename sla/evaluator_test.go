package sla

import (
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshwatch/meshwatch"
)

const (
	testProduct = "checkout.orders.placed"
	testSLO     = "latency"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func testConfig(slos ...meshwatch.SLO) *meshwatch.Config {
	cfg := &meshwatch.Config{Products: []meshwatch.Product{{
		Name: testProduct, Domain: "checkout", Owner: "orders-team", SLOs: slos,
	}}}
	cfg.SetDefaults()
	return cfg
}

func latencySLO(objective float64, window string) meshwatch.SLO {
	return meshwatch.SLO{
		Name: testSLO, SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second),
		Objective: meshwatch.Percent(objective), Window: window,
	}
}

type harness struct {
	t   *testing.T
	clk *clock
	reg *prometheus.Registry
	e   *Evaluator
}

func newHarness(t *testing.T, cfg *meshwatch.Config, start time.Time, o Options) *harness {
	t.Helper()
	h := &harness{t: t, clk: newClock(start), reg: prometheus.NewRegistry()}
	o.Now = h.clk.Now
	o.Metrics = NewMetrics(h.reg)
	e, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	return h
}

// feed observes d of traffic in 10 s ticks of perTick valid events with a
// share errRatio bad, advancing the clock.
func (h *harness) feed(slo string, d time.Duration, perTick int64, errRatio float64) {
	bad := int64(math.Round(float64(perTick) * errRatio))
	for range int(d / (10 * time.Second)) {
		from := h.clk.Now()
		to := h.clk.Advance(10 * time.Second)
		h.e.ObserveSLI([]meshwatch.SLIEvents{{
			Product: testProduct, SLO: slo, SLI: meshwatch.SLILatency,
			Good: perTick - bad, Valid: perTick, From: from, To: to,
		}})
	}
}

func (h *harness) status() Status {
	h.t.Helper()
	h.e.Evaluate()
	ss := h.e.Statuses()
	if len(ss) != 1 {
		h.t.Fatalf("%d statuses, want 1", len(ss))
	}
	return ss[0]
}

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// TestEvaluatorWorkbook feeds the workbook's cases through the buckets.
func TestEvaluatorWorkbook(t *testing.T) {
	tests := []struct {
		name     string
		errRatio float64
		d        time.Duration
		decision string
		rule     int
	}{
		{"1.5% for 1h pages by 1h/5m", 0.015, time.Hour, DecisionPage, 0},
		{"0.7% for 6h pages by 6h/30m", 0.007, 6 * time.Hour, DecisionPage, 1},
		{"0.35% for 1d opens a ticket by 1d/2h", 0.0035, day, DecisionTicket, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig(latencySLO(0.999, "30d")), t0, Options{})
			// Good traffic 25 days ago, so that the window has data.
			h.e.ObserveSLI([]meshwatch.SLIEvents{{Product: testProduct, SLO: testSLO, Good: 1e8, Valid: 1e8, To: t0}})
			h.clk.Advance(25 * day)
			if st := h.status(); st.Decision != DecisionNone {
				t.Fatalf("before: decision %s (%s)", st.Decision, st.Why)
			}
			h.feed(testSLO, tc.d, 10000, tc.errRatio)
			st := h.status()
			if st.Decision != tc.decision || !st.Rules[tc.rule].Firing {
				t.Fatalf("decision %s, rule %d firing %v, want %s: %s", st.Decision, tc.rule, st.Rules[tc.rule].Firing, tc.decision, st.Why)
			}
			for i := range tc.rule {
				if st.Rules[i].Firing {
					t.Errorf("rule %d fires too: %+v", i, st.Rules[i])
				}
			}
			if want := tc.errRatio / 0.001; math.Abs(st.Rules[tc.rule].LongBurn-want) > 1e-9 {
				t.Errorf("long burn %v, want %v", st.Rules[tc.rule].LongBurn, want)
			}
			if _, err := json.Marshal(st); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEvaluatorNoDataThenData(t *testing.T) {
	h := newHarness(t, testConfig(latencySLO(0.99, "28d")), t0, Options{})
	if ss := h.e.Statuses(); ss != nil {
		t.Fatalf("statuses before the first evaluation: %v", ss)
	}
	st := h.status()
	if st.Decision != DecisionNoData || st.Remaining != 1 || st.TimeToExhaustion.OK {
		t.Fatalf("empty SLO: %+v", st)
	}
	for _, w := range st.Windows {
		if w.SLI.OK {
			t.Errorf("window %s has an SLI without data", w.Window)
		}
	}
	h.feed(testSLO, time.Minute, 1000, 0.005)
	st = h.status()
	if st.Decision != DecisionNone || st.Good != 5970 || st.Valid != 6000 || st.Remaining != 0.5 {
		t.Fatalf("after a minute at 0.5%% of a 1%% budget: %+v", st)
	}
	if w := st.Windows[NumBurnWindows]; w.Window != WindowLabel || w.SLI.V != 0.995 || w.BurnRate != 0.5 {
		t.Errorf("window status %+v", w)
	}
	// The current 6-hour block and the 111 before it.
	if got, want := st.WindowStart, t0.Add(time.Minute).Truncate(6*time.Hour).Add(-27*day-18*time.Hour); !got.Equal(want) {
		t.Errorf("window start %v, want %v", got, want)
	}
}

// TestMonthReset checks that a calendar-month budget resets at midnight on
// the 1st in the configured zone, including one with a half-hour offset;
// the zone comes from the SLO's time_zone, or Options.Location without one.
func TestMonthReset(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York", "Asia/Kolkata"} {
		for _, perSLO := range []bool{false, true} {
			name := zone + "/option"
			if perSLO {
				name = zone + "/time_zone"
			}
			t.Run(name, func(t *testing.T) {
				loc, err := time.LoadLocation(zone)
				if err != nil {
					t.Skip(err)
				}
				first := time.Date(2026, 4, 1, 0, 0, 0, 0, loc)
				cfg := testConfig(latencySLO(0.999, "month"))
				opts := Options{Location: loc}
				if perSLO {
					cfg.Products[0].SLOs[0].TimeZone = zone
					opts = Options{}
				}
				h := newHarness(t, cfg, first.Add(-2*time.Hour), opts)
				h.feed(testSLO, 110*time.Minute, 10000, 0.0005) // ends 10m before the 1st
				st := h.status()
				if st.Remaining != 0.5 || st.Valid != 6600000 {
					t.Fatalf("in March: remaining %v of %d valid, want 0.5", st.Remaining, st.Valid)
				}
				if !st.WindowStart.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, loc)) || !st.WindowEnd.Equal(first) {
					t.Errorf("March window [%v, %v)", st.WindowStart, st.WindowEnd)
				}
				h.feed(testSLO, 20*time.Minute, 1000, 0) // 10m into April
				st = h.status()
				if st.Valid != 60000 || st.Bad != 0 || st.Remaining != 1 {
					t.Fatalf("in April: %d bad of %d valid, remaining %v; want only April's 60000 good", st.Bad, st.Valid, st.Remaining)
				}
				if !st.WindowStart.Equal(first) || !st.WindowEnd.Equal(first.AddDate(0, 1, 0)) {
					t.Errorf("April window [%v, %v)", st.WindowStart, st.WindowEnd)
				}
				// The burn windows do not reset: the errors of March still burn.
				if st.Windows[Burn1h].BurnRate == 0 {
					t.Errorf("1h burn reset with the month")
				}
			})
		}
	}
}

// TestMemoryBound checks that the buckets are fixed by the configuration and
// reported, however long the agent runs.
func TestMemoryBound(t *testing.T) {
	cfg := testConfig(latencySLO(0.999, "28d"), latencySLO(0.999, "400d"), latencySLO(0.999, "month"))
	cfg.Products[0].SLOs[1].Name = "long"
	cfg.Products[0].SLOs[2].Name = "monthly"
	h := newHarness(t, cfg, t0, Options{})
	// 28d: 74 hours for 1d and 3d, 112 + 2 blocks of 6 hours for the
	// window; 400d: 741 buckets of 13 hours; month: 746 hours.
	want := (61 + 73 + 74 + 114) + (61 + 73 + 741) + (61 + 73 + 746)
	if got := h.e.Buckets(); got != want {
		t.Fatalf("buckets %d, want %d", got, want)
	}
	for range 24 * 60 {
		to := h.clk.Advance(7 * time.Hour)
		for _, slo := range []string{testSLO, "long", "monthly"} {
			h.e.ObserveSLI([]meshwatch.SLIEvents{{Product: testProduct, SLO: slo, Good: 9, Valid: 10, To: to}})
		}
	}
	h.e.Evaluate()
	if got := gaugeValue(t, h.reg, "meshwatch_slo_buckets", nil); got != float64(want) {
		t.Errorf("meshwatch_slo_buckets %v, want %d", got, want)
	}
	// Narrow buckets: no ring's span holds 2^32 events.
	if got := gaugeValue(t, h.reg, "meshwatch_slo_bucket_bytes", nil); got != float64(want*narrowBucketBytes) {
		t.Errorf("meshwatch_slo_bucket_bytes %v, want %d", got, want*narrowBucketBytes)
	}
	for _, tr := range h.e.trackers {
		if n := tr.buckets(); n > fineSlots+midSlots+maxCoarseSlots+2 {
			t.Errorf("%s holds %d buckets", tr.key.slo, n)
		}
	}
	for _, st := range h.e.Statuses() {
		if st.Remaining != 1-0.1/0.001 {
			t.Errorf("%s: remaining %v", st.SLO, st.Remaining)
		}
	}
}

func TestObserveSLIEdgeCases(t *testing.T) {
	h := newHarness(t, testConfig(latencySLO(0.99, "28d")), t0, Options{})
	h.e.ObserveSLI([]meshwatch.SLIEvents{
		{Product: "other", SLO: testSLO, Good: 1, Valid: 1, To: t0},
		{Product: testProduct, SLO: testSLO, Good: 5, Valid: 3, To: t0},                 // good clamped to valid
		{Product: testProduct, SLO: testSLO, Good: -2, Valid: 1, To: t0.Add(time.Hour)}, // future: now
		{Product: testProduct, SLO: testSLO, Good: 0, Valid: 0, To: t0},
		{Product: testProduct, SLO: testSLO, Good: 1, Valid: 1, To: t0.Add(-30 * day)}, // too old
	})
	st := h.status()
	if st.Good != 3 || st.Valid != 4 {
		t.Errorf("good %d valid %d, want 3 and 4", st.Good, st.Valid)
	}
	if got := gaugeValue(t, h.reg, "meshwatch_slo_unknown_events_total", nil); got != 1 {
		t.Errorf("unknown events %v, want 1", got)
	}
	if got := gaugeValue(t, h.reg, "meshwatch_slo_late_events_total", map[string]string{"slo": testSLO}); got != 1 {
		t.Errorf("late events %v, want 1", got)
	}
}

func TestMetrics(t *testing.T) {
	cfg := testConfig(latencySLO(0.999, "30d"), meshwatch.SLO{Name: "freshness", SLI: meshwatch.SLIFreshness, Objective: 0.99, Window: "28d"})
	h := newHarness(t, cfg, t0, Options{})
	h.feed(testSLO, time.Hour, 10000, 0.015)
	h.e.Evaluate()
	lat := map[string]string{"product": testProduct, "domain": "checkout", "owner": "orders-team", "slo": testSLO, "sli": "latency"}
	with := func(l map[string]string, k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range l {
			m[a] = b
		}
		return m
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"meshwatch_slo_objective_ratio", lat, 0.999},
		{"meshwatch_slo_threshold_seconds", lat, 1},
		{"meshwatch_slo_decision", with(lat, "decision", DecisionPage), 1},
		{"meshwatch_slo_valid_total", lat, 3600000},
		{"meshwatch_slo_good_total", lat, 3546000},
		{"meshwatch_slo_error_budget_remaining_ratio", lat, 1 - 0.015/0.001},
		{"meshwatch_slo_decision", map[string]string{"slo": "freshness", "decision": DecisionNoData}, 1},
		{"meshwatch_slo_error_budget_remaining_ratio", map[string]string{"slo": "freshness"}, 1},
	}
	for _, c := range checks {
		if got := gaugeValue(t, h.reg, c.name, c.labels); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, slo := range []string{testSLO, "freshness"} {
		if n := countSeries(t, h.reg, "meshwatch_slo_decision", map[string]string{"slo": slo}); n != 1 {
			t.Errorf("%s has %d decision series, want 1: the current decision only", slo, n)
		}
	}
	st := h.e.Statuses()[0]
	if got := gaugeValue(t, h.reg, "meshwatch_slo_time_to_exhaustion_seconds", map[string]string{"slo": testSLO}); !st.TimeToExhaustion.OK || got != st.TimeToExhaustion.V {
		t.Errorf("time to exhaustion %v, want the status's %v", got, st.TimeToExhaustion)
	}
	if n := countSeries(t, h.reg, "meshwatch_slo_threshold_seconds", map[string]string{"slo": "freshness"}); n != 0 {
		t.Errorf("%d threshold series of an SLO without a threshold, want none", n)
	}
	if n := countSeries(t, h.reg, "meshwatch_slo_time_to_exhaustion_seconds", map[string]string{"slo": "freshness"}); n != 0 {
		t.Errorf("%d time to exhaustion series of an SLO that does not burn, want none", n)
	}
}

// sloSeries gathers reg and returns, for each SLO (the slo label), how many
// series each metric has, and the names of the series without an slo
// label, sorted.
func sloSeries(t *testing.T, reg *prometheus.Registry) (perSLO map[string]map[string]int, agent []string) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	perSLO = map[string]map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			slo := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "slo" {
					slo = lp.GetValue()
				}
			}
			if slo == "" {
				agent = append(agent, mf.GetName())
				continue
			}
			if perSLO[slo] == nil {
				perSLO[slo] = map[string]int{}
			}
			perSLO[slo][mf.GetName()]++
		}
	}
	slices.Sort(agent)
	return perSLO, slices.Compact(agent)
}

// TestMetricsCardinality checks the series a product with two SLOs exports,
// by name and count, as its decision goes from no_data to page to ticket
// and an event comes too late: 5 per SLO in steady state (one decision
// series, not one per decision), 6 for the latency SLO, whose threshold
// is a series (the freshness SLO here has none), time to exhaustion only
// while burning,
// late events only once there is one, and no per-window series — burn
// rates and SLIs per window are recorded by the rules.
func TestMetricsCardinality(t *testing.T) {
	cfg := testConfig(latencySLO(0.999, "30d"), meshwatch.SLO{Name: "freshness", SLI: meshwatch.SLIFreshness, Objective: 0.99, Window: "28d"})
	h := newHarness(t, cfg, t0, Options{})
	steady := map[string]int{
		"meshwatch_slo_objective_ratio":              1,
		"meshwatch_slo_error_budget_remaining_ratio": 1,
		"meshwatch_slo_decision":                     1,
		"meshwatch_slo_good_total":                   1,
		"meshwatch_slo_valid_total":                  1,
	}
	plus := func(base map[string]int, name string) map[string]int {
		m := maps.Clone(base)
		m[name] = 1
		return m
	}
	// The latency SLO has a threshold: one series more.
	lat := plus(steady, "meshwatch_slo_threshold_seconds")
	agentSeries := []string{
		"meshwatch_slo_bucket_bytes",
		"meshwatch_slo_buckets",
		"meshwatch_slo_evaluation_duration_seconds",
		"meshwatch_slo_last_evaluation_timestamp_seconds",
		"meshwatch_slo_state_flushes_total",
		"meshwatch_slo_state_last_flush_timestamp_seconds",
		"meshwatch_slo_state_loads_total",
		"meshwatch_slo_unknown_events_total",
	}
	steps := []struct {
		name      string
		do        func()
		want      map[string]map[string]int
		decisions map[string]string
	}{
		{
			name:      "no data",
			do:        func() {},
			want:      map[string]map[string]int{testSLO: lat, "freshness": steady},
			decisions: map[string]string{testSLO: DecisionNoData, "freshness": DecisionNoData},
		},
		{
			name:      "1.5% errors for an hour page",
			do:        func() { h.feed(testSLO, time.Hour, 10000, 0.015) },
			want:      map[string]map[string]int{testSLO: plus(lat, "meshwatch_slo_time_to_exhaustion_seconds"), "freshness": steady},
			decisions: map[string]string{testSLO: DecisionPage, "freshness": DecisionNoData},
		},
		{
			name:      "two clean hours leave a ticket by 3d/6h and nothing burning over 1h",
			do:        func() { h.feed(testSLO, 2*time.Hour, 10000, 0) },
			want:      map[string]map[string]int{testSLO: lat, "freshness": steady},
			decisions: map[string]string{testSLO: DecisionTicket, "freshness": DecisionNoData},
		},
		{
			name: "a late event",
			do: func() {
				now := h.clk.Now()
				h.e.ObserveSLI([]meshwatch.SLIEvents{
					{Product: testProduct, SLO: "freshness", Good: 1, Valid: 1, To: now},
					{Product: testProduct, SLO: "freshness", Good: 1, Valid: 1, To: now.Add(-40 * day)},
				})
			},
			want:      map[string]map[string]int{testSLO: lat, "freshness": plus(steady, "meshwatch_slo_late_events_total")},
			decisions: map[string]string{testSLO: DecisionTicket, "freshness": DecisionNone},
		},
	}
	for _, step := range steps {
		step.do()
		h.e.Evaluate()
		perSLO, agent := sloSeries(t, h.reg)
		if diff := cmp.Diff(step.want, perSLO); diff != "" {
			t.Errorf("%s: series per SLO (-want +got):\n%s", step.name, diff)
		}
		if diff := cmp.Diff(agentSeries, agent); diff != "" {
			t.Errorf("%s: agent series (-want +got):\n%s", step.name, diff)
		}
		for slo, want := range step.decisions {
			if got := gaugeValue(t, h.reg, "meshwatch_slo_decision", map[string]string{"slo": slo, "decision": want}); got != 1 {
				t.Errorf("%s: %s decision %s = %v, want 1", step.name, slo, want, got)
			}
		}
	}
	if got := gaugeValue(t, h.reg, "meshwatch_slo_late_events_total", map[string]string{"slo": "freshness"}); got != 1 {
		t.Errorf("late events %v, want 1", got)
	}
}

func TestHandler(t *testing.T) {
	cfg := testConfig(latencySLO(0.999, "30d"))
	cfg.Products = append(cfg.Products, meshwatch.Product{Name: "payments.card.charged", SLOs: []meshwatch.SLO{latencySLO(0.99, "month")}})
	cfg.SetDefaults()
	h := newHarness(t, cfg, t0, Options{})
	h.feed(testSLO, time.Hour, 1000, 0.015)
	h.e.Evaluate()
	srv := h.e.Handler()

	get := func(target string) (Response, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Header().Get("Content-Type"))
		}
		var resp Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &raw)
		return resp, raw
	}
	resp, raw := get("/api/v1/slos")
	if len(resp.SLOs) != 2 {
		t.Fatalf("%d SLOs, want 2", len(resp.SLOs))
	}
	if st := resp.SLOs[0]; st.Decision != DecisionPage || st.Windows[Burn1h].BurnRate != 15 || st.Rules[0].Factor != 14.4 {
		t.Errorf("checkout: %+v", st)
	}
	second := raw["slos"].([]any)[1].(map[string]any)
	if second["decision"] != DecisionNoData || second["time_to_exhaustion_seconds"] != nil {
		t.Errorf("payments: decision %v, time to exhaustion %v", second["decision"], second["time_to_exhaustion_seconds"])
	}
	if w := second["windows"].([]any)[0].(map[string]any); w["sli"] != nil {
		t.Errorf("payments 5m SLI %v, want null", w["sli"])
	}
	resp, _ = get("/api/v1/slos?product=payments.card.charged")
	if len(resp.SLOs) != 1 || resp.SLOs[0].Product != "payments.card.charged" {
		t.Errorf("filtered: %+v", resp.SLOs)
	}

	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/slos", strings.NewReader("{}")))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

// TestConcurrentObserve runs ObserveSLI from several goroutines while
// evaluating and scraping, for the race detector, and checks no event is
// lost.
func TestConcurrentObserve(t *testing.T) {
	h := newHarness(t, testConfig(latencySLO(0.999, "28d")), t0, Options{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				h.e.ObserveSLI([]meshwatch.SLIEvents{{Product: testProduct, SLO: testSLO, Good: 1, Valid: 1}})
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			h.e.Evaluate()
			if _, err := h.reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if st := h.status(); st.Valid != 4000 || st.Good != 4000 {
		t.Errorf("good %d valid %d, want 4000", st.Good, st.Valid)
	}
}

func gather(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			out = append(out, m)
		}
	}
	return out
}

func countSeries(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) int {
	return len(gather(t, reg, name, labels))
}

// gaugeValue returns the value of the one series of name matching labels.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	ms := gather(t, reg, name, labels)
	if len(ms) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, labels, len(ms))
	}
	m := ms[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	t.Fatalf("%s: neither gauge nor counter", name)
	return 0
}
