package main

import (
	"context"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/golden"
	"github.com/meshwatch/meshwatch/internal/state"
)

// The golden files are rewritten with go test -update. Another test file of
// the package may define -update too: it is registered here only if not.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// reportPassword is the Kafka password of the report tests' config: no
// report output may show it.
const reportPassword = "s3cret-report-pw-0123456789"

var reportJune = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// writeLedgerConfig writes a config whose state directory holds 36 closed
// hours of June 2026 priced at a rate card in fractions of a cent, and
// returns its path. The report reads the directory only: the brokers are
// never dialled.
func writeLedgerConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	m := func(s string) cost.Money {
		v, err := cost.ParseMoney(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cfg := cost.Config{
		Currency: "EUR",
		RateCard: []cost.Rate{{From: cost.Date{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			StorageGiBHour: m("0.000137"), PartitionHour: m("0.0015"), IngressGiB: m("0.01"), EgressGiB: m("0.02"), CrossAZGiB: m("0.01")}},
		Capacity:    cost.Capacity{StorageGiB: 20, Partitions: 16},
		CostCenters: map[string]string{"orders-team": "CC-1042", "fraud-team": "CC-2001", cost.DefaultPlatformOwner: "CC-9000"},
	}
	products := []meshwatch.Product{
		{Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team",
			Topics:    []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}},
			Consumers: []meshwatch.Consumer{{Group: "fraud-detector", Owner: "fraud-team"}}},
		{Name: "payments.charges.settled", Domain: "payments", Owner: "payments-team",
			Topics: []meshwatch.TopicSelector{{Name: "payments.charges.settled"}}},
	}
	p, err := cost.NewPricer("test", cfg, products, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.NewDir(stateDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := cost.NewLedger(store)
	const gib = 1 << 30
	for i := range 36 {
		h := reportJune.Add(time.Duration(i) * time.Hour)
		n := int64(i*7919%997 + 11)
		u := cost.Usage{Hour: h, Seconds: 3600, Zones: 3, Topics: []cost.TopicUsage{
			{Topic: "checkout.orders.placed", PartitionSeconds: 6 * 3600, StorageByteHours: 5*gib + n*1_000_003,
				IngressBytes: n * 2_345_679, CrossAZReplicationBytes: n * 3_141_593,
				Groups: []cost.GroupUsage{{Group: "fraud-detector", EgressBytes: n * 4_567_891}}},
			{Topic: "payments.charges.settled", PartitionSeconds: 3 * 3600, StorageByteHours: gib + n*77_777, IngressBytes: n * 123_457},
			{Topic: "__consumer_offsets", PartitionSeconds: 2 * 3600, StorageByteHours: n * 55_555},
			{Topic: "legacy.audit", PartitionSeconds: 3600, StorageByteHours: gib / 3},
		}}
		if _, err := l.Close(context.Background(), u, p.Allocate(u, h.Add(time.Hour)), cfg.Currency, h.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	doc := `cluster:
  brokers: [127.0.0.1:1]
  sasl: {mechanism: SCRAM-SHA-512, username: meshwatch, password: "` + reportPassword + `"}
state: {dir: ` + stateDir + `}
products:
  - name: checkout.orders.placed
    domain: checkout
    owner: orders-team
    topics: [checkout.orders.placed]
    format: json
    slos:
      - {name: freshness, sli: freshness, threshold: 5s, objective: 90%}
owners:
  orders-team: {slack_channel: "#orders-data"}
cost:
  currency: EUR
  rate_card:
    - {from: 2026-01-01, storage_gib_hour: 0.000137, partition_hour: 0.0015, ingress_gib: 0.01, egress_gib: 0.02, cross_az_gib: 0.01}
`
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// summaryTotal reads the table of a summary and checks that it adds up to
// the cent: components to their product's subtotal, products to their
// team's, and the teams and every component line to TOTAL. It returns
// TOTAL and the number of component lines.
func summaryTotal(t *testing.T, text string) (cost.Money, int) {
	t.Helper()
	amount := func(l string) cost.Money {
		f := strings.Fields(l)
		v, err := cost.ParseMoney(f[len(f)-1])
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		return v
	}
	var inTable, done bool
	var comps, prods, teams, lines, total cost.Money
	n := 0
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "TEAM"):
			inTable = true
		case !inTable || done || l == "":
		case strings.HasPrefix(l, "    "):
			v := amount(l)
			comps += v
			lines += v
			n++
		case strings.HasPrefix(l, "  subtotal "):
			if v := amount(l); v != comps {
				t.Errorf("%q, but its components add up to %s", l, comps)
			}
			prods, comps = prods+comps, 0
		case strings.HasPrefix(l, "subtotal "):
			if v := amount(l); v != prods {
				t.Errorf("%q, but its products add up to %s", l, prods)
			}
			teams, prods = teams+prods, 0
		case strings.HasPrefix(l, "TOTAL"):
			total, done = amount(l), true
		}
	}
	if !done {
		t.Fatalf("no TOTAL in:\n%s", text)
	}
	if total != teams || total != lines {
		t.Errorf("TOTAL %s; the team subtotals add up to %s, the component lines to %s", total, teams, lines)
	}
	return total, n
}

// TestReportSummaryGolden: `meshwatch report chargeback -month 2026-06
// -format summary` prints the table of the golden file, whose TOTAL is the
// sum of its lines to the cent and the exact ledger total rounded.
func TestReportSummaryGolden(t *testing.T) {
	cfg := writeLedgerConfig(t)
	code, out, errOut := runCmd(t, context.Background(), "report", "chargeback", "-config", cfg, "-month", "2026-06", "-format", "summary")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if updatingGolden() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	golden.Check(t, filepath.Join("testdata", "report_summary.golden"), out, updatingGolden())
	total, lines := summaryTotal(t, out)
	if lines < 10 {
		t.Errorf("%d component lines", lines)
	}

	// The exact total, from the CSV's charge rows, rounded to the cent.
	code, csvOut, errOut := runCmd(t, context.Background(), "report", "chargeback", "-config", cfg, "-month", "2026-06", "-format", "csv")
	if code != exitOK {
		t.Fatalf("csv: exit %d\n%s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var exact, totalRow cost.Money
	for _, rec := range recs[1:] {
		v, err := cost.ParseMoney(rec[16])
		if err != nil {
			t.Fatal(err)
		}
		switch rec[0] {
		case cost.RowCharge:
			exact += v
		case cost.RowTotal:
			totalRow = v
		}
	}
	rounded := (exact + cost.Cent/2) / cost.Cent * cost.Cent
	if exact%cost.Cent == 0 || total != rounded || totalRow != exact {
		t.Errorf("summary TOTAL %s; the charges add up to %s (rounded %s), the CSV total row says %s", total, exact, rounded, totalRow)
	}

	// -out writes the same and says so.
	path := filepath.Join(t.TempDir(), "june.txt")
	code, stdout, errOut := runCmd(t, context.Background(), "report", "chargeback", "-config", cfg, "-month", "2026-06", "-format", "summary", "-out", path)
	b, _ := os.ReadFile(path)
	if code != exitOK || string(b) != out || stdout != "" || !strings.Contains(errOut, "wrote the summary chargeback of [2026-06-01T00:00:00Z, 2026-07-01T00:00:00Z) to "+path) {
		t.Errorf("-out: exit %d, stdout %q, stderr %q, file matches: %v", code, stdout, errOut, string(b) == out)
	}
	for _, s := range []string{out, csvOut, errOut} {
		if strings.Contains(s, reportPassword) {
			t.Error("a report shows the Kafka password")
		}
	}
}

// TestReportHelp: `report -h` and `report chargeback -h` list every flag
// and explain the formats.
func TestReportHelp(t *testing.T) {
	for _, args := range [][]string{{"report", "-h"}, {"report", "chargeback", "-h"}, {"report", "help"}} {
		code, _, errOut := runCmd(t, context.Background(), args...)
		if code != exitOK {
			t.Errorf("%v: exit %d", args, code)
		}
		for _, want := range []string{"-config", "-month", "-from", "-to", "-format", "-owner", "-decimals", "-out",
			"summary", "row_type", "FOCUS 1.3", "A finance analyst's month", "-month 2026-11 -format summary"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v does not mention %s:\n%s", args, want, errOut)
			}
		}
		// Each flag is listed with its explanation.
		for _, flag := range []string{"config", "month", "from", "to", "format", "owner", "decimals", "out"} {
			if !strings.Contains(errOut, "\n  -"+flag+" ") {
				t.Errorf("%v does not list the flag -%s:\n%s", args, flag, errOut)
			}
		}
	}
	if code, _, errOut := runCmd(t, context.Background(), "report"); code != exitUsage || !strings.Contains(errOut, "-format") {
		t.Errorf("report: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runCmd(t, context.Background(), "report", "invoices"); code != exitUsage || !strings.Contains(errOut, `unknown report "invoices"`) {
		t.Errorf("report invoices: exit %d\n%s", code, errOut)
	}
}

// TestReportMonthAndFlags: -month is -from and -to of the calendar month;
// contradicting or malformed flags are usage errors.
func TestReportMonthAndFlags(t *testing.T) {
	cfg := writeLedgerConfig(t)
	ctx := context.Background()
	_, byMonth, _ := runCmd(t, ctx, "report", "chargeback", "-config", cfg, "-month", "2026-06", "-format", "json")
	_, byRange, _ := runCmd(t, ctx, "report", "chargeback", "-config", cfg, "-from", "2026-06-01", "-to", "2026-07-01", "-format", "json")
	if byMonth != byRange || !strings.Contains(byMonth, `"from": "2026-06-01T00:00:00Z"`) || !strings.Contains(byMonth, `"to": "2026-07-01T00:00:00Z"`) {
		t.Errorf("-month 2026-06 differs from -from 2026-06-01 -to 2026-07-01:\n%.400s\n%.400s", byMonth, byRange)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-month", "2026-06", "-from", "2026-06-01"}, "not both"},
		{[]string{"-month", "June"}, "want a month like 2026-06"},
		{[]string{"-format", "xlsx"}, "want summary, csv, focus or json"},
		{[]string{"-format", "csv", "-decimals", "4"}, "-decimals is for -format summary"},
		{[]string{"-format", "summary", "-decimals", "12"}, "want 2 (cents) to 9"},
	} {
		code, _, errOut := runCmd(t, ctx, append([]string{"report", "chargeback", "-config", cfg}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, exitUsage, tc.want, errOut)
		}
	}
	// More decimals for a rate card in fractions of a cent; still adds up.
	code, out, errOut := runCmd(t, ctx, "report", "chargeback", "-config", cfg, "-month", "2026-06", "-format", "summary", "-decimals", "4")
	if code != exitOK || !strings.Contains(out, "amounts rounded to 0.0001") {
		t.Fatalf("-decimals 4: exit %d\n%s%s", code, out, errOut)
	}
	summaryTotal(t, out)
	// One team's summary.
	code, out, _ = runCmd(t, ctx, "report", "chargeback", "-config", cfg, "-month", "2026-06", "-format", "summary", "-owner", "fraud-team")
	if code != exitOK || !strings.HasPrefix(out, "Kafka chargeback for fraud-team, June 2026: ") || strings.Contains(out, "orders-team") {
		t.Errorf("-owner fraud-team: exit %d\n%s", code, out)
	}
}

// TestReportEmptyPeriod: a period without charges says so, and why,
// instead of an empty table.
func TestReportEmptyPeriod(t *testing.T) {
	cfg := writeLedgerConfig(t)
	const note = "no charges between 2026-05-01T00:00:00Z and 2026-06-01T00:00:00Z; the agent records charges hourly once cost: is configured"
	code, out, errOut := runCmd(t, context.Background(), "report", "chargeback", "-config", cfg, "-month", "2026-05", "-format", "summary")
	if code != exitOK || !strings.Contains(out, "N"+note[1:]) || strings.Contains(out, "TOTAL") || errOut != "" {
		t.Errorf("summary of May: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, context.Background(), "report", "chargeback", "-config", cfg, "-month", "2026-05", "-format", "csv")
	if code != exitOK || !strings.Contains(errOut, note) || strings.Count(out, "\n") != 1 {
		t.Errorf("csv of May: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
