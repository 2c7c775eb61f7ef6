package alert

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

const testToken = "xoxb-test-0000000000-abcdefTOKEN"

// TestSlackLifecycle: fire → one root; change → update + thread reply;
// resolve → update + reply. The payloads are golden.
func TestSlackLifecycle(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), nil, sl)
	fresh := sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)
	lag := Alert{Active: true, State: "STALL", Labels: map[string]string{
		LabelAlertname: NameConsumerLag, LabelProduct: "checkout.orders.placed", LabelGroup: "fraud-detector",
		LabelSLI: meshwatch.SLILag, LabelSeverity: SeverityTicket,
	}, Annotations: map[string]string{"description": "Consumer group fraud-detector is 4m behind and not moving."}}

	m.Update(t0, []Alert{fresh})
	step(t, m, clk, t0.Add(30*time.Second))
	if got := fs.requests(); len(got) != 1 || fs.roots() != 1 {
		t.Fatalf("fire: %d requests, %d roots; want 1 root", len(got), fs.roots())
	}
	golden(t, "slack_fire.json", fs.requests())

	m.Update(t0.Add(2*time.Minute), []Alert{fresh, lag})
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	change := fs.requests()[1:]
	if len(change) != 2 || change[0].Method != "chat.update" || change[1].Form["thread_ts"] == "" {
		t.Fatalf("change: %+v, want chat.update then a thread reply", change)
	}
	golden(t, "slack_change.json", change)

	m.Update(t0.Add(8*time.Minute), nil)
	step(t, m, clk, t0.Add(10*time.Minute+30*time.Second))
	resolve := fs.requests()[3:]
	if len(resolve) != 2 || resolve[0].Method != "chat.update" || resolve[1].Form["thread_ts"] == "" {
		t.Fatalf("resolve: %+v, want chat.update then a thread reply", resolve)
	}
	golden(t, "slack_resolve.json", resolve)
	if fs.roots() != 1 {
		t.Errorf("roots: %d, want 1", fs.roots())
	}
	for _, r := range fs.requests()[1:] {
		if ts := r.Form["ts"] + r.Form["thread_ts"]; ts != "1772445600.000001" {
			t.Errorf("%s on ts %q, want the root's", r.Method, ts)
		}
	}
	m.mu.Lock()
	threads := len(m.st.Threads)
	m.mu.Unlock()
	if threads != 0 {
		t.Errorf("threads kept after the resolve: %d", threads)
	}
}

// TestSlackRestart: a new Manager on the same Store finds the open
// incident's root message; it posts no second root and updates the first.
func TestSlackRestart(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	st := newTestStore()
	fresh := sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)

	m1 := newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))
	m1.Update(t0, []Alert{fresh})
	step(t, m1, clk, t0.Add(30*time.Second))
	m1.persist(context.Background())
	if fs.roots() != 1 {
		t.Fatalf("roots before restart: %d", fs.roots())
	}

	// Restart: same alerts, a new Manager and notifier.
	clk.Set(t0.Add(time.Minute))
	m2 := newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))
	m2.Update(t0.Add(time.Minute), []Alert{fresh})
	step(t, m2, clk, t0.Add(time.Minute+30*time.Second))
	step(t, m2, clk, t0.Add(6*time.Minute+30*time.Second))
	if n := fs.total(); n != 1 {
		t.Fatalf("after restart with nothing new: %d requests, want 1 (the first root)", n)
	}

	// A change after the restart updates the first root.
	lat := sloAlert("latency", meshwatch.SLILatency, SeverityPage)
	m2.Update(t0.Add(7*time.Minute), []Alert{fresh, lat})
	step(t, m2, clk, t0.Add(11*time.Minute+30*time.Second))
	reqs := fs.requests()
	if fs.roots() != 1 || len(reqs) != 3 || reqs[1].Method != "chat.update" || reqs[1].Form["ts"] != "1772445600.000001" {
		t.Fatalf("change after restart: roots %d, requests %+v", fs.roots(), reqs)
	}
}

// TestSlackRestartPending: a notification enqueued but not delivered
// before a restart is delivered once after it.
func TestSlackRestartPending(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	st := newTestStore()
	m1 := newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))
	m1.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	clk.Set(t0.Add(30 * time.Second))
	if !m1.dispatch(clk.Now()) {
		t.Fatal("nothing enqueued")
	}
	m1.persist(context.Background())
	// The process dies here: nothing was sent.

	m2 := newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))
	drain(t, m2, clk, m2.notifiers[0], 5)
	m2.persist(context.Background())
	m3 := newTestManager(t, clk, st, nil, newSlackFor(fs, clk, nil))
	drain(t, m3, clk, m3.notifiers[0], 5)
	if fs.roots() != 1 || fs.total() != 1 {
		t.Fatalf("roots %d, requests %d; want the one root once", fs.roots(), fs.total())
	}
}

