package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/webauth"
)

// testToken is the bearer token "ci-bot" of the token files tests write.
const testToken = "ci-bot-0123456789abcdef0123456789"

// writeTokenFile writes a token file with testToken, named ci-bot, in a
// temporary directory and returns its path.
func writeTokenFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "api-tokens")
	if err := os.WriteFile(p, []byte("# writers\nci-bot "+testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// apiCall makes one request to an agent's API with a bounded wait and
// returns the status and body; token "" sends no credentials.
func apiCall(t *testing.T, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	return apiCallAs(t, c, method, url, body, func(r *http.Request) {
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	})
}

// apiCallAs is apiCall with the credentials that auth sets on the request.
func apiCallAs(t *testing.T, c *http.Client, method, url, body string, auth func(*http.Request)) (int, string) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	auth(req)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startApp runs the agent on the config at path, tweaked, until the test
// ends, logging to log.
func startApp(t *testing.T, path string, log *slog.Logger, o AppOptions, tweak func(*config.Config)) *App {
	t.Helper()
	app := loadApp(t, path, log, o, tweak)
	serve(t, app, nil)
	return app
}

// loadApp loads the config at path, lets tweak change it (nil: as it is)
// and builds an App on it.
func loadApp(t *testing.T, path string, log *slog.Logger, o AppOptions, tweak func(*config.Config)) *App {
	t.Helper()
	set := loadSettings(path, os.Stderr)
	if set == nil {
		t.Fatal("the config does not load")
	}
	if tweak != nil {
		tweak(set)
	}
	app, err := NewApp(set, log, o)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// serve runs app until the test ends, then checks that it stopped
// cleanly, and shows logs (when given) if the test failed.
func serve(t *testing.T, app *App, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() && logs != nil {
			t.Logf("agent log:\n%s", logs.String())
		}
	})
}

const specificSilence = `{"matchers":[{"name":"product","value":"checkout.orders.placed"},{"name":"slo","value":"freshness"}],"duration":"1h","created_by":"alice","comment":"load test"}`

// TestWritesNeedCredentials: without a token file or users the API is
// read-only (403, with how to enable writes); with a token file, writes
// without the token are 401, a catch-all silence is 400 and a specific
// one is created, logged with who and from where, never with the token.
func TestWritesNeedCredentials(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"

	open := startApp(t, writeConfig(t, kc, topic, ""), slog.New(slog.DiscardHandler), AppOptions{}, nil)
	base := "http://" + open.Addr()
	code, body := apiCall(t, nil, http.MethodPost, base+"/api/v1/silences", testToken, specificSilence)
	if code != http.StatusForbidden || !strings.Contains(body, "api_token_file") {
		t.Errorf("a write to an agent without credentials configured: %d %s, want 403 saying how to enable writes", code, body)
	}
	if code, body := apiCall(t, nil, http.MethodGet, base+"/api/v1/silences", "", ""); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("a read: %d %s, want 200 []", code, body)
	}

	var logs syncBuffer
	path := writeConfig(t, kc, topic, "")
	tokens := writeTokenFile(t)
	app := startApp(t, path, slog.New(slog.NewTextHandler(&logs, nil)), AppOptions{}, func(s *config.Config) {
		s.HTTP.APITokenFile = tokens
	})
	base = "http://" + app.Addr()
	for _, c := range []struct {
		name, method, path, token, body string
		want                            int
		says                            string
	}{
		{"anonymous POST", http.MethodPost, "/api/v1/silences", "", specificSilence, http.StatusUnauthorized, "needs credentials"},
		{"anonymous DELETE", http.MethodDelete, "/api/v1/silences/0123456789abcdef", "", "", http.StatusUnauthorized, "needs credentials"},
		{"a wrong token", http.MethodPost, "/api/v1/silences", strings.Repeat("x", 40), specificSilence, http.StatusUnauthorized, "not one of"},
		{"a write to a path added later", http.MethodPut, "/api/v1/anything", "", "{}", http.StatusUnauthorized, "needs credentials"},
		{"a catch-all", http.MethodPost, "/api/v1/silences", testToken, `{"matchers":[{"name":"alertname","op":"=~","value":".+"}],"duration":"1h","comment":"x"}`, http.StatusBadRequest, "every alert"},
		{"a catch-all with !=", http.MethodPost, "/api/v1/silences", testToken, `{"matchers":[{"name":"product","op":"!=","value":""},{"name":"severity","op":"=~","value":".*"}],"duration":"1h","comment":"x"}`, http.StatusBadRequest, "every alert"},
		{"too long", http.MethodPost, "/api/v1/silences", testToken, `{"matchers":[{"name":"product","value":"checkout.orders.placed"}],"duration":"91d","comment":"x"}`, http.StatusBadRequest, "at most"},
	} {
		code, body := apiCall(t, nil, c.method, base+c.path, c.token, c.body)
		if code != c.want || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, code, body, c.want, c.says)
		}
		if strings.Contains(body, testToken) {
			t.Errorf("%s: the answer shows the token: %s", c.name, body)
		}
	}
	code, body = apiCall(t, nil, http.MethodPost, base+"/api/v1/silences", testToken, specificSilence)
	if code != http.StatusCreated {
		t.Fatalf("a specific silence with the token: %d %s, want 201", code, body)
	}
	var s struct {
		ID              string `json:"id"`
		CreatedBy       string `json:"created_by"`
		AuthenticatedAs string `json:"authenticated_as"`
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.CreatedBy != "alice" || s.AuthenticatedAs != "token ci-bot" {
		t.Errorf("created_by %q, authenticated_as %q; want alice and token ci-bot", s.CreatedBy, s.AuthenticatedAs)
	}
	if code, body := apiCall(t, nil, http.MethodDelete, base+"/api/v1/silences/"+s.ID, testToken, ""); code != http.StatusNoContent {
		t.Errorf("removing it with the token: %d %s", code, body)
	}
	// Nothing lists a directory or serves files; API errors are JSON.
	for _, ep := range []string{"/api/", "/api/v1/", "/etc/passwd", "/../config.yaml"} {
		if code, body := apiCall(t, nil, http.MethodGet, base+ep, "", ""); code != http.StatusNotFound || strings.Contains(body, "<a href") {
			t.Errorf("GET %s: %d %.200s, want a bare 404", ep, code, body)
		}
	}
	if code, body := apiCall(t, nil, http.MethodGet, base+"/api/v1/products/no.such.product/lag", "", ""); code != http.StatusNotFound || !strings.HasPrefix(body, `{"error":`) {
		t.Errorf("an API 404: %d %s, want a JSON error", code, body)
	}
	resp, err := http.Get(base + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff", got)
	}
	kafkatest.WaitFor(t, 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "silence removed")
	}, "the removal was not logged:\n%s", &logs)
	for _, what := range []string{"silence added", "silence removed", "token ci-bot", "127.0.0.1:", "refused a write"} {
		if !strings.Contains(logs.String(), what) {
			t.Errorf("the log does not say %q:\n%s", what, logs.String())
		}
	}
	if strings.Contains(logs.String(), testToken) || strings.Contains(logs.String(), strings.Repeat("x", 40)) {
		t.Errorf("the log shows a token:\n%s", logs.String())
	}
}

