package yamlconf

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
)

// Marshal writes v, a struct or a pointer to one, as a YAML document that a
// Decoder reads back into the same value, indented by two spaces: fields
// and map entries at their zero value are left out, map keys are sorted,
// a TopicSelector of a name is a plain string, and "${" is written as "$${"
// so that it is not expanded on the way back. Types that are yaml.Marshalers
// (Duration, Percent, Secret...) write themselves.
func Marshal(v any) ([]byte, error) {
	n, err := encodeValue(reflect.ValueOf(v))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var marshalerType = reflect.TypeFor[yaml.Marshaler]()

// encodeValue builds the node of v, leaving out zero fields and map entries.
func encodeValue(v reflect.Value) (*yaml.Node, error) {
	t := v.Type()
	switch {
	case t == topicSelectorType:
		s := v.Interface().(meshwatch.TopicSelector)
		if s.Pattern == "" {
			return stringNode(s.Name), nil
		}
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if s.Name != "" {
			m.Content = append(m.Content, stringNode("name"), stringNode(s.Name))
		}
		m.Content = append(m.Content, stringNode("pattern"), stringNode(s.Pattern))
		return m, nil
	case t.Implements(marshalerType):
		x, err := v.Interface().(yaml.Marshaler).MarshalYAML()
		if err != nil {
			return nil, err
		}
		var n yaml.Node
		if err := n.Encode(x); err != nil {
			return nil, err
		}
		return &n, nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return encodeValue(v.Elem())
	case reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		fields := structFields(t)
		for _, name := range fields.names {
			f := v.Field(fields.index[name])
			if f.IsZero() {
				continue
			}
			fn, err := encodeValue(f)
			if err != nil {
				return nil, err
			}
			m.Content = append(m.Content, stringNode(name), fn)
		}
		return m, nil
	case reflect.Slice:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := range v.Len() {
			e, err := encodeValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			s.Content = append(s.Content, e)
		}
		return s, nil
	case reflect.Map:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			e, err := encodeValue(v.MapIndex(reflect.ValueOf(k).Convert(t.Key())))
			if err != nil {
				return nil, err
			}
			// Keys are not expanded on loading, so they are written as they are.
			key := &yaml.Node{}
			if err := key.Encode(k); err != nil {
				return nil, err
			}
			m.Content = append(m.Content, key, e)
		}
		return m, nil
	case reflect.String:
		return stringNode(v.String()), nil
	case reflect.Float64:
		// Write whole numbers such as byte rates as 1048576, not 1.048576e+06.
		if f := v.Float(); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			var n yaml.Node
			err := n.Encode(int64(f))
			return &n, err
		}
		var n yaml.Node
		err := n.Encode(v.Float())
		return &n, err
	default:
		var n yaml.Node
		if err := n.Encode(v.Interface()); err != nil {
			return nil, err
		}
		return &n, nil
	}
}

// stringNode encodes s as a string scalar, escaping "${" as "$${".
func stringNode(s string) *yaml.Node {
	n := &yaml.Node{}
	// Encoding a string cannot fail.
	_ = n.Encode(strings.ReplaceAll(s, "${", "$${"))
	return n
}
