package main

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// writeConfig writes a one-product config on kc to a temp file.
func writeConfig(t *testing.T, kc *kafkatest.Cluster, topic, extra string) string {
	t.Helper()
	dir := t.TempDir()
	doc := `cluster: {brokers: [` + strings.Join(kc.Addrs(), ", ") + `]}
http: {listen: "127.0.0.1:0"}
collector: {tick: 1s}
state: {dir: ` + filepath.Join(dir, "state") + `}
products:
  - name: ` + topic + `
    domain: checkout
    owner: orders-team
    topics: [` + topic + `]
    format: json
    slos:
      - {name: freshness, sli: freshness, threshold: 5s, objective: 90%}
      - {name: validity, sli: validity, objective: 90%}
    quality:
      rules:
        - {name: positive_total, expr: "message.total > 0"}
owners:
  orders-team: {slack_channel: "#orders-data"}
` + extra
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRulesCommand(t *testing.T) {
	kc := kafkatest.New(t)
	cfgPath := writeConfig(t, kc, "checkout.orders.placed", "")
	out := filepath.Join(t.TempDir(), "rules.yaml")
	code, _, errOut := runCmd(t, context.Background(), "rules", "-config", cfgPath, "-out", out)
	if code != exitOK {
		t.Fatalf("rules: exit %d\n%s", code, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"meshwatch_slo_good_total", `product="checkout.orders.placed"`, "alert:"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rules lack %q", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (Debian package prometheus); CI must have it")
		}
		t.Skip("promtool not installed")
	}
	if out, err := exec.Command(promtool, "check", "rules", out).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}

// TestCheckCommand runs meshwatch check as a CI pipeline would: a product
// that keeps its promises passes, one that breaks a rule fails, and so does
// a silent one.
func TestCheckCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("samples for several seconds")
	}
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
	cfgPath := writeConfig(t, kc, "checkout.orders.placed", "")

	produce := func(ctx context.Context, value string) {
		kc.ProduceEvery(ctx, 50*time.Millisecond, func() *kgo.Record {
			return &kgo.Record{Topic: "checkout.orders.placed", Value: []byte(value), Timestamp: time.Now()}
		})
	}
	tests := []struct {
		name     string
		value    string // "" produces nothing
		wantCode int
		met      map[string]bool // SLO → met
	}{
		// First, while the topic has never held a record.
		{"silent", "", exitFailed, map[string]bool{"freshness": false}},
		{"healthy", `{"total": 12.5}`, exitOK, map[string]bool{"validity": true, "freshness": true}},
		{"broken rule", `{"total": -1}`, exitFailed, map[string]bool{"validity": false, "freshness": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if tt.value != "" {
				wg.Go(func() { produce(ctx, tt.value) })
			}
			code, out, errOut := runCmd(t, context.Background(), "check", "-config", cfgPath, "-for", "4s")
			cancel()
			wg.Wait()
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for slo, met := range tt.met {
				row := ""
				for _, line := range strings.Split(out, "\n") {
					if f := strings.Fields(line); len(f) > 2 && f[1] == slo {
						row = line
					}
				}
				switch {
				case row == "":
					t.Errorf("no row for SLO %s:\n%s", slo, out)
				case met && !strings.HasSuffix(strings.TrimSpace(row), "yes"):
					t.Errorf("SLO %s not met, want met: %s", slo, row)
				case !met && !strings.Contains(row, "NO"):
					t.Errorf("SLO %s met, want not met: %s", slo, row)
				}
			}
			if strings.Contains(out, "12.5") || strings.Contains(errOut, "12.5") {
				t.Error("a payload value appears in the output")
			}
		})
	}
	if code, _, errOut := runCmd(t, context.Background(), "check", "-config", cfgPath, "-product", "checkout.orders.plcaed"); code != exitUsage || !strings.Contains(errOut, "products: checkout.orders.placed") {
		t.Errorf("unknown product: exit %d\n%s", code, errOut)
	}
}

