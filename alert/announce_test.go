package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// summaryText is a chargeback summary as cmd/meshwatch announces it, with
// Slack's control characters in it.
const summaryText = "Kafka chargeback for all teams, February 2026: 1234.56 EUR\n• checkout.orders.placed: 1000.00 EUR\n• search.clicks.logged <!channel> & co: 234.56 EUR\n"

func chargeback(channel string) Announcement {
	return Announcement{Kind: "chargeback", Channel: channel, Text: summaryText}
}

// announced is the request Slack gets for chargeback("#finops").
var announced = slackRequest{Method: "chat.postMessage", Form: map[string]string{
	"channel":      "#finops",
	"text":         "Kafka chargeback for all teams, February 2026: 1234.56 EUR\n• checkout.orders.placed: 1000.00 EUR\n• search.clicks.logged &lt;!channel&gt; &amp; co: 234.56 EUR\n",
	"unfurl_links": "false",
	"unfurl_media": "false",
}}

func announcements(t *testing.T, m *Metrics, integration, outcome string) float64 {
	t.Helper()
	return testutil.ToFloat64(m.announcements.WithLabelValues(integration, "chargeback", outcome))
}

// syncBuf is a bytes.Buffer safe for concurrent writes and reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAnnounceSlack: an announcement is posted once to its channel as a
// message of its own, its text escaped and its links not unfurled; the
// console prints it; a notifier that is no Announcer never sees it.
func TestAnnounceSlack(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	var console bytes.Buffer
	rec := &recorder{name: "webhook"}
	sl := newSlackFor(fs, clk, nil)
	reg := prometheus.NewRegistry()
	m := newTestManager(t, clk, newTestStore(), reg, sl, NewConsole(&console), rec)

	if err := m.Announce(context.Background(), chargeback("#finops")); err != nil {
		t.Fatal(err)
	}
	if n := outboxLen(m); n != 2 {
		t.Fatalf("outbox %d, want one entry for Slack and one for the console", n)
	}
	step(t, m, clk, t0)
	if diff := cmp.Diff([]slackRequest{announced}, fs.requests()); diff != "" {
		t.Errorf("Slack requests (-want +got):\n%s", diff)
	}
	want := "2026-03-02T10:00:00Z ANNOUNCE chargeback → #finops\n" +
		"  Kafka chargeback for all teams, February 2026: 1234.56 EUR\n" +
		"  • checkout.orders.placed: 1000.00 EUR\n" +
		"  • search.clicks.logged <!channel> & co: 234.56 EUR\n"
	if got := console.String(); got != want {
		t.Errorf("console:\n%s\nwant:\n%s", got, want)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("a notifier that is no Announcer got %d notifications", len(got))
	}
	if n := outboxLen(m); n != 0 {
		t.Errorf("outbox %d after delivery, want 0", n)
	}
	// Once: later passes post nothing, and nothing of it is left.
	step(t, m, clk, t0.Add(time.Hour))
	if n := fs.total(); n != 1 {
		t.Errorf("%d Slack calls, want 1", n)
	}
	m.mu.Lock()
	threads := len(m.st.Threads)
	m.mu.Unlock()
	if threads != 0 {
		t.Errorf("%d threads kept after the announcement", threads)
	}
	for _, c := range []struct {
		integration string
		got, want   float64
	}{
		{"slack", announcements(t, m.metrics, "slack", OutcomeSuccess), 1},
		{"console", announcements(t, m.metrics, "console", OutcomeSuccess), 1},
		{"slack", counter(t, m.metrics, "slack", OutcomeSuccess), 1},
		{"slack", testutil.ToFloat64(sl.metrics.slackRequests.WithLabelValues("chat.postMessage", slackOK)), 1},
		{"webhook", counter(t, m.metrics, "webhook", OutcomeSuccess), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.integration, c.got, c.want)
		}
	}
}

