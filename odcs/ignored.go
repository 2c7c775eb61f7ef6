package odcs

import (
	"fmt"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
)

var (
	ignoredType = reflect.TypeFor[odcsIgnored]()
	valueType   = reflect.TypeFor[odcsValue]()
)

// reportIgnored lists what the contract says and meshwatch does not use,
// so that nothing is dropped without a word: one warning per mapping of the
// contract that has such keys, at the first of them, naming each ("ignored:
// tenant, tags, price"), and one per entry of a list that is not used as a
// whole (a support channel other than the alerts', a custom property other
// than meshwatch's, a server that is not kafka). A part that is reported
// already (unsupported: ...) is not listed again.
//
// The same warning in several places of one contract (logicalType on every
// property, say) is reported once, at its first place, with how many places
// have it: a contract of fifty properties gets one line, not fifty.
func (m *contractMapper) reportIgnored() {
	m.ignored = map[string]*ignoredPlace{}
	m.ignoredOrder = nil
	if m.simple != nil {
		m.walk(m.root, reflect.TypeFor[simpleFile](), "")
	} else {
		m.walk(m.root, reflect.TypeFor[odcsContract](), "")
	}
	for _, msg := range m.ignoredOrder {
		ip := m.ignored[msg]
		p := meshwatch.Problem{Pos: m.d.At(ip.n), Path: ip.path, Msg: msg, Warning: true}
		switch {
		case ip.count == 2:
			p.Msg += " (and in 1 more place of this contract)"
		case ip.count > 2:
			p.Msg += fmt.Sprintf(" (and in %d more places of this contract)", ip.count-1)
		}
		m.d.Problems = append(m.d.Problems, p)
	}
	m.ignored, m.ignoredOrder = nil, nil
}

// ignoredPlace is the first place of an ignored: warning in a contract and
// how many places have it.
type ignoredPlace struct {
	n     *yaml.Node
	path  string
	count int
}

// yamlFields maps the YAML keys of struct type t to its fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			out[tag] = f
		}
	}
	return out
}

// pairs returns the keys and values of mapping n, those that merge keys
// (<<) bring in included, the mapping's own first.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	visited := map[*yaml.Node]bool{} // against merge cycles and blow-ups
	var add func(n *yaml.Node, depth int)
	add = func(n *yaml.Node, depth int) {
		n = resolve(n)
		if n == nil || n.Kind != yaml.MappingNode || depth > 8 || visited[n] {
			return
		}
		visited[n] = true
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Value == "<<" && k.Tag != "!!str" {
				merges = append(merges, n.Content[i+1])
				continue
			}
			if !seen[k.Value] {
				seen[k.Value] = true
				out = append(out, [2]*yaml.Node{k, n.Content[i+1]})
			}
		}
		for _, v := range merges {
			if v = resolve(v); v.Kind == yaml.SequenceNode {
				for _, e := range v.Content {
					add(e, depth+1)
				}
			} else {
				add(v, depth+1)
			}
		}
	}
	add(n, 0)
	return out
}

// walk reports the keys of mapping n, decoded as t at path, that meshwatch
// does not use, and walks the values that it uses in part.
func (m *contractMapper) walk(n *yaml.Node, t reflect.Type, path string) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode || path != "" && m.reported[path] || m.walked[n] {
		return
	}
	// A mapping that aliases bring in more than once is reported once:
	// aliases can make the document a cycle, or exponentially large.
	if m.walked == nil {
		m.walked = make(map[*yaml.Node]bool)
	}
	m.walked[n] = true
	fields := yamlFields(t)
	var ignored []string
	var first *yaml.Node
	for _, kv := range pairs(n) {
		k, v := kv[0].Value, resolve(kv[1])
		q := meshwatch.JoinPath(path, k)
		f, ok := fields[k]
		if !ok || m.reported[q] {
			continue // an unknown key is an error already
		}
		if !m.uses(t, n, k, q, v, f.Type) {
			ignored = append(ignored, k)
			if first == nil {
				first = kv[0]
			}
		}
	}
	if len(ignored) > 0 {
		m.ignoredAt(first, path, "ignored: %s (not used by meshwatch)", strings.Join(ignored, ", "))
	}
}

func (m *contractMapper) ignoredAt(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if m.ignored == nil { // outside reportIgnored
		m.d.Problems = append(m.d.Problems, meshwatch.Problem{Pos: m.d.At(n), Path: path, Msg: msg, Warning: true})
		return
	}
	if ip := m.ignored[msg]; ip != nil {
		ip.count++
		return
	}
	m.ignored[msg] = &ignoredPlace{n: n, path: path, count: 1}
	m.ignoredOrder = append(m.ignoredOrder, msg)
}

