package quality

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshwatch/meshwatch"
)

// Confluent rule types meshwatch evaluates.
const (
	ruleTypeCEL      = "CEL"
	ruleTypeCELField = "CEL_FIELD"
)

// SubjectMetadata is what a product's subject (<topic>-value) declares in
// the schema registry beside its schema: metadata.properties (owner,
// owner_email, …) and the domain rules meshwatch evaluates.
type SubjectMetadata struct {
	Topic      string            `json:"topic"`
	Subject    string            `json:"subject"`
	Version    int               `json:"version"`
	SchemaID   int               `json:"schema_id"`
	Properties map[string]string `json:"properties,omitempty"`
	Rules      []string          `json:"rules,omitempty"`
	// Problems are rules that could not be compiled, and domain rules of
	// a type meshwatch does not evaluate, with the reason.
	Problems []string `json:"problems,omitempty"`
}

type subjectInfo struct {
	meta  SubjectMetadata
	rules []*rule
}

// SubjectMetadata returns what the product's subjects declare in the
// registry, as of the last refresh, ordered by topic. It is safe for
// concurrent use.
func (e *Engine) SubjectMetadata(product string) ([]SubjectMetadata, bool) {
	p := e.byName[product]
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.subjectMetadata(), true
}

func (p *product) subjectMetadata() []SubjectMetadata {
	out := make([]SubjectMetadata, 0, len(p.subjects))
	for _, t := range slices.Sorted(maps.Keys(p.subjects)) {
		m := p.subjects[t].meta
		m.Properties = maps.Clone(m.Properties)
		m.Rules = slices.Clone(m.Rules)
		m.Problems = slices.Clone(m.Problems)
		out = append(out, m)
	}
	return out
}

// refreshRuleSets reads the latest schema of each avro and protobuf
// product's subjects and installs the CEL and CEL_FIELD domain rules of
// their ruleSet. A subject that is gone drops its rules; a registry that
// fails keeps the rules it had.
func (e *Engine) refreshRuleSets(ctx context.Context, topics map[*product][]string) {
	cl := e.schemas.cl
	if cl == nil {
		return
	}
	for _, p := range e.products {
		if p.format != meshwatch.FormatAvro && p.format != meshwatch.FormatProtobuf {
			continue
		}
		for _, topic := range topics[p] {
			subject := meshwatch.ValueSubject(topic)
			rctx, cancel := context.WithTimeout(ctx, e.schemas.timeout)
			ss, err := cl.SchemaByVersion(rctx, subject, -1)
			cancel()
			switch {
			case err != nil && notFound(err):
				e.m.refreshes.WithLabelValues("not_found").Inc()
				p.mu.Lock()
				p.dropSubject(topic)
				p.mu.Unlock()
				continue
			case err != nil:
				e.m.refreshes.WithLabelValues("error").Inc()
				if e.logs.ok("refresh", e.now()) {
					e.log.Warn("schema registry: cannot read subject", "product", p.p.Name, "subject", subject, "err", err)
				}
				continue
			}
			e.m.refreshes.WithLabelValues("ok").Inc()
			p.mu.Lock()
			old := p.subjects[topic]
			p.mu.Unlock()
			if old != nil && old.meta.Version == ss.Version && old.meta.SchemaID == ss.ID {
				continue
			}
			si := e.compileSubject(p, topic, ss)
			p.mu.Lock()
			p.subjects[topic] = si
			p.installTopicRules()
			p.mu.Unlock()
			for _, msg := range si.meta.Problems {
				e.log.Warn("schema registry: domain rule not evaluated", "product", p.p.Name, "subject", subject, "version", ss.Version, "problem", msg)
			}
		}
	}
}

func (p *product) dropSubject(topic string) {
	if _, ok := p.subjects[topic]; ok {
		delete(p.subjects, topic)
		p.installTopicRules()
	}
}

// installTopicRules rebuilds the per-topic rule lists from the subjects.
// The caller holds p.mu.
func (p *product) installTopicRules() {
	p.topicRules = make(map[string][]*rule, len(p.subjects))
	n := 0
	for topic, si := range p.subjects {
		for _, ru := range si.rules {
			if ru.series == nil {
				ru.series = p.seriesOf(ru.name)
			}
		}
		if len(si.rules) > 0 {
			p.topicRules[topic] = si.rules
			n += len(si.rules)
		}
	}
	p.rulesN[1] = n
}