// TestAnnounceRetries: a 503, then a 429 with Retry-After: 3, then
// success: the announcement is posted with the same payload each time,
// after the backoff and the Retry-After, and delivered exactly once.
func TestAnnounceRetries(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(method string, n int) (int, http.Header, string) {
		switch n {
		case 1:
			return http.StatusServiceUnavailable, nil, "<html>down " + testToken + "</html>" // a server echoing the token
		case 2:
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"3"}}, `{"ok":false,"error":"ratelimited"}`
		}
		return 0, nil, ""
	}
	clk := newClock()
	var logs syncBuf
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sl := newSlackFor(fs, clk, log)
	m, err := New(testConfig(), Options{Logger: log, Store: newTestStore(), Now: clk.Now, Notifiers: []Notifier{sl}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Announce(context.Background(), chargeback("#finops")); err != nil {
		t.Fatal(err)
	}
	times := drain(t, m, clk, sl, 10)
	if out := logs.String(); !strings.Contains(out, "retrying") || strings.Contains(out, testToken) || strings.Contains(out, "Kafka chargeback") {
		t.Errorf("the log does not tell of the retries, or shows the token or the text:\n%s", out)
	}
	if diff := cmp.Diff([]slackRequest{announced, announced, announced}, fs.requests()); diff != "" {
		t.Fatalf("Slack requests (-want +got):\n%s", diff)
	}
	want := []time.Duration{0, time.Second, 4 * time.Second}
	for i, at := range times {
		if d := at.Sub(times[0]); i >= len(want) || d != want[i] {
			t.Errorf("attempt %d at +%v, want %v", i+1, d, want)
		}
	}
	if outboxLen(m) != 0 {
		t.Error("outbox not empty")
	}
	for outcome, want := range map[string]float64{OutcomeRetry: 1, OutcomeRateLimited: 1, OutcomeSuccess: 1, OutcomeFailed: 0} {
		if got := announcements(t, m.metrics, "slack", outcome); got != want {
			t.Errorf("announcements %s: %v, want %v", outcome, got, want)
		}
		if got := counter(t, m.metrics, "slack", outcome); got != want {
			t.Errorf("notifications %s: %v, want %v", outcome, got, want)
		}
	}
	for result, want := range map[string]float64{slackServerError: 1, slackRateLimited: 1, slackOK: 1} {
		if got := testutil.ToFloat64(sl.metrics.slackRequests.WithLabelValues("chat.postMessage", result)); got != want {
			t.Errorf("slack requests %s: %v, want %v", result, got, want)
		}
	}
}

// TestAnnounceSurvivesOutage: Slack is down when the announcement is made
// and the agent restarts; the next Manager on the Store posts it once, and
// the one after that posts nothing.
func TestAnnounceSurvivesOutage(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	var down sync.Mutex
	isDown := true
	fs.reply = func(method string, n int) (int, http.Header, string) {
		down.Lock()
		defer down.Unlock()
		if isDown {
			return http.StatusBadGateway, nil, "bad gateway"
		}
		return 0, nil, ""
	}
	clk := newClock()
	st := newTestStore()
	m1 := newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))
	if err := m1.Announce(context.Background(), chargeback("#finops")); err != nil {
		t.Fatal(err)
	}
	// Saved at once: a crash before the first attempt loses nothing.
	if n := outboxLen(newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))); n != 1 {
		t.Fatalf("the Store holds %d entries right after Announce, want the announcement", n)
	}
	m1.deliver(context.Background(), m1.notifiers[0], t0)
	clk.Set(t0.Add(time.Second))
	m1.deliver(context.Background(), m1.notifiers[0], t0.Add(time.Second))
	if fs.total() != 2 || outboxLen(m1) != 1 {
		t.Fatalf("during the outage: %d calls, outbox %d; want 2 and the announcement kept", fs.total(), outboxLen(m1))
	}
	// The process stops here.

	down.Lock()
	isDown = false
	down.Unlock()
	clk.Set(t0.Add(time.Minute))
	m2 := newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))
	if outboxLen(m2) != 1 {
		t.Fatalf("after the restart the outbox holds %d, want the announcement", outboxLen(m2))
	}
	drain(t, m2, clk, m2.notifiers[0], 5)
	m3 := newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))
	drain(t, m3, clk, m3.notifiers[0], 5)
	if diff := cmp.Diff([]slackRequest{announced, announced, announced}, fs.requests()); diff != "" {
		t.Errorf("Slack requests (-want +got):\n%s", diff)
	}
}

