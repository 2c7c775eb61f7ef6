package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshwatch/meshwatch"
	statestore "github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/internal/webauth"
)

// kinds returns the kinds of ns and, for each, the titles and changes of
// its alerts.
func summary(ns []*Notification) []string {
	var out []string
	for _, n := range ns {
		s := n.Kind + ":"
		for _, a := range n.Alerts {
			s += " " + a.title() + "/" + a.Status
			if a.Change != "" {
				s += "/" + a.Change
			}
		}
		out = append(out, s)
	}
	return out
}

func wantNotifications(t *testing.T, rec *recorder, at string, want ...string) {
	t.Helper()
	got := summary(rec.take())
	if len(got) != len(want) {
		t.Fatalf("%s: got notifications %q, want %q", at, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got notifications %q, want %q", at, got, want)
		}
	}
}

// TestGroupTimings follows Alertmanager's group_wait, group_interval and
// repeat_interval on a fake clock.
func TestGroupTimings(t *testing.T) {
	clk := newClock()
	rec := &recorder{name: "rec"}
	m := newTestManager(t, clk, newTestStore(), nil, rec)
	fresh := sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)
	lat := sloAlert("latency", meshwatch.SLILatency, SeverityTicket)

	m.Update(t0, []Alert{fresh})
	step(t, m, clk, t0.Add(29*time.Second))
	wantNotifications(t, rec, "before group_wait")
	step(t, m, clk, t0.Add(30*time.Second))
	wantNotifications(t, rec, "at group_wait", "fire: freshness/firing/new")

	// A second alert joins: it waits for the group_interval tick.
	m.Update(t0.Add(time.Minute), []Alert{fresh, lat})
	step(t, m, clk, t0.Add(time.Minute))
	step(t, m, clk, t0.Add(5*time.Minute+29*time.Second))
	wantNotifications(t, rec, "before group_interval")
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	wantNotifications(t, rec, "at group_interval", "change: freshness/firing latency/firing/new")

	// Nothing changes: nothing is sent until repeat_interval has passed
	// since the last notification.
	last := t0.Add(5*time.Minute + 30*time.Second)
	for at := last.Add(5 * time.Minute); at.Before(last.Add(4 * time.Hour)); at = at.Add(5 * time.Minute) {
		m.Update(at, []Alert{fresh, lat})
		step(t, m, clk, at)
	}
	wantNotifications(t, rec, "before repeat_interval")
	m.Update(last.Add(4*time.Hour), []Alert{fresh, lat})
	step(t, m, clk, last.Add(4*time.Hour))
	wantNotifications(t, rec, "at repeat_interval", "repeat: freshness/firing latency/firing")

	// A state change of the same alert is a change.
	exhausted := fresh
	exhausted.State = "exhausted"
	at := last.Add(4*time.Hour + time.Minute)
	m.Update(at, []Alert{exhausted, lat})
	step(t, m, clk, last.Add(4*time.Hour+5*time.Minute))
	wantNotifications(t, rec, "state change", "change: freshness/firing/changed latency/firing")

	// Everything resolves: the resolve goes out at the next tick, then
	// the group is gone and a new alert waits group_wait again.
	at = last.Add(4*time.Hour + 6*time.Minute)
	m.Update(at, nil)
	step(t, m, clk, last.Add(4*time.Hour+10*time.Minute))
	wantNotifications(t, rec, "resolve", "resolve: freshness/resolved/resolved latency/resolved/resolved")
	if len(m.groups) != 0 {
		t.Fatalf("groups after resolve: %d, want 0", len(m.groups))
	}
	at = last.Add(4*time.Hour + 11*time.Minute)
	m.Update(at, []Alert{fresh})
	step(t, m, clk, at.Add(29*time.Second))
	wantNotifications(t, rec, "new incident before group_wait")
	step(t, m, clk, at.Add(30*time.Second))
	got := rec.take()
	if len(got) != 1 || got[0].Kind != KindFire {
		t.Fatalf("new incident: got %q, want one fire", summary(got))
	}
}

