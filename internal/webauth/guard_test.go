package webauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

const (
	ciToken    = "0123456789abcdef0123456789abcdef"
	aliceToken = "fedcba9876543210fedcba9876543210"
)

// seen records what the guarded handler got.
type seen struct {
	caller Caller
	body   []byte
	err    error
	calls  int
}

func (s *seen) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls++
		s.caller = CallerFrom(r.Context())
		s.body, s.err = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func webConfigWithUser(t *testing.T, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "web.yml", "basic_auth_users:\n  "+user+": "+string(h)+"\n")
}

type call struct {
	method, path, body string
	header             map[string]string
	user, password     string
}

func do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	r.RemoteAddr = "10.1.2.3:4567"
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	if c.user != "" {
		r.SetBasicAuth(c.user, c.password)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("body %q is not a JSON error: %v", w.Body.String(), err)
	}
	return e.Error
}

func TestWritesDisabledWithoutCredentials(t *testing.T) {
	var s seen
	g := NewGuard(s.handler(), Options{})
	for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch} {
		w := do(t, g, call{method: m, path: "/api/v1/silences", header: map[string]string{"Authorization": "Bearer " + ciToken}})
		if w.Code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", m, w.Code)
		}
		if msg := errorOf(t, w); !strings.Contains(msg, "http.api_token_file") || !strings.Contains(msg, "basic_auth_users") {
			t.Errorf("%s: the message does not say how to enable writes: %s", m, msg)
		}
	}
	if s.calls != 0 {
		t.Errorf("the handler ran %d times for refused writes", s.calls)
	}
	if g.WritesEnabled() {
		t.Error("WritesEnabled without a token file or users")
	}
	w := do(t, g, call{method: http.MethodGet, path: "/api/v1/silences"})
	if w.Code != http.StatusNoContent || s.calls != 1 {
		t.Errorf("a read: status %d, handler calls %d; reads stay open", w.Code, s.calls)
	}
	if s.caller.Authenticated() || s.caller.Remote != "10.1.2.3:4567" {
		t.Errorf("a read's caller is %+v, want anonymous from 10.1.2.3:4567", s.caller)
	}
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff", got)
	}
}

func TestBearerTokens(t *testing.T) {
	var logs bytes.Buffer
	file := writeFile(t, "tokens", "# writers\nci-bot "+ciToken+"\n\nalice\t"+aliceToken+"\n")
	var s seen
	g := NewGuard(s.handler(), Options{TokenFile: file, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if !g.WritesEnabled() {
		t.Error("WritesEnabled is false with a token file")
	}
	cases := []struct {
		name   string
		header string
		want   int
		caller string
	}{
		{"no credentials", "", http.StatusUnauthorized, ""},
		{"wrong token", "Bearer " + strings.Repeat("x", 32), http.StatusUnauthorized, ""},
		{"a token's prefix", "Bearer " + ciToken[:20], http.StatusUnauthorized, ""},
		{"empty bearer", "Bearer ", http.StatusUnauthorized, ""},
		{"basic instead", "Basic Y2ktYm90OjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm", http.StatusUnauthorized, ""},
		{"ci-bot", "Bearer " + ciToken, http.StatusNoContent, "token ci-bot"},
		{"alice, lower-case scheme", "bearer " + aliceToken, http.StatusNoContent, "token alice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s = seen{}
			h := map[string]string{}
			if c.header != "" {
				h["Authorization"] = c.header
			}
			w := do(t, g, call{method: http.MethodPost, path: "/anything/added/later", header: h, body: "{}"})
			if w.Code != c.want {
				t.Fatalf("status %d, want %d: %s", w.Code, c.want, w.Body.String())
			}
			if c.want == http.StatusUnauthorized {
				if s.calls != 0 {
					t.Error("the handler ran for a refused write")
				}
				if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
				}
				errorOf(t, w)
				return
			}
			if got := s.caller.String(); got != c.caller || s.caller.Remote != "10.1.2.3:4567" {
				t.Errorf("caller %s from %s, want %s from 10.1.2.3:4567", got, s.caller.Remote, c.caller)
			}
			if string(s.body) != "{}" || s.err != nil {
				t.Errorf("body %q, %v", s.body, s.err)
			}
		})
	}
	for _, secret := range []string{ciToken, aliceToken, strings.Repeat("x", 32), ciToken[:20]} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds a token:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "refused a write") || !strings.Contains(logs.String(), "10.1.2.3:4567") {
		t.Errorf("a refused write is not logged with its address:\n%s", logs.String())
	}

	// A rotated file takes effect at the next write.
	if err := os.WriteFile(file, []byte("ci-bot "+aliceToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if w := do(t, g, call{method: http.MethodDelete, path: "/api/v1/silences/x", header: map[string]string{"Authorization": "Bearer " + ciToken}}); w.Code != http.StatusUnauthorized {
		t.Errorf("the old token after rotation: status %d, want 401", w.Code)
	}
	// A token file that went away refuses writes without showing a token.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	w := do(t, g, call{method: http.MethodDelete, path: "/api/v1/silences/x", header: map[string]string{"Authorization": "Bearer " + aliceToken}})
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), aliceToken) {
		t.Errorf("a missing token file: status %d, body %s", w.Code, w.Body.String())
	}
}

