package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/state"
)

// fakeSlack is a Slack Web API that accepts chat.postMessage and
// chat.update and remembers every call.
type fakeSlack struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []slackCall
	ts    int
}

type slackCall struct {
	Method, Channel, TS, Text, Blocks string
	Thread                            bool // a reply in a thread
	At                                time.Time
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		method := strings.TrimPrefix(r.URL.Path, "/")
		f.mu.Lock()
		c := slackCall{Method: method, Channel: r.PostForm.Get("channel"), TS: r.PostForm.Get("ts"),
			Text: r.PostForm.Get("text"), Blocks: r.PostForm.Get("blocks"), Thread: r.PostForm.Get("thread_ts") != "", At: time.Now()}
		if method == "chat.postMessage" && r.PostForm.Get("thread_ts") == "" {
			f.ts++
			c.TS = fmt.Sprintf("1790000000.%06d", f.ts)
		} else if method == "chat.postMessage" {
			c.TS = r.PostForm.Get("thread_ts")
		}
		f.calls = append(f.calls, c)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// roots returns the root messages posted, by channel.
func (f *fakeSlack) roots() map[string]slackCall {
	out := map[string]slackCall{}
	for _, c := range f.snapshot() {
		if c.Method == "chat.postMessage" && !c.Thread {
			out[c.Channel] = c
		}
	}
	return out
}

func (f *fakeSlack) snapshot() []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slackCall(nil), f.calls...)
}

// TestAgentTellsTheOwnerInSlack runs the whole agent against kfake and a fake
// Slack: a product falls silent and the owner's channel gets one message;
// a silence posted through the API is told in the incident's thread; the
// product resumes and the same message turns resolved. No token appears in
// any message or log line.
func TestAgentTellsTheOwnerInSlack(t *testing.T) {
	const (
		topic   = "logistics.parcels.scanned"
		token   = "xoxb-test-0123456789-secret"
		channel = "#logistics-data"
	)
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, topic, 2, 1, nil)
	slack := newFakeSlack(t)
	cfg := &meshwatch.Config{
		Products: []meshwatch.Product{{
			Name: topic, Domain: "logistics", Owner: "logistics-team", Tier: 1,
			Topics: []meshwatch.TopicSelector{{Name: topic}},
			SLOs: []meshwatch.SLO{{
				Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Second),
				Objective: 0.99, MinEvents: 1 << 30, // no burn-rate alert from seconds of data
			}},
		}},
		Owners: map[string]meshwatch.Owner{"logistics-team": {SlackChannel: channel, Mention: "<!subteam^S0LOG>"}},
	}
	set := &config.Config{Config: cfg,
		Kafka: config.Kafka{Brokers: kc.Addrs()},
		HTTP:  config.HTTP{Listen: "127.0.0.1:0", APITokenFile: writeTokenFile(t)},
		State: state.Config{Dir: t.TempDir()},
		Alerting: &alert.Config{
			Slack:         &alert.SlackConfig{Token: token, APIURL: slack.srv.URL + "/"},
			GroupWait:     meshwatch.Duration(100 * time.Millisecond),
			GroupInterval: meshwatch.Duration(200 * time.Millisecond),
		}}
	if err := validateSettings(set); err != nil {
		t.Fatal(err)
	}
	const tick = 200 * time.Millisecond
	set.Collector.Tick = meshwatch.Duration(tick) // faster than a config may tick
	set.Lag.Interval = meshwatch.Duration(tick)

	var logs syncBuffer
	app, err := NewApp(set, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), AppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- app.Run(ctx) }()

	// Produce every 50 ms while "producing" is set.
	var producing sync.Mutex
	on := true
	setOn := func(v bool) { producing.Lock(); on = v; producing.Unlock() }
	isOn := func() bool { producing.Lock(); defer producing.Unlock(); return on }
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		kc.ProduceEvery(ctx, 50*time.Millisecond, func() *kgo.Record {
			if !isOn() {
				return nil
			}
			return &kgo.Record{Topic: topic, Value: []byte(`{"parcel":"p-1"}`), Timestamp: time.Now()}
		})
	}()
	kafkatest.WaitFor(t, 15*time.Second, func() bool {
		st, ok := app.Collector().Status(topic)
		return ok && st.Ticked && !st.Silent && st.Freshness < time.Second
	}, "the product never became fresh")
	if calls := slack.snapshot(); len(calls) != 0 {
		t.Fatalf("Slack was called while the product was healthy: %+v", calls)
	}

	// Silence: one root message in the owner's channel, naming the product.
	setOn(false)
	silentAt := time.Now()
	var root slackCall
	kafkatest.WaitFor(t, 20*time.Second, func() bool {
		for _, c := range slack.snapshot() {
			if c.Method == "chat.postMessage" && c.Channel == channel {
				root = c
				return true
			}
		}
		return false
	}, "the owner's channel never heard of the silent product")
	// Reported as a benchmark-style figure, not asserted: freshness
	// threshold (1s) + 2 ticks + group_wait bounds it in principle.
	t.Logf("silent → Slack message in %v (threshold 1s, tick %v, group_wait 100ms)", root.At.Sub(silentAt).Round(time.Millisecond), tick)
	if !strings.Contains(root.Text, topic) || !strings.Contains(root.Blocks, topic) {
		t.Errorf("root message does not name the product: text %q", root.Text)
	}
	if !strings.Contains(root.Text+root.Blocks, "<!subteam^S0LOG>") {
		t.Errorf("a tier-1 page does not mention the owner: %q", root.Text)
	}

	// A silence of the product, by an authenticated caller, is told in
	// the incident's thread: who, until when, why. Its comment cannot
	// ping the channel.
	code, body := apiCall(t, nil, http.MethodPost, "http://"+app.Addr()+"/api/v1/silences", testToken,
		`{"matchers":[{"name":"product","value":"`+topic+`"}],"duration":"2h","created_by":"alice","comment":"scanner firmware update <!channel>"}`)
	if code != http.StatusCreated {
		t.Fatalf("adding a silence with the token: %d %s", code, body)
	}
	var note slackCall
	kafkatest.WaitFor(t, 20*time.Second, func() bool {
		for _, c := range slack.snapshot() {
			if c.Method == "chat.postMessage" && c.Thread && c.TS == root.TS && strings.Contains(c.Text, "Silenced by") {
				note = c
				return true
			}
		}
		return false
	}, "the silence never showed up in the incident's thread")
	for _, want := range []string{"alice", "token ci-bot", "until", "scanner firmware update", "&lt;!channel&gt;"} {
		if !strings.Contains(note.Text, want) {
			t.Errorf("the thread note %q does not say %q", note.Text, want)
		}
	}
	if strings.Contains(note.Text, "<!channel>") {
		t.Errorf("the thread note pings the channel: %q", note.Text)
	}

	// Resume: the same message is updated to resolved; no second root.
	setOn(true)
	kafkatest.WaitFor(t, 20*time.Second, func() bool {
		for _, c := range slack.snapshot() {
			if c.Method == "chat.update" && c.TS == root.TS && strings.Contains(c.Text, "RESOLVED") {
				return true
			}
		}
		return false
	}, "the message never turned resolved after the product resumed")
	roots := 0
	for _, c := range slack.snapshot() {
		if c.Method == "chat.postMessage" && c.TS != root.TS {
			roots++
		}
		if strings.Contains(c.Text+c.Blocks, token) {
			t.Errorf("the bot token appears in a Slack %s", c.Method)
		}
	}
	if roots != 0 {
		t.Errorf("%d more root messages; want the one incident updated in place", roots)
	}

	// The API shows the SLO and the alert history.
	base := "http://" + app.Addr()
	if code, body := get(t, base+"/api/v1/slos?product="+topic); code != http.StatusOK || !strings.Contains(body, `"slo": "freshness"`) && !strings.Contains(body, `"slo":"freshness"`) {
		t.Errorf("/api/v1/slos = %d %s", code, body)
	}

	cancel()
	select {
	case err := <-runDone:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(shutdownTimeout + 2*time.Second):
		t.Fatal("the agent did not stop within its shutdown timeout")
	}
	<-prodDone
	if strings.Contains(logs.String(), token) {
		t.Error("the bot token appears in the log")
	}
}

