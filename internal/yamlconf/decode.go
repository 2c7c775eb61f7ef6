package yamlconf

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
)

// maxNodes bounds the values decoded from one document, or aliasGrowth
// times the values the document itself holds when that is more. Aliases can
// make a small document expand into a huge one ("billion laughs"); a large
// document that is large by itself (10,000 products of 33 values each is
// 330,000) is not an attack.
const (
	maxNodes    = 1 << 18
	aliasGrowth = 4
)

// countNodes returns the nodes of the tree at n, not following aliases.
func countNodes(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// Decoder decodes a yaml.Node tree into a Go value by reflection, strictly:
// it reports every unknown key, every duplicate key and every value of the
// wrong type as a Problem with its position and path, and goes on. It
// expands ${VAR} and ${VAR:-default} in scalar values as it meets them.
//
// A Decoder decodes one file, into one or more values (the configuration
// and the sections of extensions, say); its exported fields are what it
// found, for the loader to go on with. It is not safe for concurrent use.
type Decoder struct {
	// File is the file name that positions carry.
	File string
	env  func(string) (string, bool)

	// Problems are the problems found so far, in the order found.
	Problems meshwatch.Problems
	// Pos maps the path of every decoded value to the position of its node,
	// so that Validate's problems can be placed.
	Pos map[string]meshwatch.Position
	// Failed holds the paths whose value could not be decoded; Validate's
	// problems at or below them would only repeat the decode problem.
	Failed map[string]bool
	// Secrets holds values that must never appear in a message: every value
	// substituted into a Secret, and every value of a variable whose name
	// says it is a secret.
	Secrets []string
	// TooLarge is set when the document expanded into more values than a
	// configuration has: decoding stopped, and the values are incomplete.
	TooLarge bool
	// OptionalSecrets makes an unset environment variable in a Secret a
	// warning rather than an error, the reference kept as written: the
	// commands that never use a secret (validate, rules) can check a
	// configuration without the production secrets, as a CI pipeline must.
	OptionalSecrets bool
	// Unresolved holds the paths of the secrets OptionalSecrets left
	// unset: a check of their value (a URL's shape, a required password)
	// would only repeat the warning that they are unset.
	Unresolved map[string]bool
	// Literal turns ${VAR} expansion off: a data contract is a document
	// shared between teams, not deploy-time configuration, and its SQL
	// checks hold ${table} placeholders of their own.
	Literal bool

	expanded  map[*yaml.Node][]string // node → env values substituted into it
	nodes     int
	limit     int                 // the most values Decode takes: set by its first call
	visiting  map[*yaml.Node]bool // merge sources being expanded, against cycles
	sensitive func(name string) bool
}

// NewDecoder returns a Decoder of the file named file (for positions) that
// expands ${VAR} from env; a nil env is one where no variable is set.
func NewDecoder(file string, env func(string) (string, bool)) *Decoder {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	return &Decoder{
		File:       file,
		env:        env,
		Pos:        make(map[string]meshwatch.Position),
		Failed:     make(map[string]bool),
		Unresolved: make(map[string]bool),
		expanded:   make(map[*yaml.Node][]string),
		visiting:   make(map[*yaml.Node]bool),
		sensitive:  sensitiveVar,
	}
}

// At returns the position of n in the file.
func (d *Decoder) At(n *yaml.Node) meshwatch.Position {
	return meshwatch.Position{File: d.File, Line: n.Line, Col: n.Column}
}

// Fail reports that the value of node n, at path, could not be decoded.
func (d *Decoder) Fail(n *yaml.Node, path, format string, args ...any) {
	d.Problems = append(d.Problems, meshwatch.Problem{Pos: d.At(n), Path: path, Msg: fmt.Sprintf(format, args...)})
	d.Failed[path] = true
}

// report reports a problem that does not make the value at path unusable,
// such as an unknown key beside it.
func (d *Decoder) report(n *yaml.Node, path, format string, args ...any) {
	d.Problems = append(d.Problems, meshwatch.Problem{Pos: d.At(n), Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	secretType        = reflect.TypeFor[meshwatch.Secret]()
	topicSelectorType = reflect.TypeFor[meshwatch.TopicSelector]()
	unmarshalerType   = reflect.TypeFor[yaml.Unmarshaler]()
)

// Decode decodes n into v, which must be settable; path names v. Every
// problem goes to d.Problems, and decoding goes on after it.
func (d *Decoder) Decode(n *yaml.Node, v reflect.Value, path string) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || d.TooLarge {
		return
	}
	if d.limit == 0 {
		// The first value decoded is the document (or the section) itself.
		d.limit = max(maxNodes, aliasGrowth*countNodes(n))
	}
	if d.nodes++; d.nodes > d.limit {
		d.TooLarge = true
		d.Fail(n, path, "the document is too large once its aliases are expanded (more than %d values)", d.limit)
		return
	}
	d.Pos[path] = d.At(n)

	t := v.Type()
	switch {
	case t == topicSelectorType:
		if n.Kind == yaml.ScalarNode {
			s := d.scalar(n, path, false)
			v.Set(reflect.ValueOf(meshwatch.TopicSelector{Name: s}))
			return
		}
		if n.Kind != yaml.MappingNode {
			d.Fail(n, path, `must be a topic name or a mapping like {pattern: "^orders\\..*$"}, got %s`, Describe(n))
			return
		}
		d.decodeStruct(n, v, path)
		return
	case t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType):
		if n.Kind == yaml.ScalarNode {
			d.scalar(n, path, false)
		}
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.Fail(n, path, "%s", err.Error())
		}
		return
	}

	switch t.Kind() {
	case reflect.Pointer:
		if IsNull(n) {
			v.SetZero()
			return
		}
		e := reflect.New(t.Elem())
		d.Decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		if IsNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.Fail(n, path, "must be a mapping with the keys %s; got %s", strings.Join(fieldNames(t), ", "), describeFor(n, t))
			return
		}
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if IsNull(n) {
			v.SetZero()
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.Fail(n, path, "must be a list, got %s", describeFor(n, t))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if d.TooLarge {
				break
			}
			d.Decode(c, s.Index(i), meshwatch.IndexPath(path, i))
		}
		v.Set(s)
	case reflect.Map:
		if IsNull(n) {
			v.SetZero()
			return
		}
		if n.Kind != yaml.MappingNode {
			d.Fail(n, path, "must be a mapping, got %s", describeFor(n, t))
			return
		}
		m := reflect.MakeMap(t)
		for _, kv := range d.pairs(n, path) {
			if d.TooLarge {
				break
			}
			e := reflect.New(t.Elem()).Elem()
			p := meshwatch.JoinPath(path, kv.key.Value)
			d.Decode(kv.value, e, p)
			m.SetMapIndex(reflect.ValueOf(kv.key.Value).Convert(t.Key()), e)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.Fail(n, path, "must be a string, got %s", Describe(n))
			return
		}
		v.SetString(d.scalar(n, path, t == secretType))
	case reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			d.Fail(n, path, "must be %s, got %s", kindName(t.Kind()), Describe(n))
			return
		}
		d.scalar(n, path, false)
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.Fail(n, path, "must be %s, got %s", kindName(t.Kind()), Describe(n))
		}
	default:
		// Only reached if the model gains a field of a kind added here.
		d.Fail(n, path, "cannot decode into a Go %s", t)
	}
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Float64:
		return "a number"
	default:
		return "a whole number"
	}
}