// TestLifecycleFor checks pending → firing after For, and that a pending
// alert that goes away is never notified.
func TestLifecycleFor(t *testing.T) {
	clk := newClock()
	rec := &recorder{name: "rec"}
	m := newTestManager(t, clk, newTestStore(), nil, rec)
	a := sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)
	a.For = 2 * time.Minute

	m.Update(t0, []Alert{a})
	if got := m.Alerts()[0].Status; got != StatusPending {
		t.Fatalf("status %q, want pending", got)
	}
	step(t, m, clk, t0.Add(time.Minute))
	m.Update(t0.Add(time.Minute), nil) // gone while pending
	step(t, m, clk, t0.Add(10*time.Minute))
	wantNotifications(t, rec, "pending then gone")
	if n := len(m.Alerts()); n != 0 {
		t.Fatalf("alerts after a pending one went away: %d", n)
	}

	start := t0.Add(20 * time.Minute)
	m.Update(start, []Alert{a})
	m.Update(start.Add(time.Minute), []Alert{a})
	step(t, m, clk, start.Add(time.Minute))
	m.Update(start.Add(2*time.Minute), []Alert{a})
	v := m.Alerts()[0]
	if v.Status != StatusFiring || !v.StartsAt.Equal(start) {
		t.Fatalf("after For: status %q starts %v, want firing from %v", v.Status, v.StartsAt, start)
	}
	step(t, m, clk, start.Add(2*time.Minute+29*time.Second))
	wantNotifications(t, rec, "group_wait counts from firing")
	step(t, m, clk, start.Add(2*time.Minute+30*time.Second))
	wantNotifications(t, rec, "fired", "fire: freshness/firing/new")

	// Active false means absent.
	off := a
	off.Active = false
	m.Update(start.Add(3*time.Minute), []Alert{off})
	step(t, m, clk, start.Add(7*time.Minute+30*time.Second))
	wantNotifications(t, rec, "resolved", "resolve: freshness/resolved/resolved")
}

