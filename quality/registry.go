package quality

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/sync/singleflight"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshwatch/meshwatch/internal/protoschema"
	"github.com/meshwatch/meshwatch/internal/tlsconf"
)

// Backoff of a schema id the registry did not serve: a failing registry is
// asked again after retryFirst, doubling up to retryMax, so that a burst of
// records with that id costs one request, not one each.
const (
	retryFirst = 5 * time.Second
	retryMax   = time.Minute
	// maxRefDepth bounds how deep schema references are followed.
	maxRefDepth = 8
)

// NewRegistryClient returns a client of the schema registry c describes,
// with its basic or bearer auth and TLS. It never puts a secret in an
// error.
func NewRegistryClient(c *RegistryConfig) (*sr.Client, error) {
	opts := []sr.ClientOpt{sr.URLs(c.URL), sr.UserAgent("meshwatch")}
	switch {
	case c.Token != "":
		opts = append(opts, sr.BearerToken(c.Token.Reveal()))
	case c.Username != "":
		opts = append(opts, sr.BasicAuth(c.Username, c.Password.Reveal()))
	}
	httpcl := &http.Client{Timeout: 10 * time.Second}
	if c.TLS != nil && (c.TLS.Enabled || c.TLS.CAFile != "" || c.TLS.CertFile != "") {
		tc, err := tlsConfig(c.TLS)
		if err != nil {
			return nil, fmt.Errorf("schema registry: %w", err)
		}
		httpcl.Transport = &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}
	}
	opts = append(opts, sr.HTTPClient(httpcl))
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry: %w", err)
	}
	return cl, nil
}

func tlsConfig(t *tlsconf.TLS) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the operator asked for it
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no PEM certificate in it", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Schema is a registry schema compiled for decoding.
type Schema struct {
	ID       int
	Type     sr.SchemaType
	Avro     avro.Schema                 // TypeAvro
	Proto    protoreflect.FileDescriptor // TypeProtobuf
	Metadata *sr.SchemaMetadata
	RuleSet  *sr.SchemaRuleSet
}

// schemaEntry is a cache slot: a compiled schema, or why there is none and
// when to ask again.
type schemaEntry struct {
	schema  *Schema
	reason  Reason
	retryAt time.Time
	backoff time.Duration
}

// schemas resolves schema ids through the registry, caching each compiled
// schema by id for the life of the agent (a schema id never changes
// meaning). It is safe for concurrent use.
type schemas struct {
	cl      *sr.Client
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	m       *Metrics
	logs    *onceEvery

	mu   sync.RWMutex
	byID map[uint32]*schemaEntry
	// flight makes concurrent misses of one id share one fetch.
	flight singleflight.Group
}

// get returns the schema with id, fetching and compiling it on first use.
// It returns ReasonUnknownSchemaID when the registry does not know id,
// ReasonRegistryUnavailable when it cannot be asked (until the retry time),
// and ReasonSchemaMismatch when the schema cannot be compiled.
func (s *schemas) get(id uint32) (*Schema, Reason) {
	if e, ok := s.cached(id); ok {
		return e.schema, e.reason
	}
	if s.cl == nil {
		return nil, ReasonRegistryUnavailable
	}
	v, _, _ := s.flight.Do(strconv.FormatUint(uint64(id), 10), func() (any, error) {
		return s.load(id), nil
	})
	e := v.(*schemaEntry)
	return e.schema, e.reason
}

// cached returns the cache slot of id, and whether it answers without a
// request: a schema, or a failure not due for retry.
func (s *schemas) cached(id uint32) (*schemaEntry, bool) {
	s.mu.RLock()
	e := s.byID[id]
	s.mu.RUnlock()
	return e, e != nil && (e.schema != nil || s.now().Before(e.retryAt))
}

