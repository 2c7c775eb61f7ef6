package quality

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/buger/jsonparser"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshwatch/meshwatch"
)

// Sink receives the SLI events of every tick, in one call per tick. The SLO
// engine implements it; cmd/meshwatch wires it. ObserveSLI must not block for
// long: it runs on the engine's tick.
type Sink interface {
	ObserveSLI(events []meshwatch.SLIEvents)
}

// Options tune an Engine. Only Metrics is required.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics // required
	Sink    Sink     // optional
	// Now is the clock of ticks and volume windows (default time.Now).
	Now func() time.Time
	// Kafka is a client of the cluster, used for end offsets (volume, the
	// dead-letter share) and to read dead-letter records' headers by direct
	// fetch requests; it is never assigned partitions or a group. Without it
	// volume and dead-letter topics are not measured.
	Kafka *kgo.Client
	// Tick is the interval of the SLI ticks, collector.tick (default 10s).
	Tick time.Duration
	// SchemaRegistry is the schema_registry: section; nil for none.
	SchemaRegistry *RegistryConfig
	// Registry is the schema registry client (default: one made from
	// SchemaRegistry with NewRegistryClient).
	Registry *sr.Client
	// RegistryTimeout bounds one registry request (default 5s).
	RegistryTimeout time.Duration
	// RefreshInterval is how often each subject's latest schema is read
	// for its ruleSet and metadata (default 1m).
	RefreshInterval time.Duration
}

// Engine decodes every sampled record once, checks it against its product's
// rules and turns the results into completeness, validity and volume SLI
// events. Create it with New and start it with Run. ObserveRecord, Skipped
// and Quality are safe for concurrent use.
type Engine struct {
	cfg      *meshwatch.Config
	log      *slog.Logger
	m        *Metrics
	sink     Sink
	now      func() time.Time
	kafka    *kgo.Client
	tick     time.Duration
	refresh  time.Duration
	schemas  *schemas
	ruleEnv  *cel.Env
	fieldEnv *cel.Env
	logs     *onceEvery

	products []*product
	byName   map[string]*product

	tickMu   sync.Mutex // serialises ticks: Run's and the final one
	lastTick time.Time
}

// New compiles the rules of cfg's products. cfg must have been validated,
// Check included; New returns an error when a rule does not compile.
func New(cfg *meshwatch.Config, o Options) (*Engine, error) {
	if o.Metrics == nil {
		return nil, errors.New("quality: Options.Metrics is required")
	}
	e := &Engine{
		cfg:     cfg,
		log:     o.Logger,
		m:       o.Metrics,
		sink:    o.Sink,
		now:     o.Now,
		kafka:   o.Kafka,
		tick:    o.Tick,
		refresh: o.RefreshInterval,
		byName:  make(map[string]*product, len(cfg.Products)),
		logs:    &onceEvery{interval: time.Minute},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "quality")
	if e.now == nil {
		e.now = time.Now
	}
	if e.tick <= 0 {
		e.tick = 10 * time.Second
	}
	if e.refresh <= 0 {
		e.refresh = time.Minute
	}
	timeout := o.RegistryTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	cl := o.Registry
	if cl == nil && o.SchemaRegistry != nil && o.SchemaRegistry.URL != "" {
		var err error
		if cl, err = NewRegistryClient(o.SchemaRegistry); err != nil {
			return nil, err
		}
	}
	e.schemas = &schemas{cl: cl, timeout: timeout, now: e.now, log: e.log, m: e.m, logs: e.logs, byID: map[uint32]*schemaEntry{}}
	var err error
	if e.ruleEnv, err = newRuleEnv(); err != nil {
		return nil, err
	}
	if e.fieldEnv, err = newFieldEnv(); err != nil {
		return nil, err
	}
	for i := range cfg.Products {
		p, err := newProduct(&cfg.Products[i], e.ruleEnv)
		if err != nil {
			return nil, err
		}
		e.products = append(e.products, p)
		e.byName[p.p.Name] = p
	}
	if err := e.m.attach(e.products); err != nil {
		return nil, err
	}
	e.lastTick = e.now()
	return e, nil
}

// RecordRef names a record by its place, never its contents.
type RecordRef struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// lastFailures is how many failing records a rule remembers.
const lastFailures = 5

// rule is one compiled validity rule and its counts.
type rule struct {
	name, expr, source string
	prg                cel.Program
	// A Confluent CEL_FIELD rule runs per field: guard (optional) then prg.
	field *fieldRule

	series *ruleSeries // the rule name's records_total; set when installed
	counts [3]int64    // this rule's, for the report
	last   [lastFailures]RecordRef
	lastN  int
}

