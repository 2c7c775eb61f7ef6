package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unsetEnv unsets name for the test (restored after it).
func unsetEnv(t *testing.T, name string) {
	t.Setenv(name, "") // registers the restore
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

// TestOfflineCommandsNeedNoSecrets: validate and rules check and translate
// config.example.yaml with no environment variable set, as a CI pipeline
// without the production secrets must; the unset secret is a warning at its
// position. run, which needs it, refuses the same file.
func TestOfflineCommandsNeedNoSecrets(t *testing.T) {
	unsetEnv(t, "KAFKA_PASSWORD")
	const example = "../../config.example.yaml"
	const warning = example + ":25:15: cluster.sasl.password: warning: environment variable KAFKA_PASSWORD is not set; meshwatch run needs it"

	code, out, _ := runCmd(t, context.Background(), "validate", "-config", example)
	if code != exitOK || !strings.Contains(out, warning) || !strings.HasPrefix(lastLine(out), "ok (") {
		t.Errorf("validate without secrets: exit %d, want 0 with the warning\n%s", code, out)
	}

	rules := filepath.Join(t.TempDir(), "rules.yaml")
	code, _, errOut := runCmd(t, context.Background(), "rules", "-config", example, "-out", rules)
	if code != exitOK || !strings.Contains(errOut, warning) {
		t.Errorf("rules without secrets: exit %d, want 0 with the warning\n%s", code, errOut)
	}
	if b, err := os.ReadFile(rules); err != nil || !strings.Contains(string(b), "meshwatch_slo_good_total") {
		t.Errorf("rules wrote %q (%v)", b, err)
	}

	code, _, errOut = runCmd(t, context.Background(), "run", "-config", example)
	if code == exitOK || !strings.Contains(errOut, "environment variable KAFKA_PASSWORD is not set") || strings.Contains(errOut, "warning: environment") {
		t.Errorf("run without the secret: exit %d, want an error naming it\n%s", code, errOut)
	}
}

// TestOfflineSecretFile: a *_file secret that validate cannot read is a
// warning for validate and an error for run.
func TestOfflineSecretFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	unsetEnv(t, "WEBHOOK_URL")
	doc := `cluster:
  brokers: [127.0.0.1:1]
  sasl: {mechanism: SCRAM-SHA-512, username: meshwatch, password_file: /run/secrets/none}
http: {api_token_file: /run/secrets/no-tokens}
alerting: {webhook: {url: "${WEBHOOK_URL}"}}
products:
  - {name: checkout.orders.placed, domain: checkout, owner: orders-team, topics: [checkout.orders.placed]}
owners:
  orders-team: {slack_channel: "#orders"}
`
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, context.Background(), "validate", "-config", cfg)
	for _, want := range []string{
		cfg + ":3:", "cluster.sasl.password_file: warning:", "/run/secrets/none", // which file is missing
		"http.api_token_file: warning:", "alerting.webhook.url: warning: environment variable WEBHOOK_URL is not set",
	} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("validate with unreadable secrets: exit %d, want 0 and %q\n%s", code, want, out)
		}
	}
	code, _, errOut := runCmd(t, context.Background(), "run", "-config", cfg)
	if code == exitOK || !strings.Contains(errOut, "cluster.sasl.password_file:") || strings.Contains(errOut, "password_file: warning") {
		t.Errorf("run with an unreadable password_file: exit %d, want an error\n%s", code, errOut)
	}
}
