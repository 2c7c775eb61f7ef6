package sla

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/golden"
)

// apiConfig has an SLO of every display: a healthy latency SLO with a
// threshold, a fresh product, a completeness budget down to a sliver, a
// validity SLO below its min_events, an overspent availability SLO and a
// lag SLO without data.
func apiConfig() *meshwatch.Config {
	cfg := &meshwatch.Config{Products: []meshwatch.Product{
		{Name: testProduct, Domain: "checkout", Owner: "orders-team", SLOs: []meshwatch.SLO{
			{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999, Window: "28d"},
			{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99, Window: "28d"},
			{Name: "completeness", SLI: meshwatch.SLICompleteness, Objective: 0.99, Window: "30d"},
			{Name: "validity", SLI: meshwatch.SLIValidity, Objective: 0.995, Window: "28d", MinEvents: 1000},
		}},
		{Name: "payments.card.charged", Domain: "payments", Owner: "payments-team", SLOs: []meshwatch.SLO{
			{Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.999, Window: "28d"},
			{Name: "fraud-lag", SLI: meshwatch.SLILag, ConsumerGroup: "fraud-detector", Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99, Window: "28d"},
		}},
	}}
	cfg.SetDefaults()
	return cfg
}

// feedAPI observes two hours of 10 s ticks for apiConfig.
func feedAPI(h *harness) {
	for i := range 720 {
		from := h.clk.Now()
		to := h.clk.Advance(10 * time.Second)
		ev := func(product, slo string, good, valid int64) meshwatch.SLIEvents {
			return meshwatch.SLIEvents{Product: product, SLO: slo, Good: good, Valid: valid, From: from, To: to}
		}
		completenessBad := int64(10)
		if i == 0 {
			completenessBad = 6 // 7196 bad of 720000: 0.056% of the budget left
		}
		availabilityGood := int64(1)
		if i == 700 || i == 710 {
			availabilityGood = 0
		}
		validityGood := int64(0)
		if i%36 == 0 {
			validityGood = 1 // 20 good of 720: far overspent, below min_events
		}
		h.e.ObserveSLI([]meshwatch.SLIEvents{
			ev(testProduct, "latency", 10000-5, 10000),
			ev(testProduct, "freshness", 1, 1),
			ev(testProduct, "completeness", 1000-completenessBad, 1000),
			ev(testProduct, "validity", validityGood, 1),
			ev("payments.card.charged", "availability", availabilityGood, 1),
		})
	}
}

// TestHandlerGolden: the /api/v1/slos entries an owner reads, with each
// SLO's promise and threshold and its budget for people next to the raw
// one, written without HTML escaping.
func TestHandlerGolden(t *testing.T) {
	h := newHarness(t, apiConfig(), t0, Options{})
	feedAPI(h)
	h.e.Evaluate()
	rec := httptest.NewRecorder()
	h.e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/slos", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET: %d", rec.Code)
	}
	body := rec.Body.String()
	golden.Check(t, filepath.Join("testdata", "api_slos.golden.json"), body, *update)

	if strings.Contains(body, `\u00`) {
		t.Errorf("HTML-escaped JSON: %s", regexp.MustCompile(`.{20}\\u00.{20}`).FindString(body))
	}
	var resp Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		threshold        float64
		promise, display string
	}{
		"latency":      {1, "99.9% of records within 1s", "50%"},
		"freshness":    {60, "fresher than 1m 99% of the time", "100%"},
		"completeness": {0, "99% of records complete", "<0.1%"},
		"validity":     {0, "99.5% of records valid", "not enough data (720 of 1000 events)"},
		"availability": {0, "available 99.9% of the time", "spent"},
		"fraud-lag":    {30, "group fraud-detector at most 30s behind 99% of the time", "no data"},
	}
	if len(resp.SLOs) != len(want) {
		t.Fatalf("%d SLOs, want %d", len(resp.SLOs), len(want))
	}
	for _, st := range resp.SLOs {
		w := want[st.SLO]
		if st.ThresholdSeconds != w.threshold || st.Promise != w.promise || st.RemainingDisplay != w.display {
			t.Errorf("%s: threshold %v promise %q display %q, want %v %q %q", st.SLO, st.ThresholdSeconds, st.Promise, st.RemainingDisplay, w.threshold, w.promise, w.display)
		}
	}
	// The raw value stays: far below 0 for the validity SLO.
	if v := resp.SLOs[3]; v.Remaining > -100 {
		t.Errorf("validity: raw budget remaining %v, want the overspent value", v.Remaining)
	}
}
