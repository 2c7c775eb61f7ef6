package alert

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/prometheus/client_golang/prometheus"
)

// statuses returns each alert's status by alertname/product/group.
func statuses(m *Manager) map[string]string {
	out := map[string]string{}
	for _, v := range m.Alerts() {
		out[v.Labels[LabelAlertname]+"/"+v.Product+"/"+v.Labels[LabelGroup]] = v.Status + "/" + v.Labels[LabelSeverity]
	}
	return out
}

// TestUpdateConditions: known conditions are alerts with the tier applied
// to their severity in one place; an unknown condition holds the open
// alerts it covers; every other open alert resolves.
func TestUpdateConditions(t *testing.T) {
	clk := newClock()
	m := newTestManager(t, clk, newTestStore(), nil)
	const tier1, tier3 = "checkout.orders.placed", "search.clicks.logged"
	unavailable := func(p string) meshwatch.Condition {
		return meshwatch.Condition{Name: meshwatch.AlertProductUnavailable, Product: p, Severity: meshwatch.SeverityPage, State: "unavailable", Summary: p + " is unavailable"}
	}
	lagOf := func(group string) meshwatch.Condition {
		return meshwatch.Condition{Name: meshwatch.AlertConsumerLag, Product: tier1, Group: group, SLI: meshwatch.SLILag, Severity: meshwatch.SeverityTicket, State: "STOP"}
	}
	m.UpdateConditions(t0, []meshwatch.Condition{unavailable(tier1), unavailable(tier3), lagOf("etl"), lagOf("audit")})
	want := map[string]string{
		"ProductUnavailable/" + tier1 + "/": "firing/page",
		// Tier 3 never pages: its page is a ticket in every output.
		"ProductUnavailable/" + tier3 + "/": "firing/ticket",
		"ConsumerLag/" + tier1 + "/etl":     "firing/ticket",
		"ConsumerLag/" + tier1 + "/audit":   "firing/ticket",
	}
	if got := statuses(m); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}

	// The collector cannot tell tier 1 now, the lag monitor cannot tell
	// the group etl: those are held; the rest resolves.
	m.UpdateConditions(t0.Add(time.Minute), []meshwatch.Condition{
		{Product: tier1, State: meshwatch.StateUnknown, Name: meshwatch.AlertProductUnavailable},
		{Name: meshwatch.AlertConsumerLag, Product: tier1, Group: "etl", State: meshwatch.StateUnknown},
	})
	want = map[string]string{
		"ProductUnavailable/" + tier1 + "/": "firing/page",
		"ProductUnavailable/" + tier3 + "/": "resolved/ticket",
		"ConsumerLag/" + tier1 + "/etl":     "firing/ticket",
		"ConsumerLag/" + tier1 + "/audit":   "resolved/ticket",
	}
	if got := statuses(m); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}
	held := 0
	for _, v := range m.Alerts() {
		if v.Unknown {
			held++
		}
	}
	if held != 2 {
		t.Errorf("%d alerts shown as unknown, want 2", held)
	}

	// An unknown condition of every product (a source that has not
	// evaluated yet) holds that alert name everywhere.
	m.UpdateConditions(t0.Add(2*time.Minute), []meshwatch.Condition{{Name: meshwatch.AlertConsumerLag, State: meshwatch.StateUnknown}})
	got := statuses(m)
	if got["ConsumerLag/"+tier1+"/etl"] != "firing/ticket" || got["ProductUnavailable/"+tier1+"/"] != "resolved/page" {
		t.Errorf("alerts %v: want the lag alert held and the unavailable one resolved", got)
	}
}

// TestFromCondition: the labels and numbers an alert gets from a condition.
func TestFromCondition(t *testing.T) {
	sli := 0.98
	rem := -0.25
	c := meshwatch.Condition{
		Name: meshwatch.AlertSLOBurnRate, Product: "p", SLO: "latency", SLI: meshwatch.SLILatency,
		Severity: meshwatch.SeverityPage, State: "page", Owner: "team", For: time.Minute,
		Summary: "s", Description: "d",
		Budget: &meshwatch.BudgetFacts{Objective: 0.99, Window: "28d", SLI: &sli, Remaining: &rem,
			BurnRates: []meshwatch.WindowRate{{Window: "1h", Rate: 15}}, TimeToExhaustion: time.Hour},
	}
	a := FromCondition(&c)
	wantLabels := map[string]string{LabelAlertname: "SLOBurnRate", LabelProduct: "p", LabelSLO: "latency", LabelSLI: "latency", LabelSeverity: "page"}
	if fmt.Sprint(a.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("labels %v, want %v", a.Labels, wantLabels)
	}
	if a.Annotations["summary"] != "s" || a.Annotations["description"] != "d" || a.Owner != "team" || a.For != time.Minute || a.State != "page" || !a.Active {
		t.Errorf("alert %+v", a)
	}
	if *a.SLI != 0.98 || *a.BudgetRemaining != -0.25 || a.Objective != 0.99 || a.Window != "28d" ||
		len(a.BurnRates) != 1 || a.BurnRates[0] != (BurnRate{"1h", 15}) || a.TimeToExhaustion != time.Hour {
		t.Errorf("numbers %+v", a)
	}
	cc := FromCondition(&meshwatch.Condition{Name: meshwatch.AlertCostBudget, CostCenter: "cc-7", Severity: meshwatch.SeverityTicket})
	if fmt.Sprint(cc.Labels) != fmt.Sprint(map[string]string{LabelAlertname: "CostBudget", LabelCostCenter: "cc-7", LabelSeverity: "ticket"}) || cc.BudgetRemaining != nil {
		t.Errorf("cost center alert %+v", cc)
	}
}

