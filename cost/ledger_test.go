package cost

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch/internal/state"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cost/ -run %s -update to create it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); run with -update if the change is intended:\n%s", path, diff)
	}
}

// ordersUsage is an hour of the hand-worked product: 3 GiB-hours on disk,
// 2 partitions, 2 GiB in, 10 GiB read by fraud-detector, and the offsets
// topic.
func ordersUsage(hour time.Time) Usage {
	return Usage{Hour: hour, Seconds: 3600, Zones: 3, Topics: []TopicUsage{
		{Topic: "checkout.orders.placed", PartitionSeconds: 7200, StorageByteHours: 3 * gib, LogicalByteHours: gib,
			IngressBytes: 2 * gib, CrossAZReplicationBytes: 4 * gib,
			Groups: []GroupUsage{{Group: "fraud-detector", EgressBytes: 10 * gib}}},
		{Topic: "__consumer_offsets", StorageByteHours: gib},
		{Topic: "legacy.audit", StorageByteHours: gib},
	}}
}

func TestCloseTwiceWritesOneSetOfRows(t *testing.T) {
	ctx := context.Background()
	p := newTestPricer(t, nil)
	l := NewLedger(state.NewMem())
	u := ordersUsage(hour0)
	first, err := l.Close(ctx, u, p.Allocate(u, hour0.Add(time.Hour)), "USD", hour0.Add(time.Hour))
	if err != nil || len(first) == 0 {
		t.Fatalf("first close: %d rows, %v", len(first), err)
	}
	again, err := l.Close(ctx, u, p.Allocate(u, hour0.Add(2*time.Hour)), "USD", hour0.Add(2*time.Hour))
	if err != nil || len(again) != 0 {
		t.Fatalf("second close wrote %d rows (%v), want none", len(again), err)
	}
	rows, err := l.Rows(ctx, hour0, hour0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lines(first), lines(rows)); diff != "" {
		t.Errorf("ledger rows (-first close +ledger):\n%s", diff)
	}
}

