package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshwatch/meshwatch"
	statestore "github.com/meshwatch/meshwatch/internal/state"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// hangGuard bounds every wait on real time for something that must happen
// eventually, and every request to a local server: long enough that only a
// hang reaches it, however busy the machine.
const hangGuard = time.Minute

// lazy prints as what it returns, for WaitFor messages that must show the
// state at the deadline rather than at the call.
type lazy func() any

func (f lazy) String() string { return fmt.Sprint(f()) }

// t0 is the tests' epoch.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testStore is an in-memory Store that can be made to fail.
type testStore struct {
	*statestore.Mem
	mu   sync.Mutex
	fail error // returned by Put while set
	puts int
}

func newTestStore() *testStore { return &testStore{Mem: statestore.NewMem()} }

func (s *testStore) Put(ctx context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.puts++
	return s.Mem.Put(ctx, key, value)
}

// recorder is a Notifier that keeps what it is sent.
type recorder struct {
	mu   sync.Mutex
	name string
	got  []*Notification
	errs []error // returned by the next calls, in order
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Notify(_ context.Context, n *Notification, th *Thread) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
	if len(r.errs) > 0 {
		err := r.errs[0]
		r.errs = r.errs[1:]
		return err
	}
	th.TS = "done"
	return nil
}

func (r *recorder) take() []*Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// testConfig has two products: a tier-1 one owned by orders-team and a
// tier-3 one owned by a team without a channel.
func testConfig() *meshwatch.Config {
	return &meshwatch.Config{
		Cluster: meshwatch.Cluster{Name: "prod-eu"},
		Products: []meshwatch.Product{
			{
				Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team", Tier: 1,
				Topics: []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}},
			},
			{
				Name: "search.clicks.logged", Domain: "search", Owner: "search-team", Tier: 3,
				Topics: []meshwatch.TopicSelector{{Pattern: "^search\\.clicks\\..*$"}},
			},
		},
		Owners: map[string]meshwatch.Owner{
			"orders-team": {SlackChannel: "#orders-data", Mention: "<!subteam^S123>"},
			"search-team": {},
		},
	}
}

func ptr(v float64) *float64 { return &v }

// sloAlert is an SLO burn-rate alert of checkout.orders.placed.
func sloAlert(slo, sli, severity string) Alert {
	return Alert{
		Labels: map[string]string{
			LabelAlertname: NameSLOBurnRate, LabelProduct: "checkout.orders.placed",
			LabelSLO: slo, LabelSLI: sli, LabelSeverity: severity,
		},
		Annotations:      map[string]string{"summary": "The " + slo + " SLO burns its error budget fast."},
		Active:           true,
		State:            severity,
		Objective:        0.999,
		SLI:              ptr(0.9953),
		BudgetRemaining:  ptr(0.42),
		BurnRates:        []BurnRate{{"1h", 14.6}, {"5m", 15.2}},
		TimeToExhaustion: 2*time.Hour + 30*time.Minute,
		Window:           "28d",
		RunbookURL:       "https://runbooks.example.com/meshwatch/" + sli,
		DashboardURL:     "https://grafana.example.com/d/meshwatch-product?var-product=checkout.orders.placed",
	}
}

