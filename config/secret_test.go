package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/internal/push"
	"github.com/meshwatch/meshwatch/quality"
)

// TestLoadHidesSecrets loads configs whose problems are near the secrets
// and checks that the secrets never show.
func TestLoadHidesSecrets(t *testing.T) {
	const password, token = "pa55-w0rd-value", "t0ken-value"
	env := mapEnv(map[string]string{"KAFKA_PASSWORD": password, "ANY": password, "API_TOKEN": token})
	tests := []struct {
		name   string
		config string
	}{
		{"env in a number", "cluster: {brokers: [k:1]}\nproducts: [{name: d.e.f, domain: d, owner: o, tier: \"${KAFKA_PASSWORD}\"}]"},
		{"env in a broker", "cluster: {brokers: [\"${KAFKA_PASSWORD}\"]}"},
		{"secret env in a name", "products: [{name: \"${API_TOKEN}\", domain: d}]\nnaming: strict"},
		{"plain env used as a password and as a name", "cluster: {brokers: [k:1], sasl: {mechanism: PLAIN, username: u, password: \"${ANY}\"}}\nproducts: [{name: \"${ANY}\", domain: d}]\nnaming: strict"},
		{"inline password repeated elsewhere", "cluster: {brokers: [k:1], sasl: {mechanism: SCRAM, password: " + password + "}}\nhttp: {listen: " + password + "}"},
		{"password of the wrong type", "cluster: {sasl: {password: [" + password + "]}}"},
		{"password in an unknown key", "cluster: {sasl: {passwd: " + password + ", password: " + password + "}}"},
		{"percent", "products: [{slos: [{objective: \"${KAFKA_PASSWORD}\"}]}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps, err := Load("c.yaml", []byte(tt.config), env)
			if err == nil {
				t.Fatal("Load succeeded, want problems")
			}
			for _, s := range []string{err.Error(), fmt.Sprint(ps), fmt.Sprintf("%+v", ps), fmt.Sprintf("%#v", ps)} {
				if strings.Contains(s, password) || strings.Contains(s, token) {
					t.Errorf("problems show a secret:\n%s", s)
				}
			}
		})
	}
}

func TestSASLYAML(t *testing.T) {
	out, err := yaml.Marshal(SASL{Mechanism: SASLPlain, Username: "u", Password: "hunter2"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), "password: <secret>") {
		t.Errorf("Marshal shows the password or no placeholder:\n%s", out)
	}
}

// TestHideConfigSecrets prints a Config that holds a password and a token in
// every way fmt can, and validates it, and checks that the secrets never
// show (Load reports problems near the secrets).
func TestHideConfigSecrets(t *testing.T) {
	const password, token = "pa55-w0rd-value", "t0ken-value"
	cfg := Config{Config: &meshwatch.Config{}, Kafka: Kafka{
		Brokers: []string{"k:9092"},
		SASL:    &SASL{Mechanism: SASLScramSHA512, Username: "u", Password: password, Token: token},
	},
		// Every section that holds a secret, with the same two values.
		SchemaRegistry: &quality.RegistryConfig{URL: "http://sr:8081", Username: "u", Password: password, Token: token},
		Push:           &push.Config{URL: "http://vm:8428/api/v1/import/prometheus", Token: token},
		Alerting: &alert.Config{
			Slack:   &alert.SlackConfig{Token: token},
			Webhook: &alert.WebhookConfig{URL: password, Secret: token},
		},
	}
	type holder struct {
		S  SASL
		P  *SASL
		C  *Config
		PS *meshwatch.Secret
	}
	pw := meshwatch.Secret(password)
	values := []any{cfg, &cfg, cfg.Kafka, *cfg.Kafka.SASL, cfg.Kafka.SASL,
		holder{*cfg.Kafka.SASL, cfg.Kafka.SASL, &cfg, &pw}, &holder{P: cfg.Kafka.SASL}, []SASL{*cfg.Kafka.SASL}, pw,
		cfg.SchemaRegistry, *cfg.SchemaRegistry, cfg.Push, *cfg.Push, cfg.Alerting, *cfg.Alerting,
		cfg.Alerting.Slack, cfg.Alerting.Webhook, []any{cfg.SchemaRegistry, cfg.Push, cfg.Alerting}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%f", "%p", "%T", "%10s", "%-8v", "%U", "%c", "%e", "%b", "%o"} {
		for _, v := range values {
			if format == "%p" && reflect.TypeOf(v).Kind() != reflect.Pointer {
				// fmt prints a non-pointer given to %p by reflection before it
				// looks at any method; go vet reports that misuse.
				continue
			}
			got := fmt.Sprintf(format, v)
			if strings.Contains(got, password) || strings.Contains(got, token) {
				t.Errorf("Sprintf(%q, %T) shows a secret: %s", format, v, got)
			}
		}
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", cfg, "sasl", cfg.Kafka.SASL)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", cfg, "password", cfg.Kafka.SASL.Password)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{logs.String(), string(js)} {
		if strings.Contains(out, password) || strings.Contains(out, token) || !strings.Contains(out, "secret") {
			t.Errorf("log or JSON shows a secret, or no placeholder:\n%s", out)
		}
	}
	if got := fmt.Sprintf("%+v", *cfg.Kafka.SASL); !strings.Contains(got, "Password:<secret>") {
		t.Errorf("Sprintf(%%+v) = %s, want Password:<secret>", got)
	}
	for _, p := range cfg.Validate() {
		if strings.Contains(p.String(), password) || strings.Contains(p.String(), token) {
			t.Errorf("Validate problem shows a secret: %s", p)
		}
	}
}

// TestLoadRedactsSectionSecrets: a secret of push: or alerting: that also
// appears where a message quotes a value is shown as "<secret>".
func TestLoadRedactsSectionSecrets(t *testing.T) {
	const tok = "pUsh-t0ken-value-123"
	doc := `cluster: {brokers: ["k:9092"]}
push: {url: "` + tok + `", token: "` + tok + `"}
alerting:
  slack: {token: "xoxb-` + tok + `", api_url: "xoxb-` + tok + `"}
products:
  - name: checkout.orders.placed
    domain: checkout
    owner: orders-team
    topics: [checkout.orders.placed]
owners:
  orders-team: {}
`
	_, ps, err := Load("c.yaml", []byte(doc), nil)
	if err == nil || len(ps) < 2 {
		t.Fatalf("Load: %v, problems %v; want the bad URLs reported", err, ps)
	}
	for _, p := range ps {
		if strings.Contains(p.String(), tok) {
			t.Errorf("problem shows a secret: %s", p)
		}
	}
}
