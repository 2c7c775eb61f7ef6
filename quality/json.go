package quality

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"unsafe"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/buger/jsonparser"
)

// jsonObject is a JSON object read lazily: the top-level keys are indexed in
// one pass the first time a field is asked for, and a value is converted to
// CEL only when a rule reads it. It implements traits.Mapper so that every
// CEL map operation works; the rare ones (iteration, equality, conversion)
// go through a map built with encoding/json on demand.
//
// A root jsonObject is reused from record to record by its product (under
// the product's lock); the strings it hands to CEL point into the record's
// value, which outlives the evaluation.
type jsonObject struct {
	raw     []byte
	indexed bool
	bad     bool // the object is malformed past the point the index reached
	end     int  // offset in raw just past the last value, or past '{' when empty
	entries []jsonEntry
	full    ref.Val // materialised map, built on demand
}

type jsonEntry struct {
	key []byte
	val []byte
	typ jsonparser.ValueType
}

// reset points o at a new record value and checks that it is a JSON object
// with nothing but whitespace after it. It indexes the top-level keys.
func (o *jsonObject) reset(raw []byte) bool {
	o.raw = raw
	o.entries = o.entries[:0]
	o.indexed = false
	o.bad = false
	o.full = nil
	if !o.index() {
		return false
	}
	// ObjectEach stops at the closing brace, which follows the last value
	// after optional space; what follows it must be space.
	i := o.end
	for i < len(raw) && isSpace(raw[i]) {
		i++
	}
	if i == len(raw) || raw[i] != '}' {
		return false
	}
	for i++; i < len(raw); i++ {
		if !isSpace(raw[i]) {
			return false
		}
	}
	return true
}

func (o *jsonObject) index() bool {
	if o.indexed {
		return !o.bad
	}
	o.indexed = true
	raw := o.raw
	// Find the opening brace ourselves: ObjectEach accepts any leading byte.
	i := 0
	for i < len(raw) && isSpace(raw[i]) {
		i++
	}
	if i == len(raw) || raw[i] != '{' {
		o.bad = true
		return false
	}
	o.end = i + 1
	err := jsonparser.ObjectEach(raw, func(key, value []byte, typ jsonparser.ValueType, end int) error {
		o.entries = append(o.entries, jsonEntry{key: key, val: value, typ: typ})
		o.end = end
		return nil
	})
	if err != nil {
		o.bad = true
		return false
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// lookup returns the raw value and type of the top-level key.
func (o *jsonObject) lookup(key string) ([]byte, jsonparser.ValueType, bool) {
	if !o.index() {
		return nil, jsonparser.NotExist, false
	}
	// The last duplicate wins, as in encoding/json.
	for i := len(o.entries) - 1; i >= 0; i-- {
		e := &o.entries[i]
		if string(e.key) == key {
			return e.val, e.typ, true
		}
	}
	return nil, jsonparser.NotExist, false
}

// path resolves a dotted path: the first key through the index, the rest
// with jsonparser.
func (o *jsonObject) path(path []string) ([]byte, jsonparser.ValueType, bool) {
	v, typ, ok := o.lookup(path[0])
	if !ok || len(path) == 1 {
		return v, typ, ok
	}
	if typ != jsonparser.Object {
		return nil, jsonparser.NotExist, false
	}
	v, typ, _, err := jsonparser.Get(v, path[1:]...)
	if err != nil || typ == jsonparser.NotExist {
		return nil, jsonparser.NotExist, false
	}
	return v, typ, true
}

// FindStringKey is the fast path cel-go's field selection takes for
// message.field.
func (o *jsonObject) FindStringKey(key string) (any, bool) {
	v, typ, ok := o.lookup(key)
	if !ok {
		return nil, false
	}
	return jsonValue(v, typ), true
}

// jsonValue converts one JSON value to CEL: integers to int, other numbers
// to double, strings (unescaped only when they hold escapes), objects
// lazily, arrays to lists.
func jsonValue(v []byte, typ jsonparser.ValueType) ref.Val {
	switch typ {
	case jsonparser.String:
		if bytes.IndexByte(v, '\\') < 0 {
			return types.String(unsafe.String(unsafe.SliceData(v), len(v)))
		}
		s, err := jsonparser.ParseString(v)
		if err != nil {
			return types.NewErr("malformed JSON string")
		}
		return types.String(s)
	case jsonparser.Number:
		if n, err := jsonparser.ParseInt(v); err == nil {
			return types.Int(n)
		}
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v), len(v)), 64)
		if err != nil && !math.IsInf(f, 0) {
			return types.NewErr("malformed JSON number")
		}
		return types.Double(f)
	case jsonparser.Boolean:
		return types.Bool(len(v) == 4) // "true"
	case jsonparser.Null:
		return types.NullValue
	case jsonparser.Object:
		return &jsonObject{raw: v}
	case jsonparser.Array:
		var out []ref.Val
		var bad bool
		_, err := jsonparser.ArrayEach(v, func(e []byte, t jsonparser.ValueType, _ int, err error) {
			if err != nil {
				bad = true
				return
			}
			out = append(out, jsonValue(e, t))
		})
		if err != nil || bad {
			return types.NewErr("malformed JSON array")
		}
		return types.NewRefValList(types.DefaultTypeAdapter, out)
	}
	return types.NewErr("malformed JSON value")
}

