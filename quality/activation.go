package quality

import (
	"reflect"
	"unsafe"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"github.com/twmb/franz-go/pkg/kgo"
)

// activation binds a record to the variables of record rules. It is reused
// from record to record by its product (under the product's lock) and
// converts a variable only when a rule reads it.
type activation struct {
	rec     *kgo.Record
	msg     ref.Val
	headers headerMap
}

func (a *activation) reset(r *kgo.Record, msg ref.Val) {
	a.rec = r
	a.msg = msg
	a.headers.rec = r
	a.headers.full = nil
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "message":
		return a.msg, true
	case "key":
		return types.Bytes(a.rec.Key), true
	case "headers":
		return &a.headers, true
	case "timestamp":
		return types.Timestamp{Time: a.rec.Timestamp}, true
	case "topic":
		return types.String(a.rec.Topic), true
	case "partition":
		return types.Int(a.rec.Partition), true
	case "offset":
		return types.Int(a.rec.Offset), true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// headerMap shows a record's headers to CEL as a map of string to string;
// of headers with the same name the last wins.
type headerMap struct {
	rec  *kgo.Record
	full ref.Val
}

func (h *headerMap) find(key string) (ref.Val, bool) {
	hs := h.rec.Headers
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			v := hs[i].Value
			return types.String(unsafe.String(unsafe.SliceData(v), len(v))), true
		}
	}
	return nil, false
}

// FindStringKey is cel-go's fast path for headers.name and headers["name"].
func (h *headerMap) FindStringKey(key string) (any, bool) { return h.find(key) }

func (h *headerMap) materialise() ref.Val {
	if h.full == nil {
		m := make(map[string]string, len(h.rec.Headers))
		for _, hd := range h.rec.Headers {
			m[hd.Key] = string(hd.Value)
		}
		h.full = types.DefaultTypeAdapter.NativeToValue(m)
	}
	return h.full
}

// ConvertToNative implements ref.Val.
func (h *headerMap) ConvertToNative(t reflect.Type) (any, error) {
	return h.materialise().ConvertToNative(t)
}

// ConvertToType implements ref.Val.
func (h *headerMap) ConvertToType(t ref.Type) ref.Val { return h.materialise().ConvertToType(t) }

// Equal implements ref.Val.
func (h *headerMap) Equal(other ref.Val) ref.Val { return h.materialise().Equal(other) }

// Type implements ref.Val.
func (h *headerMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (h *headerMap) Value() any { return h.materialise().Value() }

// Contains implements traits.Container.
func (h *headerMap) Contains(key ref.Val) ref.Val {
	_, ok := h.Find(key)
	return types.Bool(ok)
}

// Get implements traits.Indexer.
func (h *headerMap) Get(key ref.Val) ref.Val {
	v, ok := h.Find(key)
	if !ok {
		return types.NewErr("no such key: %v", key)
	}
	return v
}

// Find implements traits.Mapper.
func (h *headerMap) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	return h.find(string(s))
}

// Iterator implements traits.Iterable.
func (h *headerMap) Iterator() traits.Iterator {
	return h.materialise().(traits.Mapper).Iterator()
}

// Size implements traits.Sizer.
func (h *headerMap) Size() ref.Val { return h.materialise().(traits.Mapper).Size() }

var _ traits.Mapper = (*headerMap)(nil)
