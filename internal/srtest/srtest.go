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
//	GET  /config                                  the global compatibility level
//	PUT  /config                                  set it: {"compatibility":"FULL"}
//	GET  /config/{subject}                        the subject's level (defaultToGlobal=true: or the global one)
//	PUT  /config/{subject}                        set it
//	DELETE /config/{subject}                      drop it, back to the global level
//	POST /compatibility/subjects/{subject}/versions/{version}
//	                                              check a schema against a version, or "latest"
//	POST /compatibility/subjects/{subject}/versions
//	                                              check it against the latest, or every version for *_TRANSITIVE
//
// Responses carry the schema's references, metadata and ruleSet as Confluent
// Schema Registry 7.4+ does. Errors have Confluent's JSON shape and codes
// (40401 subject not found, 40402 version not found, 40403 schema not
// found, 40408 subject without a compatibility level, 42201 invalid schema,
// 42203 invalid compatibility level). Optional basic or bearer auth is
// checked on every request, and SetFailing makes every request fail with 503
// to test a registry outage.
//
// Compatibility follows the subject's level, or the global one (BACKWARD
// unless set): the compatibility endpoints really check AVRO schemas with
// hamba/avro (BACKWARD: the new schema reads data written with the old one,
// FORWARD: the old reads the new, FULL: both; *_TRANSITIVE checks the named
// version and every earlier one; NONE: everything is compatible). A schema
// of another type is compatible unless SetIncompatible says otherwise. Like
// a registry whose subject was NONE when it was written, Register and the
// POST to /subjects/{subject}/versions accept any schema: compatibility is
// only checked when asked.
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
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hamba/avro/v2"
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

	global       string            // the global compatibility level
	compat       map[string]string // subject → its own compatibility level
	incompatible map[string]bool   // subject → every check fails (SetIncompatible)
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

		global:       "BACKWARD",
		compat:       map[string]string{},
		incompatible: map[string]bool{},
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

// SetCompatibility sets subject's compatibility level, as a PUT to
// /config/{subject} does; subject "" sets the global level, which is
// BACKWARD until set. An empty level drops the subject's own level, so that
// the global one applies again. The level is not checked here: an unknown
// one makes every compatibility check of the subject fail with 42203.
func (s *Server) SetCompatibility(subject, level string) {
	level = strings.ToUpper(level)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case subject == "":
		s.global = level
	case level == "":
		delete(s.compat, subject)
	default:
		s.compat[subject] = level
	}
}

// SetIncompatible makes every compatibility check against subject answer
// "not compatible" while on is true, whatever the schemas' type, unless the
// subject's level is NONE. It stands in for the checks of PROTOBUF and JSON
// schemas, which the server does not do itself.
func (s *Server) SetIncompatible(subject string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.incompatible[subject] = true
	} else {
		delete(s.incompatible, subject)
	}
}

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
	mux.HandleFunc("GET /config", s.getGlobalConfig)
	mux.HandleFunc("PUT /config", s.putConfig)
	mux.HandleFunc("GET /config/{subject}", s.getSubjectConfig)
	mux.HandleFunc("PUT /config/{subject}", s.putConfig)
	mux.HandleFunc("DELETE /config/{subject}", s.deleteSubjectConfig)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", s.checkCompatibility)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", s.checkCompatibility)
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

// levels are the compatibility levels a registry knows.
var levels = []string{
	"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
	"FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE",
}

func (s *Server) getGlobalConfig(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	level := s.global
	s.mu.Unlock()
	writeJSON(w, map[string]string{"compatibilityLevel": level})
}

func (s *Server) getSubjectConfig(w http.ResponseWriter, r *http.Request) {
	subject := r.PathValue("subject")
	s.mu.Lock()
	level, ok := s.compat[subject]
	if !ok && r.URL.Query().Get("defaultToGlobal") == "true" {
		level, ok = s.global, true
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, 40408, "Subject '"+subject+"' does not have subject-level compatibility configured")
		return
	}
	writeJSON(w, map[string]string{"compatibilityLevel": level})
}

// putConfig serves PUT /config and PUT /config/{subject}.
func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusUnprocessableEntity, 42203, "Invalid compatibility level")
		return
	}
	level := strings.ToUpper(body.Compatibility)
	if !slices.Contains(levels, level) {
		writeError(w, http.StatusUnprocessableEntity, 42203, "Invalid compatibility level")
		return
	}
	s.SetCompatibility(r.PathValue("subject"), level) // "" for PUT /config: the global level
	writeJSON(w, map[string]string{"compatibility": level})
}

func (s *Server) deleteSubjectConfig(w http.ResponseWriter, r *http.Request) {
	subject := r.PathValue("subject")
	s.mu.Lock()
	level, ok := s.compat[subject]
	delete(s.compat, subject)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, 40408, "Subject '"+subject+"' does not have subject-level compatibility configured")
		return
	}
	writeJSON(w, map[string]string{"compatibility": level})
}

