package alert

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/webauth"
)

// ErrSilenceNotFound is returned for an unknown silence ID.
var ErrSilenceNotFound = errors.New("silence not found")

// ErrTooManySilences is returned by AddSilence when Options.MaxSilences
// silences are in force or to come.
var ErrTooManySilences = errors.New("as many silences are in force or to come as there may be: remove some (meshwatch silence rm ID) or let them expire")

// AddSilence validates r and stores the silence it asks for, made by the
// caller in ctx (webauth.CallerFrom): an anonymous caller must give
// CreatedBy, an authenticated one is recorded in AuthenticatedAs. It logs
// who made it, and posts a note (KindNote) into the thread of every open
// incident with a notified alert the silence matches. Errors other than a
// Store failure and ErrTooManySilences are *SilenceError.
func (m *Manager) AddSilence(ctx context.Context, r SilenceRequest) (*Silence, error) {
	now := m.now()
	caller := webauth.CallerFrom(ctx)
	m.mu.Lock()
	known := m.knownValues()
	m.mu.Unlock()
	s, err := r.silence(now, known, caller)
	if err != nil {
		return nil, &SilenceError{Err: err}
	}
	m.mu.Lock()
	n := 0
	for _, o := range m.silences {
		if now.Before(o.EndsAt) {
			n++
		}
	}
	if n >= m.maxSilences {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w (%d)", ErrTooManySilences, m.maxSilences)
	}
	m.silences[s.ID] = s
	m.mu.Unlock()
	if err := m.saveSilences(ctx); err != nil {
		m.mu.Lock()
		delete(m.silences, s.ID)
		m.mu.Unlock()
		return nil, err
	}
	m.log.Info("silence added", "silence", s.ID, "created_by", s.CreatedBy, "caller", caller.String(), "remote", caller.Remote,
		"matchers", matcherStrings(s.Matchers), "starts_at", s.StartsAt, "ends_at", s.EndsAt, "comment", s.Comment)
	m.updateMetrics(m.now())
	m.note(ctx, s, silencedNote(s, now), now)
	return s, nil
}

// SilenceError is an invalid silence request.
type SilenceError struct{ Err error }

func (e *SilenceError) Error() string { return e.Err.Error() }
func (e *SilenceError) Unwrap() error { return e.Err }