// materialise decodes the whole object with encoding/json for the CEL
// operations the lazy path does not serve.
func (o *jsonObject) materialise() ref.Val {
	if o.full == nil {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(o.raw))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			o.full = types.NewErr("malformed JSON object")
		} else {
			o.full = types.DefaultTypeAdapter.NativeToValue(normaliseNumbers(m))
		}
	}
	return o.full
}

// normaliseNumbers turns json.Number into int64 or float64, as jsonValue
// does, so that both paths see the same values.
func normaliseNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = normaliseNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normaliseNumbers(e)
		}
	}
	return v
}

// ConvertToNative implements ref.Val.
func (o *jsonObject) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return o.materialise().ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (o *jsonObject) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.MapType:
		return o
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", typeVal)
}

// Equal implements ref.Val.
func (o *jsonObject) Equal(other ref.Val) ref.Val { return o.materialise().Equal(other) }

// Type implements ref.Val.
func (o *jsonObject) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (o *jsonObject) Value() any { return o.materialise().Value() }

// Contains implements traits.Container: whether the object has the key.
func (o *jsonObject) Contains(key ref.Val) ref.Val {
	_, found := o.Find(key)
	return types.Bool(found)
}

// Get implements traits.Indexer.
func (o *jsonObject) Get(key ref.Val) ref.Val {
	v, found := o.Find(key)
	if !found {
		if types.IsError(v) {
			return v
		}
		return types.NewErr("no such key: %v", key)
	}
	return v
}

// Find implements traits.Mapper.
func (o *jsonObject) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return key, false
		}
		return nil, false
	}
	if !o.index() {
		return types.NewErr("malformed JSON object"), false
	}
	v, typ, found := o.lookup(string(s))
	if !found {
		return nil, false
	}
	return jsonValue(v, typ), true
}

// Iterator implements traits.Iterable.
func (o *jsonObject) Iterator() traits.Iterator {
	if m, ok := o.materialise().(traits.Mapper); ok {
		return m.Iterator()
	}
	return types.NewStringList(types.DefaultTypeAdapter, nil).Iterator()
}

// Size implements traits.Sizer.
func (o *jsonObject) Size() ref.Val {
	if !o.index() {
		return types.NewErr("malformed JSON object")
	}
	if m, ok := o.materialise().(traits.Mapper); ok {
		return m.Size() // duplicate keys count once
	}
	return types.Int(len(o.entries))
}

var _ traits.Mapper = (*jsonObject)(nil)