// TestRouting covers owner channels, the tier rule, the ticket channel, the
// default channel and route overrides.
func TestRouting(t *testing.T) {
	owners := testConfig().Owners
	page1 := Alert{Labels: map[string]string{LabelSeverity: SeverityPage, LabelProduct: "p"}, Owner: "orders-team", Tier: 1}
	ticket1 := Alert{Labels: map[string]string{LabelSeverity: SeverityTicket, LabelProduct: "p"}, Owner: "orders-team", Tier: 1}
	page3 := Alert{Labels: map[string]string{LabelSeverity: SeverityPage, LabelProduct: "q"}, Owner: "orders-team", Tier: 3}
	noChannel := Alert{Labels: map[string]string{LabelSeverity: SeverityPage}, Owner: "search-team", Tier: 1}
	tests := []struct {
		name    string
		routing Routing
		a       Alert
		want    target
	}{
		{"tier 1 page mentions", Routing{}, page1, target{Channel: "#orders-data", Mention: "<!subteam^S123>", Page: true}},
		{"tier 1 ticket does not", Routing{}, ticket1, target{Channel: "#orders-data"}},
		{"tier 3 page is a ticket", Routing{}, page3, target{Channel: "#orders-data"}},
		{"ticket channel", Routing{TicketChannel: "#tickets"}, page3, target{Channel: "#tickets"}},
		{"ticket channel leaves pages", Routing{TicketChannel: "#tickets"}, page1, target{Channel: "#orders-data", Mention: "<!subteam^S123>", Page: true}},
		{"default channel", Routing{DefaultChannel: "#data-alerts"}, noChannel, target{Channel: "#data-alerts", Page: true}},
		{"route override", Routing{Routes: []Route{
			{Match: map[string]string{"product": "q"}, Channel: "#never"},
			{Match: map[string]string{"owner": "orders-team", "urgency": "page"}, Channel: "#oncall", Mention: "<@U1>", GroupWait: time.Second},
		}}, page1, target{Channel: "#oncall", Mention: "<@U1>", Page: true, timings: timings{time.Second, DefaultGroupInterval, DefaultRepeatInterval}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.routing.route(&tt.a, owners)
			if tt.want.timings == (timings{}) {
				tt.want.timings = timings{DefaultGroupWait, DefaultGroupInterval, DefaultRepeatInterval}
			}
			if got != tt.want {
				t.Errorf("route = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestInhibition: a firing ProductUnavailable mutes the product's
// freshness, latency and lag alerts, not its other alerts nor other
// products'.
func TestInhibition(t *testing.T) {
	clk := newClock()
	rec := &recorder{name: "rec"}
	reg := prometheus.NewRegistry()
	m := newTestManager(t, clk, newTestStore(), reg, rec)
	unavailable := Alert{Active: true, State: "unavailable", Labels: map[string]string{
		LabelAlertname: NameProductUnavailable, LabelProduct: "checkout.orders.placed", LabelSLI: meshwatch.SLIAvailability, LabelSeverity: SeverityPage,
	}}
	lag := Alert{Active: true, State: "STOP", Labels: map[string]string{
		LabelAlertname: NameConsumerLag, LabelProduct: "checkout.orders.placed", LabelGroup: "fraud-detector", LabelSLI: meshwatch.SLILag, LabelSeverity: SeverityPage,
	}}
	other := sloAlert("freshness", meshwatch.SLIFreshness, SeverityTicket)
	other.Labels[LabelProduct] = "search.clicks.logged"
	alerts := []Alert{
		unavailable, lag, other,
		sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage),
		sloAlert("latency", meshwatch.SLILatency, SeverityPage),
		sloAlert("validity", meshwatch.SLIValidity, SeverityTicket),
	}
	m.Update(t0, alerts)
	step(t, m, clk, t0.Add(30*time.Second))
	got := summary(rec.take())
	want := []string{
		"fire: freshness/firing/new", // search.clicks.logged, in #data-alerts
		"fire: ProductUnavailable/firing/new validity/firing/new",
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("notifications %q, want %q", got, want)
	}
	if v := testutil.ToFloat64(m.metrics.muted.WithLabelValues(MutedInhibited)); v != 3 {
		t.Errorf("meshwatch_alerts_muted{reason=inhibited} = %v, want 3", v)
	}
	muted := map[string]string{}
	for _, v := range m.Alerts() {
		muted[v.Labels[LabelSLI]+"/"+v.Product] = v.Muted
	}
	if muted["lag/checkout.orders.placed"] != MutedInhibited || muted["validity/checkout.orders.placed"] != "" {
		t.Errorf("muted in /api/v1/alerts: %v", muted)
	}

	// The product comes back: its still-firing alerts are notified.
	m.Update(t0.Add(time.Minute), alerts[1:])
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	got = summary(rec.take())
	want = []string{"change: freshness/firing/new lag of fraud-detector/firing/new latency/firing/new validity/firing ProductUnavailable/resolved/resolved"}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("after recovery %q, want %q", got, want)
	}
}

// TestSilence: a silence keeps a new alert out of incidents; removing it
// lets the alert through at the next tick.
func TestSilence(t *testing.T) {
	clk := newClock()
	rec := &recorder{name: "rec"}
	m := newTestManager(t, clk, newTestStore(), nil, rec)
	ctx := context.Background()
	s, err := m.AddSilence(ctx, SilenceRequest{
		Matchers: []Matcher{{Name: LabelProduct, Value: "checkout.orders.placed"}, {Name: LabelSLO, Op: OpRegex, Value: "fresh.*"}},
		Duration: "1h", CreatedBy: "ops@example.com", Comment: "maintenance",
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage), sloAlert("latency", meshwatch.SLILatency, SeverityPage)})
	step(t, m, clk, t0.Add(30*time.Second))
	wantNotifications(t, rec, "silenced", "fire: latency/firing/new")
	for _, v := range m.Alerts() {
		if v.SLO == "freshness" && (v.Muted != MutedSilenced || len(v.SilencedBy) != 1 || v.SilencedBy[0] != s.ID) {
			t.Errorf("freshness: muted %q by %v, want silenced by %s", v.Muted, v.SilencedBy, s.ID)
		}
	}
	if err := m.RemoveSilence(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	wantNotifications(t, rec, "unsilenced", "change: freshness/firing/new latency/firing")
	if err := m.RemoveSilence(ctx, s.ID); !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("second remove: %v, want ErrSilenceNotFound", err)
	}
}

// TestSilenceExpires: a silence stops muting at its end.
func TestSilenceExpires(t *testing.T) {
	clk := newClock()
	rec := &recorder{name: "rec"}
	m := newTestManager(t, clk, newTestStore(), nil, rec)
	if _, err := m.AddSilence(context.Background(), SilenceRequest{
		Matchers:  []Matcher{{Name: LabelProduct, Value: "checkout.orders.placed"}},
		ExpiresAt: t0.Add(2 * time.Minute), CreatedBy: "ops", Comment: "deploy",
	}); err != nil {
		t.Fatal(err)
	}
	a := sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)
	m.Update(t0, []Alert{a})
	step(t, m, clk, t0.Add(30*time.Second))
	wantNotifications(t, rec, "silenced")
	m.Update(t0.Add(5*time.Minute), []Alert{a})
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	wantNotifications(t, rec, "expired", "fire: freshness/firing/new")
	if n := len(m.Silences()); n != 0 {
		t.Errorf("silences after expiry: %d", n)
	}
}

func TestSilenceValidation(t *testing.T) {
	now := t0
	tests := []struct {
		name string
		req  SilenceRequest
	}{
		{"no matchers", SilenceRequest{Duration: "1h", CreatedBy: "a", Comment: "c"}},
		{"matches everything", SilenceRequest{Matchers: []Matcher{{Name: "x", Op: OpRegex, Value: ".*"}}, Duration: "1h", CreatedBy: "a", Comment: "c"}},
		{"bad regex", SilenceRequest{Matchers: []Matcher{{Name: "x", Op: OpRegex, Value: "("}}, Duration: "1h", CreatedBy: "a", Comment: "c"}},
		{"no end", SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, CreatedBy: "a", Comment: "c"}},
		{"ends before start", SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, ExpiresAt: now.Add(-time.Hour), CreatedBy: "a", Comment: "c"}},
		{"too long", SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, Duration: "365d", CreatedBy: "a", Comment: "c"}},
		// 106752 days × 24 h overflows int64 nanoseconds into a negative
		// duration, 213504 days into a short positive one: refused before
		// the multiplication, not wrapped around.
		{"days overflow", SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, Duration: "106752d", CreatedBy: "a", Comment: "c"}},
		{"days overflow to a short one", SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, Duration: "213504d", CreatedBy: "a", Comment: "c"}},
		{"too many matchers", SilenceRequest{Matchers: manyMatchers(MaxSilenceMatchers + 1), Duration: "1h", CreatedBy: "a", Comment: "c"}},
		{"too large", SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, Duration: "1h", CreatedBy: "a", Comment: strings.Repeat("c", MaxSilenceBytes)}},
		{"no author", SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, Duration: "1h", Comment: "c"}},
		{"no comment", SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, Duration: "1h", CreatedBy: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.req.silence(now, nil, webauth.Caller{}); err == nil {
				t.Error("accepted, want an error")
			}
		})
	}
	s, err := (&SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, Duration: "2d", CreatedBy: "a", Comment: "c"}).silence(now, nil, webauth.Caller{})
	if err != nil || !s.EndsAt.Equal(now.Add(48*time.Hour)) {
		t.Errorf("2d silence: %v, ends %v", err, s)
	}
	if _, err := (&SilenceRequest{Matchers: []Matcher{{Name: "x", Value: "y"}}, Duration: "90d", CreatedBy: "a", Comment: "c"}).silence(now, nil, webauth.Caller{}); err != nil {
		t.Errorf("90d silence: %v, want it accepted", err)
	}
	if _, err := (&SilenceRequest{Matchers: manyMatchers(MaxSilenceMatchers), Duration: "1h", CreatedBy: "a", Comment: "c"}).silence(now, nil, webauth.Caller{}); err != nil {
		t.Errorf("%d matchers: %v, want them accepted", MaxSilenceMatchers, err)
	}
}