// eval runs the rule on the record bound to act and reports whether it
// passed. Errors (a missing field, a type mismatch, the cost limit) are
// counted as error and do not pass; their text, which may quote a value, is
// dropped.
func (ru *rule) eval(act *activation, fa *fieldActivation, rec *kgo.Record) bool {
	res := 2 // error
	if ru.field != nil {
		res = ru.field.eval(fa)
	} else {
		out, _, err := ru.prg.Eval(act)
		switch {
		case err != nil:
		case out == types.True:
			res = 0
		case out == types.False:
			res = 1
		}
	}
	ru.series.results[res].inc()
	ru.counts[res]++
	if res == 0 {
		return true
	}
	ru.last[ru.lastN%lastFailures] = RecordRef{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
	ru.lastN++
	return false
}

// counts are a product's SLI event counts since the last tick.
type counts struct {
	records                   int64 // sampled records checked
	validGood, validBad       int64
	completeGood, completeBad int64
}

// product is one product's rules and state. mu guards everything that
// changes after New; the product's series (Metrics) are read from it.
type product struct {
	p        *meshwatch.Product
	format   string
	created  int64 // Unix nanoseconds, of meshwatch_quality_checked_total
	required [][]string
	seqField []string
	seqKey   []string
	hasSLO   map[string]bool // SLI kinds the product has SLOs of

	mu         sync.Mutex
	rules      []*rule
	topicRules map[string][]*rule // registry ruleSet rules by topic
	subjects   map[string]*subjectInfo
	seq        *sequencer
	seqKeys    int // meshwatch_quality_sequence_keys, as of the last tick
	tick       counts
	total      totals
	ruleSeries []*ruleSeries // by rule name, at the first rule of the name
	rulesN     [2]int        // meshwatch_quality_rules: config, registry
	obj        jsonObject
	act        activation
	fact       fieldActivation
	idx        []int
	seed       maphash.Seed
	cur        current
	volume     volumeState
	dlq        dlqState
}

// current is the record being checked: its decoded form and schema.
type current struct {
	tree   map[string]any
	schema *Schema
	md     protoreflect.MessageDescriptor
}

// totals are a product's counts since start, for the report and the
// product's series.
type totals struct {
	records     int64
	undecodable [numReasons]count
	missing     []count // by place in Required
	seqMissing  count
	seqDup      count
	seqReset    count
	seqEvicted  count
	validGood   count
	validBad    count
	complGood   count
	complBad    count
}

func newProduct(p *meshwatch.Product, env *cel.Env) (*product, error) {
	ps := &product{
		p:        p,
		format:   p.Format,
		created:  time.Now().UnixNano(),
		hasSLO:   map[string]bool{},
		seed:     maphash.MakeSeed(),
		subjects: map[string]*subjectInfo{},
	}
	if ps.format == "" {
		ps.format = meshwatch.FormatRaw
	}
	for _, s := range p.SLOs {
		ps.hasSLO[s.SLI] = true
	}
	for _, f := range p.Quality.Required {
		ps.required = append(ps.required, splitPath(f))
	}
	ps.total.missing = make([]count, len(ps.required))
	for _, r := range p.Quality.Rules {
		prg, err := compileExpr(env, r.Expr)
		if err != nil {
			return nil, fmt.Errorf("product %s: rule %s: %w", p.Name, r.Name, err)
		}
		ru := &rule{name: r.Name, expr: r.Expr, source: r.Source, prg: prg}
		ru.series = ps.seriesOf(r.Name)
		ps.rules = append(ps.rules, ru)
	}
	ps.rulesN[0] = len(ps.rules)
	ps.dlq = dlqState{ends: map[partKey]int64{}, next: map[partKey]int64{}}
	if s := p.Quality.Sequence; s != nil {
		ps.seq = newSequencer(s.MaxKeys)
		ps.seqField = splitPath(s.Field)
		ps.seqKey = splitPath(s.Key)
	}
	return ps, nil
}

// ObserveRecord checks one sampled record of the product against its
// rules: it decodes the value once, evaluates the required fields, the CEL
// rules and the sequence on it, and counts the results. Records of unknown
// products and tombstones (a nil value) are ignored. It never logs and
// never fails; an undecodable record is counted with its reason. It is safe
// for concurrent use; calls for one product are serialised.
func (e *Engine) ObserveRecord(product string, r *kgo.Record) {
	p := e.byName[product]
	if p == nil || r == nil || r.Value == nil {
		return
	}
	p.mu.Lock()
	p.observe(e, r, nil)
	p.mu.Unlock()
}

// ObserveRecordField is ObserveRecord that also hands back one field of the
// record it decoded: the collector reads an Avro or Protobuf product's
// event_time.field this way, so that a sampled record is decoded once, here,
// for the rules and for its event time. It returns the value at path
// (dotted keys through nested records, messages or objects) in the form
// the rules read (DecodeAvro, DecodeProtobuf; for JSON a string, int64,
// float64, bool or nil, anything else as its raw bytes), whether the path
// is there, and, when the record could not be decoded, an error that names
// the reason only (its undecodable_total label), never a value. A
// tombstone is not checked and its field is not found.
func (e *Engine) ObserveRecordField(product string, r *kgo.Record, path []string) (any, bool, error) {
	p := e.byName[product]
	switch {
	case p == nil:
		return nil, false, errUnknownProduct
	case r == nil || r.Value == nil:
		return nil, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v, found, reason := p.observe(e, r, path)
	if reason != ReasonOK {
		return nil, false, undecodableErrs[reason]
	}
	return v, found, nil
}

// DecodeField decodes r as ObserveRecordField does and returns the same,
// without checking or counting it: for records that are not samples (the
// collector's freshness probe).
func (e *Engine) DecodeField(product string, r *kgo.Record, path []string) (any, bool, error) {
	p := e.byName[product]
	switch {
	case p == nil:
		return nil, false, errUnknownProduct
	case r == nil || r.Value == nil:
		return nil, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, reason := p.decode(e, r); reason != ReasonOK {
		p.cur = current{}
		return nil, false, undecodableErrs[reason]
	}
	v, found := p.fieldAt(path)
	p.cur = current{}
	return v, found, nil
}

// errUnknownProduct is what the field methods return for a product the
// engine does not know.
var errUnknownProduct = errors.New("quality: unknown product")

// undecodableErrs are the errors of the field methods, by reason: the
// reason's label, never a value.
var undecodableErrs = func() (errs [numReasons]error) {
	for r := ReasonOK + 1; r < numReasons; r++ {
		errs[r] = errors.New("quality: undecodable record: " + r.String())
	}
	return errs
}()

// Skipped tells the engine that records of the partition were fetched but
// not observed (the sampling budget was spent): a producer's sequence is not
// judged across the skip. It is safe for concurrent use.
func (e *Engine) Skipped(product, topic string, partition int32) {
	p := e.byName[product]
	if p == nil || p.seq == nil {
		return
	}
	p.mu.Lock()
	p.seq.skipped(topic, partition)
	p.mu.Unlock()
}

// observe checks r and returns the value at path (when path is not nil)
// in its decoded value, or the reason it could not be decoded.
func (p *product) observe(e *Engine, r *kgo.Record, path []string) (field any, found bool, _ Reason) {
	p.tick.records++
	p.total.records++
	msg, reason := p.decode(e, r)
	if reason != ReasonOK {
		p.total.undecodable[reason].inc()
		p.tick.validBad++
		if len(p.required) > 0 {
			p.tick.completeBad++
		}
		p.cur = current{}
		return nil, false, reason
	}
	valid := true
	if len(p.rules) > 0 || len(p.topicRules) > 0 {
		p.act.reset(r, msg)
		p.fact.reset(msg, p.cur)
		for _, ru := range p.rules {
			if !ru.eval(&p.act, &p.fact, r) {
				valid = false
			}
		}
		if trs := p.topicRules[r.Topic]; trs != nil {
			for _, ru := range trs {
				if !ru.eval(&p.act, &p.fact, r) {
					valid = false
				}
			}
		}
		p.act.reset(nil, nil)
	}
	if valid {
		p.tick.validGood++
	} else {
		p.tick.validBad++
	}
	if len(p.required) > 0 {
		complete := true
		for i, path := range p.required {
			if !p.present(path) {
				complete = false
				p.total.missing[i].inc()
			}
		}
		if complete {
			p.tick.completeGood++
		} else {
			p.tick.completeBad++
		}
	}
	if p.seq != nil {
		p.observeSeq(r)
	}
	if path != nil {
		field, found = p.fieldAt(path)
	}
	p.cur = current{}
	return field, found, ReasonOK
}

// fieldAt returns the value at path in the current record, and whether it
// is there; see ObserveRecordField for its form.
func (p *product) fieldAt(path []string) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	switch p.format {
	case meshwatch.FormatJSON:
		v, typ, ok := p.obj.path(path)
		if !ok {
			return nil, false
		}
		switch typ {
		case jsonparser.Null:
			return nil, true
		case jsonparser.String:
			s, err := jsonparser.ParseString(v)
			if err != nil {
				return v, true
			}
			return s, true
		case jsonparser.Number:
			if n, err := jsonparser.ParseInt(v); err == nil {
				return n, true
			}
			if f, err := jsonparser.ParseFloat(v); err == nil {
				return f, true
			}
			return v, true
		case jsonparser.Boolean:
			b, _ := jsonparser.ParseBoolean(v)
			return b, true
		}
		return v, true
	case meshwatch.FormatAvro, meshwatch.FormatProtobuf:
		return treeAt(p.cur.tree, path)
	}
	return nil, false // raw: no fields
}

func (p *product) observeSeq(r *kgo.Record) {
	n, ok := p.int64At(p.seqField)
	if !ok {
		return
	}
	var key uint64
	if p.seqKey == nil {
		key = maphash.String(p.seed, r.Topic) ^ uint64(uint32(r.Partition))*0x9e3779b97f4a7c15
	} else if key, ok = p.hashAt(p.seqKey); !ok {
		return
	}
	res := p.seq.observe(r.Topic, r.Partition, key, n)
	p.tick.completeGood += res.expected - res.missing
	p.tick.completeBad += res.missing
	p.total.seqMissing.add(res.missing)
	if res.dup {
		p.total.seqDup.inc()
	}
	if res.reset {
		p.total.seqReset.inc()
	}
	if res.evicted {
		p.total.seqEvicted.inc()
	}
}

// decode decodes r's value by the product's format and returns it as the
// CEL value of message.
func (p *product) decode(e *Engine, r *kgo.Record) (ref.Val, Reason) {
	switch p.format {
	case meshwatch.FormatJSON:
		if !p.obj.reset(r.Value) {
			return nil, ReasonNotJSON
		}
		return &p.obj, ReasonOK
	case meshwatch.FormatAvro, meshwatch.FormatProtobuf:
		id, payload, reason := ParseWire(r.Value)
		if reason != ReasonOK {
			return nil, reason
		}
		sch, reason := e.schemas.get(id)
		if reason != ReasonOK {
			return nil, reason
		}
		var tree map[string]any
		switch sch.Type {
		case sr.TypeAvro:
			v, reason := DecodeAvro(sch.Avro, payload)
			if reason != ReasonOK {
				return nil, reason
			}
			m, ok := v.(map[string]any)
			if !ok {
				m = map[string]any{"value": v} // a schema that is not a record
			}
			tree = m
		case sr.TypeProtobuf:
			var rest []byte
			p.idx, rest, reason = ParseMessageIndexes(payload, p.idx)
			if reason != ReasonOK {
				return nil, reason
			}
			md := MessageByIndexes(sch.Proto, p.idx)
			if md == nil {
				return nil, ReasonSchemaMismatch
			}
			if tree, reason = DecodeProtobuf(md, rest); reason != ReasonOK {
				return nil, reason
			}
			p.cur.md = md
		default:
			return nil, ReasonSchemaMismatch
		}
		p.cur.tree, p.cur.schema = tree, sch
		return types.DefaultTypeAdapter.NativeToValue(tree), ReasonOK
	}
	// raw: the value is bytes.
	p.cur.tree = nil
	return emptyMessage, ReasonOK
}

// emptyMessage is message for raw records: an empty map. CEL values are
// immutable, so one serves every record.
var emptyMessage = types.DefaultTypeAdapter.NativeToValue(map[string]any{})

// present reports whether path is in the current record and not null.
func (p *product) present(path []string) bool {
	if p.format == meshwatch.FormatJSON {
		_, typ, ok := p.obj.path(path)
		return ok && typ != jsonparser.Null
	}
	v, ok := treeAt(p.cur.tree, path)
	return ok && v != nil
}

func treeAt(m map[string]any, path []string) (any, bool) {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// int64At reads an integer (or a string of digits) at path.
func (p *product) int64At(path []string) (int64, bool) {
	if p.format == meshwatch.FormatJSON {
		v, typ, ok := p.obj.path(path)
		if !ok {
			return 0, false
		}
		switch typ {
		case jsonparser.Number, jsonparser.String:
			n, err := jsonparser.ParseInt(v)
			return n, err == nil
		}
		return 0, false
	}
	v, _ := treeAt(p.cur.tree, path)
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		return int64(n), n <= 1<<63-1
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// hashAt hashes the value at path; the producer key is kept only as this
// hash.
func (p *product) hashAt(path []string) (uint64, bool) {
	if p.format == meshwatch.FormatJSON {
		v, typ, ok := p.obj.path(path)
		if !ok || typ == jsonparser.Null {
			return 0, false
		}
		return maphash.Bytes(p.seed, v), true
	}
	v, _ := treeAt(p.cur.tree, path)
	switch k := v.(type) {
	case string:
		return maphash.String(p.seed, k), true
	case []byte:
		return maphash.Bytes(p.seed, k), true
	case int64:
		return maphash.Bytes(p.seed, binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(k))), true
	case uint64:
		return maphash.Bytes(p.seed, binary.BigEndian.AppendUint64(make([]byte, 0, 8), k)), true
	}
	return 0, false
}
