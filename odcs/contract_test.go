package odcs_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/golden"
	"github.com/meshwatch/meshwatch/odcs"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/contracts")

// ruleName is what a rule's name must be (a metric label).
var ruleName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func loadTestFile(t *testing.T, path string) (*config.Config, meshwatch.Problems, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return config.Load(path, data, nil)
}

// TestContractProblems loads every testdata/contracts/*/config.yaml and
// compares all its problems, warnings included, with problems.golden
// beside it.
func TestContractProblems(t *testing.T) {
	files, err := filepath.Glob("testdata/contracts/*/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d contract configs, want at least 3", len(files))
	}
	for _, file := range files {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, ps, _ := loadTestFile(t, file)
			got := ps.Error() + "\n"
			golden.Check(t, filepath.Join(dir, "problems.golden"), got, *update)
		})
	}
}

// TestLoadContracts checks the products and owners that the contracts of
// testdata/contracts/good make, defaults applied.
func TestLoadContracts(t *testing.T) {
	cfg, ps, err := loadTestFile(t, "testdata/contracts/good/config.yaml")
	if err != nil || len(ps) != 0 {
		t.Fatalf("Load: %v, problems %v", err, ps)
	}
	const (
		orders    = "testdata/contracts/good/orders.odcs.yaml"
		parcels   = "testdata/contracts/good/logistics/parcels.yml"
		shipments = "testdata/contracts/good/logistics/shipments.yaml"
	)
	sampling := meshwatch.Budget{MaxRecordsPerSecond: 1000, MaxBytesPerSecond: 1048576}
	slo := func(sli string, threshold time.Duration, objective meshwatch.Percent) meshwatch.SLO {
		return meshwatch.SLO{Name: sli, SLI: sli, Threshold: meshwatch.Duration(threshold), Objective: objective, Window: "28d"}
	}
	want := []meshwatch.Product{
		{
			Name: "checkout.payments.captured", Domain: "checkout", Owner: "payments-team", Tier: 2,
			Topics: []meshwatch.TopicSelector{{Name: "checkout.payments.captured"}}, Format: "raw",
			EventTime: meshwatch.EventTime{Record: "timestamp", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew}, Sampling: sampling,
		},
		{
			Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team", Tier: 1,
			Description: "Orders accepted by the checkout service.",
			Topics:      []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}}, Format: "json",
			EventTime: meshwatch.EventTime{Field: "placed_at", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew}, Sampling: sampling,
			SLOs: []meshwatch.SLO{
				slo("latency", time.Second, 0.995),
				slo("freshness", time.Minute, 0.995),
				slo("availability", 0, 0.999),
				slo("completeness", 0, 0.995), // missingValues < 0.5 %, stricter than the SLA's 99 %
				slo("validity", 0, 0.999),     // invalidValues <= 0.1 %, stricter than errorRate 0.5 %
				slo("volume", 0, 0.995),       // the contract's meshwatchObjective
			},
			Quality: meshwatch.Quality{
				Required: []string{"order_id", "customer_id", "email", "placed_at", "customer", "customer.customer_id"},
				Rules: []meshwatch.Rule{
					{Name: "positive_total", Expr: "message.order_total > 0", Source: orders + ":58"},
					{Name: "currency_valid", Expr: "!has(message.currency) || message.currency in ['EUR', 'USD', 'GBP']", Source: orders + ":65"},
					{Name: "email_not_missing", Expr: "!has(message.email) || !(message.email in ['', 'N/A'])", Source: orders + ":74"},
					{Name: "customer_country_valid", Expr: "!(has(message.customer) && has(message.customer.country)) || message.customer.country.matches('^[A-Z]{2}$')", Source: orders + ":93"},
				},
				Volume: &meshwatch.Volume{MinPerMinute: 11},
			},
			Contract: orders,
		},
		{
			Name: "logistics.parcels.scanned", Domain: "logistics", Owner: "logistics-team", Tier: 3,
			Topics: []meshwatch.TopicSelector{{Name: "logistics.parcels.scanned.eu"}, {Name: "logistics.parcels.scanned.us"}},
			Format: "json", EventTime: meshwatch.EventTime{Record: "timestamp", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew}, Sampling: sampling,
			SLOs:     []meshwatch.SLO{slo("freshness", 15*time.Minute, 0.99), slo("availability", 0, 0.995)},
			Contract: parcels,
		},
		{
			Name: "logistics.shipments.dispatched", Domain: "logistics", Owner: "logistics-team", Tier: 2,
			Description: "Parcels handed over to a carrier.",
			Topics:      []meshwatch.TopicSelector{{Name: "logistics.shipments.dispatched"}}, Format: "avro",
			EventTime: meshwatch.EventTime{Record: "timestamp", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew}, Sampling: sampling,
			SLOs: []meshwatch.SLO{
				slo("latency", 5*time.Minute, 0.99),
				slo("completeness", 0, 0.99),
				slo("validity", 0, 0.98),
				slo("volume", 0, 0.99),
			},
			Quality: meshwatch.Quality{
				Required: []string{"shipment_id"},
				Rules:    []meshwatch.Rule{{Name: "carrier_valid", Expr: "!has(message.carrier) || message.carrier in ['dhl', 'ups', 'la poste']", Source: shipments + ":23"}},
				Volume:   &meshwatch.Volume{MinPerMinute: 2},
			},
			Contract: shipments,
		},
	}
	opts := []cmp.Option{cmpopts.IgnoreUnexported(meshwatch.TopicSelector{}), cmpopts.EquateEmpty()}
	if diff := cmp.Diff(want, cfg.Products, opts...); diff != "" {
		t.Errorf("products (-want +got):\n%s", diff)
	}
	wantOwners := map[string]meshwatch.Owner{
		"payments-team":  {SlackChannel: "#payments-oncall"},
		"orders-team":    {SlackChannel: "#orders-data", Mention: "<!subteam^S0123ORD>"}, // the channel of the notifications scope
		"logistics-team": {SlackChannel: "C0LOGISTIC1", Contract: parcels},
	}
	if diff := cmp.Diff(wantOwners, cfg.Owners); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
	// Packages that check a product further place their problems in the
	// contract.
	for path, want := range map[string]string{
		"products[1].quality.rules[0].expr": orders + ":61:29",
		"products[1].slos[2].objective":     orders + ":107:37",
		"products[1].topics[0]":             orders + ":37:19",
		"products[3].quality.volume":        shipments + ":25:9",
		"owners.logistics-team":             parcels + ":8:14",
	} {
		if got := cfg.Position(path).String(); got != want {
			t.Errorf("Position(%s) = %s, want %s", path, got, want)
		}
	}
}

