package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/collector"
	"github.com/meshwatch/meshwatch/internal/golden"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/lag"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/config/bad")

const testPassword = "s3cr3t-from-env"

// testEnv is the environment of the tests: only KAFKA_PASSWORD is set.
func testEnv(name string) (string, bool) {
	if name == "KAFKA_PASSWORD" {
		return testPassword, true
	}
	return "", false
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func loadTestFile(t *testing.T, path string, env func(string) (string, bool)) (*Config, meshwatch.Problems, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Load(path, data, env)
}

// TestLoadBad loads every testdata/config/bad/*.yaml and compares its
// problems, as the error prints them, with NAME.golden.
func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob("testdata/config/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 12 {
		t.Fatalf("found %d bad configs, want at least 12", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			cfg, ps, err := loadTestFile(t, file, testEnv)
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want an error", file)
			}
			if cfg != nil {
				t.Errorf("Load(%s) returned a Config with an error", file)
			}
			var perr meshwatch.Problems
			if !errors.As(err, &perr) || len(perr) != len(ps) {
				t.Errorf("error is %T with %d problems, want the %d Problems", err, len(perr), len(ps))
			}
			for _, p := range ps {
				if !strings.HasPrefix(p.String(), file+":") {
					t.Errorf("problem %q does not start with %q", p, file+":")
				}
				if strings.Contains(p.String(), testPassword) {
					t.Errorf("problem %q shows the password", p)
				}
			}
			got := err.Error() + "\n"
			golden.Check(t, strings.TrimSuffix(file, ".yaml")+".golden", got, *update)
		})
	}
}

// exampleConfig is the example configuration of the repository.
const exampleConfig = "../config.example.yaml"

// TestExampleConfig checks that config.example.yaml loads without any
// problem, as LoadFile reads it in production.
func TestExampleConfig(t *testing.T) {
	t.Setenv("KAFKA_PASSWORD", testPassword)
	for _, v := range []string{"KAFKA_BROKER_1", "KAFKA_BROKER_2", "KAFKA_BROKER_3"} {
		t.Setenv(v, "")
	}
	cfg, ps, err := LoadFile(exampleConfig)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if len(ps) != 0 {
		t.Errorf("config.example.yaml has warnings:\n%v", ps)
	}
	if got := cfg.Kafka.SASL.Password.Reveal(); got != testPassword {
		t.Errorf("password = %q, want the value of KAFKA_PASSWORD", got)
	}
	if got, want := cfg.Kafka.Brokers, []string{"kafka-1.kafka.svc:9092", "kafka-2.kafka.svc:9092", "kafka-3.kafka.svc:9092"}; !cmp.Equal(got, want) {
		t.Errorf("brokers = %q, want the defaults %q", got, want)
	}
	domains := map[string]bool{}
	for _, p := range cfg.Products {
		domains[p.Domain] = true
	}
	if len(cfg.Products) < 3 || len(domains) < 2 {
		t.Errorf("example has %d products in %d domains, want 3-4 products in 2-3 domains", len(cfg.Products), len(domains))
	}
	if !cfg.Products[1].Topics[0].Matches("checkout.payments.captured.v2") {
		t.Errorf("the pattern of %s does not match checkout.payments.captured.v2", cfg.Products[1].Name)
	}
}