// Silences returns the silences in force or to come, by end time.
func (m *Manager) Silences() []Silence {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Silence
	for _, s := range m.silences {
		if now.Before(s.EndsAt) {
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b Silence) int {
		return cmp.Or(a.EndsAt.Compare(b.EndsAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// RemoveSilence ends the silence id at once, for the caller in ctx
// (webauth.CallerFrom). It logs who removed which silence, and posts a note
// into the thread of every open incident with a notified alert the silence
// matches. It returns ErrSilenceNotFound for an unknown id.
func (m *Manager) RemoveSilence(ctx context.Context, id string) error {
	m.mu.Lock()
	s, ok := m.silences[id]
	if ok {
		delete(m.silences, id)
	}
	m.mu.Unlock()
	if !ok {
		return ErrSilenceNotFound
	}
	if err := m.saveSilences(ctx); err != nil {
		m.mu.Lock()
		m.silences[id] = s
		m.mu.Unlock()
		return err
	}
	caller := webauth.CallerFrom(ctx)
	m.log.Info("silence removed", "silence", id, "caller", caller.String(), "remote", caller.Remote,
		"created_by", s.CreatedBy, "matchers", matcherStrings(s.Matchers), "comment", s.Comment)
	now := m.now()
	m.updateMetrics(now)
	m.note(ctx, s, unsilencedNote(s, caller), now)
	wake(m.wakeDispatch)
	return nil
}

// note enqueues a KindNote notification with text for every integration
// into each open incident that has a notified alert s matches, saves the
// state and wakes the deliveries. The incidents themselves do not change.
func (m *Manager) note(ctx context.Context, s *Silence, text string, now time.Time) {
	m.mu.Lock()
	noted := 0
	for _, key := range slices.Sorted(maps.Keys(m.st.Incidents)) {
		inc := m.st.Incidents[key]
		touched := false
		for _, a := range inc.Notified {
			if s.matches(a.Labels) {
				touched = true
				break
			}
		}
		if !touched {
			continue
		}
		n := &Notification{
			Kind: KindNote, Incident: inc.ID, GroupKey: inc.GroupKey, GroupLabels: maps.Clone(inc.GroupLabels),
			Status: StatusFiring, Channel: inc.Channel, Opened: inc.Opened, Time: now, Note: text,
		}
		for _, nt := range m.notifiers {
			m.st.Seq++
			m.st.Outbox = append(m.st.Outbox, &entry{Seq: m.st.Seq, Integration: nt.Name(), N: n, Enqueued: now, Next: now})
		}
		m.dirty = true
		noted++
		m.log.Debug("silence noted in incident", "silence", s.ID, "incident", inc.ID)
	}
	if noted > 0 {
		m.updateMetricsLocked(now)
	}
	m.mu.Unlock()
	if noted == 0 || len(m.notifiers) == 0 {
		return
	}
	m.persist(ctx)
	for _, ch := range m.wakeDeliver {
		wake(ch)
	}
	// A failed save is retried by the dispatch loop.
	wake(m.wakeDispatch)
}

func matcherStrings(ms []Matcher) []string {
	out := make([]string, len(ms))
	for i := range ms {
		out[i] = ms[i].String()
	}
	return out
}

// knownValues returns the values of labels known in the mesh, for the
// catch-all check of a silence: the configured products, their SLOs and
// SLI kinds (and "lag"), the severities, and the alert names, those of
// the tracked alerts included. The caller holds m.mu.
func (m *Manager) knownValues() labelValues {
	kv := labelValues{}
	add := func(label, v string) {
		if v != "" && !slices.Contains(kv[label], v) {
			kv[label] = append(kv[label], v)
		}
	}
	for i := range m.cfg.Products {
		p := &m.cfg.Products[i]
		add(LabelProduct, p.Name)
		for _, slo := range p.SLOs {
			add(LabelSLO, slo.Name)
			add(LabelSLI, slo.SLI)
		}
	}
	add(LabelSLI, meshwatch.SLILag)
	add(LabelSeverity, SeverityPage)
	add(LabelSeverity, SeverityTicket)
	for _, n := range meshwatch.AlertNames {
		add(LabelAlertname, n)
	}
	var names []string
	for _, t := range m.alerts {
		names = append(names, t.a.Name())
	}
	slices.Sort(names)
	for _, n := range names {
		add(LabelAlertname, n)
	}
	return kv
}

// expireSilences forgets the silences that ended and reports whether any
// did. The caller holds m.mu. The Store is written by saveExpiredSilences,
// outside m.mu.
func (m *Manager) expireSilences(now time.Time) bool {
	expired := false
	for id, s := range m.silences {
		if !now.Before(s.EndsAt) {
			delete(m.silences, id)
			expired = true
		}
	}
	if expired {
		m.silencesDirty = true
	}
	return expired
}

// saveExpiredSilences writes the silences to the Store when some expired
// since the last save. A failure is counted and logged (once a minute);
// the dispatch loop tries again.
func (m *Manager) saveExpiredSilences(ctx context.Context) {
	m.mu.Lock()
	dirty := m.silencesDirty
	m.mu.Unlock()
	if !dirty {
		return
	}
	if err := m.saveSilences(ctx); err != nil {
		m.mu.Lock()
		m.logOnce("silences", "expired silences not removed from the store", "err", err)
		m.mu.Unlock()
	}
}

// saveSilences writes the silences to the Store. Writes are serialised so
// that the Store ends with the latest silences.
func (m *Manager) saveSilences(ctx context.Context) error {
	m.silencesMu.Lock()
	defer m.silencesMu.Unlock()
	m.mu.Lock()
	ss := slices.SortedFunc(maps.Values(m.silences), func(a, b *Silence) int { return cmp.Compare(a.ID, b.ID) })
	b, err := json.Marshal(ss)
	wasDirty := m.silencesDirty
	m.silencesDirty = false
	m.mu.Unlock()
	if err == nil {
		err = m.store.Put(ctx, SilencesKey, b)
	}
	if err != nil {
		m.mu.Lock()
		m.silencesDirty = m.silencesDirty || wasDirty
		m.mu.Unlock()
		m.metrics.stateErrors.WithLabelValues("save").Inc()
		return fmt.Errorf("alert: save silences: %w", err)
	}
	return nil
}

// maxSilenceRequest bounds the body of POST /api/v1/silences.
const maxSilenceRequest = 64 << 10

// SilencesHandler serves the silences API; mount it on both
// "/api/v1/silences" and "/api/v1/silences/":
//
//	GET    /api/v1/silences        the silences in force or to come (JSON array of Silence)
//	POST   /api/v1/silences        create one from a SilenceRequest: 201 and the Silence, 400 and {"error"} when invalid
//	                               (a catch-all silence among others), 409 when MaxSilences are in force or to come,
//	                               413 for a body over 64 KiB
//	DELETE /api/v1/silences/{id}   end it: 204, or 404
//
// The handler does not authenticate: serve it behind the Guard of package
// internal/webauth, which authenticates every write (a bearer token or a
// basic-auth user), answers 401 or 403 before the handler when it cannot,
// and puts the Caller in the request's context. The handler records that
// caller in the silence (AuthenticatedAs), in the log and in the notes it
// posts into the affected incidents' threads; without a Guard every caller
// is anonymous, known only by its address.
func (m *Manager) SilencesHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/silences", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, nonNil(m.Silences()))
	})
	mux.HandleFunc("POST /api/v1/silences", func(w http.ResponseWriter, r *http.Request) {
		var req SilenceRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSilenceRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("the request is larger than %d bytes", maxSilenceRequest)})
				return
			}
			writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid JSON: " + err.Error()})
			return
		}
		s, err := m.AddSilence(callerContext(r), req)
		var se *SilenceError
		switch {
		case errors.Is(err, ErrTooManySilences):
			writeJSON(w, http.StatusConflict, apiError{Error: err.Error()})
		case errors.As(err, &se):
			writeJSON(w, http.StatusBadRequest, apiError{Error: se.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
		default:
			writeJSON(w, http.StatusCreated, s)
		}
	})
	mux.HandleFunc("DELETE /api/v1/silences/{id}", func(w http.ResponseWriter, r *http.Request) {
		err := m.RemoveSilence(callerContext(r), r.PathValue("id"))
		switch {
		case errors.Is(err, ErrSilenceNotFound):
			writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	return mux
}

// callerContext returns r's context with its caller: the Guard's, or an
// anonymous one at r's remote address.
func callerContext(r *http.Request) context.Context {
	return webauth.WithCaller(r.Context(), webauth.RequestCaller(r))
}

// AlertsHandler serves GET /api/v1/alerts: the alerts the Manager knows
// (pending, firing, resolved and not yet notified) as a JSON array of
// AlertView, with why each is muted.
func (m *Manager) AlertsHandler() http.Handler {
	return getJSON(func() any { return nonNil(m.Alerts()) })
}

// getJSON serves GET with what view returns, as JSON; any other method is
// 405.
func getJSON(view func() any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: "method not allowed"})
			return
		}
		writeJSON(w, http.StatusOK, view())
	})
}

