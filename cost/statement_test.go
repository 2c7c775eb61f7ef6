package cost

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldenfile "github.com/meshwatch/meshwatch/internal/golden"
	"github.com/meshwatch/meshwatch/internal/state"
)

var june = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// oddRates is a rate card in fractions of a cent, as real ones are: every
// hourly amount has more decimals than a cent.
func oddRates(t testing.TB) func(*Config) {
	return func(c *Config) {
		c.RateCard = []Rate{{
			From:           Date{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			StorageGiBHour: mustMoney(t, "0.000137"), StorageBasis: BasisPhysical,
			PartitionHour: mustMoney(t, "0.0015"), IngressGiB: mustMoney(t, "0.013"),
			EgressGiB: mustMoney(t, "0.021"), CrossAZGiB: mustMoney(t, "0.011"),
		}}
		c.Capacity = Capacity{StorageGiB: 40, Partitions: 24}
	}
}

// oddUsage is hour i of a busy day: quantities that change every hour, a
// declared consumer (fraud-detector) and an undeclared one (bi-export).
func oddUsage(hour time.Time, i int) Usage {
	n := int64(i*7919%997 + 13)
	return Usage{Hour: hour, Seconds: 3600, Zones: 3, Topics: []TopicUsage{
		{Topic: "checkout.orders.placed", PartitionSeconds: 6 * 3600, StorageByteHours: 9*gib + n*1_000_003,
			LogicalByteHours: 3*gib + n*333_334, IngressBytes: n * 2_345_679, CrossAZReplicationBytes: n * 3_141_593,
			Groups: []GroupUsage{{Group: "fraud-detector", EgressBytes: n * 4_567_891}, {Group: "bi-export", EgressBytes: n * 777_777}}},
		{Topic: "payments.charges.settled", PartitionSeconds: 3 * 3600, StorageByteHours: 2*gib + n*77_777,
			LogicalByteHours: gib, IngressBytes: n * 123_457},
		{Topic: "__consumer_offsets", PartitionSeconds: 3 * 3600, StorageByteHours: n * 55_555},
		{Topic: "legacy.audit", PartitionSeconds: 3600, StorageByteHours: gib / 3},
	}}
}

// oddLedger is 48 closed hours of June with odd amounts, a correction
// recorded in July, and the open hour's estimate (hour 48).
func oddLedger(t *testing.T) *state.Mem {
	t.Helper()
	ctx := context.Background()
	store := state.NewMem()
	l := NewLedger(store)
	p := newTestPricer(t, oddRates(t))
	for i := range 48 {
		h := june.Add(time.Duration(i) * time.Hour)
		u := oddUsage(h, i)
		if _, err := l.Close(ctx, u, p.Allocate(u, h.Add(time.Hour)), "USD", h.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// Late usage of hour 5, recorded in July: the fraud team read more.
	h := june.Add(5 * time.Hour)
	u := oddUsage(h, 5)
	u.Topics[0].Groups[0].EgressBytes += 987_654_321
	july := june.AddDate(0, 1, 0).Add(30 * time.Minute)
	if _, err := l.Close(ctx, u, p.Allocate(u, july), "USD", july); err != nil {
		t.Fatal(err)
	}
	open := june.Add(48 * time.Hour)
	half := oddUsage(open, 48)
	half.Seconds = 1800
	if err := l.PutOpen(ctx, open, p.Allocate(half, open.Add(30*time.Minute)), "USD"); err != nil {
		t.Fatal(err)
	}
	return store
}

// statementSums reads the table of a statement's text and checks that it
// adds up: components to their product's subtotal, products to their
// team's, teams (and every component line) to TOTAL. It returns TOTAL and
// the number of component lines.
func statementSums(t *testing.T, text string) (total Money, lines int) {
	t.Helper()
	amount := func(l string) Money {
		f := strings.Fields(l)
		m, err := ParseMoney(f[len(f)-1])
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		return m
	}
	var inTable, sawTotal bool
	var comps, prods, teams, all Money
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "TEAM"):
			inTable = true
		case !inTable || sawTotal || l == "":
		case strings.HasPrefix(l, "    "):
			m := amount(l)
			comps += m
			all += m
			lines++
		case strings.HasPrefix(l, "  subtotal "):
			if m := amount(l); m != comps {
				t.Errorf("%q: its components add up to %s", l, comps)
			}
			prods += comps
			comps = 0
		case strings.HasPrefix(l, "subtotal "):
			if m := amount(l); m != prods {
				t.Errorf("%q: its products add up to %s", l, prods)
			}
			teams += prods
			prods = 0
		case strings.HasPrefix(l, "TOTAL"):
			total, sawTotal = amount(l), true
			if total != teams || total != all {
				t.Errorf("TOTAL %s, but the teams' subtotals add up to %s and the component lines to %s", total, teams, all)
			}
		case strings.HasPrefix(l, "  ") && comps != 0:
			t.Errorf("product heading %q before the last product's subtotal", l)
		}
	}
	if !sawTotal {
		t.Fatalf("no TOTAL line in:\n%s", text)
	}
	return total, lines
}

