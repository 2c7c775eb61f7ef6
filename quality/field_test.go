package quality

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/protoschema"
	"github.com/meshwatch/meshwatch/internal/srtest"
)

// The record sink the collector hands its records to (collector.RecordSink,
// which this package cannot import): cmd/meshwatch wires the Engine as one,
// so this shape is checked there at compile time as well.
var _ interface {
	ObserveRecord(product string, r *kgo.Record)
	ObserveRecordField(product string, r *kgo.Record, path []string) (any, bool, error)
	DecodeField(product string, r *kgo.Record, path []string) (any, bool, error)
	Skipped(product, topic string, partition int32)
} = (*Engine)(nil)

// protoOrderAt is protoOrder (every rule of registryConfig passes) placed
// at placed.
func protoOrderAt(t testing.TB, md protoreflect.MessageDescriptor, placed time.Time) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(protoOrder(t, md, 12.5, ptr("c-1")), m); err != nil {
		t.Fatal(err)
	}
	f := md.Fields().ByName("placed_at")
	m.Set(f, protoreflect.ValueOfMessage(dynamicpbFrom(timestamppb.New(placed), f.Message())))
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestObserveRecordFieldThroughKafka: Avro and Protobuf records whose event
// time (placed_at) is a known delay before their record timestamp go
// through Kafka and the registry; ObserveRecordField hands back exactly
// that event time, so the collector measures exactly the delay. Each
// record is decoded and checked once: one checked record and one result
// per rule each, one registry request in all.
func TestObserveRecordFieldThroughKafka(t *testing.T) {
	const (
		delay = time.Hour
		n     = 25
	)
	for _, format := range []string{"avro", "protobuf"} {
		t.Run(format, func(t *testing.T) {
			reg := srtest.New(t)
			var encode func(placed time.Time) []byte
			switch format {
			case "avro":
				id := reg.MustRegister(t, "orders-value", sr.Schema{Schema: orderAvsc})
				schema := avro.MustParse(orderAvsc)
				encode = func(placed time.Time) []byte {
					return wire(id, nil, encodeAvroOrder(t, schema, avroOrder{OrderID: "ord-1", OrderTotal: 12.5, Items: 3, CustomerID: ptr("c-1"),
						Status: "PLACED", Address: avroAddress{City: "Amsterdam"}, Tags: []string{"gift"}, PlacedAt: placed}))
				}
			case "protobuf":
				id := reg.MustRegister(t, "orders-value", sr.Schema{Schema: orderProto, Type: sr.TypeProtobuf})
				fd, err := protoschema.Compile(context.Background(), orderProto, nil)
				if err != nil {
					t.Fatal(err)
				}
				md := fd.Messages().ByName("Order")
				encode = func(placed time.Time) []byte { return wire(id, []int{1}, protoOrderAt(t, md, placed)) }
			}
			kc := kafkatest.New(t)
			kc.MustCreateTopic(t, "orders", 1, 1, nil)
			ctx := t.Context()
			start := time.Now().Truncate(time.Millisecond) // Avro holds milliseconds
			for i := range n {
				ts := start.Add(time.Duration(i) * time.Second)
				if err := kc.Produce(ctx, &kgo.Record{Topic: "orders", Timestamp: ts, Value: encode(ts.Add(-delay))}); err != nil {
					t.Fatal(err)
				}
			}
			cl := kc.Client(t, kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			e, _, _ := newEngine(t, loadConfig(t, registryConfig(reg.URL(), format)), Options{})
			const p = "shop.orders.placed"
			requests := reg.Requests()
			got := 0
			for got < n {
				fs := cl.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					t.Fatal(err)
				}
				for _, r := range fs.Records() {
					v, found, err := e.ObserveRecordField(p, r, []string{"placed_at"})
					evt, ok := v.(time.Time)
					if err != nil || !found || !ok {
						t.Fatalf("record %d: ObserveRecordField = %v (%T), %v, %v; want its placed_at", r.Offset, v, v, found, err)
					}
					if lat := r.Timestamp.Sub(evt); lat != delay {
						t.Errorf("record %d: record timestamp − placed_at = %v, want %v", r.Offset, lat, delay)
					}
					got++
				}
			}
			if c := seriesValue(t, e.m, famChecked, p, "shop", "shop-team"); c != n {
				t.Errorf("checked %v records, want %d: each once", c, n)
			}
			for name, c := range ruleCounts(t, e, p) {
				if c != [3]int64{n, 0, 0} {
					t.Errorf("rule %s pass/fail/error = %v, want %d/0/0: evaluated once per record", name, c, n)
				}
			}
			if r := reg.Requests() - requests; r != 1 {
				t.Errorf("%d registry requests for one schema", r)
			}
		})
	}
}

// TestDecodeFieldDoesNotCheck: DecodeField hands back the same field,
// nested paths included, without counting the record or running a rule.
func TestDecodeFieldDoesNotCheck(t *testing.T) {
	reg := srtest.New(t)
	id := reg.MustRegister(t, "orders-value", sr.Schema{Schema: orderAvsc})
	e, _, _ := newEngine(t, loadConfig(t, registryConfig(reg.URL(), "avro")), Options{})
	const p = "shop.orders.placed"
	placed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &kgo.Record{Topic: "orders", Value: wire(id, nil, encodeAvroOrder(t, avro.MustParse(orderAvsc),
		avroOrder{OrderID: "ord-1", Status: "PLACED", Address: avroAddress{City: "Amsterdam"}, PlacedAt: placed}))}
	for _, tc := range []struct {
		path  []string
		v     any
		found bool
	}{
		{[]string{"placed_at"}, placed, true},
		{[]string{"address", "city"}, "Amsterdam", true},
		{[]string{"customer_id"}, nil, true}, // a null union branch
		{[]string{"address", "zip"}, nil, false},
		{[]string{"order_id", "x"}, nil, false},
	} {
		v, found, err := e.DecodeField(p, r, tc.path)
		if err != nil || found != tc.found || v != tc.v {
			t.Errorf("DecodeField %v = %v, %v, %v; want %v, %v", tc.path, v, found, err, tc.v, tc.found)
		}
	}
	if c := seriesValue(t, e.m, famChecked, p, "shop", "shop-team"); c != 0 {
		t.Errorf("DecodeField checked %v records, want none", c)
	}
	for name, c := range ruleCounts(t, e, p) {
		if c != [3]int64{} {
			t.Errorf("rule %s ran on a decoded record: %v", name, c)
		}
	}
}

