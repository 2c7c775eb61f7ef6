package sla

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/golden"
)

func TestCheck(t *testing.T) {
	cfg := testConfig(latencySLO(0.999, "28d"), meshwatch.SLO{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99, Window: "28d"},
		meshwatch.SLO{Name: "validity", SLI: meshwatch.SLIValidity, Objective: 0.995, Window: "28d"},
		meshwatch.SLO{Name: "fraud-lag", SLI: meshwatch.SLILag, ConsumerGroup: "fraud-detector", Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99, Window: "28d", MinEvents: 100})
	cfg.Products = append(cfg.Products, meshwatch.Product{Name: "late.orders.placed", SLOs: []meshwatch.SLO{{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99, Window: "28d"}}})
	cfg.SetDefaults()
	var tally Tally
	at := t0
	for range 6 { // a minute of ticks
		from := at
		at = at.Add(10 * time.Second)
		tally.ObserveSLI([]meshwatch.SLIEvents{
			{Product: testProduct, SLO: testSLO, Good: 999, Valid: 1000, From: from, To: at},
			{Product: testProduct, SLO: "freshness", Good: 1, Valid: 1, From: from, To: at},
			{Product: testProduct, SLO: "fraud-lag", Good: 0, Valid: 1, From: from, To: at},
			{Product: "late.orders.placed", SLO: "freshness", Good: 0, Valid: 1, From: from, To: at},
		})
	}
	got := tally.Results(cfg, "")
	want := []CheckResult{
		{Product: testProduct, SLO: testSLO, SLI: "latency", Objective: 0.999, ThresholdSeconds: 1, Promise: "99.9% of records within 1s", Good: 5994, Valid: 6000, Value: some(0.999), Met: true},
		{Product: testProduct, SLO: "freshness", SLI: "freshness", Objective: 0.99, ThresholdSeconds: 60, Promise: "fresher than 1m 99% of the time", Good: 6, Valid: 6, Value: some(1), Met: true},
		{Product: testProduct, SLO: "validity", SLI: "validity", Objective: 0.995, Promise: "99.5% of records valid", Why: "no valid events while sampling"},
		{
			Product: testProduct, SLO: "fraud-lag", SLI: "lag", Objective: 0.99, ThresholdSeconds: 30, Promise: "group fraud-detector at most 30s behind 99% of the time",
			Valid: 6, MinEvents: 100, Value: some(0), Why: "not enough data (6 of 100 events): sample longer with -for",
		},
		{
			Product: "late.orders.placed", SLO: "freshness", SLI: "freshness", Objective: 0.99, ThresholdSeconds: 30, Promise: "fresher than 30s 99% of the time",
			Valid: 6, Value: some(0), Why: "6 of 6 events bad, more than 99% allows",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if AllMet(got) || !AllMet(tally.Results(cfg, "")[:2]) {
		t.Error("AllMet")
	}
	if from, to := tally.Period(); !from.Equal(t0) || !to.Equal(t0.Add(time.Minute)) {
		t.Errorf("period %v – %v", from, to)
	}
	if rs := tally.Results(cfg, "late.orders.placed"); len(rs) != 1 || rs[0].Met {
		t.Errorf("filtered: %+v", rs)
	}

	// The table an owner reads: each SLO's promise, objective and
	// threshold in words, and "not enough data" below min_events.
	var b strings.Builder
	if err := WriteTable(&b, got); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "check_table.golden"), b.String(), *update)
}