type pair struct{ key, value *yaml.Node }

// pairs returns the key/value pairs of mapping n, with "<<" merge keys
// expanded: keys set in n win over merged ones, and earlier merged mappings
// over later ones, as in YAML 1.1. It reports duplicate keys and keys that
// are not scalars.
func (d *Decoder) pairs(n *yaml.Node, path string) []pair {
	var own, merged []pair
	first := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		for k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		switch {
		case k.Kind != yaml.ScalarNode:
			d.report(k, path, "keys must be strings, got %s", Describe(k))
		case isMergeKey(k):
			merged = append(merged, d.merge(k, v, path)...)
		default:
			if f, dup := first[k.Value]; dup {
				d.report(k, meshwatch.JoinPath(path, k.Value), "duplicate key %s; first set at line %d", meshwatch.Quote(k.Value), f.Line)
				continue
			}
			first[k.Value] = k
			own = append(own, pair{k, v})
		}
	}
	if len(merged) == 0 {
		return own
	}
	out := make([]pair, 0, len(merged)+len(own))
	for _, kv := range merged {
		if _, set := first[kv.key.Value]; !set {
			first[kv.key.Value] = kv.key
			out = append(out, kv)
		}
	}
	return append(out, own...)
}

func isMergeKey(k *yaml.Node) bool {
	return k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}