func manyMatchers(n int) []Matcher {
	out := make([]Matcher, n)
	for i := range out {
		out[i] = Matcher{Name: fmt.Sprintf("l%d", i), Value: "v"}
	}
	return out
}

// TestSilenceLimits: at most Options.MaxSilences are in force or to come; the next
// is refused with ErrTooManySilences (409 over HTTP), and an expired one
// makes room again. A body over the request limit is a 413.
func TestSilenceLimits(t *testing.T) {
	clk := newClock()
	const limit = 5
	m, err := New(testConfig(), Options{Store: newTestStore(), Now: clk.Now, MaxSilences: limit})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := func(d string) SilenceRequest {
		return SilenceRequest{Matchers: []Matcher{{Name: "product", Value: "checkout.orders.placed"}}, Duration: d, CreatedBy: "a", Comment: "c"}
	}
	if _, err := m.AddSilence(ctx, req("1m")); err != nil {
		t.Fatal(err)
	}
	for range limit - 1 {
		if _, err := m.AddSilence(ctx, req("1h")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.AddSilence(ctx, req("1h")); !errors.Is(err, ErrTooManySilences) {
		t.Fatalf("silence %d: %v, want ErrTooManySilences", limit+1, err)
	}
	srv := httptest.NewServer(m.SilencesHandler())
	defer srv.Close()
	body, _ := json.Marshal(req("1h"))
	resp, err := http.Post(srv.URL+"/api/v1/silences", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("POST over the limit: %d, want 409", resp.StatusCode)
	}
	big := `{"matchers":[{"name":"product","value":"p"}],"duration":"1h","created_by":"a","comment":"` + strings.Repeat("x", 70<<10) + `"}`
	resp, err = http.Post(srv.URL+"/api/v1/silences", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of 70 KiB: %d, want 413", resp.StatusCode)
	}
	// The first one expires: there is room for one more.
	clk.Set(t0.Add(2 * time.Minute))
	if _, err := m.AddSilence(ctx, req("1h")); err != nil {
		t.Errorf("after one expired: %v", err)
	}
}

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		in   string
		want Matcher
		ok   bool
	}{
		{"product=checkout.orders.placed", Matcher{Name: "product", Op: OpEqual, Value: "checkout.orders.placed"}, true},
		{`slo!="latency"`, Matcher{Name: "slo", Op: OpNotEqual, Value: "latency"}, true},
		{"product=~checkout\\..*", Matcher{Name: "product", Op: OpRegex, Value: "checkout\\..*"}, true},
		{"severity!~page|ticket", Matcher{Name: "severity", Op: OpNotRegex, Value: "page|ticket"}, true},
		{"=x", Matcher{}, false},
		{"product", Matcher{}, false},
		{"p=~(", Matcher{}, false},
	}
	for _, tt := range tests {
		got, err := ParseMatcher(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseMatcher(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (got.Name != tt.want.Name || got.Op != tt.want.Op || got.Value != tt.want.Value) {
			t.Errorf("ParseMatcher(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if tt.ok {
			back, err := ParseMatcher(got.String())
			if err != nil || back.Value != got.Value || back.Op != got.Op {
				t.Errorf("round trip of %q through %q: %+v, %v", tt.in, got.String(), back, err)
			}
		}
	}
}

// TestMetrics checks the firing gauge and the outbox depth.
func TestMetrics(t *testing.T) {
	clk := newClock()
	rec := &recorder{name: "rec", errs: []error{context.DeadlineExceeded}}
	reg := prometheus.NewRegistry()
	m := newTestManager(t, clk, newTestStore(), reg, rec)
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage), sloAlert("latency", meshwatch.SLILatency, SeverityTicket), sloAlert("validity", meshwatch.SLIValidity, SeverityTicket)})
	if v := testutil.ToFloat64(m.metrics.firing.WithLabelValues(SeverityTicket)); v != 2 {
		t.Errorf("meshwatch_alerts_firing{severity=ticket} = %v, want 2", v)
	}
	step(t, m, clk, t0.Add(30*time.Second))
	if v := testutil.ToFloat64(m.metrics.outbox.WithLabelValues("rec")); v != 1 {
		t.Errorf("outbox depth after a failed delivery = %v, want 1", v)
	}
	drain(t, m, clk, rec, 5)
	if v := testutil.ToFloat64(m.metrics.outbox.WithLabelValues("rec")); v != 0 {
		t.Errorf("outbox depth after delivery = %v, want 0", v)
	}
	if counter(t, m.metrics, "rec", OutcomeRetry) != 1 || counter(t, m.metrics, "rec", OutcomeSuccess) != 1 {
		t.Errorf("notifications: retry %v success %v, want 1 and 1", counter(t, m.metrics, "rec", OutcomeRetry), counter(t, m.metrics, "rec", OutcomeSuccess))
	}
	if n, err := testutil.GatherAndCount(reg, "meshwatch_alert_delivery_latency_seconds"); err != nil || n != 1 {
		t.Errorf("delivery latency series: %d, %v", n, err)
	}
	for _, name := range []string{
		"meshwatch_alert_notifications_total", "meshwatch_alerts_firing", "meshwatch_alerts_pending",
		"meshwatch_alerts_muted", "meshwatch_alert_incidents_open", "meshwatch_alert_outbox_depth",
		"meshwatch_alert_delivery_latency_seconds", "meshwatch_alert_silences_active",
		"meshwatch_alert_state_errors_total", "meshwatch_alert_slack_requests_total",
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
}

// TestCorruptState: an unreadable state is set aside, not a crash loop.
func TestCorruptState(t *testing.T) {
	st := newTestStore()
	_ = st.Put(context.Background(), StateKey, []byte("{not json"))
	m := newTestManager(t, newClock(), st, nil, &recorder{name: "rec"})
	if _, ok, _ := st.Get(context.Background(), StateKey+".corrupt"); !ok {
		t.Error("the unreadable state was not set aside")
	}
	if _, ok, _ := st.Get(context.Background(), StateKey); ok {
		t.Error("the unreadable state is still under its key")
	}
	if v := testutil.ToFloat64(m.metrics.stateErrors.WithLabelValues("load")); v != 1 {
		t.Errorf("state load errors = %v, want 1", v)
	}
}

// TestPersistFailure: a failed state save is counted, and the next persist
// writes the state.
func TestPersistFailure(t *testing.T) {
	ctx, clk, st := context.Background(), newClock(), newTestStore()
	m := newTestManager(t, clk, st, nil, &recorder{name: "rec"})
	st.fail = errors.New("store down")
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	clk.Set(t0.Add(time.Hour))
	if !m.dispatch(clk.Now()) {
		t.Fatal("nothing enqueued")
	}
	m.persist(ctx)
	if v := testutil.ToFloat64(m.metrics.stateErrors.WithLabelValues("save")); v != 1 {
		t.Errorf("state save errors = %v, want 1", v)
	}
	if _, ok, _ := st.Get(ctx, StateKey); ok || st.puts != 0 {
		t.Fatalf("state written by a failing store (%d puts)", st.puts)
	}
	st.fail = nil
	m.persist(ctx)
	if _, ok, _ := st.Get(ctx, StateKey); !ok || st.puts != 1 {
		t.Errorf("state not written on the next persist (%d puts)", st.puts)
	}
}

// TestRestartHoldsIncidents: a Manager that starts on a Store with an open
// incident keeps it open and silent until its conditions are known again,
// and resolves an alert only once an update knows it no longer holds.
func TestRestartHoldsIncidents(t *testing.T) {
	clk := newClock()
	st := newTestStore()
	fresh := sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)
	lat := sloAlert("latency", meshwatch.SLILatency, SeverityPage)
	rec1 := &recorder{name: "rec"}
	m1 := newTestManager(t, clk, st, nil, rec1)
	m1.Update(t0, []Alert{fresh, lat})
	step(t, m1, clk, t0.Add(30*time.Second))
	wantNotifications(t, rec1, "first agent", "fire: freshness/firing/new latency/firing/new")
	m1.persist(context.Background())

	// The restart: nothing is known of either condition yet.
	start := t0.Add(time.Minute)
	clk.Set(start)
	reg := prometheus.NewRegistry()
	rec := &recorder{name: "rec"}
	m := newTestManager(t, clk, st, reg, rec)
	unknownAll := func(*Alert) bool { return true }
	if got := testutil.ToFloat64(m.metrics.unknown); got != 2 {
		t.Errorf("meshwatch_alerts_unknown after the restart = %v, want 2", got)
	}
	step(t, m, clk, start.Add(time.Second))
	for at := start.Add(10 * time.Second); at.Before(start.Add(5 * time.Hour)); at = at.Add(5 * time.Minute) {
		// Hours of unknown conditions, past repeat_interval: no resolve,
		// no repeat, no new incident.
		m.UpdateKnown(at, nil, unknownAll)
		step(t, m, clk, at)
	}
	wantNotifications(t, rec, "while nothing is known")
	if got := m.Alerts(); len(got) != 2 || got[0].Status != StatusFiring || !got[0].Unknown {
		t.Fatalf("alerts while unknown: %+v, want 2 firing and unknown", got)
	}

	// The sources speak: latency is known to have cleared, freshness is
	// known to fire still. The same incident changes, in place.
	at := start.Add(5 * time.Hour)
	m.UpdateKnown(at, []Alert{fresh}, func(*Alert) bool { return false })
	step(t, m, clk, at.Add(5*time.Minute))
	got := rec.take()
	if len(got) != 1 || got[0].Kind != KindChange || got[0].Incident != firstIncident(t, m1) {
		t.Fatalf("after the sources evaluated: %q, want one change of the same incident", summary(got))
	}
	if s := summary(got); s[0] != "change: freshness/firing latency/resolved/resolved" {
		t.Errorf("change = %q", s[0])
	}
	if got := testutil.ToFloat64(m.metrics.unknown); got != 0 {
		t.Errorf("meshwatch_alerts_unknown once known = %v, want 0", got)
	}
}