// TestSilenceCommand adds, lists and removes a silence on a running agent.
func TestSilenceCommand(t *testing.T) {
	kc := kafkatest.New(t)
	// The config names its token file relative to itself.
	path := writeConfig(t, kc, "checkout.orders.placed", "")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := os.ReadFile(writeTokenFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "api-tokens"), tokens, 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b), `http: {listen: "127.0.0.1:0"}`, `http: {listen: "127.0.0.1:0", api_token_file: api-tokens}`, 1)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, path, slog.New(slog.DiscardHandler), AppOptions{}, nil)
	url := "http://" + app.Addr()
	// -config finds the agent's listen address: write the bound one.
	cli := filepath.Join(filepath.Dir(path), "cli.yaml")
	if err := os.WriteFile(cli, []byte(strings.Replace(doc, "127.0.0.1:0", app.Addr(), 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	// Without credentials a write is refused with what to do.
	t.Setenv(envAPIToken, "")
	code, _, errOut := runCmd(t, context.Background(), "silence", "add", "-url", url, "-match", "product=checkout.orders.placed", "-comment", "x")
	if code != exitFailed || !strings.Contains(errOut, "401") || !strings.Contains(errOut, envAPIToken) {
		t.Errorf("silence add without a token: exit %d, want %d with what to do\n%s", code, exitFailed, errOut)
	}
	// A wrong token is refused and not shown.
	t.Setenv(envAPIToken, "not-the-token-0123456789")
	code, out, errOut := runCmd(t, context.Background(), "silence", "add", "-config", cli, "-match", "product=checkout.orders.placed", "-comment", "x")
	if code != exitFailed || strings.Contains(out+errOut, "not-the-token-0123456789") {
		t.Errorf("silence add with a wrong token: exit %d\n%s%s", code, out, errOut)
	}

	// With -config: the URL and the token come from the agent's config.
	t.Setenv(envAPIToken, "")
	code, out, errOut = runCmd(t, context.Background(), "silence", "add", "-config", cli, "-match", "product=checkout.orders.placed", "-for", "1h", "-comment", "load test", "-by", "alice")
	if code != exitOK {
		t.Fatalf("silence add -config: exit %d\n%s", code, errOut)
	}
	id := strings.Fields(out)[0]
	_, out, _ = runCmd(t, context.Background(), "silence", "ls", "-url", url)
	if !strings.Contains(out, id) || !strings.Contains(out, `product="checkout.orders.placed"`) || !strings.Contains(out, "alice (token ci-bot)") {
		t.Errorf("silence ls does not list %s by alice (token ci-bot):\n%s", id, out)
	}
	// MESHWATCH_API_TOKEN with -url.
	t.Setenv(envAPIToken, testToken)
	if code, _, errOut := runCmd(t, context.Background(), "silence", "rm", "-url", url, id); code != exitOK {
		t.Errorf("silence rm with MESHWATCH_API_TOKEN: exit %d\n%s", code, errOut)
	}
	if _, out, _ := runCmd(t, context.Background(), "silence", "ls", "-config", cli); strings.Contains(out, id) {
		t.Errorf("silence %s still listed after rm:\n%s", id, out)
	}
	if code, _, _ := runCmd(t, context.Background(), "silence", "add", "-url", url); code != exitUsage {
		t.Errorf("silence add without -match: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runCmd(t, context.Background(), "silence", "add", "-url", url, "-match", "product=x"); code != exitUsage {
		t.Errorf("silence add without -comment: exit %d, want %d", code, exitUsage)
	}
}

// TestReportAfterARun runs the agent with a rate card for a few samples,
// then writes the FOCUS report from its state directory, the agent stopped.
func TestReportAfterARun(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 3, 1, nil)
	cfgPath := writeConfig(t, kc, "checkout.orders.placed", `cost:
  currency: USD
  sample: 1s
  rate_card:
    - {from: 2026-01-01, storage_gib_hour: 0.000137, partition_hour: 0.0015, ingress_gib: 0.01, egress_gib: 0.02, cross_az_gib: 0.01}
`)
	set := loadSettings(cfgPath, io.Discard)
	if set == nil || set.Cost == nil {
		t.Fatal("config with cost does not load")
	}
	app, err := NewApp(set, slog.New(slog.DiscardHandler), AppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	base := "http://" + app.Addr()
	kafkatest.WaitFor(t, 20*time.Second, func() bool {
		code, body := get(t, base+"/api/v1/chargeback?format=csv")
		return code == http.StatusOK && strings.Count(body, "\n") > 1
	}, "the chargeback API never had rows")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	code, out, errOut := runCmd(t, context.Background(), "report", "chargeback", "-config", cfgPath, "-format", "focus")
	if code != exitOK {
		t.Fatalf("report: exit %d\n%s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("report is not CSV with rows (%v):\n%s", err, out)
	}
	header := strings.Join(rows[0], ",")
	for _, col := range []string{"BilledCost", "EffectiveCost", "ChargePeriodStart", "x_IsEstimate"} {
		if !strings.Contains(header, col) {
			t.Errorf("FOCUS header lacks %s: %s", col, header)
		}
	}
	if code, _, _ := runCmd(t, context.Background(), "report", "chargeback", "-config", cfgPath, "-format", "xml"); code != exitUsage {
		t.Errorf("-format xml: exit %d, want %d", code, exitUsage)
	}
}

// TestPush pushes the agent's metrics to a text-import endpoint and checks
// that what arrives is the Prometheus text format with the extra labels.
func TestPush(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		mu.Lock()
		bodies = append(bodies, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Encoding")+"\n"+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	kc := kafkatest.New(t)
	set := loadSettings(writeConfig(t, kc, "checkout.orders.placed", `push:
  url: `+srv.URL+`/api/v1/import/prometheus
  interval: 1s
  labels: {instance: sidecar-1}
`), io.Discard)
	if set == nil {
		t.Fatal("config with push does not load")
	}
	app, err := NewApp(set, slog.New(slog.DiscardHandler), AppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	// The product's series are streamed (internal/expo), as /metrics
	// serves them: a push carries them once the core runs.
	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bodies {
			if strings.Contains(b, `meshwatch_product_info{instance="sidecar-1",domain="checkout"`) {
				return true
			}
		}
		return false
	}, "no push carried the product's series (%v pushes)", pushCount(func() int {
		mu.Lock() // the push server may still be appending
		defer mu.Unlock()
		return len(bodies)
	}))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("the agent stopped with %v", err)
	}
	mu.Lock()
	first := bodies[0]
	mu.Unlock()
	head, body, _ := strings.Cut(first, "\n")
	if !strings.HasPrefix(head, "POST /api/v1/import/prometheus") {
		t.Errorf("push request %q", head)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("pushed body is not the text format: %v", err)
	}
	bi := fams["meshwatch_build_info"]
	if bi == nil || len(bi.GetMetric()) == 0 {
		t.Fatal("meshwatch_build_info was not pushed")
	}
	found := false
	for _, l := range bi.GetMetric()[0].GetLabel() {
		if l.GetName() == "instance" && l.GetValue() == "sidecar-1" {
			found = true
		}
	}
	if !found {
		t.Error("the extra label instance=sidecar-1 is missing")
	}
}

// pushCount formats as the count it reads when a failure message is
// written, not when the message's arguments are taken.
type pushCount func() int

func (f pushCount) String() string { return strconv.Itoa(f()) }
