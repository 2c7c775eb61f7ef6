package alert

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzSilenceRequest posts arbitrary bodies to the silences API and checks
// that it never panics, answers only 201, 400, 409 or 413, and that what
// it creates keeps every limit and is no catch-all.
func FuzzSilenceRequest(f *testing.F) {
	valid := []string{
		`{"matchers":[{"name":"product","value":"checkout.orders.placed"}],"duration":"2h","created_by":"ops","comment":"broker upgrade"}`,
		`{"matchers":[{"name":"product","op":"=~","value":"checkout\\..*"},{"name":"slo","op":"!=","value":"latency"}],"duration":"1d","created_by":"ops","comment":"c"}`,
		`{"matchers":[{"name":"product","op":"=~","value":".+"},{"name":"slo","value":"latency"}],"expires_at":"2026-03-03T10:00:00Z","created_by":"ops","comment":"c"}`,
		`{"matchers":[{"name":"severity","value":"ticket"}],"starts_at":"2026-03-02T12:00:00Z","duration":"90d","created_by":"a","comment":"c"}`,
	}
	catchAll := []string{
		`{"matchers":[{"name":"alertname","op":"=~","value":".+"}],"duration":"2h","created_by":"ops","comment":"c"}`,
		`{"matchers":[{"name":"x","op":"=~","value":".*"}],"duration":"2h","created_by":"ops","comment":"c"}`,
		`{"matchers":[{"name":"product","op":"!=","value":""}],"duration":"2h","created_by":"ops","comment":"c"}`,
		`{"matchers":[{"name":"product","op":"!~","value":"foo"},{"name":"alertname","op":"=~","value":"\\S+"}],"duration":"2h","created_by":"ops","comment":"c"}`,
		`{"matchers":[{"name":"product","op":"=~","value":"checkout.orders.placed|search.clicks.logged"}],"duration":"2h","created_by":"ops","comment":"c"}`,
		`{"matchers":[{"name":"product","op":"=~","value":"x)|(?:"}],"duration":"2h","created_by":"ops","comment":"c"}`,
		`{"matchers":[{"name":"product","value":""}],"duration":"2h","created_by":"ops","comment":"c"}`,
	}
	// Oversized seeds stay small: the fuzzer minimizes every input that
	// finds new code, in time quadratic in its length, and a seed over the
	// 64 KiB request limit (413, which TestSilenceLimits checks) would
	// have it minimize most of the time. JSON's escapes make a short
	// comment of '<' (\u003c) a silence over MaxSilenceBytes.
	oversized := []string{
		`{"matchers":[{"name":"product","value":"p"}],"duration":"1h","created_by":"a","comment":"` + strings.Repeat("<", MaxSilenceBytes/6+1) + `"}`,
		`{"matchers":[` + strings.Repeat(`{"name":"product","value":"p"},`, MaxSilenceMatchers) + `{"name":"slo","value":"s"}],"duration":"1h","created_by":"a","comment":"c"}`,
		`{"matchers":[{"name":"product","value":"p"}],"duration":"91d","created_by":"a","comment":"c"}`,
		`{"matchers":[{"name":"product","value":"p"}],"duration":"106752d","created_by":"a","comment":"c"}`,
		`{"matchers":[{"name":"product","value":"p"}],"expires_at":"9999-12-31T23:59:59Z","created_by":"a","comment":"c"}`,
		`{"matchers":[{"name":"product","value":"p"}],"starts_at":"9999-12-31T23:00:00Z","duration":"2h","created_by":"a","comment":"c"}`,
	}
	garbage := []string{
		``, `{`, `null`, `[]`, `"x"`, `{"matchers":null}`, `{"matchers":[{}]}`, `{"unknown":1}`,
		`{"matchers":[{"name":"p","op":"==","value":"v"}],"duration":"1h","created_by":"a","comment":"c"}`,
		`{"matchers":[{"name":"p","op":"=~","value":"("}],"duration":"1h","created_by":"a","comment":"c"}`,
		`{"matchers":[{"name":"p","value":"v"}],"duration":"-1h","created_by":"a","comment":"c"}`,
		`{"matchers":[{"name":"p","value":"v"}],"duration":"1h","expires_at":"2026-03-03T00:00:00Z","created_by":"a","comment":"c"}`,
		`{"matchers":[{"name":"p","value":"v"}],"duration":"1h","created_by":" ","comment":"c"} trailing`,
		"\xff\xfe{\"matchers\":[]}",
	}
	for _, group := range [][]string{valid, catchAll, oversized, garbage} {
		for _, s := range group {
			f.Add([]byte(s))
		}
	}

	cfg := testConfig()
	now := func() time.Time { return t0 }
	// One logger and one set of metrics for every run: making them is most
	// of a run's cost, and the minimizer runs many.
	logger, metrics := slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry())
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := New(cfg, Options{Logger: logger, Metrics: metrics, Store: newTestStore(), Now: now, MaxSilences: 2})
		if err != nil {
			t.Fatal(err)
		}
		h := m.SilencesHandler()
		// Three times: with MaxSilences 2, a valid body meets a full
		// Manager (409) the third time.
		for range 3 {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/v1/silences", bytes.NewReader(body)))
			res := w.Result()
			b, _ := io.ReadAll(res.Body)
			switch res.StatusCode {
			case http.StatusCreated:
				checkCreated(t, m, b)
			case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
				var ae apiError
				if err := json.Unmarshal(b, &ae); err != nil || ae.Error == "" {
					t.Fatalf("%d without an error message: %q", res.StatusCode, b)
				}
			default:
				t.Fatalf("status %d: %s", res.StatusCode, b)
			}
		}
	})
}

// checkCreated checks a silence the API created: within every limit, and
// no catch-all.
func checkCreated(t *testing.T, m *Manager, b []byte) {
	t.Helper()
	var s Silence
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("201 with %q: %v", b, err)
	}
	if n := len(s.Matchers); n < 1 || n > MaxSilenceMatchers {
		t.Fatalf("created with %d matchers", n)
	}
	if j, err := json.Marshal(&s); err != nil || len(j) > MaxSilenceBytes {
		t.Fatalf("created a silence of %d bytes (%v)", len(j), err)
	}
	if !s.EndsAt.After(s.StartsAt) || s.EndsAt.Sub(s.StartsAt) > maxSilence || s.StartsAt.Before(t0) {
		t.Fatalf("created from %v to %v", s.StartsAt, s.EndsAt)
	}
	if s.CreatedBy == "" || s.Comment == "" || s.ID == "" {
		t.Fatalf("created without id, created_by or comment: %+v", s)
	}
	m.mu.Lock()
	known := m.knownValues()
	m.mu.Unlock()
	unbounded := 0
	for i := range s.Matchers {
		if err := s.Matchers[i].compile(); err != nil {
			t.Fatalf("created with matcher %s: %v", s.Matchers[i], err)
		}
		if s.Matchers[i].unbounded(known[s.Matchers[i].Name]) {
			unbounded++
		}
	}
	if s.matches(map[string]string{}) {
		t.Fatalf("created a silence that matches an alert without labels: %v", s.Matchers)
	}
	if unbounded == len(s.Matchers) {
		t.Fatalf("created a silence whose every matcher accepts any value: %v", s.Matchers)
	}
}