// TestSlowRequestBodyIsCutOff: a client that sends a write's headers and
// then its body a trickle at a time is cut off by the server's read
// timeout, and nothing is created.
func TestSlowRequestBodyIsCutOff(t *testing.T) {
	kc := kafkatest.New(t)
	tokens := writeTokenFile(t)
	app := startApp(t, writeConfig(t, kc, "checkout.orders.placed", ""), slog.New(slog.DiscardHandler),
		AppOptions{HTTPReadTimeout: 500 * time.Millisecond}, func(s *config.Config) { s.HTTP.APITokenFile = tokens })
	conn, err := net.Dial("tcp", app.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	// A hang guard, not a timing assertion: without a read timeout the
	// server waits for the body forever and this deadline fails the test.
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	head := "POST /api/v1/silences HTTP/1.1\r\nHost: meshwatch\r\nAuthorization: Bearer " + testToken +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(specificSilence)) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head+specificSilence[:10]); err != nil {
		t.Fatal(err)
	}
	// The rest of the body never comes. The server answers an error or
	// closes the connection; either way it stops waiting.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("a body cut short was answered %s %s", resp.Status, b)
		}
	} else if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server still waits for the body after a minute: no read timeout")
	}
	if code, body := apiCall(t, nil, http.MethodGet, "http://"+app.Addr()+"/api/v1/silences", "", ""); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("silences after the cut-off request: %d %s, want none", code, body)
	}
}

// pki is a test CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM files in a directory.
type pki struct {
	dir                           string
	caFile, serverCert, serverKey string
	clientCert, clientKey         string
	pool                          *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), pool: x509.NewCertPool()}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meshwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p.pool.AddCert(ca)
	p.caFile = write("ca.crt", "CERTIFICATE", caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certName, keyName string) (string, string) {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(certName, "CERTIFICATE", der), write(keyName, "EC PRIVATE KEY", kder)
	}
	p.serverCert, p.serverKey = leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, "server.crt", "server.key")
	p.clientCert, p.clientKey = leaf(3, "prometheus", x509.ExtKeyUsageClientAuth, "client.crt", "client.key")
	return p
}