func TestBasicAuthUsers(t *testing.T) {
	var s seen
	g := NewGuard(s.handler(), Options{WebConfigFile: webConfigWithUser(t, "alice", "s3cret-pass")})
	if !g.WritesEnabled() {
		t.Error("WritesEnabled is false with a user")
	}
	for _, c := range []struct {
		user, password string
		want           int
	}{
		{"alice", "s3cret-pass", http.StatusNoContent},
		{"alice", "wrong", http.StatusUnauthorized},
		{"mallory", "s3cret-pass", http.StatusUnauthorized},
		{"", "", http.StatusUnauthorized},
	} {
		s = seen{}
		w := do(t, g, call{method: http.MethodPost, path: "/api/v1/silences", user: c.user, password: c.password})
		if w.Code != c.want {
			t.Errorf("%s/%s: status %d, want %d", c.user, c.password, w.Code, c.want)
			continue
		}
		if c.want == http.StatusNoContent && s.caller.String() != "user alice" {
			t.Errorf("caller %s, want user alice", s.caller)
		}
		if c.want == http.StatusUnauthorized && !strings.Contains(w.Header().Get("WWW-Authenticate"), "Basic") {
			t.Errorf("WWW-Authenticate %q, want a Basic challenge", w.Header().Get("WWW-Authenticate"))
		}
	}
	// A read is not authenticated by the Guard: a name on it is no
	// identity (without users in the web configuration nobody checked it).
	do(t, g, call{method: http.MethodGet, path: "/metrics", user: "mallory", password: "anything"})
	if s.caller.Authenticated() || s.caller.Remote != "10.1.2.3:4567" {
		t.Errorf("a read's caller %+v, want anonymous from 10.1.2.3:4567", s.caller)
	}
}

func TestBodyCapped(t *testing.T) {
	var s seen
	g := NewGuard(s.handler(), Options{TokenFile: writeFile(t, "t", ciToken), MaxBody: 10})
	do(t, g, call{method: http.MethodPost, path: "/x", body: strings.Repeat("a", 11), header: map[string]string{"Authorization": "Bearer " + ciToken}})
	var tooLarge *http.MaxBytesError
	if s.calls != 1 || !errors.As(s.err, &tooLarge) {
		t.Errorf("an 11-byte body under a 10-byte cap read as %q, err %v", s.body, s.err)
	}
}

func TestParseTokens(t *testing.T) {
	for _, c := range []struct {
		name, content string
		want          []string // names
		err           string
	}{
		{"one alone", ciToken + "\n", []string{"api-token"}, ""},
		{"two alone", ciToken + "\n" + aliceToken, []string{"api-token-1", "api-token-2"}, ""},
		{"named", "# x\nci " + ciToken + "\r\n  alice " + aliceToken, []string{"ci", "alice"}, ""},
		{"empty", "\n# nothing\n", nil, "holds no token"},
		{"short", "ci abc123", nil, "line 1: the token is 6 characters long"},
		{"three words", "ci bot " + ciToken, nil, "line 1: want a token, or a name and a token"},
		{"same name", "ci " + ciToken + "\nci " + aliceToken, nil, `line 2: the name "ci" is taken by line 1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts, err := ParseTokens(c.content)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				for _, secret := range []string{ciToken, aliceToken, "abc123"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("the error shows a token: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tk := range ts {
				names = append(names, tk.Name)
			}
			if strings.Join(names, ",") != strings.Join(c.want, ",") {
				t.Errorf("names %v, want %v", names, c.want)
			}
			if ts[0].Value() == "" || strings.Contains(ts[0].Value(), " ") {
				t.Errorf("value %q", ts[0].Value())
			}
		})
	}
}

func TestWebConfig(t *testing.T) {
	p := writeFile(t, "web.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\nbasic_auth_users:\n  bob: $2y$10$abc\n")
	wc, err := ReadWebConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if !wc.HasTLS() || wc.Users["bob"] != "$2y$10$abc" {
		t.Errorf("read %+v", wc)
	}
	// A value of the file never shows in an error: it may be a key.
	bad := writeFile(t, "bad.yml", "basic_auth_users: super-secret-key-material\n")
	for _, f := range []func(string) error{
		func(p string) error { _, err := ReadWebConfig(p); return err },
		ValidateWebConfig,
	} {
		err := f(bad)
		if err == nil || strings.Contains(err.Error(), "super-secret") {
			t.Errorf("error %v: want one without the file's value", err)
		}
	}
	if err := ValidateWebConfig(webConfigWithUser(t, "alice", "pw")); err != nil {
		t.Errorf("a valid file: %v", err)
	}
	if err := ValidateWebConfig(filepath.Join(t.TempDir(), "missing.yml")); err == nil {
		t.Error("a missing file is valid")
	}
}