// TestSlackRetryAfter: a 429 with Retry-After: 2 holds the message back
// for 2 s of the clock, then it is delivered.
func TestSlackRetryAfter(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(method string, n int) (int, http.Header, string) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}, `{"ok":false,"error":"ratelimited"}`
		}
		return 0, nil, ""
	}
	clk := newClock()
	reg := prometheus.NewRegistry()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), reg, sl)
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	start := t0.Add(30 * time.Second)
	step(t, m, clk, start)
	if fs.total() != 1 || outboxLen(m) != 1 {
		t.Fatalf("after the 429: %d calls, outbox %d", fs.total(), outboxLen(m))
	}
	next := m.deliver(context.Background(), sl, start.Add(1999*time.Millisecond))
	if fs.total() != 1 {
		t.Fatalf("retried %v after a Retry-After of 2s", 1999*time.Millisecond)
	}
	if d := next.Sub(start); d < 2*time.Second {
		t.Fatalf("next attempt %v after the 429, want ≥ 2s", d)
	}
	clk.Set(next)
	m.deliver(context.Background(), sl, next)
	if fs.total() != 2 || fs.roots() != 2 || outboxLen(m) != 0 {
		t.Fatalf("after 2s: %d calls, outbox %d; want delivered", fs.total(), outboxLen(m))
	}
	if counter(t, m.metrics, "slack", OutcomeRateLimited) != 1 || counter(t, m.metrics, "slack", OutcomeSuccess) != 1 {
		t.Error("want one rate_limited and one success")
	}
}

// TestSlackServerErrors: 500 three times then 200 → delivered exactly
// once, after growing backoffs.
func TestSlackServerErrors(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(method string, n int) (int, http.Header, string) {
		if n <= 3 {
			return http.StatusInternalServerError, nil, "<html>oops</html>"
		}
		return 0, nil, ""
	}
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), nil, sl)
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	clk.Set(t0.Add(30 * time.Second))
	m.dispatch(clk.Now())
	times := drain(t, m, clk, sl, 10)
	if fs.total() != 4 || outboxLen(m) != 0 {
		t.Fatalf("%d calls, outbox %d; want 4 calls and delivered", fs.total(), outboxLen(m))
	}
	want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
	for i, at := range times {
		if d := at.Sub(times[0]); d != want[i] {
			t.Errorf("attempt %d at +%v, want +%v", i+1, d, want[i])
		}
	}
	if counter(t, m.metrics, "slack", OutcomeRetry) != 3 || counter(t, m.metrics, "slack", OutcomeSuccess) != 1 {
		t.Error("want 3 retries and 1 success")
	}
	// Once: a later pass sends nothing.
	m.deliver(context.Background(), sl, clk.Now().Add(time.Hour))
	if fs.total() != 4 {
		t.Errorf("calls after delivery: %d", fs.total())
	}
}

// TestSlackChannelNotFound: a permanent error is not retried, and the
// incident's later notifications make no call.
func TestSlackChannelNotFound(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(method string, n int) (int, http.Header, string) {
		return http.StatusOK, nil, `{"ok":false,"error":"channel_not_found"}`
	}
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), nil, sl)
	fresh := sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)
	m.Update(t0, []Alert{fresh})
	step(t, m, clk, t0.Add(30*time.Second))
	m.Update(t0.Add(time.Minute), []Alert{fresh, sloAlert("latency", meshwatch.SLILatency, SeverityPage)})
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	m.Update(t0.Add(6*time.Minute), nil)
	step(t, m, clk, t0.Add(10*time.Minute+30*time.Second))
	for i := range 20 {
		m.deliver(context.Background(), sl, t0.Add(time.Duration(11+i)*time.Minute))
	}
	if n := fs.total(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
	if outboxLen(m) != 0 {
		t.Errorf("outbox %d, want empty", outboxLen(m))
	}
	if counter(t, m.metrics, "slack", OutcomeFailed) != 1 || counter(t, m.metrics, "slack", OutcomeDropped) != 2 {
		t.Errorf("failed %v dropped %v, want 1 and 2", counter(t, m.metrics, "slack", OutcomeFailed), counter(t, m.metrics, "slack", OutcomeDropped))
	}
}

// TestSlackPerChannelLimit: two incidents for one channel at one instant
// are posted a second apart.
func TestSlackPerChannelLimit(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), nil, sl)
	other := sloAlert("freshness", meshwatch.SLIFreshness, SeverityTicket)
	other.Product, other.Labels[LabelProduct] = "search.clicks.logged", "search.clicks.logged"
	other.Owner = "orders-team" // same channel, another group
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage), other})
	clk.Set(t0.Add(30 * time.Second))
	m.dispatch(clk.Now())
	times := drain(t, m, clk, sl, 5)
	if fs.total() != 2 || len(times) != 2 || times[1].Sub(times[0]) != time.Second {
		t.Fatalf("%d calls at %v, want 2 a second apart", fs.total(), times)
	}
}

// TestRunRetryAfter runs the Manager for real: a 429 with Retry-After: 2
// delays delivery by at least 2 s of wall time, then it is delivered and
// Run stops cleanly. Only the lower bound is timed; the waits bound a hang.
func TestRunRetryAfter(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	fs.reply = func(method string, n int) (int, http.Header, string) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}, `{"ok":false,"error":"ratelimited"}`
		}
		return 0, nil, ""
	}
	sl := NewSlack(SlackOptions{Token: testToken, APIURL: fs.URL + "/api", HTTPClient: &http.Client{Timeout: hangGuard}})
	m, err := New(testConfig(), Options{Store: newTestStore(), Notifiers: []Notifier{sl},
		Routing: Routing{GroupWait: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runManager(t, m)
	m.Update(time.Now(), []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	kafkatest.WaitFor(t, 2*time.Second+hangGuard, func() bool { return fs.total() >= 2 }, "delivery after the Retry-After")
	fs.mu.Lock()
	gap := fs.times[1].Sub(fs.times[0])
	fs.mu.Unlock()
	if gap < 2*time.Second {
		t.Errorf("retried after %v, want ≥ 2s", gap)
	}
	stop()
	if outboxLen(m) != 0 {
		t.Error("outbox not empty")
	}
	if n := fs.total(); n != 2 {
		t.Errorf("%d calls, want 2: the 429 and the delivery", n)
	}
}
