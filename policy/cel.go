package policy

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/meshwatch/meshwatch"
)

// Product is product in a custom policy's CEL expression and message: what
// the model says of the product. Field names are the JSON (and CEL) ones.
type Product struct {
	Name   string `json:"name"`
	Domain string `json:"domain"`
	Owner  string `json:"owner"`
	// OwnerChannel is the owner's slack_channel, "" when it has none.
	OwnerChannel string `json:"owner_channel"`
	Tier         int    `json:"tier"`
	Description  string `json:"description"`
	// Version is the product's (its ODCS contract's) version.
	Version string `json:"version"`
	Kind    string `json:"kind"`   // events or state
	Format  string `json:"format"` // json, avro, protobuf or raw
	// ReplayWindowSeconds is replay_window in seconds, 0 for no promise.
	ReplayWindowSeconds int      `json:"replay_window_seconds"`
	PII                 []string `json:"pii"`
	SLOs                []SLO    `json:"slos"`
	// Topics are the names of the topics the product names; TopicPatterns
	// the patterns it selects topics with.
	Topics        []string `json:"topics"`
	TopicPatterns []string `json:"topic_patterns"`
	DLQTopics     []string `json:"dlq_topics"`
	Deprecated    bool     `json:"deprecated"`
	// Contract is the ODCS file the product comes from, "" for config.yaml.
	Contract string `json:"contract"`
}

// SLO is an entry of product.slos.
type SLO struct {
	Name string `json:"name"`
	SLI  string `json:"sli"`
}

// ACLSummary is acls in a custom policy's expression.
type ACLSummary struct {
	// PublicRead says that an ACL allows User:* to READ (or ALL) one of
	// the product's topics or DLQ topics.
	PublicRead bool `json:"public_read"`
	// Known is false when the cluster did not describe its ACLs; then
	// PublicRead is false and says nothing.
	Known bool `json:"known"`
}

// CostLimit bounds the work of one custom policy with nested
// comprehensions (topics.exists(t, subject.fields.all(...))) on one
// product, in cel-go's cost units; a policy that exceeds it is a
// violation saying it could not be evaluated. Other expressions do work
// in proportion to the lists they read, and run without cost tracking,
// which costs allocations.
const CostLimit = 100_000

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTag("json"),
			reflect.TypeFor[Product](), reflect.TypeFor[SLO](), reflect.TypeFor[Topic](),
			reflect.TypeFor[Subject](), reflect.TypeFor[ACLSummary]()),
		cel.Variable("product", cel.ObjectType("policy.Product")),
		cel.Variable("topics", cel.ListType(cel.ObjectType("policy.Topic"))),
		cel.Variable("subject", cel.ObjectType("policy.Subject")),
		cel.Variable("acls", cel.ObjectType("policy.ACLSummary")),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
	)
})

// custom compiles a custom policy's expression and message into r.
func (cc *compiler) custom(r *rule, p *Policy, path string) {
	env, err := celEnv()
	if err != nil {
		cc.errf(path, "CEL environment: %v", err)
		return
	}
	ep := meshwatch.JoinPath(path, "expr")
	ast, iss := env.Compile(p.Expr)
	if iss.Err() != nil {
		var msgs []string
		for _, e := range iss.Errors() {
			msgs = append(msgs, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
		}
		cc.errf(ep, "policy %s: invalid CEL expression: %s", r.id, strings.Join(msgs, "; "))
		return
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		cc.errf(ep, "policy %s: CEL expression must be a condition (bool) that holds for a compliant product, but it is of type %s", r.id, t)
		return
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	nested := false
	celast.PostOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.ComprehensionKind:
			// A comprehension inside another's loop can do work that
			// grows faster than the lists it reads; one alone cannot.
			celast.PostOrderVisit(e.AsComprehension().LoopStep(), celast.NewExprVisitor(func(in celast.Expr) {
				nested = nested || in.Kind() == celast.ComprehensionKind
			}))
		case celast.IdentKind:
			switch e.AsIdent() {
			case "topics":
				r.uses |= usesTopics
			case "subject":
				r.uses |= usesSubject
			case "acls":
				r.uses |= usesACLs
			}
		}
	}))
	if nested {
		opts = append(opts, cel.CostLimit(CostLimit))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		cc.errf(ep, "policy %s: invalid CEL expression: %v", r.id, err)
		return
	}
	r.prg, r.expr = prg, p.Expr
	r.offline = r.uses == 0
	tmpl, msg := parseTemplate(p.Message)
	if msg != "" {
		cc.errf(meshwatch.JoinPath(path, "message"), "%s", msg)
		return
	}
	r.msg = tmpl
}