// webConfig writes a web configuration file into p's directory (so that
// relative certificate paths resolve) and returns its path.
func (p *pki) webConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(p.dir, "web.yml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) client(withCert bool) *http.Client {
	tc := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if withCert {
		cert, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
		if err != nil {
			panic(err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// TestWebConfig serves the agent with the exporter-toolkit web
// configuration: TLS only, basic auth, and client certificates. Each
// guards /metrics, the health endpoints and the API alike.
func TestWebConfig(t *testing.T) {
	kc := kafkatest.New(t)
	path := writeConfig(t, kc, "checkout.orders.placed", "")
	p := newPKI(t)

	t.Run("TLS only", func(t *testing.T) {
		wc := p.webConfig(t, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
		app := startApp(t, path, slog.New(slog.DiscardHandler), AppOptions{}, func(s *config.Config) { s.Web = &config.Web{ConfigFile: wc} })
		if !strings.HasPrefix(app.URL(), "https://127.0.0.1:") {
			t.Errorf("URL %s, want https", app.URL())
		}
		for _, ep := range []string{"/metrics", "/healthz", "/api/v1/silences"} {
			if code, body := apiCall(t, p.client(false), http.MethodGet, app.URL()+ep, "", ""); code != http.StatusOK {
				t.Errorf("GET %s over TLS: %d %.200s", ep, code, body)
			}
		}
		if code, _ := apiCall(t, nil, http.MethodGet, "http://"+app.Addr()+"/metrics", "", ""); code == http.StatusOK {
			t.Error("plain HTTP is served on a TLS listener")
		}
		// TLS alone does not allow writes.
		if code, body := apiCall(t, p.client(false), http.MethodPost, app.URL()+"/api/v1/silences", "", specificSilence); code != http.StatusForbidden {
			t.Errorf("an anonymous write over TLS: %d %s, want 403", code, body)
		}
	})

	t.Run("basic auth", func(t *testing.T) {
		hash, err := bcrypt.GenerateFromPassword([]byte("right-password"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		wc := p.webConfig(t, "basic_auth_users:\n  sre: "+string(hash)+"\n")
		app := startApp(t, path, slog.New(slog.DiscardHandler), AppOptions{}, func(s *config.Config) { s.Web = &config.Web{ConfigFile: wc} })
		call := func(method, ep, user, pass, body string) (int, string) {
			return apiCallAs(t, nil, method, app.URL()+ep, body, func(r *http.Request) {
				if user != "" {
					r.SetBasicAuth(user, pass)
				}
			})
		}
		for _, ep := range []string{"/metrics", "/healthz", "/readyz", "/api/v1/slos"} {
			if code, _ := call(http.MethodGet, ep, "", "", ""); code != http.StatusUnauthorized {
				t.Errorf("GET %s without a user: %d, want 401", ep, code)
			}
			if code, _ := call(http.MethodGet, ep, "sre", "wrong-password", ""); code != http.StatusUnauthorized {
				t.Errorf("GET %s with a wrong password: %d, want 401", ep, code)
			}
		}
		if code, body := call(http.MethodGet, "/metrics", "sre", "right-password", ""); code != http.StatusOK || !strings.Contains(body, "meshwatch_ready") {
			t.Errorf("GET /metrics as sre: %d %.200s", code, body)
		}
		// A basic-auth user may write; the silence says who.
		code, body := call(http.MethodPost, "/api/v1/silences", "sre", "right-password", `{"matchers":[{"name":"product","value":"checkout.orders.placed"}],"duration":"1h","comment":"deploy"}`)
		if code != http.StatusCreated || !strings.Contains(body, `"authenticated_as": "user sre"`) || !strings.Contains(body, `"created_by": "sre"`) {
			t.Errorf("a silence by a basic-auth user: %d %s", code, body)
		}
	})

	t.Run("client certificate", func(t *testing.T) {
		wc := p.webConfig(t, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n")
		app := startApp(t, path, slog.New(slog.DiscardHandler), AppOptions{}, func(s *config.Config) { s.Web = &config.Web{ConfigFile: wc} })
		if code, body := apiCall(t, p.client(true), http.MethodGet, app.URL()+"/metrics", "", ""); code != http.StatusOK {
			t.Errorf("GET /metrics with a client certificate: %d %.200s", code, body)
		}
		if code, body := apiCall(t, p.client(false), http.MethodGet, app.URL()+"/metrics", "", ""); code != 0 {
			t.Errorf("GET /metrics without a client certificate: %d %.200s, want a refused handshake", code, body)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		wc := p.webConfig(t, "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n")
		set := loadSettings(path, io.Discard)
		set.Web = &config.Web{ConfigFile: wc}
		app, err := NewApp(set, slog.New(slog.DiscardHandler), AppOptions{})
		if err == nil {
			app.Close()
			t.Fatal("NewApp accepted a web configuration whose certificate is missing")
		}
		if !strings.Contains(err.Error(), "web.config_file") || !strings.Contains(err.Error(), "missing.crt") {
			t.Errorf("the error does not say what to fix: %v", err)
		}
	})
}

// TestDemoAPIIsGuarded: the demo configures a token and says how to use
// it; without it writes are refused, with it a catch-all silence is still
// refused and a specific one is created, also through the config it
// writes.
func TestDemoAPIIsGuarded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	configOut := filepath.Join(t.TempDir(), "demo.yaml")
	d := startDemo(t, func(o *demoOptions) { o.configOut = configOut })
	tokenFile := filepath.Join(d.stateDir, "api-token")
	st, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("the demo's token file has mode %v, want 0600", st.Mode().Perm())
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	legend := d.stdout.String()
	for _, want := range []string{"API token", "Authorization: Bearer $(cat ", "meshwatch silence add -config " + configOut} {
		if !strings.Contains(legend, want) {
			t.Errorf("the demo's legend does not say %q:\n%s", want, legend)
		}
	}
	if strings.Contains(legend, token) {
		t.Error("the demo prints its token")
	}
	base := "http://" + d.addr
	if code, body := apiCall(t, nil, http.MethodPost, base+"/api/v1/silences", "", specificSilence); code != http.StatusUnauthorized {
		t.Errorf("an anonymous POST to the demo: %d %s, want 401", code, body)
	}
	if code, body := apiCall(t, nil, http.MethodDelete, base+"/api/v1/silences/0123456789abcdef", "", ""); code != http.StatusUnauthorized {
		t.Errorf("an anonymous DELETE to the demo: %d %s, want 401", code, body)
	}
	catchAll := `{"matchers":[{"name":"alertname","op":"=~","value":".+"}],"duration":"90d","created_by":"mallory","comment":"quiet"}`
	if code, body := apiCall(t, nil, http.MethodPost, base+"/api/v1/silences", token, catchAll); code != http.StatusBadRequest {
		t.Errorf("a catch-all silence with the demo's token: %d %s, want 400", code, body)
	}

	// The written config holds the token file, no secret, and takes the
	// CLI to the demo.
	cfg, err := os.ReadFile(configOut)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "api_token_file: "+tokenFile) || strings.Contains(string(cfg), "<secret>") || strings.Contains(string(cfg), token) {
		t.Errorf("the demo's config:\n%s", cfg)
	}
	t.Setenv(envAPIToken, "")
	cli := filepath.Join(t.TempDir(), "cli.yaml")
	if err := os.WriteFile(cli, []byte(strings.Replace(string(cfg), "127.0.0.1:0", d.addr, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, context.Background(), "silence", "add", "-config", cli, "-match", "product=payments.transactions.settled", "-for", "10m", "-comment", "trying the demo")
	if code != exitOK {
		t.Fatalf("silence add -config on the demo's config: exit %d\n%s%s", code, out, errOut)
	}
}

// TestWriteSettingsKeepsSecretsOut: a config written back holds ${ENV}
// references in place of secrets, loads back to the same values, and
// refuses to write a secret it has no reference for.
func TestWriteSettingsKeepsSecretsOut(t *testing.T) {
	const botToken = "xoxb-0123456789-do-not-write"
	kc := kafkatest.New(t)
	set := loadSettings(writeConfig(t, kc, "checkout.orders.placed", ""), io.Discard)
	set.Alerting = &alert.Config{Slack: &alert.SlackConfig{Token: botToken, APIURL: "http://127.0.0.1:1/api/"}}
	out := filepath.Join(t.TempDir(), "out.yaml")
	if err := writeSettings(out, set, nil); err == nil || !strings.Contains(err.Error(), "alerting.slack.token") {
		t.Errorf("writing a secret without a reference: %v, want an error naming alerting.slack.token", err)
	}
	if err := writeSettings(out, set, map[string]string{"alerting.slack.token": "${SLACK_BOT_TOKEN}"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), botToken) || strings.Contains(string(b), "<secret>") || !strings.Contains(string(b), `"${SLACK_BOT_TOKEN}"`) {
		t.Errorf("written config:\n%s", b)
	}
	t.Setenv("SLACK_BOT_TOKEN", botToken)
	back := loadSettings(out, os.Stderr)
	if back == nil || back.Alerting == nil || back.Alerting.Slack.Token.Reveal() != botToken {
		t.Fatalf("the written config does not load back to the token")
	}
}

// TestWebhookURLWithoutCredentials: credentials in a webhook URL are
// refused like those of the registry and push URLs, without echoing them.
func TestWebhookURLWithoutCredentials(t *testing.T) {
	kc := kafkatest.New(t)
	path := writeConfig(t, kc, "checkout.orders.placed", "alerting:\n  webhook: {url: \"https://bot:hunter2-password@hooks.example.com/x\"}\n")
	code, out, _ := runCmd(t, context.Background(), "validate", "-config", path)
	if code != exitFailed || !strings.Contains(out, "alerting.webhook.url: must not hold credentials") || strings.Contains(out, "hunter2") {
		t.Errorf("validate: exit %d\n%s", code, out)
	}
}

// TestREADMEWebConfigExamples: the web configuration examples of the
// README's "Securing the API" work: the TLS one validates with real
// certificate files, and the basic-auth hashes are of the passwords the
// README names.
func TestREADMEWebConfigExamples(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, part := range strings.Split(string(b), "```yaml\n# web.yml")[1:] {
		blocks = append(blocks, "# web.yml"+part[:strings.Index(part, "```")])
	}
	if len(blocks) != 2 {
		t.Fatalf("found %d web.yml examples in the README, want 2 (TLS, basic auth)", len(blocks))
	}
	p := newPKI(t)
	for name, src := range map[string]string{"meshwatch.crt": p.serverCert, "meshwatch.key": p.serverKey} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tlsExample := p.webConfig(t, blocks[0])
	if err := webauth.ValidateWebConfig(tlsExample); err != nil {
		t.Errorf("the README's TLS example: %v", err)
	}
	app := startApp(t, writeConfig(t, kafkatest.New(t), "checkout.orders.placed", ""), slog.New(slog.DiscardHandler), AppOptions{},
		func(s *config.Config) { s.Web = &config.Web{ConfigFile: tlsExample} })
	if code, body := apiCall(t, p.client(false), http.MethodGet, app.URL()+"/healthz", "", ""); code != http.StatusOK {
		t.Errorf("the README's TLS example does not serve: %d %s", code, body)
	}

	basic := p.webConfig(t, blocks[1])
	if err := webauth.ValidateWebConfig(basic); err != nil {
		t.Errorf("the README's basic-auth example: %v", err)
	}
	users := map[string]string{}
	for _, line := range strings.Split(blocks[1], "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[1], "$2") {
			users[strings.TrimSuffix(f[0], ":")] = f[1]
		}
	}
	for user, password := range map[string]string{"prometheus": "example-scrape-password", "sre": "example-sre-password"} {
		if err := bcrypt.CompareHashAndPassword([]byte(users[user]), []byte(password)); err != nil {
			t.Errorf("the README's hash of %s is not of %q: %v", user, password, err)
		}
		if !strings.Contains(string(b), "`"+password+"`") {
			t.Errorf("the README does not name the password %q", password)
		}
	}
}

// TestValidateSecuritySettings: validate reports a bad token file and a bad
// web configuration file with their positions and what to fix, never a
// token.
func TestValidateSecuritySettings(t *testing.T) {
	kc := kafkatest.New(t)
	path := writeConfig(t, kc, "checkout.orders.placed", "web: {config_file: missing-web.yml}\n")
	dir := filepath.Dir(path)
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte("ci-bot tooShort9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b), `http: {listen: "127.0.0.1:0"}`, `http: {listen: "127.0.0.1:0", api_token_file: tokens}`, 1)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, context.Background(), "validate", "-config", path)
	if code != exitFailed {
		t.Errorf("validate: exit %d, want %d\n%s", code, exitFailed, out)
	}
	for _, want := range []string{
		path + ":2:", "http.api_token_file: http.api_token_file " + filepath.Join(dir, "tokens") + ": line 1: the token is 9 characters long",
		"web.config_file: web configuration", "missing-web.yml",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "tooShort9") {
		t.Errorf("validate shows the token:\n%s", out)
	}
}