// TestContractRoundTrip writes a config with contracts out and loads it
// back: the contracts are read again, not written into it.
func TestContractRoundTrip(t *testing.T) {
	cfg, _, err := loadTestFile(t, "testdata/contracts/good/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := config.YAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "checkout.orders.placed") {
		t.Errorf("YAML holds a product of a contract:\n%s", out)
	}
	again, _, err := config.Load("testdata/contracts/good/config.yaml", out, nil)
	if err != nil {
		t.Fatalf("Load of YAML output: %v\n%s", err, out)
	}
	if diff := cmp.Diff(cfg, again, cmpopts.IgnoreUnexported(meshwatch.TopicSelector{}, config.Config{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-before +after):\n%s", diff)
	}
}

// FuzzLoadContract loads arbitrary contracts. Beyond not panicking,
// Load must place every problem in the contract, keep the product
// it returns tied to the file, and mark every rule with its source; and a
// configuration that reads the contract must hold its product only when it
// has no error.
func FuzzLoadContract(f *testing.F) {
	files, _ := filepath.Glob("testdata/contracts/*/*.yaml")
	more, _ := filepath.Glob("testdata/contracts/*/*/*.y*ml")
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: v3.1.0\nkind: DataContract\nschema: [{physicalType: topic, name: t, properties: [{name: a, quality: [{metric: invalidValues, arguments: {validValues: ['x\\'y', 1, true, null]}, mustBe: 0}]}]}]"))
	f.Add([]byte("apiVersion: v3.1.0\nkind: DataContract\na: &a [*a]\nteam: *a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "c.yaml"
		c, ps := odcs.Load(file, data)
		for _, p := range ps {
			if p.Pos.File != file || p.Pos.Line == 0 && p.Path == "" || p.Msg == "" {
				t.Errorf("problem not placed in the contract: %#v", p)
			}
		}
		if c == nil {
			if len(ps.Errors()) == 0 {
				t.Fatal("no contract and no error")
			}
			return
		}
		if c.Product.Contract != file || c.File != file {
			t.Errorf("product of %q, file %q; want %q", c.Product.Contract, c.File, file)
		}
		names := map[string]bool{}
		for _, r := range c.Product.Quality.Rules {
			if !strings.HasPrefix(r.Source, file+":") || r.Expr == "" || !ruleName.MatchString(r.Name) || names[r.Name] {
				t.Errorf("bad rule %#v", r)
			}
			names[r.Name] = true
		}
		for _, s := range c.Product.SLOs {
			if !(s.Objective > 0 && s.Objective < 1) && len(ps.Errors()) == 0 {
				t.Errorf("SLO %s has objective %v without an error", s.Name, s.Objective)
			}
		}
		if c.SlackChannel != "" && !meshwatch.IsSlackChannel(c.SlackChannel) {
			t.Errorf("Slack channel %q", c.SlackChannel)
		}
	})
}
