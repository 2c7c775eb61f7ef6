package cost

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/state"
)

func TestConfigYAMLAndValidate(t *testing.T) {
	const doc = `
currency: EUR
rate_card:
  - {from: 2026-01-01, storage_gib_hour: 0.000137, partition_hour: 0.0015, ingress_gib: 0.01, egress_gib: "0.02", cross_az_gib: 0.01}
  - {from: "2026-07-01T00:00:00Z", storage_gib_hour: 0.0002, storage_basis: logical}
invoice: {monthly: 12000.00, bills: {"2026-06": 11500.50}}
egress_policy: split
shared_spread: weighted
shared_topics: ["^connect-.*"]
az_spread: {cross_az: 0.66}
capacity: {storage_gib: 3000, partitions: 6000}
platform_owner: kafka-platform
cost_centers: {fraud-team: CC-2001}
sample: 30s
reports: {dir: ./reports, daily: "5 0 * * *", monthly: "@monthly", finance: finance}
budgets:
  - {product: checkout.orders.placed, monthly: 500}
  - {cost_center: CC-2001, monthly: 1200.50}
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if ps := c.Validate([]string{"checkout.orders.placed"}); len(ps) != 0 {
		t.Fatalf("valid config: %v", ps)
	}
	if c.RateCard[0].StorageGiBHour != 137_000 || c.Invoice.Bills["2026-06"] != 11500_500_000_000 {
		t.Errorf("amounts: %d, %d", c.RateCard[0].StorageGiBHour, c.Invoice.Bills["2026-06"])
	}

	bad := Config{
		Currency:     "usd",
		EgressPolicy: "whoever",
		SharedSpread: "lumpy",
		SharedTopics: []string{"("},
		RateCard:     []Rate{{StorageBasis: "quantum", PartitionHour: -1}},
		Invoice:      &Invoice{Monthly: 1},
		Reports:      Reports{Daily: "every day", Monthly: "61 * * * *"},
		Budgets:      []Budget{{Monthly: 0}, {Product: "nope", Monthly: Nano}},
	}
	bad.SetDefaults()
	var got []string
	for _, p := range bad.Validate([]string{"checkout.orders.placed"}) {
		got = append(got, p.Path)
	}
	want := []string{"cost.currency", "cost.egress_policy", "cost.shared_spread", "cost.shared_topics[0]",
		"cost.rate_card[0].from", "cost.rate_card[0].storage_basis", "cost.rate_card[0].partition_hour",
		"cost.invoice.monthly", "cost.reports.daily", "cost.reports.monthly", "cost.budgets[0]",
		"cost.budgets[0].monthly", "cost.budgets[1].product"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problem paths:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// newTestMeter returns a meter without Kafka on the test products: the
// closes, budgets and the handler work on the ledger alone.
func newTestMeter(t *testing.T, clk *clock, mutate func(*Config), opts Options) *Meter {
	t.Helper()
	cc := Config{RateCard: []Rate{testRate(t)}, AZSpread: AZSpread{CrossAZ: half()},
		CostCenters: map[string]string{"fraud-team": "CC-7", "platform": "CC-0"}}
	if mutate != nil {
		mutate(&cc)
	}
	if opts.Store == nil {
		opts.Store = state.NewMem()
	}
	opts.Now = clk.Now
	m, err := New(&meshwatch.Config{Cluster: meshwatch.Cluster{Name: "test"}, Products: testProducts()}, cc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBudgetsFireOncePerThreshold(t *testing.T) {
	ctx := context.Background()
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: june.Add(2 * 24 * time.Hour)}
	var pushed []BudgetAlert
	// An hour of ordersUsage costs the product 1.47: partitions 0.02,
	// storage 0.30, ingress 0.10, cross-AZ 0.10, the fraud team's egress
	// 0.80 + 0.10 (a product budget counts every row of the product) and
	// half the shared pool 0.05.
	m := newTestMeter(t, clk, func(c *Config) {
		c.Budgets = []Budget{{Product: "checkout.orders.placed", Monthly: mustMoney(t, "4.00")}}
	}, Options{Budget: func(a BudgetAlert) { pushed = append(pushed, a) }})

	h := june.Add(24 * time.Hour)
	rows, err := m.CloseHour(ctx, ordersUsage(h))
	if err != nil {
		t.Fatal(err)
	}
	var product Money
	for _, r := range rows {
		if r.Product == "checkout.orders.placed" {
			product += r.Cost
		}
	}
	if product != mustMoney(t, "1.47") {
		t.Fatalf("the product's hour costs %s; the thresholds below assume 1.47", product)
	}
	m.mu.Lock()
	m.checkBudgetsLocked(ctx, clk.Now())
	m.mu.Unlock()
	// 1.47 of 4.00 is 37 %: no threshold, but the forecast (a month at
	// this pace) exceeds the budget.
	if got := m.BudgetAlerts(); len(got) != 1 || !got[0].Forecast {
		t.Fatalf("alerts after 1.45: %v", got)
	}
	if _, err := m.CloseHour(ctx, ordersUsage(h.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.checkBudgetsLocked(ctx, clk.Now())
	m.checkBudgetsLocked(ctx, clk.Now()) // again: nothing new
	m.mu.Unlock()
	// 2.94 of 4.00 is 73.5 %: 50 % fires once.
	got := m.BudgetAlerts()
	if len(got) != 2 || got[1].Threshold != 50 || got[1].Owner != "orders-team" || got[1].Spent != mustMoney(t, "2.94") {
		t.Fatalf("alerts after 2.90: %v", got)
	}
	if len(pushed) != 2 {
		t.Errorf("Options.Budget got %d alerts, want 2", len(pushed))
	}
}

func TestCloseDayAndMonth(t *testing.T) {
	ctx := context.Background()
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: june.AddDate(0, 1, 0).Add(30 * time.Minute)}
	dir := t.TempDir()
	var sent []Summary
	m := newTestMeter(t, clk, func(c *Config) {
		c.Invoice = &Invoice{Monthly: mustMoney(t, "720.00")}
		c.Reports = Reports{Dir: dir, Finance: "finance"}
	}, Options{Notify: func(s Summary) { sent = append(sent, s) }})

	day := june.AddDate(0, 0, 2)
	for i := range 3 {
		if _, err := m.CloseHour(ctx, ordersUsage(day.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := m.CloseDay(ctx, day); err != nil {
			t.Fatal(err)
		}
	}
	owners := map[string]Money{}
	for _, s := range sent {
		if s.Finance || s.Period != "day" {
			t.Errorf("daily summary %+v", s)
		}
		owners[s.Owner] += s.Total
	}
	// Three hours of the 1.00-an-hour bill, summed over the owners.
	var total Money
	for _, v := range owners {
		total += v
	}
	if len(sent) != 4 || total != mustMoney(t, "3.00") {
		t.Errorf("daily summaries: %d for %v, total %s; want one per owner (4), 3.00", len(sent), owners, total)
	}
	if _, err := os.Stat(filepath.Join(dir, "chargeback-2026-06-03.focus.csv")); err != nil {
		t.Error(err)
	}

	sent = nil
	for range 2 {
		if err := m.CloseMonth(ctx, june); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := m.Ledger().Rows(ctx, june, june.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := Total(rows); got != mustMoney(t, "720.00") {
		t.Errorf("June sums to %s, want the bill 720.00", got)
	}
	var finance int
	for _, s := range sent {
		if s.Finance {
			finance++
			if s.Total != mustMoney(t, "720.00") || s.FinanceTeam != "finance" || !strings.Contains(s.Text(), "June 2026") {
				t.Errorf("finance summary %+v: %s", s, s.Text())
			}
		}
	}
	if finance != 1 {
		t.Errorf("%d finance summaries over two month closes, want 1", finance)
	}
}

func TestHandler(t *testing.T) {
	clk := &clock{t: hour0.Add(3 * time.Hour)}
	store := goldenLedger(t)
	m := newTestMeter(t, clk, nil, Options{Store: store})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	get := func(q string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/api/v1/chargeback?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	from, to := hour0.UnixMilli(), hour0.Add(3*time.Hour).UnixMilli()
	resp, body := get("from=" + itoa(from) + "&to=" + itoa(to))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var rep struct {
		Total float64           `json:"total"`
		Rows  []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil || len(rep.Rows) == 0 || rep.Total <= 0 {
		t.Errorf("json report: %v, %d rows, total %v", err, len(rep.Rows), rep.Total)
	}
	if resp, body := get("from=2026-06-03&to=2026-06-04&format=csv"); resp.StatusCode != 200 || !strings.HasPrefix(body, "row_type,hour_start,") {
		t.Errorf("csv: %d %q", resp.StatusCode, body)
	}
	for _, q := range []string{"format=xml", "from=yesterday", "from=2026-06-04&to=2026-06-03"} {
		if resp, _ := get(q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, resp.StatusCode)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
