package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/webauth"
)

// asCaller returns a context carrying an authenticated caller, as the
// Guard puts it there.
func asCaller(name, method string) context.Context {
	return webauth.WithCaller(context.Background(), webauth.Caller{Name: name, Method: method, Remote: "192.0.2.7:40000"})
}

func mustMatchers(t *testing.T, ss ...string) []Matcher {
	t.Helper()
	out := make([]Matcher, len(ss))
	for i, s := range ss {
		m, err := ParseMatcher(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

// sloConfig is testConfig with SLOs: two SLO names, three SLI kinds.
func sloConfig() *meshwatch.Config {
	cfg := testConfig()
	cfg.Products[0].SLOs = []meshwatch.SLO{{Name: "freshness", SLI: meshwatch.SLIFreshness}, {Name: "latency", SLI: meshwatch.SLILatency}}
	cfg.Products[1].SLOs = []meshwatch.SLO{{Name: "freshness", SLI: meshwatch.SLIFreshness}}
	return cfg
}

// TestKnownValues: what the Manager knows of each label of its mesh.
func TestKnownValues(t *testing.T) {
	m, err := New(sloConfig(), Options{Store: newTestStore(), Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	other := Alert{Active: true, Labels: map[string]string{LabelAlertname: "SomeOtherAlert", LabelProduct: "checkout.orders.placed"}}
	m.Update(t0, []Alert{other})
	m.mu.Lock()
	got := m.knownValues()
	m.mu.Unlock()
	want := labelValues{
		LabelProduct:  {"checkout.orders.placed", "search.clicks.logged"},
		LabelSLO:      {"freshness", "latency"},
		LabelSLI:      {meshwatch.SLIFreshness, meshwatch.SLILatency, meshwatch.SLILag},
		LabelSeverity: {SeverityPage, SeverityTicket},
		LabelAlertname: {NameSLOBurnRate, NameSLOBudgetExhausted, NameSLONoData, NameConsumerLag,
			NameProductUnavailable, NameProductBlind, NameProductStale, NameCostBudget, NamePolicyViolation, "SomeOtherAlert"},
	}
	for label, vs := range want {
		if !slices.Equal(got[label], vs) {
			t.Errorf("%s: %q, want %q", label, got[label], vs)
		}
	}
	if len(got) != len(want) {
		t.Errorf("labels %v, want %v", got, want)
	}
}

// TestSilenceCatchAll: a silence whose every matcher accepts any value of
// its label is refused, with a message naming them; one bounded matcher
// makes the set acceptable.
func TestSilenceCatchAll(t *testing.T) {
	m, err := New(sloConfig(), Options{Store: newTestStore(), Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	known := m.knownValues()
	refused := [][]string{
		{`alertname=~".+"`},
		{`x=~".*"`},
		{`product!=""`},
		{`product!="foo"`},
		{`product!~"foo"`},
		{`alertname=~"\\S+"`},
		{`alertname=~"[^\\n]+"`},
		{`product=~"checkout.orders.placed|search.clicks.logged"`}, // both products known
		{`product=~"(checkout|search)\\..*"`},
		{`slo=~"freshness|latency"`},
		{`sli=~"freshness|latency|lag"`},
		{`severity=~"page|ticket"`},
		{`severity!="never"`},
		{`alertname=~".+"`, `slo!="x"`},
		{`product=~".+"`, `severity=~"page|ticket"`, `x=~".*"`},
	}
	for _, ms := range refused {
		r := SilenceRequest{Matchers: mustMatchers(t, ms...), Duration: "1h", CreatedBy: "ops", Comment: "c"}
		_, err := r.silence(t0, known, webauth.Caller{})
		if err == nil {
			t.Errorf("%s accepted, want it refused as a catch-all", ms)
			continue
		}
		if !strings.Contains(err.Error(), "would mute every alert") || !strings.Contains(err.Error(), strings.Join(matcherStrings(r.Matchers), ", ")) {
			t.Errorf("%s: %v, want a message naming the matchers", ms, err)
		}
	}
	_, err = (&SilenceRequest{Matchers: mustMatchers(t, `alertname=~".+"`), Duration: "1h", CreatedBy: "ops", Comment: "c"}).silence(t0, known, webauth.Caller{})
	want := `matchers: alertname=~".+" accepts every value of its label, so the silence would mute every alert: name what to mute with =, e.g. product="checkout.orders.placed"`
	if err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	_, err = (&SilenceRequest{Matchers: mustMatchers(t, `alertname=~".+"`, `slo!="x"`), Duration: "1h", CreatedBy: "ops", Comment: "c"}).silence(t0, known, webauth.Caller{})
	want = `matchers: alertname=~".+", slo!="x" each accept every value of their label, so the silence would mute every alert: name what to mute with =, e.g. product="checkout.orders.placed"`
	if err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	allowed := [][]string{
		{`product="checkout.orders.placed"`},
		{`product=~".+"`, `slo="latency"`},
		{`product=~"checkout.*"`},
		{`slo="freshness"`},
		{`severity="page"`},
		{`alertname!="SLOBurnRate"`, `product="search.clicks.logged"`},
		{`sli=~"freshness|latency"`},
		{`unknown_label="v"`},
	}
	for _, ms := range allowed {
		r := SilenceRequest{Matchers: mustMatchers(t, ms...), Duration: "1h", CreatedBy: "ops", Comment: "c"}
		if _, err := r.silence(t0, known, webauth.Caller{}); err != nil {
			t.Errorf("%s refused: %v", ms, err)
		}
	}

	// With one product, naming it is no catch-all, even as a regex: one
	// known value says nothing of the values to come.
	one := labelValues{LabelProduct: {"that-one"}}
	for _, ms := range []string{`product="that-one"`, `product=~"that-one"`, `product=~"that-.*"`} {
		r := SilenceRequest{Matchers: mustMatchers(t, ms), Duration: "1h", CreatedBy: "ops", Comment: "c"}
		if _, err := r.silence(t0, one, webauth.Caller{}); err != nil {
			t.Errorf("one product: %s refused: %v", ms, err)
		}
	}
	// An = matcher with a value is bounded whatever is known.
	twice := labelValues{LabelProduct: {"a", "a"}}
	if _, err := (&SilenceRequest{Matchers: mustMatchers(t, `product="a"`), Duration: "1h", CreatedBy: "ops", Comment: "c"}).silence(t0, twice, webauth.Caller{}); err != nil {
		t.Errorf(`product="a" refused: %v`, err)
	}
	// Without known values the probes still catch the catch-alls.
	r := SilenceRequest{Matchers: mustMatchers(t, `product=~".+"`), Duration: "1h", CreatedBy: "ops", Comment: "c"}
	if _, err := r.silence(t0, nil, webauth.Caller{}); err == nil || !strings.Contains(err.Error(), `e.g. product="<a product>"`) {
		t.Errorf("no known values: %v, want a catch-all refusal", err)
	}

	// Over the API: a 400 with the message.
	srv := httptest.NewServer(m.SilencesHandler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/v1/silences", "application/json",
		strings.NewReader(`{"matchers":[{"name":"alertname","op":"=~","value":".+"}],"duration":"1h","created_by":"ops","comment":"c"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ae apiError
	_ = json.NewDecoder(resp.Body).Decode(&ae)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(ae.Error, "would mute every alert") {
		t.Errorf("POST of a catch-all: %d %q, want 400 and the reason", resp.StatusCode, ae.Error)
	}
}

// TestMatcherRegexStaysAnchored: a regex that would close the anchoring
// group early ("a)|(b" reads as ^(?:a)|(b)$) is refused, not turned into
// a partial match.
func TestMatcherRegexStaysAnchored(t *testing.T) {
	for _, v := range []string{`x)|(?:`, `checkout)|(.*`, `a)(b`} {
		if m, err := ParseMatcher(`product=~"` + v + `"`); err == nil {
			t.Errorf("%q accepted: it matches %v of product=zzz", v, m.Matches(map[string]string{"product": "zzz"}))
		}
	}
	r := SilenceRequest{Matchers: []Matcher{{Name: "product", Op: OpRegex, Value: "checkout)|(search"}}, Duration: "1h", CreatedBy: "ops", Comment: "c"}
	if _, err := r.silence(t0, nil, webauth.Caller{}); err == nil {
		t.Error("a silence with checkout)|(search accepted")
	}
	// One made before the check still loads and mutes.
	st := newTestStore()
	old := `[{"id":"1","matchers":[{"name":"product","op":"=~","value":"checkout)|(search"}],"starts_at":"2026-03-02T09:00:00Z","ends_at":"2026-03-02T12:00:00Z","created_by":"ops","comment":"c"}]`
	if err := st.Put(context.Background(), SilencesKey, []byte(old)); err != nil {
		t.Fatal(err)
	}
	if mgr := newTestManager(t, newClock(), st, nil); len(mgr.Silences()) != 1 {
		t.Error("a stored silence with checkout)|(search was dropped")
	}
	m, err := ParseMatcher(`product=~"(checkout)|(search).*"`)
	if err != nil || m.Matches(map[string]string{"product": "checkout.orders.placed"}) || !m.Matches(map[string]string{"product": "checkout"}) {
		t.Errorf("a balanced alternation: %v, want it anchored as a whole", err)
	}
}

// TestSilenceCaller: created_by is required of an anonymous caller only;
// an authenticated one is recorded as such, and names the silence when it
// gives no created_by.
func TestSilenceCaller(t *testing.T) {
	r := SilenceRequest{Matchers: mustMatchers(t, `product="checkout.orders.placed"`), Duration: "1h", Comment: "deploy"}
	if _, err := r.silence(t0, nil, webauth.Caller{Remote: "192.0.2.7:1"}); err == nil || !strings.Contains(err.Error(), "created_by") {
		t.Errorf("anonymous without created_by: %v, want created_by required", err)
	}
	s, err := r.silence(t0, nil, webauth.Caller{Name: "ci-bot", Method: webauth.MethodToken})
	if err != nil || s.CreatedBy != "ci-bot" || s.AuthenticatedAs != "token ci-bot" {
		t.Errorf("token without created_by: %+v, %v; want created_by ci-bot, authenticated_as token ci-bot", s, err)
	}
	r.CreatedBy = "alice@example.com"
	s, err = r.silence(t0, nil, webauth.Caller{Name: "alice", Method: webauth.MethodBasic})
	if err != nil || s.CreatedBy != "alice@example.com" || s.AuthenticatedAs != "user alice" {
		t.Errorf("user with created_by: %+v, %v", s, err)
	}
	s, err = r.silence(t0, nil, webauth.Caller{})
	if err != nil || s.AuthenticatedAs != "" {
		t.Errorf("anonymous with created_by: %+v, %v; want no authenticated_as", s, err)
	}
	if b, _ := json.Marshal(s); strings.Contains(string(b), "authenticated_as") {
		t.Errorf("anonymous silence as JSON: %s, want no authenticated_as", b)
	}
}

// writeTokenFile writes an api_token_file with one named token.
func writeTokenFile(t *testing.T, name, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(name+" "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSilencesBehindGuard runs the API behind the real Guard: the client's
// token authenticates it, the silence and the log name the caller and its
// address, and the token appears in neither the log nor any error.
func TestSilencesBehindGuard(t *testing.T) {
	const token = "GUARDTOKEN-0123456789abcdef"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	clk := newClock()
	m, err := New(testConfig(), Options{Logger: logger, Store: newTestStore(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/silences", m.SilencesHandler())
	mux.Handle("/api/v1/silences/", m.SilencesHandler())
	srv := httptest.NewServer(webauth.NewGuard(mux, webauth.Options{TokenFile: writeTokenFile(t, "ci-bot", token)}))
	defer srv.Close()
	ctx := context.Background()
	req := SilenceRequest{Matchers: mustMatchers(t, `product="checkout.orders.placed"`), Duration: "2h", Comment: "broker upgrade"}

	_, err = (&SilenceClient{BaseURL: srv.URL}).Add(ctx, req)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "MESHWATCH_API_TOKEN") {
		t.Errorf("without a token: %v, want a 401 asking for credentials", err)
	}
	_, err = (&SilenceClient{BaseURL: srv.URL, Token: "WRONGTOKEN-0123456789"}).Add(ctx, req)
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "WRONGTOKEN") {
		t.Errorf("with a wrong token: %v, want a 401 without the token", err)
	}

	c := &SilenceClient{BaseURL: srv.URL, Token: token}
	s, err := c.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if s.CreatedBy != "ci-bot" || s.AuthenticatedAs != "token ci-bot" {
		t.Errorf("created_by %q authenticated_as %q, want ci-bot and token ci-bot", s.CreatedBy, s.AuthenticatedAs)
	}
	if ss, err := c.List(ctx); err != nil || len(ss) != 1 || ss[0].AuthenticatedAs != "token ci-bot" {
		t.Errorf("list: %+v, %v", ss, err)
	}
	if err := c.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}

	var added, removed map[string]any
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch rec["msg"] {
		case "silence added":
			added = rec
		case "silence removed":
			removed = rec
		}
	}
	if added == nil || removed == nil {
		t.Fatalf("no silence added and removed in the log:\n%s", logs.String())
	}
	for what, rec := range map[string]map[string]any{"added": added, "removed": removed} {
		remote, _ := rec["remote"].(string)
		if rec["silence"] != s.ID || rec["caller"] != "token ci-bot" || !strings.HasPrefix(remote, "127.0.0.1:") ||
			rec["created_by"] != "ci-bot" || rec["comment"] != "broker upgrade" {
			t.Errorf("silence %s logged as %v", what, rec)
		}
		if ms, _ := rec["matchers"].([]any); len(ms) != 1 || ms[0] != `product="checkout.orders.placed"` {
			t.Errorf("silence %s: matchers %v", what, rec["matchers"])
		}
	}
	if added["starts_at"] == nil || added["ends_at"] == nil {
		t.Errorf("silence added without its times: %v", added)
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), "WRONGTOKEN") {
		t.Errorf("the log holds a token:\n%s", logs.String())
	}

	// Writes disabled: the Guard's 403 and its message reach the user.
	off := httptest.NewServer(webauth.NewGuard(mux, webauth.Options{}))
	defer off.Close()
	_, err = (&SilenceClient{BaseURL: off.URL, Token: token}).Add(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "HTTP 403: writes are disabled") || errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), token) {
		t.Errorf("writes disabled: %v, want the agent's 403 message", err)
	}
}

// TestSilenceLogAnonymous: without a Guard the caller is anonymous, and
// the log still says where it came from.
func TestSilenceLogAnonymous(t *testing.T) {
	var logs bytes.Buffer
	m, err := New(testConfig(), Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Store: newTestStore(), Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.SilencesHandler())
	defer srv.Close()
	c := &SilenceClient{BaseURL: srv.URL}
	s, err := c.Add(context.Background(), SilenceRequest{Matchers: mustMatchers(t, `product="checkout.orders.placed"`), Duration: "1h", CreatedBy: "ops", Comment: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if s.AuthenticatedAs != "" {
		t.Errorf("authenticated_as %q for an anonymous caller", s.AuthenticatedAs)
	}
	if err := c.Remove(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] == "silence added" || rec["msg"] == "silence removed" {
			n++
			if remote, _ := rec["remote"].(string); rec["caller"] != "anonymous" || !strings.HasPrefix(remote, "127.0.0.1:") {
				t.Errorf("%s logged as %v, want anonymous from 127.0.0.1", rec["msg"], rec)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d silence log lines, want 2:\n%s", n, logs.String())
	}
}

// TestSilenceClientCredentials: the client sends its token or its basic
// credentials, and no error holds them, even from a server that echoes
// them back.
func TestSilenceClientCredentials(t *testing.T) {
	const (
		token = "ECHOTOKEN-0123456789abcdef"
		user  = "alice"
		pass  = "ECHOPASS-s3cret"
	)
	var gotAuth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		gotAuth = append(gotAuth, auth)
		u, p, _ := r.BasicAuth()
		_, cred, _ := strings.Cut(auth, " ")
		msg := "refused " + auth + " (" + u + ":" + p + ") cred=" + cred
		w.WriteHeader(http.StatusUnauthorized)
		if strings.Contains(r.URL.Path, "/plain") {
			_, _ = io.WriteString(w, msg)
			return
		}
		_ = json.NewEncoder(w).Encode(apiError{Error: msg})
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, c := range []*SilenceClient{
		{BaseURL: srv.URL, Token: token},
		{BaseURL: srv.URL, Username: user, Password: pass},
		{BaseURL: srv.URL + "/plain", Token: token},
		{BaseURL: srv.URL + "/plain", Username: user, Password: pass},
	} {
		_, err := c.List(ctx)
		if err == nil {
			t.Fatal("no error from a 401")
		}
		if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "HTTP 401") ||
			!strings.Contains(err.Error(), "give a token with MESHWATCH_API_TOKEN or -config") {
			t.Errorf("401: %v, want it to ask for credentials", err)
		}
		basic := strings.TrimPrefix(gotAuth[len(gotAuth)-1], "Basic ")
		for _, secret := range []string{token, pass, basic} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error holds a credential %q: %v", secret, err)
			}
		}
	}
	if gotAuth[0] != "Bearer "+token {
		t.Errorf("Authorization %q, want the bearer token", gotAuth[0])
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", gotAuth[1])
	if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
		t.Errorf("Authorization %q, want basic %s", gotAuth[1], user)
	}
}

// incidentOf returns a copy of the open incident of the group key.
func incidentOf(t *testing.T, m *Manager, key string) incident {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	inc := m.st.Incidents[key]
	if inc == nil {
		t.Fatalf("no open incident %s", key)
	}
	c := *inc
	c.Notified = make(map[string]Alert, len(inc.Notified))
	for fp, a := range inc.Notified {
		c.Notified[fp] = a
	}
	return c
}

const checkoutGroup = "#orders-data/orders-team/checkout.orders.placed"

// TestSilenceNotes: adding and removing a silence posts a note into the
// incidents whose notified alerts it matches, and only those; the
// incidents themselves do not change.
func TestSilenceNotes(t *testing.T) {
	clk := newClock()
	st := newTestStore()
	rec := &recorder{name: "rec"}
	m := newTestManager(t, clk, st, nil, rec)
	other := sloAlert("freshness", meshwatch.SLIFreshness, SeverityTicket)
	other.Labels[LabelProduct] = "search.clicks.logged"
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage), other})
	step(t, m, clk, t0.Add(30*time.Second))
	if got := rec.take(); len(got) != 2 {
		t.Fatalf("%d notifications, want the two incidents", len(got))
	}
	before := incidentOf(t, m, checkoutGroup)

	clk.Set(t0.Add(time.Minute))
	s, err := m.AddSilence(asCaller("ci-bot", webauth.MethodToken), SilenceRequest{
		Matchers: mustMatchers(t, `product="checkout.orders.placed"`, `slo="freshness"`),
		Duration: "2h", CreatedBy: "ops@example.com", Comment: "broker upgrade",
	})
	if err != nil {
		t.Fatal(err)
	}
	if outboxLen(m) != 1 {
		t.Fatalf("outbox %d after the silence, want one note", outboxLen(m))
	}
	if b, ok, _ := st.Get(context.Background(), StateKey); !ok || !strings.Contains(string(b), `"kind":"note"`) {
		t.Error("the note is not in the Store")
	}
	if len(m.wakeDeliver["rec"]) != 1 {
		t.Error("the delivery loop was not woken")
	}
	// A silence that matches no notified alert posts nothing.
	if _, err := m.AddSilence(context.Background(), SilenceRequest{
		Matchers: mustMatchers(t, `product="checkout.orders.placed"`, `slo="latency"`),
		Duration: "1h", CreatedBy: "ops", Comment: "nothing to tell",
	}); err != nil {
		t.Fatal(err)
	}
	if outboxLen(m) != 1 {
		t.Fatalf("outbox %d after a silence of nothing notified, want still one note", outboxLen(m))
	}
	drain(t, m, clk, rec, 3)
	got := rec.take()
	if len(got) != 1 {
		t.Fatalf("%d notifications, want one note", len(got))
	}
	n := got[0]
	want := `Silenced by ops@example.com (token ci-bot) until Mar 2 12:01 UTC (2h), reason: broker upgrade. Matchers: product="checkout.orders.placed", slo="freshness". Silence ` + s.ID + "."
	if n.Kind != KindNote || n.Note != want {
		t.Errorf("note %s %q,\nwant %q", n.Kind, n.Note, want)
	}
	if n.Incident != before.ID || n.GroupKey != checkoutGroup || n.Status != StatusFiring || n.Channel != "#orders-data" ||
		!n.Opened.Equal(before.Opened) || !n.Time.Equal(t0.Add(time.Minute)) || len(n.Alerts) != 0 || n.Page || n.Mention != "" {
		t.Errorf("note %+v", n)
	}
	after := incidentOf(t, m, checkoutGroup)
	if !after.LastNotified.Equal(before.LastNotified) || len(after.Notified) != len(before.Notified) {
		t.Errorf("the incident changed: last notified %v → %v, %d → %d alerts", before.LastNotified, after.LastNotified, len(before.Notified), len(after.Notified))
	}
	// Nothing else follows: the note is no change of the incident.
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	wantNotifications(t, rec, "after the note")

	clk.Set(t0.Add(10 * time.Minute))
	if err := m.RemoveSilence(asCaller("alice", webauth.MethodBasic), s.ID); err != nil {
		t.Fatal(err)
	}
	drain(t, m, clk, rec, 3)
	got = rec.take()
	want = "Silence " + s.ID + " (broker upgrade) removed by user alice: its alerts notify again."
	if len(got) != 1 || got[0].Kind != KindNote || got[0].Note != want || got[0].Incident != before.ID {
		t.Fatalf("after the remove: %+v, want the note %q", got, want)
	}
}

// TestSilenceNoteTexts: a silence to come says from when; an anonymous
// remove says so; what people typed is kept to one short line.
func TestSilenceNoteTexts(t *testing.T) {
	s := &Silence{
		ID: "0123456789abcdef", Matchers: mustMatchers(t, `product="checkout.orders.placed"`),
		StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(3*time.Hour + 30*time.Minute),
		CreatedBy: "ci-bot", AuthenticatedAs: "token ci-bot", Comment: "nightly\nreindex.",
	}
	want := `Silenced by ci-bot (token ci-bot) from Mar 2 11:00 UTC until Mar 2 13:30 UTC (2h 30m), reason: nightly reindex. Matchers: product="checkout.orders.placed". Silence 0123456789abcdef.`
	if got := silencedNote(s, t0); got != want {
		t.Errorf("silence to come:\n%q\nwant\n%q", got, want)
	}
	// Terminal escapes and bidirectional overrides do not reach a console
	// or a thread.
	s.Comment = "ok\x1b[31m red\u202egnirts\x00."
	if got := silencedNote(s, t0); !strings.Contains(got, "reason: ok [31m red gnirts. Matchers") {
		t.Errorf("control characters: %q", got)
	}
	s.AuthenticatedAs, s.Comment = "", strings.Repeat("long ", 100)
	got := silencedNote(s, t0.Add(time.Hour))
	if strings.Contains(got, "(token") || strings.Contains(got, " from ") || len([]rune(got)) > 400 || !strings.HasSuffix(got, "Silence 0123456789abcdef.") {
		t.Errorf("anonymous, long comment: %q", got)
	}
	want = "Silence 0123456789abcdef (" + strings.Repeat("long ", 39) + "long…) removed by an anonymous caller: its alerts notify again."
	if got := unsilencedNote(s, webauth.Caller{Remote: "192.0.2.7:1"}); got != want {
		t.Errorf("anonymous remove:\n%q\nwant\n%q", got, want)
	}
}

// TestSlackSilenceNote: a silence added to a Slack incident shows up as a
// reply in its thread, with the note's exact text, people's text escaped,
// no mention and no update of the root; its removal too.
func TestSlackSilenceNote(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	m := newTestManager(t, clk, newTestStore(), nil, sl)
	m.Update(t0, []Alert{sloAlert("freshness", meshwatch.SLIFreshness, SeverityPage)})
	step(t, m, clk, t0.Add(30*time.Second))
	if fs.roots() != 1 || fs.total() != 1 {
		t.Fatalf("fire: %d requests", fs.total())
	}

	clk.Set(t0.Add(time.Minute))
	s, err := m.AddSilence(asCaller("ci-bot", webauth.MethodToken), SilenceRequest{
		Matchers: mustMatchers(t, `product="checkout.orders.placed"`), Duration: "2h",
		CreatedBy: "ops <@U999>", Comment: "<!channel> deploy & rollback",
	})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, m, clk, sl, 5)
	clk.Set(t0.Add(2 * time.Minute))
	if err := m.RemoveSilence(asCaller("alice", webauth.MethodBasic), s.ID); err != nil {
		t.Fatal(err)
	}
	drain(t, m, clk, sl, 5)

	reqs := fs.requests()[1:]
	want := []string{
		`:no_bell: Silenced by ops &lt;@U999&gt; (token ci-bot) until Mar 2 12:01 UTC (2h), reason: &lt;!channel&gt; deploy &amp; rollback. Matchers: product="checkout.orders.placed". Silence ` + s.ID + ".",
		":bell: Silence " + s.ID + " (&lt;!channel&gt; deploy &amp; rollback) removed by user alice: its alerts notify again.",
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests after the fire, want %d replies: %+v", len(reqs), len(want), reqs)
	}
	for i, r := range reqs {
		if r.Method != "chat.postMessage" || r.Form["thread_ts"] != "1772445600.000001" || r.Form["channel"] != "CORDERS-DATA" || r.Blocks != nil {
			t.Errorf("note %d: %+v, want a plain reply in the root's thread", i, r)
		}
		if r.Form["text"] != want[i] {
			t.Errorf("note %d:\n%q\nwant\n%q", i, r.Form["text"], want[i])
		}
		if strings.Contains(r.Form["text"], "<!") || strings.Contains(r.Form["text"], "<@") {
			t.Errorf("note %d pings: %q", i, r.Form["text"])
		}
	}
}

// TestSlackNoteLimits: a note keeps the per-channel rate limit, and is not
// posted to an incident without a root message.
func TestSlackNoteLimits(t *testing.T) {
	fs := newFakeSlack(t, testToken)
	clk := newClock()
	sl := newSlackFor(fs, clk, nil)
	ctx := context.Background()
	n := &Notification{Kind: KindNote, Incident: "i-1", Channel: "#orders-data", Note: "Silenced by ops"}

	if err := sl.Notify(ctx, n, &Thread{}); err != nil || fs.total() != 0 {
		t.Fatalf("no root: %v, %d calls; want nothing posted and no error", err, fs.total())
	}
	th := &Thread{Channel: "C1", TS: "1772445600.000001"}
	if err := sl.Notify(ctx, n, th); err != nil {
		t.Fatal(err)
	}
	var ra *RetryAfterError
	if err := sl.Notify(ctx, n, th); !errors.As(err, &ra) || !errors.Is(err, errThrottled) || fs.total() != 1 {
		t.Fatalf("second note at once: %v, %d calls; want it held back", err, fs.total())
	}
	clk.Set(clk.Now().Add(ra.After))
	if err := sl.Notify(ctx, n, th); err != nil || fs.total() != 2 {
		t.Fatalf("after %v: %v, %d calls", ra.After, err, fs.total())
	}
	if got := fs.requests()[1].Form["text"]; got != ":no_bell: Silenced by ops" {
		t.Errorf("text %q", got)
	}
	if *th != (Thread{Channel: "C1", TS: "1772445600.000001"}) {
		t.Errorf("a note changed the thread: %+v", th)
	}

	// A note Slack refuses for good is dropped, not a permanent failure
	// that would silence the incident's own notifications.
	fs.reply = func(method string, n int) (int, http.Header, string) {
		return http.StatusOK, nil, `{"ok":false,"error":"not_in_channel"}`
	}
	clk.Set(clk.Now().Add(time.Second))
	if err := sl.Notify(ctx, n, th); err != nil || fs.total() != 3 {
		t.Errorf("a refused note: %v after %d calls, want it dropped (nil) after 3", err, fs.total())
	}
	// A failure worth a retry is retried.
	fs.reply = func(method string, n int) (int, http.Header, string) {
		return http.StatusInternalServerError, nil, ""
	}
	clk.Set(clk.Now().Add(time.Second))
	if err := sl.Notify(ctx, n, th); err == nil || errors.As(err, new(*PermanentError)) {
		t.Errorf("a note on a 500: %v, want an error to retry", err)
	}
}

// TestConsoleNote: a note is one console line.
func TestConsoleNote(t *testing.T) {
	var buf bytes.Buffer
	err := NewConsole(&buf).Notify(context.Background(), &Notification{
		Kind: KindNote, Incident: "abc-3", GroupLabels: map[string]string{LabelProduct: "checkout.orders.placed"},
		Status: StatusFiring, Channel: "#orders-data", Time: t0, Note: "Silenced by ops until Mar 2 12:00 UTC (2h), reason: two\nlines.",
	}, &Thread{})
	if err != nil {
		t.Fatal(err)
	}
	want := "2026-03-02T10:00:00Z NOTE checkout.orders.placed Silenced by ops until Mar 2 12:00 UTC (2h), reason: two lines. [incident abc-3]\n"
	if buf.String() != want {
		t.Errorf("console %q, want %q", buf.String(), want)
	}
}

// TestWebhookNote: a note is posted with kind "note" and its text.
func TestWebhookNote(t *testing.T) {
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	defer srv.Close()
	n := &Notification{
		Kind: KindNote, Incident: "abc-3", GroupKey: checkoutGroup, GroupLabels: map[string]string{LabelProduct: "checkout.orders.placed"},
		Status: StatusFiring, Channel: "#orders-data", Opened: t0, Time: t0.Add(time.Minute), Note: "Silenced by <ops>",
	}
	if err := NewWebhook(srv.URL, "s").Notify(context.Background(), n, &Thread{}); err != nil {
		t.Fatal(err)
	}
	var p WebhookPayload
	if err := json.Unmarshal(<-bodies, &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != "note" || p.Note != "Silenced by <ops>" || p.Incident != "abc-3" || p.Status != StatusFiring || p.Alerts == nil || len(p.Alerts) != 0 {
		t.Errorf("payload %+v", p)
	}
}

// TestExpiredSilencesLeaveStore: once a silence expired, the next dispatch
// removes it from the Store; a failed write is counted and done by a later
// one.
func TestExpiredSilencesLeaveStore(t *testing.T) {
	ctx, clk, st := context.Background(), newClock(), newTestStore()
	m := newTestManager(t, clk, st, nil, &recorder{name: "rec"})
	s, err := m.AddSilence(ctx, SilenceRequest{Matchers: mustMatchers(t, `product="checkout.orders.placed"`), Duration: "1m", CreatedBy: "ops", Comment: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() bool {
		b, _, err := st.Get(ctx, SilencesKey)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(b), s.ID)
	}
	if !stored() {
		t.Fatal("the silence is not in the Store")
	}
	clk.Set(t0.Add(30 * time.Second))
	m.tick(ctx, clk.Now())
	if !stored() {
		t.Fatal("a silence in force left the Store")
	}

	clk.Set(t0.Add(2 * time.Minute))
	st.mu.Lock()
	st.fail = errors.New("store down")
	st.mu.Unlock()
	m.tick(ctx, clk.Now())
	if v := testutil.ToFloat64(m.metrics.stateErrors.WithLabelValues("save")); v != 1 {
		t.Errorf("state save errors = %v, want 1", v)
	}
	if !stored() || len(m.Silences()) != 0 {
		t.Fatal("want the silence forgotten in memory, still in the failing Store")
	}
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	m.tick(ctx, clk.Now())
	if stored() {
		t.Error("the expired silence is still in the Store after a dispatch")
	}
	puts := func() int { st.mu.Lock(); defer st.mu.Unlock(); return st.puts }
	n := puts()
	m.tick(ctx, clk.Now())
	if puts() != n {
		t.Error("the silences were written again with nothing expired")
	}
}

// TestRunRemovesExpiredSilences: Run's dispatch loop removes an expired
// silence from the Store.
func TestRunRemovesExpiredSilences(t *testing.T) {
	ctx, clk, st := context.Background(), newClock(), newTestStore()
	m, err := New(testConfig(), Options{Store: st, Now: clk.Now, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.AddSilence(ctx, SilenceRequest{Matchers: mustMatchers(t, `product="checkout.orders.placed"`), Duration: "1m", CreatedBy: "ops", Comment: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(2 * time.Minute))
	stop := runManager(t, m)
	kafkatest.WaitFor(t, hangGuard, func() bool {
		b, _, _ := st.Get(ctx, SilencesKey)
		return !strings.Contains(string(b), s.ID)
	}, "the expired silence to leave the Store")
	stop()
}