// TestChargebackSummaryIsAnnounced: a chargeback summary goes through the
// alert manager's outbox to the owner's channel, or the finance channel,
// with its text as the cost package renders it; without a channel, or
// without an integration that posts it, it is logged instead.
func TestChargebackSummaryIsAnnounced(t *testing.T) {
	const token = "xoxb-test-summary-0123456789"
	slack := newFakeSlack(t)
	cfg := &meshwatch.Config{
		Owners: map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders-data"}, "quiet-team": {}},
	}
	total, err := cost.ParseMoney("12.34")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	summary := func(owner string, finance bool) cost.Summary {
		return cost.Summary{Period: "month", From: from, To: from.AddDate(0, 1, 0), Owner: owner, Finance: finance,
			Currency: "EUR", Total: total, Lines: []cost.SummaryLine{{Product: "checkout.orders.placed", Cost: total}}}
	}
	for _, tc := range []struct {
		name     string
		alerting *alert.Config
		s        cost.Summary
		channel  string // "" when it is logged
	}{
		{"the owner's channel", &alert.Config{Slack: &alert.SlackConfig{Token: token, APIURL: slack.srv.URL + "/"}}, summary("orders-team", false), "#orders-data"},
		{"the finance channel", &alert.Config{FinanceChannel: "#finops", Slack: &alert.SlackConfig{Token: token, APIURL: slack.srv.URL + "/"}}, summary("", true), "#finops"},
		{"no finance channel", &alert.Config{Slack: &alert.SlackConfig{Token: token, APIURL: slack.srv.URL + "/"}}, summary("", true), ""},
		{"an owner without a channel", &alert.Config{Slack: &alert.SlackConfig{Token: token, APIURL: slack.srv.URL + "/"}}, summary("quiet-team", false), ""},
		{"no alerting section", nil, summary("orders-team", false), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			a := &App{cfg: cfg, set: &config.Config{Config: cfg, Alerting: tc.alerting}, log: log}
			m, err := alert.New(cfg, alert.Options{Logger: log, Notifiers: a.notifiers(AppOptions{}, nil)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			before := len(slack.snapshot())
			a.summary(m, tc.s)
			if tc.channel != "" {
				kafkatest.WaitFor(t, time.Minute, func() bool { return len(slack.snapshot()) > before }, "the summary was not posted")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			calls := slack.snapshot()[before:]
			if tc.channel == "" {
				if len(calls) != 0 || !strings.Contains(logs.String(), "chargeback summary (no Slack channel to send it to)") {
					t.Errorf("posted %+v; log:\n%s", calls, logs.String())
				}
				return
			}
			if len(calls) != 1 || calls[0].Method != "chat.postMessage" || calls[0].Channel != tc.channel || calls[0].Text != tc.s.Text() || calls[0].Thread {
				t.Errorf("posted %+v, want one message to %s with the summary's text %q", calls, tc.channel, tc.s.Text())
			}
			if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), "Kafka chargeback") {
				t.Errorf("the log shows the token or the summary:\n%s", logs.String())
			}
		})
	}
}

// validateSettings applies the defaults to a configuration built in code
// and checks it as the loader checks a file.
func validateSettings(set *config.Config) error {
	set.SetDefaults()
	return set.Validate().Err()
}
