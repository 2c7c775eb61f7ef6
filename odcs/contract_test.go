package odcs_test

import (
	"flag"
	"maps"
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
	"github.com/meshwatch/meshwatch/internal/yamlconf"
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
	if err != nil || len(ps.Errors()) != 0 {
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
			Topics: []meshwatch.TopicSelector{{Name: "checkout.payments.captured"}}, Format: "raw", Kind: meshwatch.KindEvents,
			EventTime: meshwatch.EventTime{Record: "timestamp", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew, Fallback: meshwatch.EventTimeFallbackRecordTimestamp}, Sampling: sampling,
		},
		{
			Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team", Tier: 1,
			Description: "Orders accepted by the checkout service.",
			Topics:      []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}}, Format: "json", Kind: meshwatch.KindEvents,
			EventTime: meshwatch.EventTime{Field: "placed_at", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew, Fallback: meshwatch.EventTimeFallbackRecordTimestamp}, Sampling: sampling,
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
			Version:  "1.2.0",
			PII:      []string{"email", "customer.customer_id"}, // classification: PII, tags: [gdpr, pii]
			Contract: orders,
		},
		{
			Name: "logistics.parcels.scanned", Domain: "logistics", Owner: "logistics-team", Tier: 3,
			Topics: []meshwatch.TopicSelector{{Name: "logistics.parcels.scanned.eu"}, {Name: "logistics.parcels.scanned.us"}},
			Format: "json", Kind: meshwatch.KindEvents, EventTime: meshwatch.EventTime{Record: "timestamp", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew, Fallback: meshwatch.EventTimeFallbackRecordTimestamp}, Sampling: sampling,
			SLOs:     []meshwatch.SLO{slo("freshness", 15*time.Minute, 0.99), slo("availability", 0, 0.995)},
			Version:  "2.0.0",
			Inputs:   []string{"logistics.shipments.dispatched"}, // customProperties meshwatchInputs
			Contract: parcels,
		},
		{
			Name: "logistics.shipments.dispatched", Domain: "logistics", Owner: "logistics-team", Tier: 2,
			Description: "Parcels handed over to a carrier.",
			Topics:      []meshwatch.TopicSelector{{Name: "logistics.shipments.dispatched"}}, Format: "avro", Kind: meshwatch.KindEvents,
			EventTime: meshwatch.EventTime{Record: "timestamp", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew, Fallback: meshwatch.EventTimeFallbackRecordTimestamp}, Sampling: sampling,
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
			Version:  "1.0.0",
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
		"products[1].version":               orders + ":6:10",
		"products[1].pii[0]":                orders + ":72:25",
		"products[1].pii[1]":                orders + ":88:19", // the tags
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

// TestSimpleContract loads the simple contract of the data-mesh literature
// as one product: the SLOs of its sla (availability 99.9 %, latency p99
// within 1000ms, freshness 60s), completeness of the field its rules
// require, and validity for its two validity_rules, translated from SQL to
// CEL and placed at their column in the contract.
func TestSimpleContract(t *testing.T) {
	cfg, ps, err := loadTestFile(t, "testdata/contracts/simple/config.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	const file = "testdata/contracts/simple/order-events.yaml"
	slo := func(sli string, threshold time.Duration, objective meshwatch.Percent) meshwatch.SLO {
		return meshwatch.SLO{Name: sli, SLI: sli, Threshold: meshwatch.Duration(threshold), Objective: objective, Window: "28d"}
	}
	want := []meshwatch.Product{{
		Name: "order-events-v1", Domain: "orders", Owner: "orders-domain-team", Tier: 2,
		Topics: []meshwatch.TopicSelector{{Name: "order-events-v1"}}, Format: "avro", Kind: meshwatch.KindEvents,
		EventTime: meshwatch.EventTime{Record: "timestamp", Format: "auto", MaxClockSkew: meshwatch.DefaultMaxClockSkew, Fallback: meshwatch.EventTimeFallbackRecordTimestamp},
		Sampling:  meshwatch.Budget{MaxRecordsPerSecond: 1000, MaxBytesPerSecond: 1048576},
		SLOs: []meshwatch.SLO{
			slo("latency", time.Second, 0.99), // p99
			slo("freshness", time.Minute, 0.99),
			slo("availability", 0, 0.999),
			slo("completeness", 0, 0.99),
			slo("validity", 0, 0.99),
		},
		Quality: meshwatch.Quality{
			Required: []string{"customer_id"},
			Rules: []meshwatch.Rule{
				{Name: "order_total_gt_0", Expr: "!has(message.order_total) || message.order_total == null || message.order_total > 0", Source: file + ":8"},
				{Name: "customer_id_is_not_null", Expr: "has(message.customer_id) && message.customer_id != null", Source: file + ":8"},
			},
		},
		Contract: file,
	}}
	opts := []cmp.Option{cmpopts.IgnoreUnexported(meshwatch.TopicSelector{}), cmpopts.EquateEmpty()}
	if diff := cmp.Diff(want, cfg.Products, opts...); diff != "" {
		t.Errorf("products (-want +got):\n%s", diff)
	}
	for _, p := range ps {
		if !p.Warning || p.Pos.File != file {
			t.Errorf("problem %s, want warnings of the contract only", p)
		}
	}
	for path, want := range map[string]string{
		"products[0].quality.rules[0].expr": file + ":8:22",
		"products[0].quality.rules[1].expr": file + ":8:41",
		"products[0].quality.required[0]":   file + ":8:41",
		"products[0].slos[0].threshold":     file + ":5:43",
		"products[0].slos[0].objective":     file + ":5:43",
		"products[0].slos[2].objective":     file + ":5:23",
		"products[0].slos[3].objective":     file + ":7:19",
		"products[0].format":                file + ":4:20",
		"products[0].topics[0]":             file + ":2:9",
		"products[0].domain":                file + ":3:10",
	} {
		if got := cfg.Position(path).String(); got != want {
			t.Errorf("Position(%s) = %s, want %s", path, got, want)
		}
	}
}

// TestRuleIDs checks that the id of an ODCS check names its rule, before
// its name and its field; that an id which is not a rule name is made one;
// and that two checks with one id are an error at the second id.
func TestRuleIDs(t *testing.T) {
	const file = "testdata/contracts/ids/payments.odcs.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, ps := odcs.Load(file, data)
	if c == nil {
		t.Fatalf("Load: %v", ps)
	}
	var names []string
	for _, r := range c.Product.Quality.Rules {
		names = append(names, r.Name)
	}
	want := []string{"amount_positive", "amount_is_small", "amount_minor_rule", "currency_valid", "card_brand_valid_2", "card_brand_valid", "card_brand_rule", "card_type_valid"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("rule names (-want +got):\n%s", diff)
	}
	errs := ps.Errors()
	if len(errs) != 1 || errs[0].Pos.String() != file+":31:18" || errs[0].Path != "schema[0].properties[2].quality[1].id" {
		t.Errorf("errors %v, want the clash of id amount_positive at %s:31:18", errs, file)
	}
}

// TestValueExt checks that valueExt pNN of a latency SLA makes NN %% the
// objective of the latency SLO, over meshwatchObjective, and that a valueExt
// that is not a percentile keeps the default.
func TestValueExt(t *testing.T) {
	cfg, _, err := loadTestFile(t, "testdata/contracts/valueext/config.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := map[string][2]string{ // product → latency objective, freshness objective
		"checkout.orders.placed":    {"99%", "99.5%"}, // p99; freshness keeps meshwatchObjective
		"checkout.orders.shipped":   {"99.9%", ""},    // P999
		"checkout.orders.cancelled": {"99%", ""},      // max: the default
	}
	for _, p := range cfg.Products {
		got := [2]string{}
		for _, s := range p.SLOs {
			switch s.SLI {
			case meshwatch.SLILatency:
				got[0] = s.Objective.String()
			case meshwatch.SLIFreshness:
				got[1] = s.Objective.String()
			}
		}
		if got != want[p.Name] {
			t.Errorf("%s: objectives %v, want %v", p.Name, got, want[p.Name])
		}
	}
	if got := cfg.Position("products[0].slos[0].objective").String(); got != "testdata/contracts/valueext/p99.odcs.yaml:16:54" {
		t.Errorf("latency objective at %s, want the valueExt", got)
	}
}

// TestServers merges contracts with kafka servers, knowing the cluster's
// brokers: a server none of whose hosts is a broker is a warning at its
// host, and without brokers nothing is compared.
func TestServers(t *testing.T) {
	const dir = "testdata/contracts/servers"
	merge := func(brokers []string) meshwatch.Problems {
		d := yamlconf.NewDecoder("config.yaml", nil)
		cfg := &meshwatch.Config{
			Contracts: []string{"same.odcs.yaml", "other.odcs.yaml", "none.odcs.yaml"},
			Owners:    map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders"}},
		}
		odcs.MergeWith(d, cfg, dir, odcs.MergeOptions{Brokers: brokers})
		if len(cfg.Products) != 3 {
			t.Errorf("%d products, want 3", len(cfg.Products))
		}
		return d.Problems
	}
	var got strings.Builder
	for _, p := range merge([]string{"kafka-1:9092", "kafka-2:9092"}) {
		if strings.Contains(p.Msg, "cluster.brokers") {
			if !p.Warning {
				t.Errorf("%s is an error, want a warning", p)
			}
			got.WriteString(p.String() + "\n")
		}
	}
	golden.Check(t, filepath.Join(dir, "servers.golden"), got.String(), *update)
	for _, p := range merge(nil) {
		if strings.Contains(p.Msg, "cluster.brokers") {
			t.Errorf("without brokers: %s", p)
		}
	}
}

// TestSimpleSLA reads the sla of simple contracts: latency_pNN makes NN %
// the latency objective, latency alone takes the default (99 %), and
// error_rate sets validity's objective. The rule "id is not null" of each
// makes id required, hence completeness and validity SLOs.
func TestSimpleSLA(t *testing.T) {
	rules := map[string]string{"completeness": "0s 99%", "validity": "0s 99%"}
	with := func(m map[string]string) map[string]string {
		out := maps.Clone(rules)
		maps.Copy(out, m)
		return out
	}
	for _, tt := range []struct {
		sla  string
		want map[string]string // SLI → threshold and objective
	}{
		{"{latency_p95: 2s}", with(map[string]string{"latency": "2s 95%"})},
		{"{latency_p99.9: 250ms, freshness: 15m}", with(map[string]string{"latency": "250ms 99.9%", "freshness": "15m 99%"})},
		{"{latency-P999: 1s}", with(map[string]string{"latency": "1s 99.9%"})},
		{"{latency: 1s, availability: 0.995}", with(map[string]string{"latency": "1s 99%", "availability": "0s 99.5%"})},
		{"{error_rate: 0.5%}", with(map[string]string{"validity": "0s 99.5%"})},
		{"{completeness: 99.9%}", with(map[string]string{"completeness": "0s 99.9%"})},
	} {
		data := "contract:\n  name: a.b.c\n  owner: t\n  sla: " + tt.sla + "\n  quality: {validity_rules: [\"id is not null\"]}\n"
		c, ps := odcs.Load("c.yaml", []byte(data))
		if c == nil || len(ps.Errors()) > 0 {
			t.Errorf("%s: %v", tt.sla, ps)
			continue
		}
		got := map[string]string{}
		for _, s := range c.Product.SLOs {
			got[s.SLI] = s.Threshold.String() + " " + s.Objective.String()
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("sla %s: SLOs (-want +got):\n%s", tt.sla, diff)
		}
	}
}

// TestVersionAndPII checks that a contract's version becomes the
// product's, in both forms, and that the properties classified pii or
// tagged pii (in any case), nested ones and arrays of them, become its pii
// fields, and no other class or tag.
func TestVersionAndPII(t *testing.T) {
	dir := t.TempDir()
	const contract = `apiVersion: v3.1.0
kind: DataContract
id: customers
name: crm.customers.changed
version: " 3.1.0 "
status: active
domain: crm
team: {name: crm-team}
schema:
  - name: customers
    physicalName: crm.customers.changed
    physicalType: topic
    properties:
      - {name: id, classification: restricted, tags: [key]}
      - {name: email, classification: Pii}
      - name: profile
        properties:
          - {name: phone, physicalName: phone_number, tags: [contact, PII]}
          - {name: segment, classification: confidential}
      - name: addresses
        items: {classification: pii}
      - {name: email_again, physicalName: email, tags: [pii]}
`
	const simple = "contract:\n  name: crm.customers.merged\n  owner: crm-team\n  version: 2.0\n"
	for name, data := range map[string]string{
		"config.yaml":         "cluster: {brokers: [\"kafka-1:9092\"]}\ncontracts: [customers.odcs.yaml, merged.yaml]\n",
		"customers.odcs.yaml": contract,
		"merged.yaml":         simple,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, ps, err := config.LoadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	p := cfg.Products[0]
	if p.Version != "3.1.0" {
		t.Errorf("version = %q, want 3.1.0", p.Version)
	}
	if want := []string{"email", "profile.phone_number", "addresses"}; !cmp.Equal(p.PII, want) {
		t.Errorf("pii = %q, want %q", p.PII, want)
	}
	if got := cfg.Products[1].Version; got != "2.0" {
		t.Errorf("version of the simple form = %q, want 2.0", got)
	}
	// The classes and tags that are not pii are ignored, with a word.
	var ignored []string
	for _, p := range ps {
		if strings.Contains(p.Msg, "classification") || strings.Contains(p.Msg, "tags") {
			ignored = append(ignored, p.Path+": "+p.Msg)
		}
	}
	want := []string{
		"schema[0].properties[0]: ignored: classification, tags (not used by meshwatch)",
		"schema[0].properties[2].properties[1]: ignored: classification (not used by meshwatch)",
	}
	if diff := cmp.Diff(want, ignored); diff != "" {
		t.Errorf("ignored warnings (-want +got):\n%s\nall: %v", diff, ps)
	}
}
