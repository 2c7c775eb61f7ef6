package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// TestWebhook verifies the signature the way a receiver would and checks
// the payload; a 4xx is permanent, a 5xx retried.
func TestWebhook(t *testing.T) {
	const secret = "webhook-hmac-secret"
	var mu sync.Mutex
	var bodies [][]byte
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(r.Header.Get(SignatureHeader)), []byte(want)) || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		bodies = append(bodies, body)
		code := status
		mu.Unlock()
		w.WriteHeader(code)
	}))
	defer srv.Close()

	clk := newClock()
	wh := NewWebhook(srv.URL+"/hook", secret)
	m := newTestManager(t, clk, newTestStore(), nil, wh)
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	step(t, m, clk, t0.Add(30*time.Second))
	if counter(t, m.metrics, "webhook", OutcomeSuccess) != 1 {
		t.Fatalf("webhook not delivered (a bad signature is a 401, which is permanent)")
	}
	var p WebhookPayload
	if err := json.Unmarshal(bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "1" || p.Kind != KindFire || p.Status != StatusFiring || !p.Page || len(p.Alerts) != 1 ||
		p.Alerts[0].Labels[LabelSLO] != "freshness" || p.Alerts[0].TimeToExhaustionSeconds != 9000 ||
		p.Alerts[0].Owner != "orders-team" || p.GroupLabels["product"] != "checkout.orders.placed" {
		t.Errorf("payload: %s", bodies[0])
	}

	// A wrong secret: the receiver answers 401, which is not retried.
	bad := NewWebhook(srv.URL+"/hook", "wrong")
	err := bad.Notify(context.Background(), &Notification{Kind: KindFire}, &Thread{})
	var perm *PermanentError
	if !errors.As(err, &perm) || perm.Reason != "http_401" {
		t.Errorf("wrong secret: %v, want a permanent http_401", err)
	}
	mu.Lock()
	status = http.StatusBadGateway
	mu.Unlock()
	err = wh.Notify(context.Background(), &Notification{Kind: KindFire}, &Thread{})
	if err == nil || errors.As(err, &perm) {
		t.Errorf("502: %v, want a retryable error", err)
	}
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// TestAlertmanager forwards an alert to a real Alertmanager and reads it
// back from /api/v2/alerts.
func TestAlertmanager(t *testing.T) {
	const bin = "/usr/bin/prometheus-alertmanager"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (install the prometheus-alertmanager package)", bin)
		}
		t.Skipf("%s is missing", bin)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", out.String())
		}
	})
	base := "http://" + addr
	hc := &http.Client{Timeout: hangGuard}
	kafkatest.WaitFor(t, hangGuard, func() bool {
		resp, err := hc.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "alertmanager ready")

	am := NewAlertmanager(base)
	m, err := New(testConfig(), Options{Store: newTestStore(), Notifiers: []Notifier{am}})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(time.Now(), []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	// A forward that an Alertmanager slowed by a busy machine lets time out
	// is tried again at its next time, as Run would, without waiting for it.
	at := time.Now()
	kafkatest.WaitFor(t, hangGuard, func() bool {
		at = m.forward(context.Background(), m.forwarders[0], at)
		return counter(t, m.metrics, "alertmanager", OutcomeSuccess) == 1
	}, "forward failed: %v retries", lazy(func() any { return counter(t, m.metrics, "alertmanager", OutcomeRetry) }))
	if at.IsZero() {
		t.Fatal("no next forward")
	}
	var got []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		Status      struct{ State string }
	}
	kafkatest.WaitFor(t, hangGuard, func() bool {
		resp, err := hc.Get(base + "/api/v2/alerts")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		got = nil
		return json.NewDecoder(resp.Body).Decode(&got) == nil && len(got) > 0
	}, "the alert in /api/v2/alerts")
	l := got[0].Labels
	if len(got) != 1 || l[LabelAlertname] != NameSLOBurnRate || l[LabelProduct] != "checkout.orders.placed" ||
		l[LabelSLO] != "freshness" || l[LabelSeverity] != SeverityPage || l["owner"] != "orders-team" ||
		l["cluster"] != "prod-eu" || got[0].Annotations["budget_remaining"] != "42%" || got[0].Status.State != "active" {
		t.Errorf("alertmanager has %+v", got)
	}
}