// TestSummaryGolden: `report chargeback -format summary` of a month with
// odd amounts, corrections and an estimate; the total is the sum of the
// lines shown, to the cent, and the exact ledger total rounded.
func TestSummaryGolden(t *testing.T) {
	store := oddLedger(t)
	var buf bytes.Buffer
	res, err := WriteReport(context.Background(), store, ReportOptions{From: june, To: june.AddDate(0, 1, 0), Format: FormatSummary}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, "testdata/summary.golden", buf.String(), *update)
	total, lines := statementSums(t, buf.String())
	rows, err := NewLedger(store).Rows(context.Background(), june, june.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	exact := Total(rows)
	if total != roundTo(exact, Cent) || res.Total != exact {
		t.Errorf("TOTAL %s, want the ledger's %s rounded to the cent (%s); result total %s", total, exact, roundTo(exact, Cent), res.Total)
	}
	if exact%Cent == 0 || lines < 15 {
		t.Errorf("the ledger total %s is whole cents or the table has %d lines: the test shows no rounding", exact, lines)
	}
	for _, want := range []string{"Kafka chargeback for all teams, June 2026: ", "Currency: USD", "estimated for the open hour", "2 corrections", "unknown (consumer groups no product declares)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

// TestStatementRounding: on random ledgers every amount shown is within a
// quantum of its exact amount, the amounts add up at every level, and the
// total is the exact total rounded.
func TestStatementRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		var rows []Row
		for range rng.IntN(40) {
			c := Money(rng.Int64N(int64(3 * Cent)))
			if rng.IntN(8) == 0 {
				c = -c // a correction down
			}
			rows = append(rows, Row{Owner: fmt.Sprint("team-", rng.IntN(4)), CostCenter: fmt.Sprint("CC-", rng.IntN(2)),
				Product: fmt.Sprint("p", rng.IntN(3)), Component: Components[rng.IntN(len(Components))], Cost: c, Currency: "EUR"})
		}
		q := []Money{Cent, Nano / 10_000, Nano}[n%3]
		st, err := NewStatement(rows, june, june.AddDate(0, 1, 0), "EUR", q)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != roundTo(Total(rows), q) {
			t.Fatalf("total %s, want %s rounded", st.Total, Total(rows))
		}
		var teams Money
		for _, tm := range st.Teams {
			teams += tm.Amount
			var prods Money
			for _, p := range tm.Products {
				prods += p.Amount
				var comps Money
				for _, c := range p.Components {
					comps += c.Amount
					if d := c.Amount - c.Exact; d <= -q || d >= q || c.Amount%q != 0 {
						t.Fatalf("component %s shown as %s, exact %s (quantum %s)", c.Component, c.Amount, c.Exact, q)
					}
				}
				if comps != p.Amount {
					t.Fatalf("components add up to %s, product %s", comps, p.Amount)
				}
			}
			if prods != tm.Amount {
				t.Fatalf("products add up to %s, team %s", prods, tm.Amount)
			}
		}
		if teams != st.Total {
			t.Fatalf("teams add up to %s, total %s", teams, st.Total)
		}
		if q == Cent && len(rows) > 0 {
			statementSums(t, st.Text())
		}
	}
}

// TestSlackSummaryIsTheReportSummary: the monthly close's Slack summaries
// show the table that `report chargeback -month … -format summary` prints
// for that month, for finance and for each team (-owner).
func TestSlackSummaryIsTheReportSummary(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: june.Add(time.Hour)}
	var sent []Summary
	store := state.NewMem()
	dir := t.TempDir()
	m := newTestMeter(t, clk, func(c *Config) { oddRates(t)(c); c.Reports.Dir = dir },
		Options{Store: store, Notify: func(s Summary) { sent = append(sent, s) }})
	for i := range 30 {
		clk.Set(june.Add(time.Duration(i+1) * time.Hour))
		if _, err := m.CloseHour(ctx, oddUsage(june.Add(time.Duration(i)*time.Hour), i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(june.AddDate(0, 1, 0).Add(30 * time.Minute))
	if err := m.CloseMonth(ctx, june); err != nil {
		t.Fatal(err)
	}
	if len(sent) < 3 {
		t.Fatalf("%d summaries, want one per team and finance's", len(sent))
	}
	for _, s := range sent {
		o := ReportOptions{From: june, To: june.AddDate(0, 1, 0), Format: FormatSummary}
		if !s.Finance {
			o.Owner = s.Owner
		}
		var buf bytes.Buffer
		if _, err := WriteReport(ctx, store, o, &buf); err != nil {
			t.Fatal(err)
		}
		headline, table, _ := strings.Cut(buf.String(), "\n")
		want := headline + "\n```\n" + table + "```\n"
		if text := s.Text(); !strings.HasPrefix(text, want) {
			t.Errorf("summary for %q (finance %v) is not the report's:\n%s\nreport:\n%s", s.Owner, s.Finance, text, buf.String())
		}
		if s.Finance {
			// The sidecar of the FOCUS file is the same summary.
			b, err := os.ReadFile(filepath.Join(dir, "chargeback-2026-06.summary.txt"))
			if err != nil || string(b) != buf.String() {
				t.Errorf("chargeback-2026-06.summary.txt (%v):\n%s\nwant:\n%s", err, b, buf.String())
			}
		}
		cmd := "meshwatch report chargeback -month 2026-06 -format summary"
		if !s.Finance {
			cmd += " -owner " + s.Owner
		}
		if !strings.Contains(s.Text(), cmd) {
			t.Errorf("summary for %q does not say how to print it again (%s):\n%s", s.Owner, cmd, s.Text())
		}
		if !s.Finance {
			// A team's summary has the amounts of the finance summary.
			total, _ := statementSums(t, buf.String())
			if st := s.Statement; st == nil || total != st.Total || len(st.Teams) == 0 {
				t.Errorf("team %s: total %s, statement %+v", s.Owner, total, st)
			}
		}
	}
}

// TestSummaryFitsAMessage: a statement too large for one Slack message is
// shortened to products, then teams, and still adds up.
func TestSummaryFitsAMessage(t *testing.T) {
	var rows []Row
	for i := range 400 {
		for _, c := range Components[:5] {
			rows = append(rows, Row{Owner: fmt.Sprintf("team-%03d", i%150), Product: fmt.Sprintf("domain.product-number-%04d", i),
				Component: c, Cost: Money(1_234_567 * (i + 1)), Currency: "USD"})
		}
	}
	st, err := NewStatement(rows, june, june.AddDate(0, 1, 0), "USD", Cent)
	if err != nil {
		t.Fatal(err)
	}
	for _, max := range []int{maxSummaryText, 8 << 10, 2 << 10} {
		text := st.TextWithin(max)
		if len(text) > max {
			t.Errorf("TextWithin(%d) is %d bytes", max, len(text))
		}
		if !strings.Contains(text, "TOTAL") || !strings.Contains(text, "Shortened") {
			t.Errorf("TextWithin(%d) lacks TOTAL or says nothing of what it left out:\n%.600s", max, text)
		}
		// Whatever is left out, the teams' lines (subtotals, or "N more
		// teams") add up to the total.
		var sum Money
		var total Money
		for _, l := range strings.Split(text, "\n") {
			f := strings.Fields(l)
			if len(f) < 2 || strings.HasPrefix(l, " ") {
				continue
			}
			if m, err := ParseMoney(f[len(f)-1]); err == nil {
				if f[0] == "TOTAL" {
					total = m
				} else if !strings.Contains(l, ":") {
					sum += m
				}
			}
		}
		if sum != total || total == 0 {
			t.Errorf("TextWithin(%d): teams add up to %s, total %s", max, sum, total)
		}
	}
}

func TestSummaryWithoutCharges(t *testing.T) {
	var buf bytes.Buffer
	res, err := WriteReport(context.Background(), state.NewMem(), ReportOptions{From: june, To: june.AddDate(0, 1, 0),
		Format: FormatSummary, Currency: "EUR"}, &buf)
	if err != nil || res.Charges != 0 {
		t.Fatal(res, err)
	}
	for _, want := range []string{
		"Kafka chargeback for all teams, June 2026: no charges",
		"No charges between 2026-06-01T00:00:00Z and 2026-07-01T00:00:00Z; the agent records charges hourly once cost: is configured.",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary of nothing lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "TOTAL") {
		t.Errorf("an empty table:\n%s", buf.String())
	}
	// A team with no charges is told which teams had some.
	buf.Reset()
	if _, err := WriteReport(context.Background(), oddLedger(t), ReportOptions{From: june, To: june.AddDate(0, 1, 0),
		Format: FormatSummary, Owner: "nobody"}, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "No charges to nobody between") || !strings.Contains(buf.String(), "teams charged: fraud-team, orders-team") {
		t.Errorf("summary of a team without charges:\n%s", buf.String())
	}
}

// TestCSVTotals: the CSV has a subtotal row per team and a total row,
// marked by row_type, each the exact sum of its charge rows.
func TestCSVTotals(t *testing.T) {
	var buf bytes.Buffer
	if _, err := WriteReport(context.Background(), oddLedger(t), ReportOptions{From: june, To: june.AddDate(0, 1, 0), Format: FormatCSV}, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	if recs[0][0] != "row_type" {
		t.Errorf("first column %q, want row_type", recs[0][0])
	}
	type team struct{ owner, cc string }
	charges := map[team]Money{}
	subtotals := map[team]Money{}
	var all, sub, total Money
	var totals, order []string
	for _, rec := range recs[1:] {
		get := func(c string) string { return rec[col[c]] }
		m, err := ParseMoney(get("cost"))
		if err != nil {
			t.Fatal(err)
		}
		k := team{get("owner"), get("cost_center")}
		order = append(order, get("row_type"))
		switch get("row_type") {
		case RowCharge:
			charges[k] += m
			all += m
		case RowSubtotal:
			if _, dup := subtotals[k]; dup {
				t.Errorf("two subtotal rows for %v", k)
			}
			subtotals[k] = m
			sub += m
			if get("hour_start") != "2026-06-01T00:00:00Z" || get("hour_end") != "2026-07-01T00:00:00Z" || get("product") != "" || get("currency") != "USD" {
				t.Errorf("subtotal row %q", rec)
			}
		case RowTotal:
			total = m
			totals = append(totals, get("currency"))
		default:
			t.Errorf("row_type %q", get("row_type"))
		}
	}
	if len(charges) < 4 || len(subtotals) != len(charges) {
		t.Errorf("%d teams charged, %d subtotal rows", len(charges), len(subtotals))
	}
	for k, v := range charges {
		if subtotals[k] != v {
			t.Errorf("team %v: charges add up to %s, subtotal row %s", k, v, subtotals[k])
		}
	}
	if len(totals) != 1 || total != all || sub != all || all%Cent == 0 {
		t.Errorf("total rows %v = %s; charges add up to %s, subtotals to %s", totals, total, all, sub)
	}
	// Charges first, then subtotals, then the total: a spreadsheet sees
	// the charges as one block.
	joined := strings.Join(order, ",")
	if !strings.HasSuffix(joined, ","+RowTotal) || strings.Contains(joined, RowSubtotal+","+RowCharge) {
		t.Errorf("row order ends %v, want charges, then subtotals, then the total", order[max(0, len(order)-8):])
	}
}

// TestJSONQuantityIsNumeric: quantities are JSON numbers with every digit
// of the CSV's decimal (no float rounding), and the teams' totals add up.
func TestJSONQuantityIsNumeric(t *testing.T) {
	ctx := context.Background()
	store := state.NewMem()
	p := newTestPricer(t, nil)
	// 2⁵³+1 byte-hours: a float64 cannot hold it, the report must.
	u := Usage{Hour: hour0, Seconds: 3600, Topics: []TopicUsage{{Topic: "checkout.orders.placed",
		StorageByteHours: 1<<53 + 1, PartitionSeconds: 1}}}
	if _, err := NewLedger(store).Close(ctx, u, p.Allocate(u, hour0.Add(time.Hour)), "USD", hour0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Report(ctx, store, hour0, hour0.Add(time.Hour), FormatJSON, &buf); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.UseNumber()
	var rep struct {
		Total json.Number `json:"total"`
		Teams []struct {
			Owner    string      `json:"owner"`
			Cost     json.Number `json:"cost"`
			Products []struct {
				Cost       json.Number `json:"cost"`
				Components []struct {
					Cost json.Number `json:"cost"`
				} `json:"components"`
			} `json:"products"`
		} `json:"teams"`
		Rows []map[string]any `json:"rows"`
	}
	if err := dec.Decode(&rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rep.Rows {
		q, ok := r["quantity"].(json.Number)
		if !ok {
			t.Fatalf("quantity %#v (%T) is not a JSON number", r["quantity"], r["quantity"])
		}
		got[r["component"].(string)] = q.String()
	}
	if got[ComponentStorage] != "8388608.000000000931" || got[ComponentPartitions] != "0.000277777778" {
		t.Errorf("quantities %v, want storage 8388608.000000000931 GiB-hours and 0.000277777778 partition-hours", got)
	}
	money := func(n json.Number) Money {
		m, err := ParseMoney(n.String())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var teams Money
	for _, tm := range rep.Teams {
		teams += money(tm.Cost)
		var prods Money
		for _, p := range tm.Products {
			prods += money(p.Cost)
			var comps Money
			for _, c := range p.Components {
				comps += money(c.Cost)
			}
			if comps != money(p.Cost) {
				t.Errorf("team %s: components %s, product %s", tm.Owner, comps, p.Cost)
			}
		}
		if prods != money(tm.Cost) {
			t.Errorf("team %s: products %s, team %s", tm.Owner, prods, tm.Cost)
		}
	}
	if len(rep.Teams) == 0 || teams != money(rep.Total) {
		t.Errorf("%d teams add up to %s, total %s", len(rep.Teams), teams, rep.Total)
	}
}

func TestHandlerSummary(t *testing.T) {
	clk := &clock{t: june.AddDate(0, 1, 2)}
	m := newTestMeter(t, clk, func(c *Config) { c.Currency = "USD" }, Options{Store: oddLedger(t)})
	for _, tc := range []struct {
		query, want string
		status      int
	}{
		{"format=summary&month=2026-06", "Kafka chargeback for all teams, June 2026: ", 200},
		{"format=summary&month=2026-06&owner=fraud-team", "Kafka chargeback for fraud-team, June 2026: ", 200},
		{"format=summary&month=2026-05", "No charges between 2026-05-01T00:00:00Z", 200},
		{"format=csv&month=2026-06&owner=fraud-team", "\ntotal,", 200},
		{"format=summary&month=2026-06&decimals=6", "amounts rounded to 0.000001", 200},
		{"format=csv&decimals=6", "decimals: 2 (cents) to 9, with format=summary", 400},
		{"format=summary&month=2026-6x", "month: want a month like 2026-06", 400},
		{"month=2026-06&from=2026-06-01", "not both", 400},
	} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/chargeback?"+tc.query, nil)
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %q, want %d with %q", tc.query, rec.Code, rec.Body.String(), tc.status, tc.want)
		}
		if strings.Contains(tc.query, "summary") && tc.status == 200 && rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %s", tc.query, rec.Header().Get("Content-Type"))
		}
	}
}