// merge returns the pairs that a "<<: value" merge key brings in.
func (d *Decoder) merge(k, v *yaml.Node, path string) []pair {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	var sources []*yaml.Node
	switch v.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{v}
	case yaml.SequenceNode:
		for _, s := range v.Content {
			for s.Kind == yaml.AliasNode && s.Alias != nil {
				s = s.Alias
			}
			if s.Kind != yaml.MappingNode {
				d.report(k, path, "<< must merge a mapping or a list of mappings, got a list holding %s", Describe(s))
				return nil
			}
			sources = append(sources, s)
		}
	default:
		d.report(k, path, "<< must merge a mapping or a list of mappings, got %s", Describe(v))
		return nil
	}
	var out []pair
	for _, s := range sources {
		if d.visiting[s] {
			d.report(k, path, "<< merges a mapping into itself")
			continue
		}
		d.visiting[s] = true
		out = append(out, d.pairs(s, path)...)
		delete(d.visiting, s)
	}
	return out
}

// decodeStruct decodes mapping n into the struct v, reporting unknown keys.
func (d *Decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	fields := structFields(v.Type())
	pairs := d.pairs(n, path)
	present := make(map[string]bool, len(pairs))
	for _, kv := range pairs {
		present[kv.key.Value] = true
	}
	for _, kv := range pairs {
		if d.TooLarge {
			break
		}
		key := kv.key.Value
		i, ok := fields.index[key]
		if !ok {
			d.report(kv.key, meshwatch.JoinPath(path, key), "unknown key %s%s; allowed: %s",
				meshwatch.Quote(key), meshwatch.DidYouMean(key, fields.names), strings.Join(fields.names, ", "))
			if c := meshwatch.Closest(key, fields.names); c != "" && !present[c] {
				// The typo explains why the key it stands for is missing;
				// "topics: at least one topic is required" would repeat it.
				d.Failed[meshwatch.JoinPath(path, c)] = true
			}
			continue
		}
		d.Decode(kv.value, v.Field(i), meshwatch.JoinPath(path, key))
	}
}

type fieldSet struct {
	index map[string]int // yaml key → field index
	names []string       // yaml keys in declaration order
}

var fieldCache sync.Map // reflect.Type → *fieldSet

// structFields returns the YAML keys of struct type t, from its yaml tags.
func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{index: make(map[string]int)}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs.index[name] = i
		fs.names = append(fs.names, name)
	}
	fieldCache.Store(t, fs)
	return fs
}

func fieldNames(t reflect.Type) []string {
	return slices.Clone(structFields(t).names)
}

// scalar expands the environment references in scalar n, once, and returns
// its value ("" for null). With secret, the substituted values are added to
// the values that are never shown.
func (d *Decoder) scalar(n *yaml.Node, path string, secret bool) string {
	used, done := d.expanded[n]
	if !done && !d.Literal {
		used = d.expand(n, path, secret)
		d.expanded[n] = used
	}
	if secret {
		d.Secrets = append(d.Secrets, used...)
	}
	if IsNull(n) {
		return ""
	}
	return n.Value
}