// uses tells whether meshwatch uses key k, at path q, of mapping parent
// decoded as t; it walks v when it uses v in part.
func (m *contractMapper) uses(t reflect.Type, parent *yaml.Node, k, q string, v *yaml.Node, ft reflect.Type) bool {
	if v == nil {
		return true
	}
	switch t {
	case reflect.TypeFor[odcsContract]():
		switch k {
		case "dataProduct":
			return m.doc.Name == ""
		case "description":
			if v.Kind == yaml.MappingNode {
				m.walkDescription(v, q)
			}
			return true
		case "team":
			m.walk(v, reflect.TypeFor[odcsTeam](), q)
			return true
		case "servers":
			m.walkServers(v, q)
			return true
		case "support", "customProperties", "schema":
			m.walkList(t, k, v, q, ft.Elem())
			return true
		}
	case reflect.TypeFor[odcsProperty]():
		switch k {
		case "properties":
			m.walkList(t, k, v, q, t)
			return true
		case "items":
			m.walk(v, t, q)
			return true
		case "primaryKeyPosition":
			pk := mapValue(parent, "primaryKey")
			return pk != nil && pk.Value == "true"
		case "classification":
			return isPII(v) // pii maps to the product's pii; other classes do nothing
		case "tags":
			return piiTag(v) >= 0
		}
	case reflect.TypeFor[odcsQuality]():
		check := meshwatch.ParentPath(q)
		switch k {
		case "id":
			return m.idUsed[check]
		case "name":
			return m.nameUsed[check]
		}
	}
	switch {
	case ft == ignoredType:
		return false
	case ft == valueType:
		return true
	case ft.Kind() == reflect.Struct:
		m.walk(v, ft, q)
	case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && ft.Elem() != valueType:
		m.walkList(t, k, v, q, ft.Elem())
	}
	return true
}

// walkList walks the entries of list v, the key k of a mapping decoded as
// t, as values of type et; entries not used as a whole are reported.
func (m *contractMapper) walkList(t reflect.Type, k string, v *yaml.Node, q string, et reflect.Type) {
	if v.Kind != yaml.SequenceNode {
		return
	}
	for i, e := range v.Content {
		e = resolve(e)
		ip := meshwatch.IndexPath(q, i)
		if t == reflect.TypeFor[odcsContract]() {
			switch k {
			case "support":
				if i != m.supportUsed {
					why := "meshwatch alerts a team in one Slack channel, and has none from this contract"
					if m.supportUsed >= 0 {
						why = fmt.Sprintf("meshwatch alerts a team in one Slack channel, support[%d]'s", m.supportUsed)
					}
					m.ignoredAt(e, ip, "ignored: %s", why)
					continue
				}
			case "customProperties":
				if p := mapValue(e, "property"); p != nil && !strings.HasPrefix(p.Value, "meshwatch") {
					m.ignoredAt(e, ip, "ignored: %s is not a meshwatch property (%s, %s, %s)", meshwatch.Quote(p.Value), CustomTier, CustomObjective, CustomInputs)
					continue
				}
			}
		}
		m.walk(e, et, ip)
	}
}

// walkDescription reports the keys of description but the one that became
// the product's description.
func (m *contractMapper) walkDescription(n *yaml.Node, path string) {
	var ignored []string
	var first *yaml.Node
	for _, kv := range pairs(n) {
		if k := kv[0].Value; k != m.descKey {
			ignored = append(ignored, k)
			if first == nil {
				first = kv[0]
			}
		}
	}
	switch {
	case len(ignored) == 0:
	case m.descKey == "":
		m.ignoredAt(first, path, "ignored: %s (not used by meshwatch)", strings.Join(ignored, ", "))
	default:
		m.ignoredAt(first, path, "ignored: %s (the product's description is description.%s)", strings.Join(ignored, ", "), m.descKey)
	}
}

// walkServers reports the servers that are not kafka, and the keys of the
// kafka servers that meshwatch does not read: all but type, host, port and
// the format of the server it takes the format from.
func (m *contractMapper) walkServers(v *yaml.Node, path string) {
	if v.Kind != yaml.SequenceNode {
		return
	}
	for i, e := range v.Content {
		e = resolve(e)
		ip := meshwatch.IndexPath(path, i)
		if e == nil || e.Kind != yaml.MappingNode {
			continue // reported
		}
		if t := mapValue(e, "type"); t == nil || !strings.EqualFold(t.Value, "kafka") {
			what := "no type"
			if t != nil {
				what = "type " + meshwatch.Quote(t.Value)
			}
			m.ignoredAt(e, ip, "ignored: a server of %s; meshwatch reads the servers of type kafka", what)
			continue
		}
		var ignored []string
		var first *yaml.Node
		for _, kv := range pairs(e) {
			switch k := kv[0].Value; {
			case k == "type" || k == "host" || k == "port":
			case k == "format" && i == m.formatServer:
			default:
				ignored = append(ignored, k)
				if first == nil {
					first = kv[0]
				}
			}
		}
		if len(ignored) > 0 {
			m.ignoredAt(first, ip, "ignored: %s (not used by meshwatch)", strings.Join(ignored, ", "))
		}
	}
}