// checkCompatibility serves POST /compatibility/subjects/{subject}/versions
// and …/versions/{version}.
func (s *Server) checkCompatibility(w http.ResponseWriter, r *http.Request) {
	subject := r.PathValue("subject")
	var schema sr.Schema
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&schema); err != nil || schema.Schema == "" {
		writeError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema")
		return
	}
	s.mu.Lock()
	ids, known := s.subjects[subject]
	ids = slices.Clone(ids)
	level, ok := s.compat[subject]
	if !ok {
		level = s.global
	}
	forced := s.incompatible[subject]
	s.mu.Unlock()

	raw, byVersion := r.PathValue("version"), r.PathValue("version") != ""
	if byVersion && !known {
		writeError(w, http.StatusNotFound, 40401, "Subject '"+subject+"' not found.")
		return
	}
	// against: the versions (1-based) to check, newest first.
	var against []int
	upTo := len(ids)
	if byVersion && raw != "latest" && raw != "-1" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > len(ids) {
			writeError(w, http.StatusNotFound, 40402, "Version "+raw+" not found.")
			return
		}
		upTo = n
	}
	transitive := strings.HasSuffix(level, "_TRANSITIVE")
	for v := upTo; v >= 1; v-- {
		against = append(against, v)
		if !transitive {
			break
		}
	}

	var messages []string
	switch {
	case !slices.Contains(levels, level):
		writeError(w, http.StatusUnprocessableEntity, 42203, "Invalid compatibility level "+level)
		return
	case level == "NONE":
	case forced:
		messages = append(messages, "srtest: incompatible on purpose (SetIncompatible)")
	case schema.Type == sr.TypeAvro:
		reader, err := s.parseAvro(schema)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema: "+err.Error())
			return
		}
		for _, v := range against {
			s.mu.Lock()
			old := s.byID[ids[v-1]].schema
			s.mu.Unlock()
			messages = append(messages, s.avroIncompatibilities(level, v, reader, old)...)
		}
	default:
		for _, v := range against {
			s.mu.Lock()
			old := s.byID[ids[v-1]].schema
			s.mu.Unlock()
			if old.Type != schema.Type {
				messages = append(messages, fmt.Sprintf("version %d is of type %s, not %s", v, old.Type, schema.Type))
			}
		}
	}
	out := struct {
		Is       bool     `json:"is_compatible"`
		Messages []string `json:"messages"`
	}{Is: len(messages) == 0, Messages: []string{}}
	if r.URL.Query().Get("verbose") == "true" && messages != nil {
		out.Messages = messages
	}
	writeJSON(w, out)
}

// avroIncompatibilities checks the new (parsed) schema against old, version
// v of the subject, at level, and says what is wrong, if anything.
func (s *Server) avroIncompatibilities(level string, v int, schema avro.Schema, old sr.Schema) []string {
	if old.Type != sr.TypeAvro {
		return []string{fmt.Sprintf("version %d is of type %s, not AVRO", v, old.Type)}
	}
	prev, err := s.parseAvro(old)
	if err != nil {
		return []string{fmt.Sprintf("version %d does not parse: %v", v, err)}
	}
	var out []string
	check := avro.NewSchemaCompatibility()
	base := strings.TrimSuffix(level, "_TRANSITIVE")
	if base == "BACKWARD" || base == "FULL" {
		if err := check.Compatible(schema, prev); err != nil {
			out = append(out, fmt.Sprintf("%s: the new schema cannot read data written with version %d: %v", level, v, err))
		}
	}
	if base == "FORWARD" || base == "FULL" {
		if err := check.Compatible(prev, schema); err != nil {
			out = append(out, fmt.Sprintf("%s: version %d cannot read data written with the new schema: %v", level, v, err))
		}
	}
	return out
}

// parseAvro parses an AVRO schema with its references, which must be
// registered, in a cache of its own.
func (s *Server) parseAvro(schema sr.Schema) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	seen := map[sr.SchemaReference]bool{}
	var parseRefs func(refs []sr.SchemaReference, depth int) error
	parseRefs = func(refs []sr.SchemaReference, depth int) error {
		if depth > 16 {
			return errors.New("references nest too deep")
		}
		for _, ref := range refs {
			if seen[ref] {
				continue
			}
			seen[ref] = true
			s.mu.Lock()
			ids := s.subjects[ref.Subject]
			var st *stored
			if ref.Version >= 1 && ref.Version <= len(ids) {
				st = s.byID[ids[ref.Version-1]]
			}
			s.mu.Unlock()
			if st == nil {
				return fmt.Errorf("reference %q: subject %q has no version %d", ref.Name, ref.Subject, ref.Version)
			}
			if err := parseRefs(st.schema.References, depth+1); err != nil {
				return err
			}
			if _, err := avro.ParseWithCache(st.schema.Schema, "", cache); err != nil {
				return fmt.Errorf("reference %q: %w", ref.Name, err)
			}
		}
		return nil
	}
	if err := parseRefs(schema.References, 0); err != nil {
		return nil, err
	}
	return avro.ParseWithCache(schema.Schema, "", cache)
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
