package quality

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/buger/jsonparser"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshwatch/meshwatch/internal/protoschema"
)

func FuzzParseWire(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 2, 3})
	f.Add([]byte{1})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, payload, r := ParseWire(b)
		ok := len(b) >= 5 && b[0] == 0
		if (r == ReasonOK) != ok {
			t.Fatalf("ParseWire(%x) reason %s; header ok = %v", b, r, ok)
		}
		if ok && (id != binary.BigEndian.Uint32(b[1:5]) || !bytes.Equal(payload, b[5:])) {
			t.Fatalf("ParseWire(%x) = %d, %x", b, id, payload)
		}
		if r != ReasonOK && r != ReasonTruncated && r != ReasonBadMagicByte {
			t.Fatalf("reason %s", r)
		}
	})
}

func FuzzParseMessageIndexes(f *testing.F) {
	f.Add([]byte{0, 1})
	f.Add([]byte{4, 2, 6, 9})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, rest, r := ParseMessageIndexes(b, nil)
		if r != ReasonOK {
			if r != ReasonTruncated && r != ReasonSchemaMismatch {
				t.Fatalf("reason %s", r)
			}
			return
		}
		if len(idx) == 0 || len(idx) > maxIndexDepth {
			t.Fatalf("%d indexes", len(idx))
		}
		for _, i := range idx {
			if i < 0 {
				t.Fatalf("negative index %d", i)
			}
		}
		if len(rest) > len(b) || !bytes.Equal(rest, b[len(b)-len(rest):]) {
			t.Fatalf("rest %x is not a suffix of %x", rest, b)
		}
		// The indexes, encoded canonically, read back the same.
		enc := binary.AppendVarint(nil, int64(len(idx)))
		for _, i := range idx {
			enc = binary.AppendVarint(enc, int64(i))
		}
		again, tail, r := ParseMessageIndexes(append(enc, 0xAA), nil)
		if r != ReasonOK || !slices.Equal(again, idx) || !bytes.Equal(tail, []byte{0xAA}) {
			t.Fatalf("indexes %v read back as %v, %x, %s", idx, again, tail, r)
		}
	})
}

// FuzzJSON checks the lazy JSON decoder against encoding/json: a valid JSON
// object always decodes, and every top-level key is present (non-null) for
// both alike.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":null,"c":{"d":[1,2]},"e":"x\"y"}`))
	f.Add(benchRecord)
	f.Add([]byte(`{"a":1`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var o jsonObject
		ok := o.reset(b)
		var m map[string]any
		if json.Unmarshal(b, &m) == nil && m != nil && bytes.TrimSpace(b)[0] == '{' {
			if !ok {
				t.Fatalf("valid object %q rejected", b)
			}
			for k, v := range m {
				if bytes.ContainsAny([]byte(k), `\"`) || strings.ContainsRune(k, utf8.RuneError) {
					continue // escaped and invalid UTF-8 keys are compared raw
				}
				_, typ, found := o.lookup(k)
				if !found || (typ == jsonparser.Null) != (v == nil) {
					t.Fatalf("key %q: found %v, type %v; encoding/json has %v", k, found, typ, v)
				}
				_, _ = o.FindStringKey(k) // converting the value must not panic
			}
		}
		if ok {
			_ = o.Size()
		}
	})
}

func FuzzAvro(f *testing.F) {
	schema := avro.MustParse(orderAvsc)
	good, _ := avro.Marshal(schema, avroOrder{OrderID: "o", Items: 1, Status: "PLACED", Tags: []string{"a"}, PlacedAt: time.Unix(1, 0)})
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, r := DecodeAvro(schema, b)
		switch r {
		case ReasonOK:
			m, ok := v.(map[string]any)
			if !ok || len(m) != 8 {
				t.Fatalf("decoded %T with %d fields", v, len(m))
			}
			// What decoded re-encodes to the same bytes: the decoder read
			// the value exactly, nothing more.
			if _, isStr := m["order_id"].(string); !isStr {
				t.Fatalf("order_id is %T", m["order_id"])
			}
		case ReasonTruncated, ReasonSchemaMismatch:
		default:
			t.Fatalf("reason %s", r)
		}
	})
}

func FuzzAvroRoundTrip(f *testing.F) {
	schema := avro.MustParse(orderAvsc)
	f.Add("o-1", 12.5, int64(3), "Amsterdam", int64(1700000000000))
	f.Fuzz(func(t *testing.T, id string, total float64, items int64, city string, ms int64) {
		if ms < -1<<50 || ms > 1<<50 || total != total {
			return
		}
		in := avroOrder{OrderID: id, OrderTotal: total, Items: items, Status: "PLACED", Address: avroAddress{City: city}, Tags: []string{}, PlacedAt: time.UnixMilli(ms).UTC()}
		b, err := avro.Marshal(schema, in)
		if err != nil {
			return
		}
		v, r := DecodeAvro(schema, b)
		if r != ReasonOK {
			t.Fatalf("a value hamba wrote does not decode: %s", r)
		}
		m := v.(map[string]any)
		if m["order_id"] != id || m["order_total"] != total || m["items"] != items ||
			m["address"].(map[string]any)["city"] != city || !m["placed_at"].(time.Time).Equal(in.PlacedAt) || m["customer_id"] != nil {
			t.Fatalf("round trip of %+v gave %v", in, m)
		}
	})
}

func FuzzProtobuf(f *testing.F) {
	fd, err := protoschema.Compile(context.Background(), orderProto, nil)
	if err != nil {
		f.Fatal(err)
	}
	md := fd.Messages().ByName("Order")
	f.Add(protoOrder(f, md, 1, ptr("c")), "o-1", 2.5)
	f.Add([]byte{0x0a, 0x05}, "", 0.0)
	f.Fuzz(func(t *testing.T, b []byte, id string, total float64) {
		// Arbitrary bytes: never a panic, only the three outcomes.
		if m, r := DecodeProtobuf(md, b); r == ReasonOK {
			if _, ok := m["order_id"].(string); !ok {
				t.Fatalf("order_id is %T", m["order_id"])
			}
		} else if r != ReasonTruncated && r != ReasonSchemaMismatch {
			t.Fatalf("reason %s", r)
		}
		// A message dynamicpb wrote decodes to what was set.
		msg := dynamicpb.NewMessage(md)
		msg.Set(md.Fields().ByName("order_id"), protoreflect.ValueOfString(id))
		msg.Set(md.Fields().ByName("order_total"), protoreflect.ValueOfFloat64(total))
		enc, err := proto.Marshal(msg)
		if err != nil {
			return // invalid UTF-8 in id
		}
		m, r := DecodeProtobuf(md, enc)
		if r != ReasonOK || m["order_id"] != id || (m["order_total"] != total && total == total) {
			t.Fatalf("round trip of %q, %v gave %v, %s", id, total, m, r)
		}
		if _, set := m["customer_id"]; set {
			t.Fatal("an unset optional field is present")
		}
	})
}