// What a custom policy reads beyond product.
const (
	usesTopics = 1 << iota
	usesSubject
	usesACLs
)

// activation is the variables of one evaluation of a custom policy.
type activation struct {
	product *Product
	topics  []Topic
	subject any // *Subject or types.NullValue
	acls    *ACLSummary
	built   int // the uses* filled in (online)
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "product":
		return a.product, true
	case "topics":
		return a.topics, true
	case "subject":
		return a.subject, true
	case "acls":
		return a.acls, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Message templates: literal text with {{object.field}} placeholders.

type template []tmplPart

// tmplPart is literal text, or (obj set) the field of an object.
type tmplPart struct {
	text  string
	obj   string // product, subject, acls, or topics (its names)
	field int    // index of the field in the object's struct
}

// objects are the objects of a message's placeholders and their types.
var objects = []struct {
	name string
	t    reflect.Type
}{
	{"product", reflect.TypeFor[Product]()},
	{"subject", reflect.TypeFor[Subject]()},
	{"acls", reflect.TypeFor[ACLSummary]()},
}

// placeholders lists every valid placeholder, for messages.
var placeholders = sync.OnceValue(func() []string {
	out := []string{"topics"}
	for _, o := range objects {
		for i := range o.t.NumField() {
			out = append(out, o.name+"."+jsonName(o.t.Field(i)))
		}
	}
	return out
})

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// parseTemplate parses a message; the string is what is wrong with it.
func parseTemplate(s string) (template, string) {
	var t template
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			t = append(t, tmplPart{text: s})
			break
		}
		if i > 0 {
			t = append(t, tmplPart{text: s[:i]})
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, fmt.Sprintf("has an unclosed {{ at %s: write {{product.name}}", meshwatch.Quote(s[i:]))
		}
		ph := strings.TrimSpace(s[i+2 : i+j])
		part, ok := placeholder(ph)
		if !ok {
			return nil, fmt.Sprintf("unknown placeholder {{%s}}%s; known: %s", ph, meshwatch.DidYouMean(ph, placeholders()), strings.Join(placeholders(), ", "))
		}
		t = append(t, part)
		s = s[i+j+2:]
	}
	return t, ""
}

func placeholder(ph string) (tmplPart, bool) {
	if ph == "topics" {
		return tmplPart{obj: "topics"}, true
	}
	obj, field, ok := strings.Cut(ph, ".")
	if !ok {
		return tmplPart{}, false
	}
	for _, o := range objects {
		if o.name != obj {
			continue
		}
		for i := range o.t.NumField() {
			if jsonName(o.t.Field(i)) == field {
				return tmplPart{obj: obj, field: i}, true
			}
		}
	}
	return tmplPart{}, false
}

// render fills the template from a's objects; a missing object (no
// subject) renders as "none".
func (t template) render(a *activation) string {
	var b strings.Builder
	for _, p := range t {
		var v reflect.Value
		switch p.obj {
		case "":
			b.WriteString(p.text)
			continue
		case "topics":
			names := make([]string, len(a.topics))
			for i, tp := range a.topics {
				names[i] = tp.Name
			}
			b.WriteString(orNone(strings.Join(names, ", ")))
			continue
		case "product":
			v = reflect.ValueOf(a.product)
		case "subject":
			v = reflect.ValueOf(a.subject)
		case "acls":
			v = reflect.ValueOf(a.acls)
		}
		if v.Kind() != reflect.Pointer || v.IsNil() {
			b.WriteString("none")
			continue
		}
		b.WriteString(formatValue(v.Elem().Field(p.field)))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// formatValue writes a field of an object for a message.
func formatValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			e := v.Index(i)
			if e.Kind() == reflect.Struct { // an SLO: its name
				e = e.Field(0)
			}
			parts[i] = formatValue(e)
		}
		return orNone(strings.Join(parts, ", "))
	}
	return fmt.Sprint(v.Interface())
}