// meshConditions is a mesh of n products, each with an SLO and a
// freshness condition firing, and every unknownEvery-th (0: none) with an
// unknown one.
func meshConditions(n, unknownEvery int) (*meshwatch.Config, []meshwatch.Condition) {
	cfg := &meshwatch.Config{}
	var conds []meshwatch.Condition
	for i := range n {
		p := fmt.Sprintf("domain%d.entity.event", i)
		cfg.Products = append(cfg.Products, meshwatch.Product{Name: p, Owner: "team", Tier: 1 + i%3})
		conds = append(conds,
			meshwatch.Condition{Name: meshwatch.AlertSLOBurnRate, Product: p, SLO: "latency", SLI: meshwatch.SLILatency, Severity: meshwatch.SeverityPage, State: "page"},
			meshwatch.Condition{Name: meshwatch.AlertProductStale, Product: p, SLO: "fresh", SLI: meshwatch.SLIFreshness, Severity: meshwatch.SeverityPage, State: "stale"},
		)
		if unknownEvery > 0 && i%unknownEvery == 0 {
			conds = append(conds, meshwatch.Condition{Product: p, SLO: "other", State: meshwatch.StateUnknown})
		}
	}
	return cfg, conds
}

// BenchmarkUpdateConditions is the per-evaluation alert work at mesh
// scale: every product has an SLO and a freshness condition firing, and a
// tenth of them an unknown one. ns/op must grow linearly with products
// (compare products=10000 with products=1000: about 10×).
func BenchmarkUpdateConditions(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			cfg, conds := meshConditions(n, 10)
			m, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry()), Store: newTestStore(), Now: newClock().Now})
			if err != nil {
				b.Fatal(err)
			}
			now := t0
			m.UpdateConditions(now, conds)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(10 * time.Second)
				m.UpdateConditions(now, conds)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/product")
		})
	}
}

// TestLinks: alerting.runbook_url and dashboard_url reach every alert
// without links of its own, with {product} and {slo} replaced.
func TestLinks(t *testing.T) {
	c := &Config{
		RunbookURL:   "https://runbooks.example.com/{product}#{slo}",
		DashboardURL: "https://grafana.example.com/d/p?var-product={product}",
	}
	m, err := New(testConfig(), Options{Store: newTestStore(), Now: newClock().Now, Routing: c.Routing()})
	if err != nil {
		t.Fatal(err)
	}
	m.UpdateConditions(t0, []meshwatch.Condition{
		{Name: meshwatch.AlertSLOBurnRate, Product: "checkout.orders.placed", SLO: "latency", Severity: meshwatch.SeverityPage},
		{Name: meshwatch.AlertProductUnavailable, Product: "search.clicks.logged", Severity: meshwatch.SeverityPage},
	})
	got := map[string]string{}
	for _, v := range m.Alerts() {
		got[v.Product] = v.RunbookURL + " " + v.DashboardURL
	}
	want := map[string]string{
		"checkout.orders.placed": "https://runbooks.example.com/checkout.orders.placed#latency https://grafana.example.com/d/p?var-product=checkout.orders.placed",
		"search.clicks.logged":   "https://runbooks.example.com/search.clicks.logged# https://grafana.example.com/d/p?var-product=search.clicks.logged",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("links %v, want %v", got, want)
	}
	// An alert's own links win.
	a := sloAlert("latency", meshwatch.SLILatency, SeverityPage)
	if f := m.fill(a); f.RunbookURL != a.RunbookURL || f.DashboardURL != a.DashboardURL {
		t.Errorf("own links replaced: %s %s", f.RunbookURL, f.DashboardURL)
	}
}

// BenchmarkDispatch is one dispatch pass at mesh scale with every group
// due: every product's incident flushes. ns/product must stay flat from
// 1,000 to 10,000 products (a flush that walked every alert of every group
// made it grow tenfold).
func BenchmarkDispatch(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			cfg, conds := meshConditions(n, 0)
			m, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry()), Store: newTestStore(), Now: newClock().Now})
			if err != nil {
				b.Fatal(err)
			}
			now := t0
			m.UpdateConditions(now, conds)
			now = now.Add(time.Hour) // past every group's wait
			m.UpdateConditions(now, conds)
			m.dispatch(now)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(24 * time.Hour) // past every group's repeat interval
				m.dispatch(now)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/product")
		})
	}
}
