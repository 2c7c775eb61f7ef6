//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/meshwatch/meshwatch/dashboards"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// e2eIntervals stand for Grafana's interval variables against a Prometheus
// that scrapes every second and holds a few minutes of data.
var e2eIntervals = dashboards.Intervals{RateInterval: 30 * time.Second, Interval: 5 * time.Second, Range: 5 * time.Minute}

// TestE2EDashboards runs the demo and a real Prometheus (the prometheus
// binary, native histograms on) that scrapes it every second and evaluates
// the agent rules, then requires every dashboard query — panel targets and
// template variables, variables expanded — to return data through
// /api/v1/query, and every rule to evaluate without error. The demo is
// served with basic auth (the exporter-toolkit web configuration), so the
// scrape goes through it. Run it with `make e2e`.
func TestE2EDashboards(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("prometheus is required in CI (Debian package prometheus): %v", err)
		}
		t.Skipf("prometheus not installed: %v", err)
	}
	start := time.Now()
	// The demo is served with basic auth from an exporter-toolkit web
	// configuration, and Prometheus scrapes it as a user.
	const user, password = "prometheus", "e2e-scrape-password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  "+user+": "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDemo(t, func(o *demoOptions) { o.webConfig = webConfig })
	if code, _ := get(t, "http://"+d.addr+"/metrics"); code != http.StatusUnauthorized {
		t.Fatalf("an anonymous scrape of the demo: %d, want 401", code)
	}
	prom := startPrometheus(t, bin, d.addr, user, password)
	t.Logf("demo on %s (basic auth), Prometheus on %s", d.addr, prom.base)

	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		r, err := prom.query(`up{job="meshwatch"} == 1`)
		return err == nil && len(r) == 1
	}, "Prometheus never scraped the demo\n%s", &prom.log)

	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var panels []dashboards.Query
	for _, q := range qs {
		if q.Kind != dashboards.KindRule {
			panels = append(panels, q)
		}
	}
	// Each query must return data at some point: a panel of events (alert
	// deliveries over 30 s) has data only while they happen, so a query
	// that had data once is done.
	var empty lines
	var last time.Time
	done := map[int]bool{}
	kafkatest.WaitFor(t, 4*time.Minute, func() bool {
		if time.Since(last) < 5*time.Second {
			return false // one round of queries every 5 s
		}
		last = time.Now()
		empty = empty[:0]
		for i, q := range panels {
			if done[i] {
				continue
			}
			expr := dashboards.Expand(q.Expr, e2eIntervals, ".*")
			r, err := prom.query(expr)
			switch {
			case err != nil:
				empty = append(empty, fmt.Sprintf("%s: %v\n\t\t%s", q, err, expr))
			case len(r) == 0 && appearsLater(t, expr):
				done[i] = true // only series a healthy demo product does not have yet
			case len(r) == 0:
				empty = append(empty, fmt.Sprintf("%s: no data\n\t\t%s", q, expr))
			case allNaN(r):
				empty = append(empty, fmt.Sprintf("%s: only NaN\n\t\t%s", q, expr))
			default:
				done[i] = true
			}
		}
		return len(empty) == 0
	}, "these dashboard queries never returned data from Prometheus:%v", &empty)
	t.Logf("all %d dashboard queries have data after %v", len(panels), time.Since(start).Round(time.Second))

	rules, err := dashboards.Rules()
	if err != nil {
		t.Fatal(err)
	}
	var bad lines
	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		bad = prom.ruleProblems(rules)
		return len(bad) == 0
	}, "the agent rules do not evaluate cleanly in Prometheus:%v", &bad)
	t.Logf("all %d rules evaluated without error after %v", len(rules), time.Since(start).Round(time.Second))
}

// appearsLater says whether every metric expr selects is one of
// appearLater: series that appear at their first event or with a feature
// the demo does not use, so that a panel of them may have no data.
func appearsLater(t *testing.T, expr string) bool {
	t.Helper()
	names, err := dashboards.Metrics(expr)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, ok := appearLater[n]; !ok {
			return false
		}
	}
	return len(names) > 0
}

