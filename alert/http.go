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
)

// ErrSilenceNotFound is returned for an unknown silence ID.
var ErrSilenceNotFound = errors.New("silence not found")

// ErrTooManySilences is returned by AddSilence when Options.MaxSilences
// silences are in force or to come.
var ErrTooManySilences = errors.New("as many silences are in force or to come as there may be: remove some (meshwatch silence rm ID) or let them expire")

// AddSilence validates r and stores the silence it asks for. Errors other
// than a Store failure and ErrTooManySilences are *SilenceError.
func (m *Manager) AddSilence(ctx context.Context, r SilenceRequest) (*Silence, error) {
	now := m.now()
	s, err := r.silence(now)
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
	m.log.Info("silence added", "silence", s.ID, "created_by", s.CreatedBy, "ends_at", s.EndsAt)
	m.updateMetrics(m.now())
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

// RemoveSilence ends the silence id at once. It returns ErrSilenceNotFound
// for an unknown id.
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
	m.log.Info("silence removed", "silence", id)
	m.updateMetrics(m.now())
	wake(m.wakeDispatch)
	return nil
}

// expireSilences forgets the silences that ended. The caller holds m.mu.
// The Store is not written here: it keeps the ended silences until the
// next AddSilence or RemoveSilence saves them, and a Manager that reads
// them back forgets them at its first dispatch.
func (m *Manager) expireSilences(now time.Time) {
	for id, s := range m.silences {
		if !now.Before(s.EndsAt) {
			delete(m.silences, id)
		}
	}
}

func (m *Manager) saveSilences(ctx context.Context) error {
	m.mu.Lock()
	ss := slices.SortedFunc(maps.Values(m.silences), func(a, b *Silence) int { return cmp.Compare(a.ID, b.ID) })
	b, err := json.Marshal(ss)
	m.mu.Unlock()
	if err == nil {
		err = m.store.Put(ctx, SilencesKey, b)
	}
	if err != nil {
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
//	POST   /api/v1/silences        create one from a SilenceRequest: 201 and the Silence, 400 and {"error"} when invalid,
//	                               409 when MaxSilences are in force or to come, 413 for a body over 64 KiB
//	DELETE /api/v1/silences/{id}   end it: 204, or 404
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
		s, err := m.AddSilence(r.Context(), req)
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
		err := m.RemoveSilence(r.Context(), r.PathValue("id"))
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

// AlertsHandler serves GET /api/v1/alerts: the alerts the Manager knows
// (pending, firing, resolved and not yet notified) as a JSON array of
// AlertView, with why each is muted.
func (m *Manager) AlertsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: "method not allowed"})
			return
		}
		writeJSON(w, http.StatusOK, nonNil(m.Alerts()))
	})
}

// Alerts returns the alerts the Manager knows, by product and fingerprint.
func (m *Manager) Alerts() []AlertView {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	unavailable := m.unavailable()
	out := make([]AlertView, 0, len(m.alerts))
	for _, t := range m.alerts {
		v := viewOf(&t.a)
		v.Unknown = t.held
		if t.a.Status == StatusFiring {
			v.Muted, v.SilencedBy = m.muted(&t.a, now, unavailable)
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
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// SilenceClient talks to an agent's silences API, for `meshwatch silence`.
type SilenceClient struct {
	// BaseURL is the agent's HTTP address ("http://localhost:9477").
	BaseURL string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
}

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
		err := fmt.Errorf("silences: %s %s: HTTP %d: %s", method, path, resp.StatusCode, msg)
		if resp.StatusCode == http.StatusNotFound && method == http.MethodDelete {
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