// expand replaces ${VAR} and ${VAR:-default} in n.Value and returns the
// values substituted. "$${" stands for a literal "${". A value that had a
// reference is re-read as a plain scalar, so that "${TIER}" can be a number.
// secret says n is a Secret's value: with OptionalSecrets, an unset
// variable in it is a warning and its reference stays as written.
func (d *Decoder) expand(n *yaml.Node, path string, secret bool) []string {
	s := n.Value
	if !strings.Contains(s, "${") {
		return nil
	}
	var b strings.Builder
	var used []string
	changed := false
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			changed = true
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.Fail(n, path, `has "${" without a closing "}"; write "$${" for a literal "${"`)
			b.WriteString(s[i:])
			break
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		changed = true
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			d.Fail(n, path, "${%s} is not a valid reference: want ${NAME} or ${NAME:-default}, NAME made of letters, digits and _", ref)
			continue
		}
		val, ok := d.env(name)
		if ok && d.sensitive(name) {
			d.Secrets = append(d.Secrets, val)
		}
		switch {
		case hasDef && (!ok || val == ""):
			val = def
		case !ok && secret && d.OptionalSecrets:
			d.Problems = append(d.Problems, meshwatch.Problem{Pos: d.At(n), Path: path, Warning: true,
				Msg: fmt.Sprintf("environment variable %s is not set; meshwatch run needs it", name)})
			d.Unresolved[path] = true
			val = "${" + ref + "}"
		case !ok:
			d.Fail(n, path, "environment variable %s is not set", name)
			continue
		default:
			used = append(used, val)
		}
		b.WriteString(val)
	}
	if changed {
		n.Value = b.String()
		n.Tag = ""
		n.Style &^= yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
	}
	return used
}

func validVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// sensitiveVar reports whether an environment variable's name says that its
// value is a secret, wherever it is used.
func sensitiveVar(name string) bool {
	u := strings.ToUpper(name)
	for _, w := range []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE", "API_KEY", "APIKEY"} {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// Position returns the position of the value at path, or of the nearest
// enclosing value when the file does not set it.
func (d *Decoder) Position(path string) meshwatch.Position {
	for {
		if pos, ok := d.Pos[path]; ok {
			return pos
		}
		if path == "" {
			return meshwatch.Position{File: d.File}
		}
		path = meshwatch.ParentPath(path)
	}
}

// Repeats reports whether a problem at path would repeat a decode problem:
// a value that failed to decode was left at its zero value, which Validate
// then rightly finds wrong.
func (d *Decoder) Repeats(path string) bool {
	for {
		if d.Failed[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = meshwatch.ParentPath(path)
	}
}

// FailPath reports that the value at path is wrong, at its position.
func (d *Decoder) FailPath(path, format string, args ...any) {
	d.Problems = append(d.Problems, meshwatch.Problem{Pos: d.Position(path), Path: path, Msg: fmt.Sprintf(format, args...)})
	d.Failed[path] = true
}

// describeFor is Describe for a node decoded into t, except that a scalar
// given where t holds a Secret is not quoted: a token or a webhook URL
// written in place of its section ("webhook: https://hooks…") must not
// come back in the message.
func describeFor(n *yaml.Node, t reflect.Type) string {
	if n != nil && n.Kind == yaml.ScalarNode && holdsSecret(t, map[reflect.Type]bool{}) {
		return "a value (not shown: the setting holds secrets)"
	}
	return Describe(n)
}

// holdsSecret reports whether t is or contains a meshwatch.Secret.
func holdsSecret(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == secretType {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holdsSecret(t.Elem(), seen)
	case reflect.Map:
		return holdsSecret(t.Key(), seen) || holdsSecret(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && holdsSecret(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