// TestObserveRecordFieldErrors: what cannot be decoded is an error that
// names the reason and nothing of the value, counted as ObserveRecord
// counts it; a tombstone or an unknown product is no check.
func TestObserveRecordFieldErrors(t *testing.T) {
	reg := srtest.New(t)
	id := reg.MustRegister(t, "orders-value", sr.Schema{Schema: orderAvsc})
	e, _, _ := newEngine(t, loadConfig(t, registryConfig(reg.URL(), "avro")), Options{})
	const p = "shop.orders.placed"
	checked := func() float64 { return seriesValue(t, e.m, famChecked, p, "shop", "shop-team") }

	for _, tc := range []struct {
		value  []byte
		reason Reason
	}{
		{[]byte(`{"placed_at":"SECRET"}`), ReasonBadMagicByte},
		{wire(id+7, nil, []byte("SECRET")), ReasonUnknownSchemaID},
		{wire(id, nil, []byte{2, 'S'}), ReasonTruncated},
	} {
		for _, decode := range []bool{false, true} {
			before := checked()
			var err error
			if decode {
				_, _, err = e.DecodeField(p, &kgo.Record{Topic: "orders", Value: tc.value}, []string{"placed_at"})
			} else {
				_, _, err = e.ObserveRecordField(p, &kgo.Record{Topic: "orders", Value: tc.value}, []string{"placed_at"})
			}
			if err == nil || !strings.HasSuffix(err.Error(), tc.reason.String()) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("%x: err %v, want one naming %s only", tc.value, err, tc.reason)
			}
			if want := before + map[bool]float64{false: 1, true: 0}[decode]; checked() != want {
				t.Errorf("%x (DecodeField %v): checked %v, want %v", tc.value, decode, checked(), want)
			}
		}
	}
	if n := seriesValue(t, e.m, famUndecodable, p, "shop", "shop-team", "truncated"); n != 1 {
		t.Errorf("truncated counted %v times, want 1 (ObserveRecordField only)", n)
	}

	before := checked()
	if v, found, err := e.ObserveRecordField(p, &kgo.Record{Topic: "orders"}, []string{"placed_at"}); v != nil || found || err != nil || checked() != before {
		t.Errorf("tombstone: %v, %v, %v (checked %v → %v); want nothing, unchecked", v, found, err, before, checked())
	}
	for _, f := range []func(string, *kgo.Record, []string) (any, bool, error){e.ObserveRecordField, e.DecodeField} {
		if _, _, err := f("no.such.product", &kgo.Record{Value: []byte{0}}, []string{"t"}); !errors.Is(err, errUnknownProduct) {
			t.Errorf("unknown product: err %v", err)
		}
	}
}

// TestObserveRecordFieldJSON: a JSON product's field in the forms the rules
// read; a raw product has none.
func TestObserveRecordFieldJSON(t *testing.T) {
	e, _, _ := newEngine(t, loadConfig(t, jsonConfig(`      rules: [{name: ok, expr: "true"}]`)), Options{})
	const p = "shop.orders.placed"
	r := &kgo.Record{Topic: "orders", Value: []byte(`{"meta":{"at":"2026-11-21T10:30:15Z","ms":1795257015123,"s":1795257015.5,"esc":"a\"b","none":null,"ok":true,"obj":{}}}`)}
	for _, tc := range []struct {
		key   string
		v     any
		found bool
	}{
		{"at", "2026-11-21T10:30:15Z", true},
		{"ms", int64(1795257015123), true},
		{"s", 1795257015.5, true},
		{"esc", `a"b`, true},
		{"none", nil, true},
		{"ok", true, true},
		{"absent", nil, false},
	} {
		v, found, err := e.ObserveRecordField(p, r, []string{"meta", tc.key})
		if err != nil || found != tc.found || v != tc.v {
			t.Errorf("meta.%s = %v (%T), %v, %v; want %v, %v", tc.key, v, v, found, err, tc.v, tc.found)
		}
	}
	if v, found, err := e.ObserveRecordField(p, r, []string{"meta", "obj"}); err != nil || !found {
		t.Errorf("meta.obj = %v, %v, %v; want its raw bytes", v, found, err)
	} else if b, ok := v.([]byte); !ok || string(b) != "{}" {
		t.Errorf("meta.obj = %v (%T), want its raw bytes", v, v)
	}
	if _, _, err := e.ObserveRecordField(p, &kgo.Record{Topic: "orders", Value: []byte(`SECRET`)}, []string{"meta"}); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("not JSON: err %v", err)
	}

	raw, _, _ := newEngine(t, loadConfig(t, `
products:
  - {name: shop.orders.raw, domain: shop, owner: shop-team, topics: [raw]}
`), Options{})
	if v, found, err := raw.ObserveRecordField("shop.orders.raw", &kgo.Record{Topic: "raw", Value: []byte(`{"t":1}`)}, []string{"t"}); v != nil || found || err != nil {
		t.Errorf("raw product: %v, %v, %v; want no field", v, found, err)
	}
}