// firstIncident returns the ID of the one incident m1 opened.
func firstIncident(t *testing.T, m1 *Manager) string {
	t.Helper()
	m1.mu.Lock()
	defer m1.mu.Unlock()
	for _, inc := range m1.st.Incidents {
		return inc.ID
	}
	t.Fatal("the first agent has no open incident")
	return ""
}

// TestUnknownKeepsAlerts: a firing alert whose condition is unknown is kept
// (not resolved), a pending one keeps waiting for its For, and once known
// absent, each resolves or is forgotten as usual.
func TestUnknownKeepsAlerts(t *testing.T) {
	clk := newClock()
	rec := &recorder{name: "rec"}
	m := newTestManager(t, clk, newTestStore(), nil, rec)
	fresh := sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)
	slow := sloAlert("latency", meshwatch.SLILatency, SeverityPage)
	slow.For = 2 * time.Minute
	unknownLatency := func(a *Alert) bool { return a.Labels[LabelSLO] == "latency" }
	unknownFresh := func(a *Alert) bool { return a.Labels[LabelSLO] == "freshness" }

	m.Update(t0, []Alert{fresh, slow})
	step(t, m, clk, t0.Add(30*time.Second))
	wantNotifications(t, rec, "fire", "fire: freshness/firing/new")

	// Freshness becomes unknown: kept. Latency is known, still active.
	m.UpdateKnown(t0.Add(time.Minute), []Alert{slow}, unknownFresh)
	step(t, m, clk, t0.Add(6*time.Minute))
	wantNotifications(t, rec, "freshness unknown")
	// Latency becomes unknown while pending: it keeps its start and fires
	// when known again past its For.
	m.UpdateKnown(t0.Add(90*time.Second), []Alert{fresh}, unknownLatency)
	m.Update(t0.Add(3*time.Minute), []Alert{fresh, slow})
	step(t, m, clk, t0.Add(11*time.Minute))
	wantNotifications(t, rec, "latency fires", "change: freshness/firing latency/firing/new")
	// Known absent: both resolve.
	m.Update(t0.Add(12*time.Minute), nil)
	step(t, m, clk, t0.Add(16*time.Minute))
	wantNotifications(t, rec, "resolve", "resolve: freshness/resolved/resolved latency/resolved/resolved")
}

// TestDamagedStateFiles: a state file and a silences file that fail their
// checksum are set aside by the directory store; the Manager starts without
// them, counting both, instead of failing to start.
func TestDamagedStateFiles(t *testing.T) {
	d, err := statestore.NewDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{StateKey, SilencesKey} {
		if err := os.WriteFile(d.Path(key), []byte("meshwatch-state v1 crc32c=00000000 len=3\nabc"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := newTestManager(t, newClock(), d, nil, &recorder{name: "rec"})
	if got := testutil.ToFloat64(m.metrics.stateErrors.WithLabelValues("load")); got != 2 {
		t.Errorf("load errors = %v, want 2", got)
	}
	for _, key := range []string{StateKey, SilencesKey} {
		if matches, _ := filepath.Glob(d.Path(key) + ".corrupt-*"); len(matches) != 1 {
			t.Errorf("%s: %d files set aside, want 1", key, len(matches))
		}
	}
}