// TestSilencesAPI is a round trip through SilencesHandler and SilenceClient.
func TestSilencesAPI(t *testing.T) {
	clk := newClock()
	st := newTestStore()
	m := newTestManager(t, clk, st, nil)
	mux := http.NewServeMux()
	mux.Handle("/api/v1/silences", m.SilencesHandler())
	mux.Handle("/api/v1/silences/", m.SilencesHandler())
	mux.Handle("/api/v1/alerts", m.AlertsHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &SilenceClient{BaseURL: srv.URL}
	ctx := context.Background()

	mt, _ := ParseMatcher("product=checkout.orders.placed")
	s, err := c.Add(ctx, SilenceRequest{Matchers: []Matcher{mt}, Duration: "2h", CreatedBy: "ops", Comment: "broker upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	if s.ID == "" || !s.EndsAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("added %+v", s)
	}
	_, err = c.Add(ctx, SilenceRequest{Duration: "2h"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "matchers") || !strings.Contains(err.Error(), "created_by") {
		t.Errorf("invalid add: %v, want a 400 naming every problem", err)
	}
	ss, err := c.List(ctx)
	if err != nil || len(ss) != 1 || ss[0].ID != s.ID || ss[0].Matchers[0].String() != `product="checkout.orders.placed"` {
		t.Fatalf("list: %+v, %v", ss, err)
	}

	// The silence is in the Store: a new Manager knows it.
	m2 := newTestManager(t, clk, st, nil)
	if got := m2.Silences(); len(got) != 1 || got[0].ID != s.ID {
		t.Errorf("after restart: %+v", got)
	}

	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	resp, err := http.Get(srv.URL + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []AlertView
	err = json.NewDecoder(resp.Body).Decode(&alerts)
	resp.Body.Close()
	if err != nil || len(alerts) != 1 || alerts[0].Muted != MutedSilenced || alerts[0].SilencedBy[0] != s.ID {
		t.Errorf("/api/v1/alerts: %+v, %v", alerts, err)
	}

	if err := c.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, s.ID); !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("remove twice: %v, want ErrSilenceNotFound", err)
	}
	if ss, err := c.List(ctx); err != nil || len(ss) != 0 {
		t.Errorf("list after remove: %+v, %v", ss, err)
	}
}

// TestConsole checks the console's lines.
func TestConsole(t *testing.T) {
	var buf bytes.Buffer
	clk := newClock()
	m := newTestManager(t, clk, newTestStore(), nil, NewConsole(&buf))
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	step(t, m, clk, t0.Add(30*time.Second))
	m.Update(t0.Add(time.Minute), nil)
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	want := "2026-03-02T10:00:30Z FIRE PAGE checkout.orders.placed → #orders-data <!subteam^S123> [incident ID]\n" +
		"  firing   freshness: page · owner orders-team · objective 99.9% · current sli 99.53% · budget remaining 42% · burn rate 14.6× (1h) · 15.2× (5m) · time to exhaustion 2h 30m (new)\n" +
		"2026-03-02T10:05:30Z RESOLVE RESOLVED checkout.orders.placed → #orders-data [incident ID]\n" +
		"  resolved freshness: resolved · owner orders-team · objective 99.9% · current sli 99.53% · budget remaining 42% · burn rate 14.6× (1h) · 15.2× (5m) · time to exhaustion 2h 30m (resolved)\n"
	m.mu.Lock()
	id := fmt.Sprintf("%s-1", Fingerprint(map[string]string{"group": "#orders-data/orders-team/checkout.orders.placed"}))
	m.mu.Unlock()
	if got := strings.ReplaceAll(buf.String(), id, "ID"); got != want {
		t.Errorf("console:\n%s\nwant:\n%s", got, want)
	}
}

// TestNoLeak: the Slack token, the webhook URL and secret, and the
// Alertmanager URL's credentials appear in no message, log line or error,
// whatever fails.
func TestNoLeak(t *testing.T) {
	const (
		token      = "xoxb-LEAKCHECK-TOKEN-123"
		hookPath   = "/hooks/T000/B000/LEAKCHECKHOOKPATH"
		hookSecret = "LEAKCHECK-HMAC"
		amCreds    = "amuser:LEAKCHECK-AMPASS"
	)
	secrets := []string{token, "LEAKCHECK"}

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fs := newFakeSlack(t, token)
	fs.reply = func(method string, n int) (int, http.Header, string) {
		switch n {
		case 1:
			return http.StatusInternalServerError, nil, "boom " + token // a server echoing the token
		case 2:
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, ""
		}
		return 0, nil, ""
	}
	// A webhook and an Alertmanager nobody listens on: network errors.
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	wh := NewWebhook("http://"+dead+hookPath+"?token="+hookSecret, hookSecret)
	am := NewAlertmanager("http://" + amCreds + "@" + dead)
	// A webhook that answers 403.
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	defer forbidden.Close()
	wh403 := &namedNotifier{Notifier: NewWebhook(forbidden.URL+hookPath, hookSecret), name: "webhook-403"}

	clk := newClock()
	sl := NewSlack(SlackOptions{Token: token, APIURL: fs.URL + "/api/", Logger: logger, Now: clk.Now})
	m, err := New(testConfig(), Options{Logger: logger, Metrics: NewMetrics(prometheus.NewRegistry()), Store: newTestStore(), Now: clk.Now,
		Notifiers: []Notifier{sl, wh, am, wh403, NewConsole(&logs)}})
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	step(t, m, clk, t0.Add(30*time.Second))
	now := clk.Now()
	for range 8 {
		for _, n := range m.notifiers {
			m.deliver(context.Background(), n, now)
		}
		now = now.Add(2 * time.Second)
		clk.Set(now)
	}
	m.forward(context.Background(), m.forwarders[0], clk.Now())
	for _, n := range []Notifier{sl, wh, wh403} {
		if err := n.Notify(context.Background(), &Notification{Kind: KindChange, Channel: "#x"}, &Thread{Channel: "C1", TS: "1.2"}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := am.Forward(context.Background(), []Alert{{Labels: map[string]string{"a": "b"}}}); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) < 3 {
		t.Fatalf("want errors from the dead endpoints, got %q", errs)
	}
	printed := fmt.Sprintf("%v %+v %#v %v %+v %#v %+v", sl, wh, wh, am, am, SlackOptions{Token: token}, wh403)
	fs.mu.Lock()
	var bodies []string
	for _, b := range fs.raw {
		// The token travels in the form's token field, where it belongs.
		bodies = append(bodies, strings.ReplaceAll(b, "token="+token, "token=REDACTED"))
	}
	fs.mu.Unlock()
	if len(bodies) < 3 || !strings.Contains(logs.String(), "retrying") {
		t.Fatalf("the scenario did not run: %d Slack calls, logs:\n%s", len(bodies), logs.String())
	}
	for _, s := range secrets {
		for what, text := range map[string]string{
			"log": logs.String(), "errors": strings.Join(errs, "\n"), "printed": printed, "slack bodies": strings.Join(bodies, "\n"),
		} {
			if strings.Contains(text, s) {
				t.Errorf("%s contains %q:\n%s", what, s, text)
			}
		}
	}
}

// namedNotifier renames a notifier, to run two webhooks.
type namedNotifier struct {
	Notifier
	name string
}

func (n *namedNotifier) Name() string { return n.name }