// promServer is a Prometheus server the test started.
type promServer struct {
	base string // http://127.0.0.1:port
	log  syncBuffer
}

// startPrometheus starts bin on a free loopback port with a fresh TSDB,
// scraping the agent at target (as user, with password) and itself every
// second and evaluating the agent rules, and stops it when the test ends.
func startPrometheus(t *testing.T, bin, target, user, password string) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := fs.ReadFile(dashboards.Files(), dashboards.RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(dir, "meshwatch-agent.rules.yaml")
	if err := os.WriteFile(rulesPath, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	passwordFile := filepath.Join(dir, "meshwatch-password")
	if err := os.WriteFile(passwordFile, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: meshwatch
    basic_auth: {username: %q, password_file: %q}
    static_configs: [{targets: [%q]}]
  - job_name: prometheus
    static_configs: [{targets: [%q]}]
`, rulesPath, user, passwordFile, target, addr)
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &promServer{base: "http://" + addr}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+configPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--enable-feature=native-histograms",
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("Prometheus logs:\n%s", p.log.String())
		}
	})
	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited: %v\n%s", err, p.log.String())
		default:
		}
		code, _ := get(t, p.base+"/-/ready")
		return code == http.StatusOK
	}, "prometheus never became ready\n%s", &p.log)
	return p
}

// query runs an instant query and returns its result: the series of a
// vector, or one element for a scalar.
func (p *promServer) query(expr string) ([]json.RawMessage, error) {
	var body struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := p.get("/api/v1/query?query="+url.QueryEscape(expr), &body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", body.ErrorType, body.Error)
	}
	if body.Data.ResultType == "scalar" {
		return []json.RawMessage{body.Data.Result}, nil
	}
	var series []json.RawMessage
	if err := json.Unmarshal(body.Data.Result, &series); err != nil {
		return nil, err
	}
	return series, nil
}

// allNaN reports whether every value of an instant query's result is NaN,
// which a panel shows as no data.
func allNaN(result []json.RawMessage) bool {
	for _, r := range result {
		var sample struct {
			Value     []any `json:"value"`
			Histogram []any `json:"histogram"`
		}
		var scalar []any
		if json.Unmarshal(r, &sample) == nil && (len(sample.Value) == 2 || len(sample.Histogram) == 2) {
			if len(sample.Histogram) == 2 || sample.Value[1] != "NaN" {
				return false
			}
		} else if json.Unmarshal(r, &scalar) == nil && len(scalar) == 2 && scalar[1] != "NaN" {
			return false
		}
	}
	return true
}

// ruleProblems returns what is wrong with the rules Prometheus evaluates,
// compared with want: a rule missing, not evaluated yet, or unhealthy.
func (p *promServer) ruleProblems(want []dashboards.Rule) lines {
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name           string    `json:"name"`
					Health         string    `json:"health"`
					LastError      string    `json:"lastError"`
					LastEvaluation time.Time `json:"lastEvaluation"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := p.get("/api/v1/rules", &body); err != nil {
		return lines{err.Error()}
	}
	var problems lines
	var got []string
	for _, g := range body.Data.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Name)
			switch {
			case r.LastEvaluation.IsZero() || r.Health == "unknown":
				problems = append(problems, fmt.Sprintf("%s/%s: not evaluated yet", g.Name, r.Name))
			case r.Health != "ok":
				problems = append(problems, fmt.Sprintf("%s/%s: health %s: %s", g.Name, r.Name, r.Health, r.LastError))
			}
		}
	}
	for _, r := range want {
		if !slices.Contains(got, r.Name()) {
			problems = append(problems, fmt.Sprintf("%s: not loaded by Prometheus (it has %s)", r.Name(), strings.Join(got, ", ")))
		}
	}
	return problems
}

func (p *promServer) get(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	return nil
}