func (e *Engine) compileSubject(p *product, topic string, ss sr.SubjectSchema) *subjectInfo {
	si := &subjectInfo{meta: SubjectMetadata{Topic: topic, Subject: ss.Subject, Version: ss.Version, SchemaID: ss.ID}}
	if ss.Subject == "" {
		si.meta.Subject = meshwatch.ValueSubject(topic)
	}
	if md := ss.SchemaMetadata; md != nil {
		si.meta.Properties = maps.Clone(md.Properties)
	}
	rs := ss.SchemaRuleSet
	if rs == nil {
		return si
	}
	taken := map[string]bool{}
	for _, r := range p.rules {
		taken[r.name] = true
	}
	for _, sp := range p.subjects {
		if sp.meta.Topic == topic {
			continue
		}
		for _, r := range sp.rules {
			taken[r.name] = true
		}
	}
	source := fmt.Sprintf("registry:%s/%d", si.meta.Subject, ss.Version)
	for _, r := range rs.DomainRules {
		if r.Disabled || r.Kind == sr.SchemaRuleKindTransform {
			continue
		}
		if r.Type != ruleTypeCEL && r.Type != ruleTypeCELField {
			si.meta.Problems = append(si.meta.Problems, fmt.Sprintf("rule %s: type %s is not evaluated (only CEL and CEL_FIELD are)", r.Name, r.Type))
			continue
		}
		name := ruleLabel(r.Name)
		for taken[name] {
			name += "_registry"
		}
		ru := &rule{name: name, expr: r.Expr, source: source}
		var err error
		if r.Type == ruleTypeCEL {
			ru.prg, err = compileExpr(e.ruleEnv, r.Expr)
		} else {
			ru.field, err = compileFieldRule(e.fieldEnv, r.Expr, r.Tags)
		}
		if err != nil {
			si.meta.Problems = append(si.meta.Problems, fmt.Sprintf("rule %s: %v", r.Name, err))
			continue
		}
		taken[name] = true
		si.rules = append(si.rules, ru)
		si.meta.Rules = append(si.meta.Rules, name)
	}
	return si
}

// ruleLabel makes a registry rule's name a metric label like a config
// rule's: lowercase letters, digits and _, starting with a letter.
func ruleLabel(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 60 {
			break
		}
	}
	s := b.String()
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "r_" + s
	}
	return s
}

// fieldRule is a Confluent CEL_FIELD rule: evaluated for each field of the
// message whose tags match the rule's (every field when the rule has none).
// Its expression may start with a guard and a semicolon ("guard ; expr"):
// fields for which the guard is false are not checked.
type fieldRule struct {
	guard cel.Program
	prg   cel.Program
	tags  []string
}

func compileFieldRule(env *cel.Env, expr string, tags []string) (*fieldRule, error) {
	fr := &fieldRule{tags: tags}
	body := expr
	if g, rest, ok := splitGuard(expr); ok {
		prg, err := compileExpr(env, g)
		if err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
		fr.guard, body = prg, rest
	}
	prg, err := compileExpr(env, body)
	if err != nil {
		return nil, err
	}
	fr.prg = prg
	return fr, nil
}

// splitGuard splits "guard ; expr" at the first semicolon outside a string
// literal.
func splitGuard(expr string) (guard, rest string, ok bool) {
	var quote byte
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == ';':
			return strings.TrimSpace(expr[:i]), strings.TrimSpace(expr[i+1:]), true
		}
	}
	return "", expr, false
}

// eval returns 0 (pass), 1 (fail) or 2 (error) for the record bound to fa.
func (fr *fieldRule) eval(fa *fieldActivation) int {
	for _, f := range fa.fields() {
		if len(fr.tags) > 0 && !slices.ContainsFunc(fr.tags, func(t string) bool { return slices.Contains(f.tags, t) }) {
			continue
		}
		fa.field = f
		if fr.guard != nil {
			out, _, err := fr.guard.Eval(fa)
			if err != nil {
				return 2
			}
			if out != types.True {
				continue
			}
		}
		out, _, err := fr.prg.Eval(fa)
		switch {
		case err != nil:
			return 2
		case out == types.False:
			return 1
		case out != types.True:
			return 2
		}
	}
	return 0
}

