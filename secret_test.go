package meshwatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestSecretString(t *testing.T) {
	tests := []struct {
		name   string
		secret Secret
		format string
		want   string
	}{
		{"v", "hunter2", "%v", "<secret>"},
		{"s", "hunter2", "%s", "<secret>"},
		{"+v", "hunter2", "%+v", "<secret>"},
		{"#v", "hunter2", "%#v", `"<secret>"`},
		{"q", "hunter2", "%q", `"<secret>"`},
		{"empty v", "", "%v", ""},
		{"empty #v", "", "%#v", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprintf(tt.format, tt.secret); got != tt.want {
				t.Errorf("Sprintf(%q) = %q, want %q", tt.format, got, tt.want)
			}
		})
	}
	if got := Secret("hunter2").Reveal(); got != "hunter2" {
		t.Errorf("Reveal() = %q, want hunter2", got)
	}
}

func TestSecretYAML(t *testing.T) {
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
// show (package config loads configs whose problems are near the secrets).
func TestHideConfigSecrets(t *testing.T) {
	const password, token = "pa55-w0rd-value", "t0ken-value"
	cfg := Config{Cluster: Cluster{
		Brokers: []string{"k:9092"},
		SASL:    &SASL{Mechanism: SASLScramSHA512, Username: "u", Password: password, Token: token},
	}}
	type holder struct {
		S  SASL
		P  *SASL
		C  *Config
		PS *Secret
	}
	pw := Secret(password)
	values := []any{cfg, &cfg, cfg.Cluster, *cfg.Cluster.SASL, cfg.Cluster.SASL,
		holder{*cfg.Cluster.SASL, cfg.Cluster.SASL, &cfg, &pw}, &holder{P: cfg.Cluster.SASL}, []SASL{*cfg.Cluster.SASL}, pw}
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
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", cfg, "sasl", cfg.Cluster.SASL)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", cfg, "password", cfg.Cluster.SASL.Password)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{logs.String(), string(js)} {
		if strings.Contains(out, password) || strings.Contains(out, token) || !strings.Contains(out, "secret") {
			t.Errorf("log or JSON shows a secret, or no placeholder:\n%s", out)
		}
	}
	if got := fmt.Sprintf("%+v", *cfg.Cluster.SASL); !strings.Contains(got, "Password:<secret>") {
		t.Errorf("Sprintf(%%+v) = %s, want Password:<secret>", got)
	}
	for _, p := range cfg.Validate() {
		if strings.Contains(p.String(), password) || strings.Contains(p.String(), token) {
			t.Errorf("Validate problem shows a secret: %s", p)
		}
	}
}
