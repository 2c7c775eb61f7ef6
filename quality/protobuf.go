package quality

import (
	"errors"
	"io"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// MessageByIndexes returns the message of file that Confluent message
// indexes name: the first index picks a top-level message, each next one a
// message nested in the previous. It returns nil when an index is out of
// range.
func MessageByIndexes(file protoreflect.FileDescriptor, idx []int) protoreflect.MessageDescriptor {
	if len(idx) == 0 {
		return nil
	}
	msgs := file.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range idx {
		if i < 0 || i >= msgs.Len() {
			return nil
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	return md
}

// DecodeProtobuf decodes a Protobuf binary message of type md into the form
// CEL rules read: a map[string]any keyed by the fields' proto names. A field
// with presence (a message, optional or oneof field) is there only when it
// is set; a proto3 scalar is always there, with its default when not sent.
// Integers become int64 or uint64, floats float64, enums their value's name,
// repeated fields []any, maps map[any]any, google.protobuf.Timestamp
// time.Time. It returns ReasonSchemaMismatch when the bytes are not a
// message of that type or hold fields the type does not declare. It is safe
// for concurrent use.
func DecodeProtobuf(md protoreflect.MessageDescriptor, b []byte) (map[string]any, Reason) {
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{RecursionLimit: 64}).Unmarshal(b, m); err != nil {
		if protoTruncated(b) {
			return nil, ReasonTruncated
		}
		return nil, ReasonSchemaMismatch
	}
	// The schema id names the writer's exact schema: a field it does not
	// know means the record was written with another one.
	if len(m.GetUnknown()) > 0 {
		return nil, ReasonSchemaMismatch
	}
	return protoMap(m), ReasonOK
}

// protoTruncated reports whether b's fields run past its end.
func protoTruncated(b []byte) bool {
	for len(b) > 0 {
		_, _, n := protowire.ConsumeField(b)
		if n < 0 {
			return errors.Is(protowire.ParseError(n), io.ErrUnexpectedEOF)
		}
		b = b[n:]
	}
	return false
}

func protoMap(m protoreflect.Message) map[string]any {
	fields := m.Descriptor().Fields()
	out := make(map[string]any, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.HasPresence() && !m.Has(fd) {
			continue
		}
		out[string(fd.Name())] = protoField(fd, m.Get(fd))
	}
	return out
}

func protoField(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch {
	case fd.IsList():
		l := v.List()
		out := make([]any, l.Len())
		for i := range out {
			out[i] = protoScalar(fd, l.Get(i))
		}
		return out
	case fd.IsMap():
		out := make(map[any]any, v.Map().Len())
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			out[protoScalar(fd.MapKey(), k.Value())] = protoScalar(fd.MapValue(), mv)
			return true
		})
		return out
	}
	return protoScalar(fd, v)
}

func protoScalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return v.Bytes()
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return int64(v.Enum())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := v.Message()
		if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
			f := m.Descriptor().Fields()
			return time.Unix(m.Get(f.ByNumber(1)).Int(), m.Get(f.ByNumber(2)).Int()).UTC()
		}
		return protoMap(m)
	}
	return nil
}
