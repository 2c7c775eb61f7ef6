package alert_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/golden"
)

// Secrets the configuration tests use: none may appear in a problem.
const (
	testToken        = "xoxb-test-0000000000-abcdefTOKEN"
	testWebhookURL   = "https://hooks.example.com/services/T0/B0/hunter2-hook-path"
	testWebhookCreds = "https://bot:hunter2-pass@hooks.example.com/x"
	testHookSecret   = "whsec-hunter2-signing"
)

// configEnv is the environment of the configuration tests.
func configEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"SLACK_BOT_TOKEN":                    testToken,
		"ALERT_WEBHOOK_URL":                  testWebhookURL,
		"ALERT_WEBHOOK_URL_WITH_CREDENTIALS": testWebhookCreds,
		"ALERT_WEBHOOK_SECRET":               testHookSecret,
	}[name]
	return v, ok
}

// leaks returns the secrets of the tests that s shows: the env values, and
// "hunter2" and "xoxb-", which every literal secret of testdata/config
// holds.
func leaks(s string) []string {
	var out []string
	for _, secret := range []string{testToken, testWebhookURL, testWebhookCreds, testHookSecret, "hunter2", "xoxb-", "T0/B0"} {
		if strings.Contains(s, secret) {
			out = append(out, secret)
		}
	}
	return out
}

// loadAlerting loads a configuration file as the agent does (package
// config, which decodes alerting: into an alert.Config and validates it).
func loadAlerting(t *testing.T, file string) (*alert.Config, meshwatch.Problems, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg, ps, err := config.Load(file, data, configEnv)
	if cfg == nil {
		return nil, ps, err
	}
	return cfg.Alerting, ps, err
}

// updating reports whether -update (the flag of the package's tests) is set.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestConfigBad loads every testdata/config/bad/*.yaml through the loader
// and compares its problems, as the error prints them (file:line:col:
// path: message), with NAME.golden; -update rewrites them. No problem
// shows a secret.
func TestConfigBad(t *testing.T) {
	files, err := filepath.Glob("testdata/config/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d bad configs, want at least 10", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, ps, err := loadAlerting(t, file)
			if err == nil {
				t.Fatalf("%s loaded, want problems", file)
			}
			var perr meshwatch.Problems
			if !errors.As(err, &perr) || len(perr) != len(ps) {
				t.Errorf("error is %T with %d problems, want the %d Problems", err, len(perr), len(ps))
			}
			for _, p := range ps {
				if p.Pos.File != file || p.Pos.Line == 0 || p.Pos.Col == 0 {
					t.Errorf("problem %q is not placed at file:line:col of %s", p, file)
				}
				if !strings.HasPrefix(p.Path, "alerting") {
					t.Errorf("problem %q is not in the alerting: section", p)
				}
			}
			got := err.Error() + "\n"
			if l := leaks(got); len(l) > 0 {
				t.Errorf("problems show the secrets %q:\n%s", l, got)
			}
			golden.Check(t, strings.TrimSuffix(file, ".yaml")+".golden", got, updating())
		})
	}
}

// TestConfigGood: a section with every key loads without a problem, into
// the values written, with the secrets from the environment.
func TestConfigGood(t *testing.T) {
	cfg, ps, err := loadAlerting(t, "testdata/config/good.yaml")
	if err != nil || len(ps) != 0 {
		t.Fatalf("good.yaml: %v (%d problems)", err, len(ps))
	}
	want := &alert.Config{
		Slack: &alert.SlackConfig{
			Token: testToken, APIURL: "https://slack.example.com/api/",
			PerChannelInterval: meshwatch.Duration(2 * time.Second),
		},
		DefaultChannel: "#data-platform-alerts",
		TicketChannel:  "#data-tickets",
		FinanceChannel: "C0FINOPS1",
		GroupWait:      meshwatch.Duration(10 * time.Second),
		GroupInterval:  meshwatch.Duration(2 * time.Minute),
		RepeatInterval: meshwatch.Duration(12 * time.Hour),
		Routes: []alert.RouteConfig{
			{Match: map[string]string{"alertname": "ProductBlind"}, Channel: "#data-platform-sre"},
			{
				Match: map[string]string{"domain": "checkout", "urgency": "page"}, Mention: "<!subteam^S0ONCALL>",
				GroupWait: meshwatch.Duration(time.Second), GroupInterval: meshwatch.Duration(30 * time.Second),
				RepeatInterval: meshwatch.Duration(time.Hour),
			},
		},
		Webhook:      &alert.WebhookConfig{URL: testWebhookURL, Secret: testHookSecret},
		Alertmanager: &alert.AlertmanagerConfig{URL: "http://alertmanager.monitoring.svc:9093"},
		Console:      true,
		RunbookURL:   "https://runbooks.example.com/data-products/{product}#{slo}",
		DashboardURL: "https://grafana.example.com/d/meshwatch-product?var-product={product}",
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("decoded section (-want +got):\n%s", diff)
	}

	var names []string
	for _, n := range cfg.Notifiers(alert.NotifierOptions{Stdout: io.Discard}) {
		names = append(names, n.Name())
	}
	if want := []string{"slack", "webhook", "alertmanager", "console"}; !cmp.Equal(names, want) {
		t.Errorf("notifiers %q, want %q", names, want)
	}

	// Printed or logged whole, the section and its notifiers show no
	// secret.
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	log.Info("config", "alerting", cfg, "slack", cfg.Slack, "webhook", cfg.Webhook)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "alerting", cfg)
	out := logs.String() + fmt.Sprintf("%v %+v %#v %+v %+v", cfg, cfg, cfg, *cfg.Slack, *cfg.Webhook)
	for _, n := range cfg.Notifiers(alert.NotifierOptions{Stdout: io.Discard}) {
		out += fmt.Sprintf(" %v %+v", n, n)
	}
	if l := leaks(out); len(l) > 0 {
		t.Errorf("printing the section shows %q:\n%s", l, out)
	}
}