func TestLoadEnv(t *testing.T) {
	const head = "cluster:\n  brokers: [\"kafka-1:9092\"]\nowners: {o: {}}\nproducts:\n  - {name: d.e.f, domain: d, owner: o, topics: [t]"
	tests := []struct {
		name    string
		product string // the end of the product's flow mapping
		env     map[string]string
		check   func(*meshwatch.Product) any
		want    any
		wantErr string
	}{
		{
			name:    "variable",
			product: `, description: "${DESC}"}`,
			env:     map[string]string{"DESC": "orders"},
			check:   func(p *meshwatch.Product) any { return p.Description },
			want:    "orders",
		},
		{
			name:    "inside text",
			product: `, description: "placed by ${SERVICE} in ${REGION}"}`,
			env:     map[string]string{"SERVICE": "checkout", "REGION": "eu"},
			check:   func(p *meshwatch.Product) any { return p.Description },
			want:    "placed by checkout in eu",
		},
		{
			name:    "default when unset",
			product: `, description: "${DESC:-no description}"}`,
			check:   func(p *meshwatch.Product) any { return p.Description },
			want:    "no description",
		},
		{
			name:    "default when empty",
			product: `, description: "${DESC:-none}"}`,
			env:     map[string]string{"DESC": ""},
			check:   func(p *meshwatch.Product) any { return p.Description },
			want:    "none",
		},
		{
			name:    "set but empty without default",
			product: `, description: "${DESC}"}`,
			env:     map[string]string{"DESC": ""},
			check:   func(p *meshwatch.Product) any { return p.Description },
			want:    "",
		},
		{
			name:    "escaped",
			product: `, description: "costs $${AMOUNT} and $5"}`,
			check:   func(p *meshwatch.Product) any { return p.Description },
			want:    "costs ${AMOUNT} and $5",
		},
		{
			name:    "number",
			product: `, tier: "${TIER}"}`,
			env:     map[string]string{"TIER": "1"},
			check:   func(p *meshwatch.Product) any { return p.Tier },
			want:    1,
		},
		{
			name:    "duration",
			product: `, slos: [{name: f, sli: freshness, threshold: "${MAX_AGE:-90s}", objective: 99%}]}`,
			check:   func(p *meshwatch.Product) any { return p.SLOs[0].Threshold },
			want:    meshwatch.Duration(90 * time.Second),
		},
		{
			name:    "not in keys",
			product: `, "${KEY}": x}`,
			env:     map[string]string{"KEY": "description"},
			wantErr: `t.yaml:5:53: products[0]["${KEY}"]: unknown key "${KEY}"; allowed: name, domain, owner, tier, description, topics, format, event_time, sampling, slos, quality, dlq_topics, consumers, inputs, cost, notify_consumers, version, kind, replay_window, pii, deprecated`,
		},
		{
			name:    "unset",
			product: `, description: "${DESC}"}`,
			wantErr: "t.yaml:5:66: products[0].description: environment variable DESC is not set",
		},
		{
			name:    "unterminated",
			product: `, description: "${DESC"}`,
			wantErr: `t.yaml:5:66: products[0].description: has "${" without a closing "}"; write "$${" for a literal "${"`,
		},
		{
			name:    "bad name",
			product: `, description: "${DESC-x}"}`,
			wantErr: "t.yaml:5:66: products[0].description: ${DESC-x} is not a valid reference: want ${NAME} or ${NAME:-default}, NAME made of letters, digits and _",
		},
		{
			name:    "wrong type",
			product: `, tier: "${TIER}"}`,
			env:     map[string]string{"TIER": "gold"},
			wantErr: `t.yaml:5:59: products[0].tier: must be a whole number, got "gold"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Load("t.yaml", []byte(head+tt.product+"\n"), mapEnv(tt.env))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Load error:\n%v\nwant:\n%s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.check(&cfg.Products[0])); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadSecretFiles(t *testing.T) {
	t.Run("password_file", func(t *testing.T) {
		cfg, ps, err := loadTestFile(t, "testdata/config/good/password_file.yaml", nil)
		if err != nil || len(ps) != 0 {
			t.Fatalf("Load: %v, problems %v", err, ps)
		}
		if got, want := cfg.Kafka.SASL.Password.Reveal(), "file-s3cr3t-pw"; got != want {
			t.Errorf("password = %q, want %q (the file without its newline)", got, want)
		}
	})
	t.Run("token_file", func(t *testing.T) {
		cfg, ps, err := loadTestFile(t, "testdata/config/good/token_file.yaml", nil)
		if err != nil || len(ps) != 0 {
			t.Fatalf("Load: %v, problems %v", err, ps)
		}
		if got, want := cfg.Kafka.SASL.Token.Reveal(), "file-t0ken-value"; got != want {
			t.Errorf("token = %q, want %q (the file without its CRLF)", got, want)
		}
	})
	t.Run("problems never show the content", func(t *testing.T) {
		// The file is read, and then the config fails for another reason that
		// quotes a value equal to the password.
		data, err := os.ReadFile("testdata/config/good/password_file.yaml")
		if err != nil {
			t.Fatal(err)
		}
		bad := string(data) + "http: {listen: file-s3cr3t-pw}\n"
		_, ps, err := Load("testdata/config/good/password_file.yaml", []byte(bad), nil)
		if err == nil {
			t.Fatal("Load succeeded, want an error for http.listen")
		}
		want := `testdata/config/good/password_file.yaml:15:16: http.listen: must be host:port like :9477 or 127.0.0.1:9477, got "<secret>"`
		if got := ps.Error(); got != want {
			t.Errorf("problems:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("not a regular file", func(t *testing.T) {
		dir := t.TempDir()
		cfg := "cluster:\n  brokers: [\"k:9092\"]\n  sasl: {mechanism: PLAIN, username: u, password_file: .}\n" +
			"products: [{name: d.e.f, domain: d, owner: o, topics: [t]}]\nowners: {o: {}}\n"
		_, _, err := Load(filepath.Join(dir, "c.yaml"), []byte(cfg), nil)
		want := filepath.Join(dir, "c.yaml") + `:3:56: cluster.sasl.password_file: cannot read "` + dir + `": it is a directory, not a regular file`
		if err == nil || err.Error() != want {
			t.Errorf("Load error:\n%v\nwant:\n%s", err, want)
		}
	})
}

func TestLoadNaming(t *testing.T) {
	const config = "naming: %s\ncluster: {brokers: [\"k:9092\"]}\nowners: {o: {}}\nproducts:\n" +
		"  - {name: Orders, domain: checkout, owner: o, topics: [t]}\n"
	tests := []struct {
		naming   string
		wantErr  bool
		problems string
	}{
		{"warn", false, `t.yaml:5:12: products[0].name: warning: "Orders" does not follow <domain>.<entity>.<event>: want 3 dot-separated segments, got 1`},
		{"", false, `t.yaml:5:12: products[0].name: warning: "Orders" does not follow <domain>.<entity>.<event>: want 3 dot-separated segments, got 1`},
		{"strict", true, `t.yaml:5:12: products[0].name: "Orders" does not follow <domain>.<entity>.<event>: want 3 dot-separated segments, got 1 (naming: strict)`},
		{"off", false, ""},
	}
	for _, tt := range tests {
		t.Run("naming="+tt.naming, func(t *testing.T) {
			cfg, ps, err := Load("t.yaml", []byte(strings.Replace(config, "%s", tt.naming, 1)), nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Load error = %v, want error: %v", err, tt.wantErr)
			}
			if !tt.wantErr && cfg == nil {
				t.Fatal("Load returned no Config without an error")
			}
			if got := ps.Error(); got != tt.problems {
				t.Errorf("problems:\n%s\nwant:\n%s", got, tt.problems)
			}
			if tt.wantErr && !cmp.Equal(err, ps) {
				t.Errorf("error %v is not the problems %v", err, ps)
			}
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, ps, err := loadTestFile(t, "testdata/config/good/minimal.yaml", nil)
	if err != nil || len(ps) != 0 {
		t.Fatalf("Load: %v, problems %v", err, ps)
	}
	want := &Config{Config: &meshwatch.Config{
		Naming:  "warn",
		Cluster: meshwatch.Cluster{Name: "kafka"},
		Products: []meshwatch.Product{{
			Name:      "checkout.orders.placed",
			Domain:    "checkout",
			Owner:     "orders-team",
			Tier:      2,
			Topics:    []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}},
			Format:    "raw",
			Kind:      meshwatch.KindEvents,
			EventTime: meshwatch.EventTime{Record: "timestamp", Format: "auto", MaxClockSkew: meshwatch.Duration(time.Hour), Fallback: "record_timestamp"},
			Sampling:  meshwatch.Budget{MaxRecordsPerSecond: 1000, MaxBytesPerSecond: 1048576},
			SLOs: []meshwatch.SLO{{
				Name: "freshness", SLI: "freshness", Threshold: meshwatch.Duration(time.Minute),
				Objective: 0.99, Window: "28d",
			}},
		}},
		Owners: map[string]meshwatch.Owner{"orders-team": {}},
	},
		Kafka:   Kafka{Brokers: []string{"kafka-1:9092"}, ClientID: "meshwatch"},
		HTTP:    HTTP{Listen: ":9477"},
		Metrics: Metrics{LagGranularity: "topic"},
		Collector: collector.Config{
			Tick:         meshwatch.Duration(10 * time.Second),
			Discovery:    meshwatch.Duration(time.Minute),
			Budget:       meshwatch.Budget{MaxRecordsPerSecond: 1000, MaxBytesPerSecond: 1048576},
			MaxClockSkew: meshwatch.Duration(time.Hour),
		},
		Lag:   lag.Config{Interval: meshwatch.Duration(10 * time.Second), ExactFetches: new(10000), Passes: 3},
		State: state.Config{Backend: "dir", Dir: "meshwatch-state", Topic: "__meshwatch_state", Flush: meshwatch.Duration(30 * time.Second)},
		Dir:   "testdata/config/good",
	}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreUnexported(meshwatch.TopicSelector{}, Config{})); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// TestYAMLRoundTrip writes a loaded Config out and loads it back.
func TestYAMLRoundTrip(t *testing.T) {
	for _, file := range []string{exampleConfig, "testdata/config/good/minimal.yaml", "testdata/config/good/password_file.yaml", "testdata/config/good/sections.yaml"} {
		t.Run(file, func(t *testing.T) {
			cfg, _, err := loadTestFile(t, file, testEnv)
			if err != nil {
				t.Fatal(err)
			}
			if file == exampleConfig {
				cfg.Kafka.SASL = nil // the written password is "<secret>"
				cfg.Products[0].Description = "costs ${AMOUNT}"
			}
			out, err := YAML(cfg)
			if err != nil {
				t.Fatalf("YAML: %v", err)
			}
			if strings.Contains(string(out), "file-s3cr3t-pw") {
				t.Errorf("YAML shows the password:\n%s", out)
			}
			// Written beside the original, so that password_file still resolves.
			again, ps, err := Load(file, out, nil)
			if err != nil {
				t.Fatalf("Load of YAML output: %v\n%s", err, out)
			}
			if len(ps) != 0 {
				t.Errorf("Load of YAML output: %v", ps)
			}
			if diff := cmp.Diff(cfg, again, cmpopts.IgnoreUnexported(meshwatch.TopicSelector{}, Config{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-before +after):\n%s\nYAML:\n%s", diff, out)
			}
		})
	}
}

func TestYAMLHidesSecrets(t *testing.T) {
	cfg := &Config{Config: &meshwatch.Config{}, Kafka: Kafka{SASL: &SASL{Mechanism: SASLPlain, Username: "u", Password: "hunter2"}}}
	out, err := YAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := "cluster:\n  sasl:\n    mechanism: PLAIN\n    username: u\n    password: <secret>\n"
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("YAML (-want +got):\n%s", diff)
	}
	// Loading it back must not log in with the placeholder.
	_, ps, _ := Load("c.yaml", out, nil)
	found := false
	for _, p := range ps {
		found = found || p.Path == "cluster.sasl.password" && strings.Contains(p.Msg, "placeholder")
	}
	if !found {
		t.Errorf("loading a written-out password gives no placeholder problem:\n%v", ps)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, ps, err := LoadFile("testdata/config/no-such-file.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile error = %v, want one that is os.ErrNotExist", err)
	}
	if ps != nil {
		t.Errorf("LoadFile problems = %v, want none", ps)
	}
}

func TestLoadSortsAndPlaces(t *testing.T) {
	// A problem of Validate (owner) and one of decoding (tier) come out in
	// file order, and a missing key is placed at the mapping that lacks it.
	const config = `cluster: {brokers: ["k:9092"]}
products:
  - name: a.b.c
    domain: a
    owner: nobody
    tier: x
owners: {o: {}}
`
	_, ps, err := Load("t.yaml", []byte(config), nil)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	want := meshwatch.Problems{
		{Pos: meshwatch.Position{File: "t.yaml", Line: 3, Col: 5}, Path: "products[0].topics", Msg: `at least one topic is required: a name, or {pattern: "^regex$"}`},
		{Pos: meshwatch.Position{File: "t.yaml", Line: 5, Col: 12}, Path: "products[0].owner", Msg: `must be one of owners: o; got "nobody"`},
		{Pos: meshwatch.Position{File: "t.yaml", Line: 6, Col: 11}, Path: "products[0].tier", Msg: `must be a whole number, got "x"`},
	}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestLoadAliases(t *testing.T) {
	const config = `cluster: {brokers: ["k:9092"]}
products:
  - &orders
    name: checkout.orders.placed
    domain: checkout
    owner: o
    topics: [checkout.orders.placed]
    slos: [&latency {name: latency, sli: latency, threshold: 1s, objective: 99.9%}]
  - <<: *orders
    name: checkout.orders.cancelled
    topics: [checkout.orders.cancelled]
    slos: [*latency, {name: freshness, sli: freshness, threshold: 1m, objective: 99%}]
owners: {o: {}}
`
	cfg, ps, err := Load("t.yaml", []byte(config), nil)
	if err != nil || len(ps) != 0 {
		t.Fatalf("Load: %v, problems %v", err, ps)
	}
	p := cfg.Products[1]
	got := []string{p.Name, p.Domain, p.Owner, p.Topics[0].Name, p.SLOs[0].Name, p.SLOs[1].Name}
	want := []string{"checkout.orders.cancelled", "checkout", "o", "checkout.orders.cancelled", "latency", "freshness"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged product (-want +got):\n%s", diff)
	}

	// A problem in an anchored value is reported where it is written, once
	// for every path that uses it.
	_, ps, _ = Load("t.yaml", []byte(strings.Replace(config, "domain: checkout", "domian: checkout", 1)), nil)
	wantPs := []string{
		`t.yaml:5:5: products[0].domian: unknown key "domian" (did you mean "domain"?); allowed: name, domain, owner, tier, description, topics, format, event_time, sampling, slos, quality, dlq_topics, consumers, inputs, cost, notify_consumers, version, kind, replay_window, pii, deprecated`,
		`t.yaml:5:5: products[1].domian: unknown key "domian" (did you mean "domain"?); allowed: name, domain, owner, tier, description, topics, format, event_time, sampling, slos, quality, dlq_topics, consumers, inputs, cost, notify_consumers, version, kind, replay_window, pii, deprecated`,
	}
	var gotPs []string
	for _, p := range ps.Errors() {
		if strings.Contains(p.Msg, "unknown key") {
			gotPs = append(gotPs, p.String())
		}
	}
	if diff := cmp.Diff(wantPs, gotPs); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestLoadAliasBomb(t *testing.T) {
	// 600 aliases of a product with 600 topics: 360,000 values once
	// expanded, from 6 KB of YAML.
	const n = 600
	config := "cluster: {brokers: [\"k:9092\"]}\nowners: {o: {}}\nproducts:\n" +
		"  - &p {name: d.e.f, domain: d, owner: o, topics: [" + strings.Repeat("t, ", n-1) + "t]}\n" +
		strings.Repeat("  - *p\n", n-1)
	_, ps, err := Load("t.yaml", []byte(config), nil)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	want := "the document is too large once its aliases are expanded (more than 262144 values)"
	found := false
	for _, p := range ps {
		found = found || p.Msg == want
	}
	if !found {
		t.Errorf("no problem says %q; %d problems", want, len(ps))
	}
}

// TestLoadTypo checks that a misspelt key explains the missing key it stands
// for, without a second problem, unless that key is set as well.
func TestLoadTypo(t *testing.T) {
	const head = "cluster: {brokers: [k:1]}\nowners: {o: {}}\nproducts: [{name: a.b.c, domain: a, owner: o, "
	tests := []struct {
		name, product string
		want          []string
	}{
		{
			name:    "typo alone",
			product: "tpoics: [t]}]",
			want:    []string{"products[0].tpoics"},
		},
		{
			name:    "typo beside the real key",
			product: "topics: [t, {}], tpoics: [u]}]",
			want:    []string{"products[0].topics[1]", "products[0].tpoics"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps, err := Load("t.yaml", []byte(head+tt.product), nil)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Path)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problem paths (-want +got):\n%s\n%v", diff, ps)
			}
		})
	}
}

// TestLoadSections checks that the sections decoded apart from the model
// (cost:, alerting:, web:) are decoded as strictly and checked with it, in
// file order, and that an unknown top-level key lists the keys of the
// document's model and sections as before.
func TestLoadSections(t *testing.T) {
	const doc = `cluster: {brokers: ["kafka-1:9092"]}
alerting:
  group_wait: -1s
  gamma: 1
extra: 1
products:
  - name: checkout.orders.placed
    domain: checkout
    owner: orders-team
    topics: [checkout.orders.placed]
owners:
  orders-team: {}
`
	_, ps, err := Load("t.yaml", []byte(doc), nil)
	if err == nil {
		t.Fatal("Load: no error")
	}
	want := []string{
		`t.yaml:3:15: alerting.group_wait: must be >= 0 (0 takes the default), got -1s`,
		`t.yaml:4:3: alerting.gamma: unknown key "gamma"; allowed: slack, default_channel, ticket_channel, finance_channel, group_wait, group_interval, repeat_interval, routes, webhook, alertmanager, console, runbook_url, dashboard_url`,
		`t.yaml:5:1: extra: unknown key "extra"; allowed: naming, cluster, http, metrics, collector, lag, schema_registry, state, push, sharding, products, owners, contracts`,
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestForgetPositions(t *testing.T) {
	cfg, _, err := loadTestFile(t, "testdata/config/good/minimal.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pos := cfg.Position("products[0].name"); pos.Line == 0 {
		t.Fatalf("no position before ForgetPositions: %+v", pos)
	}
	cfg.ForgetPositions()
	if pos := cfg.Position("products[0].name"); pos != (meshwatch.Position{}) {
		t.Errorf("position %+v after ForgetPositions", pos)
	}
}

// TestLoadExactFetchesZero: lag.exact_fetches: 0 interpolates every time
// lag, as documented; the default (10000) applies only when the key is
// absent.
func TestLoadExactFetchesZero(t *testing.T) {
	const base = `cluster: {brokers: ["kafka-1:9092"]}
products:
  - name: checkout.orders.placed
    domain: checkout
    owner: orders-team
    topics: [checkout.orders.placed]
owners:
  orders-team: {}
`
	for _, tc := range []struct {
		lag  string
		want int
	}{
		{"", 10000},
		{"lag: {exact_fetches: 0}\n", 0},
		{"lag: {exact_fetches: 25}\n", 25},
	} {
		cfg, ps, err := Load("t.yaml", []byte(base+tc.lag), nil)
		if err != nil {
			t.Fatalf("%q: %v %v", tc.lag, err, ps)
		}
		if got := cfg.Lag.Exact(); got != tc.want {
			t.Errorf("%q: lag.exact_fetches = %d, want %d", tc.lag, got, tc.want)
		}
	}
}