func TestRestateClosedHourEmitsCorrections(t *testing.T) {
	ctx := context.Background()
	l := NewLedger(state.NewMem())
	u := ordersUsage(hour0)
	closedAt := hour0.Add(time.Hour)
	p := newTestPricer(t, nil)
	if _, err := l.Close(ctx, u, p.Allocate(u, closedAt), "USD", closedAt); err != nil {
		t.Fatal(err)
	}
	before, _ := l.Rows(ctx, hour0, hour0.Add(time.Hour))

	// A rate-card fix: storage was 0.10, should have been 0.12; and the
	// fraud team's read turns out to have been 12 GiB (late usage).
	fixed := newTestPricer(t, func(c *Config) { c.RateCard[0].StorageGiBHour = mustMoney(t, "0.12") })
	u.Topics[0].Groups[0].EgressBytes = 12 * gib
	restatedAt := hour0.Add(30 * time.Hour)
	want := fixed.Allocate(u, restatedAt)
	corr, err := l.Close(ctx, u, want, "USD", restatedAt)
	if err != nil {
		t.Fatal(err)
	}
	wantCorr := []line{
		{"__unallocated__", "platform", "CC-0", "storage", "legacy.audit", "", "", "pool", 0, "0.02"},
		{"checkout.orders.placed", "fraud-team", "CC-7", "cross_az", "checkout.orders.placed", "fraud-detector", "", "egress-consumer-pays", gib, "0.02"},
		{"checkout.orders.placed", "fraud-team", "CC-7", "egress", "checkout.orders.placed", "fraud-detector", "", "egress-consumer-pays", 2 * gib, "0.16"},
		{"checkout.orders.placed", "orders-team", "CC-1042", "storage", "", "", "__shared__", "shared-even", 0, "0.01"},
		{"checkout.orders.placed", "orders-team", "CC-1042", "storage", "checkout.orders.placed", "", "", "direct", 0, "0.06"},
		{"payments.charges.settled", "payments-team", "", "storage", "", "", "__shared__", "shared-even", 0, "0.01"},
	}
	if diff := cmp.Diff(wantCorr, lines(corr)); diff != "" {
		t.Errorf("correction rows (-want +got):\n%s", diff)
	}
	for _, r := range corr {
		if r.Class != ClassCorrection || !r.Recorded.Equal(restatedAt) {
			t.Errorf("correction row %+v: class %q recorded %s", r, r.Class, r.Recorded)
		}
	}

	// The closed rows are still there, unchanged; with the corrections they
	// sum to the restated total.
	after, err := l.Rows(ctx, hour0, hour0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var original []Row
	for _, r := range after {
		if r.Class == "" {
			original = append(original, r)
		}
	}
	if diff := cmp.Diff(lines(before), lines(original)); diff != "" {
		t.Errorf("closed rows were rewritten (-before +after):\n%s", diff)
	}
	if got, want := Total(after), Total(want); got != want {
		t.Errorf("rows and corrections sum to %s, restated total is %s", got, want)
	}
	// Restating again with the same numbers adds nothing.
	if again, err := l.Close(ctx, u, fixed.Allocate(u, restatedAt.Add(time.Hour)), "USD", restatedAt.Add(time.Hour)); err != nil || len(again) != 0 {
		t.Errorf("restating twice wrote %d rows (%v)", len(again), err)
	}
}

// goldenLedger is a small ledger: two closed hours, a correction to the
// first, and the open hour's estimate.
func goldenLedger(t *testing.T) *state.Mem {
	t.Helper()
	ctx := context.Background()
	store := state.NewMem()
	l := NewLedger(store)
	p := newTestPricer(t, func(c *Config) { c.Capacity = Capacity{StorageGiB: 10} })
	for i := range 2 {
		h := hour0.Add(time.Duration(i) * time.Hour)
		u := ordersUsage(h)
		if _, err := l.Close(ctx, u, p.Allocate(u, h.Add(time.Hour)), "USD", h.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// A correction recorded in July to the June hour: the group read more.
	u := ordersUsage(hour0)
	u.Topics[0].Groups[0].EgressBytes = 11 * gib
	july := time.Date(2026, 7, 1, 0, 30, 0, 0, time.UTC)
	if _, err := l.Close(ctx, u, p.Allocate(u, july), "USD", july); err != nil {
		t.Fatal(err)
	}
	open := hour0.Add(2 * time.Hour)
	half := ordersUsage(open)
	half.Seconds = 1800
	if err := l.PutOpen(ctx, open, p.Allocate(half, open.Add(30*time.Minute)), "USD"); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestReportGolden(t *testing.T) {
	store := goldenLedger(t)
	for _, format := range []string{FormatCSV, FormatFOCUS, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Report(context.Background(), store, hour0, hour0.Add(3*time.Hour), format, &buf); err != nil {
				t.Fatal(err)
			}
			name := map[string]string{FormatCSV: "report.csv", FormatFOCUS: "report.focus.csv", FormatJSON: "report.json"}[format]
			golden(t, name, buf.Bytes())
		})
	}
}

func TestFOCUSReport(t *testing.T) {
	store := goldenLedger(t)
	var buf bytes.Buffer
	if err := Report(context.Background(), store, hour0, hour0.Add(3*time.Hour), FormatFOCUS, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := recs[0]
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, c := range []string{"BilledCost", "EffectiveCost", "ListCost", "BillingCurrency", "BillingPeriodStart",
		"BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription",
		"ServiceName", "ServiceCategory", "ResourceId", "ResourceName", "ResourceType", "PricingQuantity", "PricingUnit",
		"ConsumedQuantity", "ConsumedUnit", "SkuMeter", "Tags", "AllocatedMethodId", "AllocatedMethodDetails",
		"AllocatedResourceId", "AllocatedResourceName", "AllocatedTags", "x_Product", "x_Topic", "x_ConsumerGroup",
		"x_Component", "x_IsEstimate"} {
		if _, ok := col[c]; !ok {
			t.Errorf("FOCUS column %s is missing", c)
		}
	}
	var sum, open, corrections Money
	for _, rec := range recs[1:] {
		get := func(c string) string { return rec[col[c]] }
		for _, c := range []string{"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"} {
			if _, err := time.Parse("2006-01-02T15:04:05Z", get(c)); err != nil {
				t.Errorf("%s = %q is not YYYY-MM-DDTHH:mm:ssZ", c, get(c))
			}
		}
		if get("ChargeCategory") != "Usage" {
			t.Errorf("ChargeCategory = %q", get("ChargeCategory"))
		}
		if c := get("ChargeClass"); c != "" && c != "Correction" {
			t.Errorf("ChargeClass = %q, want null or Correction", c)
		}
		if get("ServiceCategory") != "Integration" || get("BillingCurrency") != "USD" {
			t.Errorf("ServiceCategory %q, BillingCurrency %q", get("ServiceCategory"), get("BillingCurrency"))
		}
		for _, c := range []string{"BilledCost", "EffectiveCost", "ListCost", "PricingQuantity", "ConsumedQuantity"} {
			if strings.ContainsAny(get(c), "eE,") {
				t.Errorf("%s = %q is not a plain decimal", c, get(c))
			}
		}
		switch u := get("PricingUnit"); u {
		case "GiB", "GiB-Hours", "Partition-Hours", "Hours":
		default:
			t.Errorf("PricingUnit %q", u)
		}
		if (get("AllocatedMethodId") == "") != (get("AllocatedMethodDetails") == "") {
			t.Errorf("AllocatedMethodId %q but AllocatedMethodDetails %q", get("AllocatedMethodId"), get("AllocatedMethodDetails"))
		}
		m, err := ParseMoney(get("BilledCost"))
		if err != nil {
			t.Fatal(err)
		}
		sum += m
		if get("x_IsEstimate") == "true" {
			open += m
		}
		if get("ChargeClass") == "Correction" {
			corrections += m
			if get("BillingPeriodStart") != "2026-07-01T00:00:00Z" {
				t.Errorf("a correction recorded in July is billed in %s", get("BillingPeriodStart"))
			}
		}
	}
	if open == 0 || corrections == 0 {
		t.Errorf("want estimate rows and correction rows, got %s and %s", open, corrections)
	}
	rows, _ := NewLedger(store).Rows(context.Background(), hour0, hour0.Add(3*time.Hour))
	if sum != Total(rows) {
		t.Errorf("FOCUS BilledCost sums to %s, ledger to %s", sum, Total(rows))
	}
}

func TestReportErrors(t *testing.T) {
	store := state.NewMem()
	var buf bytes.Buffer
	if err := Report(context.Background(), store, hour0, hour0, FormatCSV, &buf); err == nil {
		t.Error("an empty range is not an error")
	}
	if err := Report(context.Background(), store, hour0, hour0.Add(time.Hour), "xlsx", &buf); err == nil {
		t.Error("an unknown format is not an error")
	}
	// A corrupt hour is reported, the others still written.
	if err := store.Put(context.Background(), hourKey(hour0), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := Report(context.Background(), store, hour0, hour0.Add(time.Hour), FormatCSV, &buf); err == nil {
		t.Error("a corrupt hour is not reported")
	}
	if !strings.HasPrefix(buf.String(), "row_type,hour_start,") {
		t.Errorf("no header written: %q", buf.String())
	}
}
