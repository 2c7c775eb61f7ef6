package webauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/meshwatch/meshwatch/internal/logonce"
)

// DefaultMaxBody caps the body of a write: no write endpoint needs more.
const DefaultMaxBody = 1 << 20

// Options configure a Guard.
type Options struct {
	// WebConfigFile is the exporter-toolkit web configuration file ("" for
	// none); the users of its basic_auth_users may write.
	WebConfigFile string
	// TokenFile is http.api_token_file ("" for none): its bearer tokens
	// may write.
	TokenFile string
	// MaxBody caps a write's request body (default DefaultMaxBody).
	MaxBody int64
	Logger  *slog.Logger
	// Now is the clock of the log rate limit (default time.Now).
	Now func() time.Time
}

// Guard wraps the agent's handler; see the package documentation.
type Guard struct {
	o    Options
	next http.Handler
	log  *slog.Logger
	logs logonce.Limiter

	bcryptMu sync.Mutex // bcrypt is CPU-heavy: one at a time, as the toolkit does
}

// NewGuard returns next behind a Guard.
func NewGuard(next http.Handler, o Options) *Guard {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	g := &Guard{o: o, next: next, log: o.Logger, logs: logonce.Limiter{Interval: time.Minute, Now: o.Now}}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g
}

// WritesEnabled reports whether any caller can write: a token file or a
// web configuration with users is configured.
func (g *Guard) WritesEnabled() bool {
	if g.o.TokenFile != "" {
		return true
	}
	if g.o.WebConfigFile == "" {
		return false
	}
	wc, err := ReadWebConfig(g.o.WebConfigFile)
	return err == nil && len(wc.Users) > 0
}

// safe are the methods that change nothing.
var safe = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true}

// ServeHTTP serves r; see the package documentation.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if w.Header().Get("X-Content-Type-Options") == "" {
		w.Header().Set("X-Content-Type-Options", "nosniff")
	}
	if safe[r.Method] {
		// A read is not authenticated here: a basic-auth name on it is
		// only checked by the toolkit when the web configuration has
		// users, so it is not taken as who the caller is.
		g.next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), Caller{Remote: r.RemoteAddr})))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, g.o.MaxBody)
	c, status, msg := g.authenticate(r)
	if status != 0 {
		if status == http.StatusUnauthorized {
			var schemes []string
			if g.o.TokenFile != "" {
				schemes = append(schemes, `Bearer realm="meshwatch"`)
			}
			if g.o.WebConfigFile != "" {
				schemes = append(schemes, `Basic realm="meshwatch"`)
			}
			for _, s := range schemes {
				w.Header().Add("WWW-Authenticate", s)
			}
		}
		if g.logs.Allow("refused " + r.RemoteAddr) {
			g.log.Warn("refused a write", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "why", msg)
		}
		writeError(w, status, msg)
		return
	}
	g.log.Debug("write", "method", r.Method, "path", r.URL.Path, "caller", c.String(), "remote", c.Remote)
	g.next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
}

// Messages of refused writes. They name the settings, never a credential.
const (
	msgDisabled = "writes are disabled: nobody is allowed to change this agent's state. " +
		"Enable them with a bearer token (http.api_token_file in the config: a file with one token per line) " +
		"or with basic_auth_users in the web configuration file (-web.config.file or web.config_file); see README \"Securing the API\""
	msgNoCredentials = "this request changes state and needs credentials: a bearer token (Authorization: Bearer …, " +
		"the meshwatch CLI reads MESHWATCH_API_TOKEN) or a basic-auth user of the web configuration"
	msgBadToken    = "the bearer token is not one of http.api_token_file's"
	msgBadPassword = "unknown user or wrong password"
)

// authenticate returns the caller of the write r, or the status and
// message that refuse it.
func (g *Guard) authenticate(r *http.Request) (Caller, int, string) {
	c := Caller{Remote: r.RemoteAddr}
	var tokens []Token
	if g.o.TokenFile != "" {
		var err error
		if tokens, err = ReadTokens(g.o.TokenFile); err != nil {
			g.log.Error("cannot check a write's credentials", "err", err)
			return c, http.StatusInternalServerError, "cannot check credentials: " + err.Error()
		}
	}
	var users map[string]string
	if g.o.WebConfigFile != "" {
		wc, err := ReadWebConfig(g.o.WebConfigFile)
		if err != nil {
			g.log.Error("cannot check a write's credentials", "err", err)
			return c, http.StatusInternalServerError, "cannot check credentials: " + err.Error()
		}
		users = wc.Users
	}
	if len(tokens) == 0 && len(users) == 0 {
		return c, http.StatusForbidden, msgDisabled
	}
	auth := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(auth, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer") && len(tokens) > 0:
		if name, ok := matchToken(tokens, strings.TrimSpace(cred)); ok {
			c.Name, c.Method = name, MethodToken
			return c, 0, ""
		}
		return c, http.StatusUnauthorized, msgBadToken
	case strings.EqualFold(scheme, "Basic") && len(users) > 0:
		user, pass, ok := r.BasicAuth()
		if ok && g.checkPassword(users, user, pass) {
			c.Name, c.Method = user, MethodBasic
			return c, 0, ""
		}
		return c, http.StatusUnauthorized, msgBadPassword
	}
	return c, http.StatusUnauthorized, msgNoCredentials
}

// matchToken compares cred with every token in constant time, by their
// SHA-256 (so that neither a token's content nor its length shows in the
// time taken), and returns the matching token's name.
func matchToken(tokens []Token, cred string) (string, bool) {
	h := sha256.Sum256([]byte(cred))
	name, found := "", 0
	for _, t := range tokens {
		th := sha256.Sum256([]byte(t.value))
		eq := subtle.ConstantTimeCompare(h[:], th[:])
		if eq == 1 && found == 0 {
			name = t.Name
		}
		found |= eq
	}
	return name, found == 1 && cred != ""
}

// fakeHash is a bcrypt hash compared for an unknown user, so that the time
// taken does not tell which users exist.
var fakeHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("meshwatch: no such user"), bcrypt.DefaultCost)
	if err != nil {
		panic(err) // only for a cost out of range
	}
	return h
})

func (g *Guard) checkPassword(users map[string]string, user, pass string) bool {
	hash, ok := users[user]
	h := []byte(hash)
	if !ok {
		h = fakeHash()
	}
	g.bcryptMu.Lock()
	err := bcrypt.CompareHashAndPassword(h, []byte(pass))
	g.bcryptMu.Unlock()
	return ok && err == nil
}

type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(apiError{Error: msg})
}

// ErrNoTokens is a token file without a token.
var ErrNoTokens = errors.New("it holds no token: write one per line (e.g. the output of `openssl rand -hex 32`), optionally preceded by a name and a space")
