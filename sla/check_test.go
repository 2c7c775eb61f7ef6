package sla

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
)

func TestCheck(t *testing.T) {
	cfg := testConfig(latencySLO(0.999, "28d"), meshwatch.SLO{Name: "freshness", SLI: meshwatch.SLIFreshness, Objective: 0.99, Window: "28d"},
		meshwatch.SLO{Name: "validity", SLI: meshwatch.SLIValidity, Objective: 0.995, Window: "28d"})
	cfg.Products = append(cfg.Products, meshwatch.Product{Name: "late.orders.placed", SLOs: []meshwatch.SLO{{Name: "freshness", SLI: meshwatch.SLIFreshness, Objective: 0.99, Window: "28d"}}})
	cfg.SetDefaults()
	var tally Tally
	at := t0
	for range 6 { // a minute of ticks
		from := at
		at = at.Add(10 * time.Second)
		tally.ObserveSLI([]meshwatch.SLIEvents{
			{Product: testProduct, SLO: testSLO, Good: 999, Valid: 1000, From: from, To: at},
			{Product: testProduct, SLO: "freshness", Good: 1, Valid: 1, From: from, To: at},
			{Product: "late.orders.placed", SLO: "freshness", Good: 0, Valid: 1, From: from, To: at},
		})
	}
	got := tally.Results(cfg, "")
	want := []CheckResult{
		{Product: testProduct, SLO: testSLO, SLI: "latency", Objective: 0.999, Good: 5994, Valid: 6000, Value: some(0.999), Met: true},
		{Product: testProduct, SLO: "freshness", SLI: "freshness", Objective: 0.99, Good: 6, Valid: 6, Value: some(1), Met: true},
		{Product: testProduct, SLO: "validity", SLI: "validity", Objective: 0.995, Why: "no valid events while sampling"},
		{Product: "late.orders.placed", SLO: "freshness", SLI: "freshness", Objective: 0.99, Valid: 6, Value: some(0), Why: "6 of 6 events bad, more than 99% allows"},
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

	var b strings.Builder
	if err := WriteTable(&b, got); err != nil {
		t.Fatal(err)
	}
	wantTable := `PRODUCT                 SLO        SLI        VALUE  OBJECTIVE  GOOD/VALID  MET
checkout.orders.placed  latency    latency    99.9%  99.9%      5994/6000   yes
checkout.orders.placed  freshness  freshness  100%   99%        6/6         yes
checkout.orders.placed  validity   validity   -      99.5%      0/0         NO: no valid events while sampling
late.orders.placed      freshness  freshness  0%     99%        0/6         NO: 6 of 6 events bad, more than 99% allows
`
	if diff := cmp.Diff(wantTable, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}