// IncidentsHandler serves GET /api/v1/incidents: the open incidents as a
// JSON array of IncidentView, each with its upstream cause and the
// consuming teams told of it.
func (m *Manager) IncidentsHandler() http.Handler {
	return getJSON(func() any { return m.Incidents() })
}

// Alerts returns the alerts the Manager knows, by product and fingerprint.
func (m *Manager) Alerts() []AlertView {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	unavailable, causes := m.unavailable(), m.newCauses(now)
	out := make([]AlertView, 0, len(m.alerts))
	for _, t := range m.alerts {
		v := viewOf(&t.a)
		v.Unknown = t.held
		if t.a.Status == StatusFiring {
			v.Muted, v.SilencedBy = m.muted(&t.a, now, unavailable)
			if v.CausedBy = causes.causedBy(&t.a); v.CausedBy != "" && v.Muted == "" {
				v.Muted = MutedInhibited
			}
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b AlertView) int {
		return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	return out
}

type apiError struct {
	Error string `json:"error"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<", ">" and "&" as written
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// SilenceClient talks to an agent's silences API, for `meshwatch silence`.
// Writes need credentials when the agent is behind its Guard: a Token, or
// a Username and Password. They are sent with every request and appear in
// no error.
type SilenceClient struct {
	// BaseURL is the agent's HTTP address ("http://localhost:9477").
	BaseURL string
	// Token is sent as "Authorization: Bearer <Token>" (a token of the
	// agent's http.api_token_file). It takes precedence over Username.
	Token string
	// Username and Password are sent as basic authentication (a user of
	// the agent's web configuration file) when Username is set and Token
	// is not.
	Username, Password string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
}

// ErrUnauthorized is wrapped by the error of a request the agent answered
// with 401: it wants credentials, or refused those given.
var ErrUnauthorized = errors.New("the agent wants credentials: give a token with MESHWATCH_API_TOKEN or -config")

// Add creates a silence. An invalid request returns the agent's reasons.
func (c *SilenceClient) Add(ctx context.Context, r SilenceRequest) (*Silence, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var s Silence
	if err := c.do(ctx, http.MethodPost, "/api/v1/silences", body, http.StatusCreated, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// List returns the silences in force or to come.
func (c *SilenceClient) List(ctx context.Context) ([]Silence, error) {
	var ss []Silence
	if err := c.do(ctx, http.MethodGet, "/api/v1/silences", nil, http.StatusOK, &ss); err != nil {
		return nil, err
	}
	return ss, nil
}

// Remove ends the silence id; an unknown id returns an error wrapping
// ErrSilenceNotFound.
func (c *SilenceClient) Remove(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/silences/"+url.PathEscape(id), nil, http.StatusNoContent, nil)
}

func (c *SilenceClient) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("silences: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var ae apiError
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &ae) == nil && ae.Error != "" {
			msg = ae.Error
		}
		msg = c.redact(msg, req.Header.Get("Authorization"))
		err := fmt.Errorf("silences: %s %s: HTTP %d: %s", method, path, resp.StatusCode, msg)
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			err = fmt.Errorf("silences: %s %s: HTTP 401: %s — %w", method, path, msg, ErrUnauthorized)
		case resp.StatusCode == http.StatusNotFound && method == http.MethodDelete:
			err = fmt.Errorf("%w: %w", ErrSilenceNotFound, err)
		}
		return err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("silences: %s %s: %w", method, path, err)
		}
	}
	return nil
}

// redact removes the client's credentials from msg, which comes from the
// server: one that echoes what it was sent must not put them in an error.
func (c *SilenceClient) redact(msg, authorization string) string {
	for _, secret := range []string{authorization, c.Token, c.Password} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "<redacted>")
		}
	}
	if _, cred, ok := strings.Cut(authorization, " "); ok && cred != "" {
		msg = strings.ReplaceAll(msg, cred, "<redacted>")
	}
	return msg
}
