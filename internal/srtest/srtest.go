// Package srtest is an in-process, Confluent-compatible schema registry for
// tests and the demo: an httptest server on 127.0.0.1 that serves the REST
// endpoints meshwatch reads and writes.
//
//	GET  /schemas/ids/{id}                        the schema with that global id
//	GET  /schemas/ids/{id}/versions               subject-versions that use it
//	GET  /subjects                                every subject
//	GET  /subjects/{subject}/versions             the subject's versions
//	GET  /subjects/{subject}/versions/{version}   a version, or "latest"
//	POST /subjects/{subject}/versions             register a schema (returns its id)
//
// Responses carry the schema's references, metadata and ruleSet as Confluent
// Schema Registry 7.4+ does. Errors have Confluent's JSON shape and codes
// (40401 subject not found, 40402 version not found, 40403 schema not
// found). Optional basic or bearer auth is checked on every request, and
// SetFailing makes every request fail with 503 to test a registry outage.
package srtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

// contentType is what Confluent's registry answers with.
const contentType = "application/vnd.schemaregistry.v1+json"

// Option configures a Server.
type Option func(*Server)

// BasicAuth makes the server require HTTP basic auth with user and password.
func BasicAuth(user, password string) Option {
	return func(s *Server) { s.user, s.pass = user, password }
}

// BearerToken makes the server require "Authorization: Bearer token".
func BearerToken(token string) Option {
	return func(s *Server) { s.token = token }
}

// Server is an in-process schema registry. Its methods are safe for
// concurrent use.
type Server struct {
	srv               *httptest.Server
	user, pass, token string

	failing  atomic.Bool
	requests atomic.Int64

	mu       sync.Mutex
	byID     map[int]*stored  // global id → schema
	ids      map[string]int   // canonical JSON of a schema → its id
	subjects map[string][]int // subject → ids of its versions 1..n
	nextID   int
}

type stored struct {
	schema sr.Schema
}

// Start starts a registry on 127.0.0.1 at a random port. The caller must
// Close it.
func Start(opts ...Option) (*Server, error) {
	s := &Server{
		byID:     map[int]*stored{},
		ids:      map[string]int{},
		subjects: map[string][]int{},
		nextID:   1,
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("srtest: listen: %w", err)
	}
	s.srv = httptest.NewUnstartedServer(s.handler())
	_ = s.srv.Listener.Close() // the listener httptest made, replaced before it served anything
	s.srv.Listener = ln
	s.srv.Start()
	return s, nil
}

// New starts a registry as Start does and closes it when the test finishes.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// URL returns the registry's base URL, http://127.0.0.1:port.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Requests returns how many requests the server has received, rejected ones
// included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// SetFailing makes every request fail with 503 Service Unavailable while on
// is true.
func (s *Server) SetFailing(on bool) { s.failing.Store(on) }

// Register adds schema as the next version of subject, as a POST to
// /subjects/{subject}/versions does, and returns its global id and its
// version. A schema already registered (same text, type, references,
// metadata and ruleSet) keeps its id; registered again under the same
// subject it keeps its version too.
func (s *Server) Register(subject string, schema sr.Schema) (id, version int, err error) {
	if schema.Schema == "" {
		return 0, 0, errors.New("srtest: empty schema")
	}
	canon, err := json.Marshal(schema)
	if err != nil {
		return 0, 0, fmt.Errorf("srtest: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ids[string(canon)]
	if !ok {
		id = s.nextID
		s.nextID++
		s.ids[string(canon)] = id
		s.byID[id] = &stored{schema: schema}
	}
	versions := s.subjects[subject]
	if i := slices.Index(versions, id); i >= 0 {
		return id, i + 1, nil
	}
	s.subjects[subject] = append(versions, id)
	return id, len(versions) + 1, nil
}

// MustRegister is Register for a test: it fails the test on error.
func (s *Server) MustRegister(t testing.TB, subject string, schema sr.Schema) (id int) {
	t.Helper()
	id, _, err := s.Register(subject, schema)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /schemas/ids/{id}", s.schemaByID)
	mux.HandleFunc("GET /schemas/ids/{id}/versions", s.versionsByID)
	mux.HandleFunc("GET /subjects", s.listSubjects)
	mux.HandleFunc("GET /subjects/{subject}/versions", s.listVersions)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", s.subjectVersion)
	mux.HandleFunc("POST /subjects/{subject}/versions", s.register)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.failing.Load() {
			writeError(w, http.StatusServiceUnavailable, 50003, "srtest: failing on purpose")
			return
		}
		if !s.authorized(r) {
			writeError(w, http.StatusUnauthorized, 401, "Unauthorized")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	switch {
	case s.token != "":
		return r.Header.Get("Authorization") == "Bearer "+s.token
	case s.user != "":
		u, p, ok := r.BasicAuth()
		return ok && u == s.user && p == s.pass
	}
	return true
}

func (s *Server) schemaByID(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	st, ok := s.byID[id]
	s.mu.Unlock()
	if err != nil || !ok {
		writeError(w, http.StatusNotFound, 40403, "Schema "+r.PathValue("id")+" not found")
		return
	}
	writeJSON(w, st.schema)
}

func (s *Server) versionsByID(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	_, ok := s.byID[id]
	var out []sr.SubjectVersion
	for subject, ids := range s.subjects {
		for i, sid := range ids {
			if sid == id {
				out = append(out, sr.SubjectVersion{Subject: subject, Version: i + 1})
			}
		}
	}
	s.mu.Unlock()
	if err != nil || !ok {
		writeError(w, http.StatusNotFound, 40403, "Schema "+r.PathValue("id")+" not found")
		return
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	writeJSON(w, out)
}

func (s *Server) listSubjects(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]string, 0, len(s.subjects))
	for subject := range s.subjects {
		out = append(out, subject)
	}
	s.mu.Unlock()
	sort.Strings(out)
	writeJSON(w, out)
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	subject := r.PathValue("subject")
	s.mu.Lock()
	ids, ok := s.subjects[subject]
	n := len(ids)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, 40401, "Subject '"+subject+"' not found.")
		return
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	writeJSON(w, out)
}

func (s *Server) subjectVersion(w http.ResponseWriter, r *http.Request) {
	subject := r.PathValue("subject")
	s.mu.Lock()
	ids, ok := s.subjects[subject]
	ids = slices.Clone(ids)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, 40401, "Subject '"+subject+"' not found.")
		return
	}
	v := len(ids)
	if raw := r.PathValue("version"); raw != "latest" && raw != "-1" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > len(ids) {
			writeError(w, http.StatusNotFound, 40402, "Version "+raw+" not found.")
			return
		}
		v = n
	}
	id := ids[v-1]
	s.mu.Lock()
	st := s.byID[id]
	s.mu.Unlock()
	writeJSON(w, sr.SubjectSchema{Subject: subject, Version: v, ID: id, Schema: st.schema})
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var schema sr.Schema
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&schema); err != nil {
		writeError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema")
		return
	}
	id, _, err := s.Register(r.PathValue("subject"), schema)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema")
		return
	}
	writeJSON(w, map[string]int{"id": id})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", contentType)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
}