// newTestManager returns a Manager on the fake clock with the notifiers.
func newTestManager(t *testing.T, clk *fakeClock, st Store, reg prometheus.Registerer, ns ...Notifier) *Manager {
	t.Helper()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := New(testConfig(), Options{
		Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(reg),
		Store: st, Now: clk.Now, Notifiers: ns,
		Routing: Routing{DefaultChannel: "#data-alerts"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// step moves the clock to at, dispatches and delivers what is due.
func step(t *testing.T, m *Manager, clk *fakeClock, at time.Time) {
	t.Helper()
	clk.Set(at)
	m.dispatch(at)
	for _, n := range m.notifiers {
		m.deliver(context.Background(), n, at)
	}
}

// drain delivers n's outbox, moving the clock to each next attempt, at most
// max passes. It returns the passes' times.
func drain(t *testing.T, m *Manager, clk *fakeClock, n Notifier, maxPasses int) []time.Time {
	t.Helper()
	var times []time.Time
	now := clk.Now()
	for range maxPasses {
		times = append(times, now)
		next := m.deliver(context.Background(), n, now)
		if next.IsZero() {
			return times
		}
		now = next
		clk.Set(now)
	}
	t.Fatalf("outbox not drained after %d passes", maxPasses)
	return nil
}

func outboxLen(m *Manager) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.st.Outbox)
}

func counter(t *testing.T, m *Metrics, integration, outcome string) float64 {
	t.Helper()
	return testutil.ToFloat64(m.notifications.WithLabelValues(integration, outcome))
}

// slackRequest is one call the fake Slack received, as a golden file shows
// it: the method and the form, blocks decoded, the token left out.
type slackRequest struct {
	Method string            `json:"method"`
	Form   map[string]string `json:"form"`
	Blocks json.RawMessage   `json:"blocks,omitempty"`
}

// fakeSlack is an httptest Slack Web API. reply decides each response; by
// default every call succeeds.
type fakeSlack struct {
	*httptest.Server
	token string

	mu    sync.Mutex
	reqs  []slackRequest
	raw   []string // raw bodies, for the leak test
	ts    int
	reply func(method string, n int) (status int, header http.Header, body string)
	calls map[string]int
	times []time.Time
}

func newFakeSlack(t *testing.T, token string) *fakeSlack {
	f := &fakeSlack{token: token, calls: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	f.mu.Lock()
	f.raw = append(f.raw, string(body))
	f.times = append(f.times, time.Now())
	f.calls[method]++
	n := f.calls[method]
	if form.Get("token") != f.token {
		f.mu.Unlock()
		writeBody(w, 200, nil, `{"ok":false,"error":"invalid_auth"}`)
		return
	}
	req := slackRequest{Method: method, Form: map[string]string{}}
	for k := range form {
		switch k {
		case "token":
		case "blocks":
			var v any
			_ = json.Unmarshal([]byte(form.Get(k)), &v)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(v)
			req.Blocks = bytes.TrimSpace(buf.Bytes())
		default:
			req.Form[k] = form.Get(k)
		}
	}
	f.reqs = append(f.reqs, req)
	reply := f.reply
	f.mu.Unlock()
	if reply != nil {
		if status, h, b := reply(method, n); status != 0 {
			writeBody(w, status, h, b)
			return
		}
	}
	f.mu.Lock()
	channel := form.Get("channel")
	if strings.HasPrefix(channel, "#") {
		channel = "C" + strings.ToUpper(strings.TrimPrefix(channel, "#"))
	}
	ts := form.Get("ts")
	if method == "chat.postMessage" {
		f.ts++
		ts = fmt.Sprintf("1772445600.%06d", f.ts)
	}
	f.mu.Unlock()
	writeBody(w, 200, nil, fmt.Sprintf(`{"ok":true,"channel":%q,"ts":%q}`, channel, ts))
}

func writeBody(w http.ResponseWriter, status int, h http.Header, body string) {
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (f *fakeSlack) requests() []slackRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// roots counts the root messages posted: postMessage without thread_ts.
func (f *fakeSlack) roots() int {
	n := 0
	for _, r := range f.requests() {
		if r.Method == "chat.postMessage" && r.Form["thread_ts"] == "" {
			n++
		}
	}
	return n
}

func (f *fakeSlack) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.raw)
}

// golden compares got, as indented JSON, with testdata/name, or rewrites it
// with -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Slack's <url|text> links stay readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// newSlack returns a Slack notifier for f on clk.
func newSlackFor(f *fakeSlack, clk *fakeClock, logger *slog.Logger) *Slack {
	return NewSlack(SlackOptions{
		Token: meshwatch.Secret(f.token), APIURL: f.URL + "/api/", Now: clk.Now, Logger: logger,
		HTTPClient: &http.Client{Timeout: hangGuard},
	})
}

// runManager runs m until the returned stop, which cancels Run and checks
// that it returns, without error, within hangGuard.
func runManager(t *testing.T, m *Manager) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(hangGuard):
			t.Fatalf("Run did not stop within %v of cancel", hangGuard)
		}
	}
}