// fieldInfo is one top-level field of a registry schema.
type fieldInfo struct {
	name     string
	typeName string
	tags     []string
	tagsVal  ref.Val
}

// fieldActivation binds the variables of CEL_FIELD rules. Its product
// reuses it from record to record.
type fieldActivation struct {
	msg   ref.Val
	cur   current
	field fieldInfo
	cache map[any][]fieldInfo // by *Schema (Avro) or message descriptor
}

func (fa *fieldActivation) reset(msg ref.Val, cur current) {
	fa.msg, fa.cur = msg, cur
}

// ResolveName implements interpreter.Activation.
func (fa *fieldActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "message":
		return fa.msg, true
	case "name":
		return types.String(fa.field.name), true
	case "typeName":
		return types.String(fa.field.typeName), true
	case "tags":
		return fa.field.tagsVal, true
	case "value":
		v, ok := fa.cur.tree[fa.field.name]
		if !ok || v == nil {
			return types.NullValue, true
		}
		return types.DefaultTypeAdapter.NativeToValue(v), true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (fa *fieldActivation) Parent() interpreter.Activation { return nil }

// fields returns the top-level fields of the current record's schema.
func (fa *fieldActivation) fields() []fieldInfo {
	var key any
	switch {
	case fa.cur.md != nil:
		key = fa.cur.md
	case fa.cur.schema != nil:
		key = fa.cur.schema
	default:
		return nil
	}
	if fs, ok := fa.cache[key]; ok {
		return fs
	}
	if fa.cache == nil || len(fa.cache) > 64 {
		fa.cache = map[any][]fieldInfo{}
	}
	var fs []fieldInfo
	var metaTags map[string][]string
	if fa.cur.schema != nil && fa.cur.schema.Metadata != nil {
		metaTags = fa.cur.schema.Metadata.Tags
	}
	if md := fa.cur.md; md != nil {
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			fs = append(fs, newFieldInfo(string(fd.Name()), protoTypeName(fd), nil, metaTags))
		}
	} else if rs, ok := fa.cur.schema.Avro.(*avro.RecordSchema); ok {
		for _, f := range rs.Fields() {
			var tags []string
			if raw, ok := f.Prop("confluent:tags").([]any); ok {
				for _, t := range raw {
					if s, ok := t.(string); ok {
						tags = append(tags, s)
					}
				}
			}
			fs = append(fs, newFieldInfo(f.Name(), avroTypeName(f.Type()), tags, metaTags))
		}
	}
	fa.cache[key] = fs
	return fs
}

func newFieldInfo(name, typeName string, tags []string, metaTags map[string][]string) fieldInfo {
	for path, ts := range metaTags {
		if path == name || strings.HasSuffix(path, "."+name) {
			tags = append(tags, ts...)
		}
	}
	return fieldInfo{name: name, typeName: typeName, tags: tags, tagsVal: types.NewStringList(types.DefaultTypeAdapter, tags)}
}

// avroTypeName is the Confluent type name of an Avro field: that of the
// non-null branch of a nullable union.
func avroTypeName(s avro.Schema) string {
	if u, ok := s.(*avro.UnionSchema); ok {
		if u.Nullable() {
			for _, t := range u.Types() {
				if t.Type() != avro.Null {
					return avroTypeName(t)
				}
			}
		}
		return "COMBINED"
	}
	if r, ok := s.(*avro.RefSchema); ok {
		return avroTypeName(r.Schema())
	}
	return strings.ToUpper(string(s.Type()))
}

func protoTypeName(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "MAP"
	case fd.IsList():
		return "ARRAY"
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "BOOLEAN"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "INT"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "LONG"
	case protoreflect.FloatKind:
		return "FLOAT"
	case protoreflect.DoubleKind:
		return "DOUBLE"
	case protoreflect.StringKind:
		return "STRING"
	case protoreflect.BytesKind:
		return "BYTES"
	case protoreflect.EnumKind:
		return "ENUM"
	}
	return "RECORD"
}