// TestAnnounceNotDuplicated: an announcement with the Key of one still
// waiting is not queued again, and one whose post is recorded is not
// posted again.
func TestAnnounceNotDuplicated(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), nil, sl)
	a := chargeback("#finops")
	a.Key = "month/2026-02/finance"
	for range 2 {
		if err := m.Announce(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if n := outboxLen(m); n != 1 {
		t.Fatalf("outbox %d after announcing one Key twice, want 1", n)
	}
	drain(t, m, clk, sl, 5)
	if n := fs.total(); n != 1 {
		t.Fatalf("%d posts, want 1", n)
	}

	// A thread that records the post: nothing is posted.
	n := &Notification{Kind: KindAnnounce, Incident: "announce-x", Channel: "#finops", Note: "again", Time: t0}
	th := Thread{Channel: "CFINOPS", TS: "1772445600.000001"}
	if err := sl.Notify(context.Background(), n, &th); err != nil || fs.total() != 1 {
		t.Errorf("Notify with the post recorded: %v, %d calls; want nil and no call", err, fs.total())
	}
	// Delivered, the Key may be announced anew (next month's close).
	clk.Set(t0.Add(time.Hour))
	if err := m.Announce(context.Background(), a); err != nil || outboxLen(m) != 1 {
		t.Errorf("Announce after delivery: %v, outbox %d; want queued", err, outboxLen(m))
	}
}

// TestAnnouncePacing: announcements and an incident for one channel at
// one instant are posted a second apart, each once.
func TestAnnouncePacing(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), nil, sl)
	m.Update(t0.Add(-30*time.Second), []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	m.dispatch(t0)
	for _, text := range []string{"one", "two"} {
		if err := m.Announce(context.Background(), Announcement{Kind: "notice", Channel: "#orders-data", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	times := drain(t, m, clk, sl, 10)
	if fs.total() != 3 {
		t.Fatalf("%d posts, want 3", fs.total())
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d != time.Second {
			t.Errorf("passes at %v, want a second apart", times)
			break
		}
	}
	var texts []string
	for _, r := range fs.requests()[1:] {
		texts = append(texts, r.Form["text"])
	}
	if !cmp.Equal(texts, []string{"one", "two"}) {
		t.Errorf("announcements posted %q, want one then two", texts)
	}
}

// TestAnnouncePermanentFailure: channel_not_found drops the announcement
// after one call, counted as failed and logged without its text or the
// token.
func TestAnnouncePermanentFailure(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(string, int) (int, http.Header, string) {
		return http.StatusOK, nil, `{"ok":false,"error":"channel_not_found"}`
	}
	clk := newClock()
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sl := newSlackFor(fs, clk, log)
	m, err := New(testConfig(), Options{Logger: log, Store: newTestStore(), Now: clk.Now, Notifiers: []Notifier{sl}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Announce(context.Background(), chargeback("#finops")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m.deliver(context.Background(), sl, t0.Add(time.Duration(i)*time.Minute))
	}
	if fs.total() != 1 || outboxLen(m) != 0 {
		t.Fatalf("%d calls, outbox %d; want 1 call and dropped", fs.total(), outboxLen(m))
	}
	if got := announcements(t, m.metrics, "slack", OutcomeFailed); got != 1 {
		t.Errorf("failed: %v, want 1", got)
	}
	m.mu.Lock()
	threads := len(m.st.Threads)
	m.mu.Unlock()
	if threads != 0 {
		t.Errorf("%d threads kept", threads)
	}
	out := logs.String()
	if !strings.Contains(out, "channel_not_found") {
		t.Errorf("the failure is not logged:\n%s", out)
	}
	for _, s := range []string{testToken, "Kafka chargeback", "checkout.orders.placed: 1000"} {
		if strings.Contains(out, s) {
			t.Errorf("the log shows %q:\n%s", s, out)
		}
	}
}

// TestAnnounceExpires: an announcement undeliverable for MaxAge is
// dropped as expired.
func TestAnnounceExpires(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(string, int) (int, http.Header, string) { return http.StatusInternalServerError, nil, "" }
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), nil, sl)
	if err := m.Announce(context.Background(), chargeback("#finops")); err != nil {
		t.Fatal(err)
	}
	m.deliver(context.Background(), sl, t0)
	m.deliver(context.Background(), sl, t0.Add(25*time.Hour))
	if fs.total() != 1 || outboxLen(m) != 0 || announcements(t, m.metrics, "slack", OutcomeExpired) != 1 {
		t.Errorf("%d calls, outbox %d, expired %v; want 1, 0, 1", fs.total(), outboxLen(m), announcements(t, m.metrics, "slack", OutcomeExpired))
	}
}

// TestAnnounceErrors: what Announce refuses, with errors that hold
// neither the text nor the channel.
func TestAnnounceErrors(t *testing.T) {
	clk := newClock()
	none := newTestManager(t, clk, newTestStore(), nil, &recorder{name: "webhook"})
	if err := none.Announce(context.Background(), chargeback("#finops")); !errors.Is(err, ErrNoAnnouncer) {
		t.Errorf("without an Announcer: %v, want ErrNoAnnouncer", err)
	}
	if outboxLen(none) != 0 {
		t.Error("queued without an Announcer")
	}

	m := newTestManager(t, clk, newTestStore(), nil, NewConsole(io.Discard))
	long := chargeback("#finops")
	long.Text = strings.Repeat("x", maxAnnouncementBytes+1)
	for name, a := range map[string]Announcement{
		"no kind":        {Channel: "#finops", Text: summaryText},
		"kind of a user": {Kind: "Charge back!", Channel: "#finops", Text: summaryText},
		"long kind":      {Kind: strings.Repeat("k", 33), Channel: "#finops", Text: summaryText},
		"no channel":     {Kind: "chargeback", Text: summaryText},
		"bad channel":    {Kind: "chargeback", Channel: "finops secret-channel", Text: summaryText},
		"no text":        {Kind: "chargeback", Channel: "#finops"},
		"too long":       long,
	} {
		err := m.Announce(context.Background(), a)
		if err == nil {
			t.Errorf("%s: queued", name)
			continue
		}
		if strings.Contains(err.Error(), "Kafka chargeback") || strings.Contains(err.Error(), "secret-channel") {
			t.Errorf("%s: the error shows the announcement: %v", name, err)
		}
	}
	if outboxLen(m) != 0 {
		t.Errorf("outbox %d after refusals", outboxLen(m))
	}
}

// TestAnnounceShard: with shards, an announcement is kept in the state of
// the shard it names, and the Manager that takes that shard over posts it;
// a shard the Manager does not own is refused.
func TestAnnounceShard(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(string, int) (int, http.Header, string) { return http.StatusInternalServerError, nil, "" }
	clk := newClock()
	st := newTestStore()
	sharded := func(shards ...string) *Manager {
		m, err := New(testConfig(), Options{
			Store: st, Now: clk.Now, Notifiers: []Notifier{newSlackFor(fs, clk, nil)},
			Shard: func(*Alert) string { return "p0" }, Shards: shards,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m1 := sharded("p0", "cost")
	a := chargeback("#finops")
	a.Shard = "p1"
	if err := m1.Announce(context.Background(), a); err == nil {
		t.Error("an announcement for a shard not owned was queued")
	}
	a.Shard = "cost"
	if err := m1.Announce(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	b, ok, err := st.Get(context.Background(), StateKey+"/cost")
	if err != nil || !ok {
		t.Fatalf("state of the cost shard: %v, %v", ok, err)
	}
	var saved state
	if err := json.Unmarshal(b, &saved); err != nil || len(saved.Outbox) != 1 || saved.Outbox[0].N.Kind != KindAnnounce {
		t.Fatalf("state of the cost shard holds %+v (%v), want the announcement", saved.Outbox, err)
	}

	fs.reply = nil
	m2 := sharded("cost")
	drain(t, m2, clk, m2.notifiers[0], 5)
	if diff := cmp.Diff([]slackRequest{announced}, fs.requests()); diff != "" {
		t.Errorf("Slack requests (-want +got):\n%s", diff)
	}
	if m3 := sharded("p0"); outboxLen(m3) != 0 {
		t.Errorf("the p0 shard holds %d entries, want none", outboxLen(m3))
	}
}

// TestRunAnnounce runs the Manager for real. Once an incident's root
// message is delivered (the delivery loop idles), an announcement made
// while Slack answers 503 is posted once Slack is back, without waiting
// for any alert, and Run stops cleanly. The waits only bound a hang.
func TestRunAnnounce(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(method string, n int) (int, http.Header, string) {
		if n == 2 {
			return http.StatusServiceUnavailable, nil, ""
		}
		return 0, nil, ""
	}
	sl := NewSlack(SlackOptions{Token: testToken, APIURL: fs.URL + "/api", HTTPClient: &http.Client{Timeout: hangGuard}})
	var logs syncBuf
	m, err := New(testConfig(), Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Store:  newTestStore(), Notifiers: []Notifier{sl},
		Routing: Routing{GroupWait: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runManager(t, m)
	m.Update(time.Now(), []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	kafkatest.WaitFor(t, hangGuard, func() bool { return fs.total() == 1 && outboxLen(m) == 0 }, "the incident's root message")
	if err := m.Announce(context.Background(), chargeback("#finops")); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, hangGuard, func() bool { return outboxLen(m) == 0 }, "the announcement delivered (%v Slack calls)", lazy(func() any { return fs.total() }))
	stop()
	if diff := cmp.Diff([]slackRequest{announced, announced}, fs.requests()[1:]); diff != "" {
		t.Errorf("Slack requests after the root (-want +got):\n%s", diff)
	}
	for _, s := range []string{testToken, "Kafka chargeback"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log shows %q:\n%s", s, logs.String())
		}
	}
}

// announcingRecorder is a recorder that takes announcements.
type announcingRecorder struct{ *recorder }

func (announcingRecorder) Announces() bool { return true }

// TestAnnounceOnlyToAnnouncers: an announcement queued for an integration
// that, after a restart, no longer posts announcements is dropped, not
// sent to it.
func TestAnnounceOnlyToAnnouncers(t *testing.T) {
	clk := newClock()
	st := newTestStore()
	m1 := newTestManager(t, clk, st, nil, announcingRecorder{&recorder{name: "webhook"}})
	if err := m1.Announce(context.Background(), chargeback("#finops")); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{name: "webhook"}
	m2 := newTestManager(t, clk, st, nil, rec)
	if outboxLen(m2) != 1 {
		t.Fatalf("outbox %d after the restart, want the announcement", outboxLen(m2))
	}
	m2.deliver(context.Background(), rec, t0)
	if got := rec.take(); len(got) != 0 || outboxLen(m2) != 0 || announcements(t, m2.metrics, "webhook", OutcomeDropped) != 1 {
		t.Errorf("sent %d, outbox %d, dropped %v; want 0, 0, 1", len(got), outboxLen(m2), announcements(t, m2.metrics, "webhook", OutcomeDropped))
	}
}