// load fetches and compiles the schema with id and caches the outcome. get
// runs one load of an id at a time.
func (s *schemas) load(id uint32) *schemaEntry {
	e, ok := s.cached(id)
	if ok {
		return e // a load that just finished filled it
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	sch, reason, err := s.fetch(ctx, id)
	ne := &schemaEntry{schema: sch, reason: reason}
	if reason != ReasonOK {
		ne.backoff = retryFirst
		if e != nil && e.backoff > 0 {
			ne.backoff = min(2*e.backoff, retryMax)
		}
		ne.retryAt = s.now().Add(ne.backoff)
		if s.logs.ok("schema", s.now()) {
			s.log.Warn("schema registry: cannot use schema", "schema_id", id, "reason", reason.String(), "err", err)
		}
	}
	if s.m != nil {
		s.m.registryRequests.WithLabelValues(reason.String()).Inc()
	}
	s.mu.Lock()
	s.byID[id] = ne
	s.mu.Unlock()
	return ne
}

func (s *schemas) fetch(ctx context.Context, id uint32) (*Schema, Reason, error) {
	raw, err := s.cl.SchemaByID(ctx, int(id))
	if err != nil {
		if notFound(err) {
			return nil, ReasonUnknownSchemaID, err
		}
		return nil, ReasonRegistryUnavailable, err
	}
	sch, err := compileSchema(ctx, s.cl, raw)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && !notFound(err) {
			return nil, ReasonRegistryUnavailable, err
		}
		return nil, ReasonSchemaMismatch, err
	}
	sch.ID = int(id)
	return sch, ReasonOK, nil
}

func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// compileSchema parses an Avro or compiles a Protobuf registry schema,
// fetching the schemas it references from cl.
func compileSchema(ctx context.Context, cl *sr.Client, s sr.Schema) (*Schema, error) {
	out := &Schema{Type: s.Type, Metadata: s.SchemaMetadata, RuleSet: s.SchemaRuleSet}
	refs := map[string]string{}
	if err := fetchRefs(ctx, cl, s.References, refs, 0); err != nil {
		return nil, err
	}
	switch s.Type {
	case sr.TypeAvro:
		cache := &avro.SchemaCache{}
		for _, r := range s.References {
			if _, err := avro.ParseWithCache(refs[r.Name], "", cache); err != nil {
				return nil, fmt.Errorf("avro reference %s: %w", r.Name, err)
			}
		}
		sch, err := avro.ParseWithCache(s.Schema, "", cache)
		if err != nil {
			return nil, fmt.Errorf("avro schema: %w", err)
		}
		out.Avro = sch
	case sr.TypeProtobuf:
		fd, err := protoschema.Compile(ctx, s.Schema, refs)
		if err != nil {
			return nil, err
		}
		out.Proto = fd
	default:
		return nil, fmt.Errorf("schema type %s cannot be decoded", s.Type)
	}
	return out, nil
}

func fetchRefs(ctx context.Context, cl *sr.Client, refs []sr.SchemaReference, into map[string]string, depth int) error {
	if depth > maxRefDepth {
		return errors.New("schema references nest too deep")
	}
	for _, r := range refs {
		if _, done := into[r.Name]; done {
			continue
		}
		ss, err := cl.SchemaByVersion(ctx, r.Subject, r.Version)
		if err != nil {
			return fmt.Errorf("schema reference %s: %w", r.Name, err)
		}
		// Dependencies first, so that Avro named types are known in order.
		if err := fetchRefs(ctx, cl, ss.References, into, depth+1); err != nil {
			return err
		}
		into[r.Name] = ss.Schema.Schema
	}
	return nil
}

// onceEvery lets a repeating event through at most once per interval per
// key: the rule for logging errors that repeat.
type onceEvery struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
}

func (o *onceEvery) ok(key string, now time.Time) bool {
	if o == nil {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last == nil {
		o.last = map[string]time.Time{}
	}
	if t, seen := o.last[key]; seen && now.Sub(t) < o.interval {
		return false
	}
	o.last[key] = now
	return true
}
