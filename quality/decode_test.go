package quality

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/meshwatch/meshwatch/internal/protoschema"
	"github.com/meshwatch/meshwatch/internal/srtest"
)

const orderAvsc = `{
  "type": "record", "name": "Order", "namespace": "shop",
  "fields": [
    {"name": "order_id", "type": "string"},
    {"name": "order_total", "type": "double"},
    {"name": "items", "type": "long"},
    {"name": "customer_id", "type": ["null", "string"], "default": null},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["UNKNOWN", "PLACED"]}},
    {"name": "address", "type": {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
  ]
}`

type avroAddress struct {
	City string `avro:"city"`
}

type avroOrder struct {
	OrderID    string      `avro:"order_id"`
	OrderTotal float64     `avro:"order_total"`
	Items      int64       `avro:"items"`
	CustomerID *string     `avro:"customer_id"`
	Status     string      `avro:"status"`
	Address    avroAddress `avro:"address"`
	Tags       []string    `avro:"tags"`
	PlacedAt   time.Time   `avro:"placed_at"`
}

const orderProto = `syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";

message Other { string x = 1; }

message Order {
  string order_id = 1;
  double order_total = 2;
  int64 items = 3;
  optional string customer_id = 4;
  Status status = 5;
  Address address = 6;
  repeated string tags = 7;
  google.protobuf.Timestamp placed_at = 8;
  map<string, int64> counts = 9;

  message Address { string city = 1; }
  enum Status { UNKNOWN = 0; PLACED = 1; }
}
`

// wire prefixes an encoded message with the Confluent header.
func wire(id int, idx []int, msg []byte) []byte {
	b, _ := new(sr.ConfluentHeader).AppendEncode(nil, id, idx)
	return append(b, msg...)
}

func encodeAvroOrder(t testing.TB, schema avro.Schema, o avroOrder) []byte {
	t.Helper()
	b, err := avro.Marshal(schema, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func protoOrder(t testing.TB, md protoreflect.MessageDescriptor, total float64, customer *string) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	f := md.Fields()
	m.Set(f.ByName("order_id"), protoreflect.ValueOfString("ord-1"))
	m.Set(f.ByName("order_total"), protoreflect.ValueOfFloat64(total))
	m.Set(f.ByName("items"), protoreflect.ValueOfInt64(3))
	if customer != nil {
		m.Set(f.ByName("customer_id"), protoreflect.ValueOfString(*customer))
	}
	m.Set(f.ByName("status"), protoreflect.ValueOfEnum(1))
	addr := m.Mutable(f.ByName("address")).Message()
	addr.Set(addr.Descriptor().Fields().ByName("city"), protoreflect.ValueOfString("Amsterdam"))
	tags := m.Mutable(f.ByName("tags")).List()
	tags.Append(protoreflect.ValueOfString("gift"))
	ts := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	m.Set(f.ByName("placed_at"), protoreflect.ValueOfMessage(dynamicpbFrom(ts, f.ByName("placed_at").Message())))
	m.Mutable(f.ByName("counts")).Map().Set(protoreflect.ValueOfString("a").MapKey(), protoreflect.ValueOfInt64(2))
	// Deterministic: dynamicpb otherwise writes the fields in random order,
	// and the truncation cases rely on the last bytes being a field's middle.
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dynamicpbFrom copies a generated message into a dynamic one of md, the
// descriptor the registry's schema compiled to.
func dynamicpbFrom(src proto.Message, md protoreflect.MessageDescriptor) protoreflect.Message {
	b, _ := proto.Marshal(src)
	m := dynamicpb.NewMessage(md)
	_ = proto.Unmarshal(b, m)
	return m
}

func ptr[T any](v T) *T { return &v }

// registryConfig is a product of format over topic "orders" with rules that
// read nested, union, enum, list and timestamp fields.
func registryConfig(url, format string) string {
	return fmt.Sprintf(`
schema_registry: {url: %q}
products:
  - name: shop.orders.placed
    domain: shop
    owner: shop-team
    topics: [orders]
    format: %s
    slos:
      - {name: validity, sli: validity, objective: 99%%}
      - {name: completeness, sli: completeness, objective: 99%%}
    quality:
      required: [order_id, customer_id, address.city]
      rules:
        - {name: positive_total, expr: "message.order_total > 0"}
        - {name: placed, expr: "message.status == 'PLACED' && message.items == 3"}
        - {name: city, expr: "message.address.city == 'Amsterdam' && 'gift' in message.tags"}
        - {name: recent, expr: "message.placed_at > timestamp('2020-01-01T00:00:00Z')"}
`, url, format)
}

func ruleCounts(t testing.TB, e *Engine, product string) map[string][3]int64 {
	t.Helper()
	rep, ok := e.Quality(product)
	if !ok {
		t.Fatalf("no report for %s", product)
	}
	out := map[string][3]int64{}
	for _, r := range rep.Rules {
		out[r.Name] = [3]int64{r.Pass, r.Fail, r.Error}
	}
	return out
}

func TestAvroThroughRegistry(t *testing.T) {
	reg := srtest.New(t)
	schema := avro.MustParse(orderAvsc)
	id := reg.MustRegister(t, "orders-value", sr.Schema{Schema: orderAvsc})
	cfg := loadConfig(t, registryConfig(reg.URL(), "avro"))
	e, mreg, s := newEngine(t, cfg, Options{})

	placed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	good := avroOrder{OrderID: "ord-1", OrderTotal: 12.5, Items: 3, CustomerID: ptr("c-1"), Status: "PLACED",
		Address: avroAddress{City: "Amsterdam"}, Tags: []string{"gift"}, PlacedAt: placed}
	bad := good
	bad.OrderTotal = -1
	bad.CustomerID = nil
	const p = "shop.orders.placed"
	e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: wire(id, nil, encodeAvroOrder(t, schema, good))})
	e.ObserveRecord(p, &kgo.Record{Topic: "orders", Offset: 7, Value: wire(id, nil, encodeAvroOrder(t, schema, bad))})

	got := ruleCounts(t, e, p)
	want := map[string][3]int64{"positive_total": {1, 1, 0}, "placed": {2, 0, 0}, "city": {2, 0, 0}, "recent": {2, 0, 0}}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("rule %s pass/fail/error = %v, want %v", name, got[name], w)
		}
	}
	rep, _ := e.Quality(p)
	if rep.Rules[0].LastFailures[0] != (RecordRef{Topic: "orders", Offset: 7}) {
		t.Errorf("last failure = %+v, want orders/0@7", rep.Rules[0].LastFailures)
	}
	e.doTick(context.Background(), false)
	if g, v := s.sum("validity"); g != 1 || v != 2 {
		t.Errorf("validity = %d/%d, want 1/2", g, v)
	}
	if g, v := s.sum("completeness"); g != 1 || v != 2 {
		t.Errorf("completeness = %d/%d, want 1/2 (customer_id null)", g, v)
	}
	if n := seriesValue(t, e.m, famMissing, p, "shop", "shop-team", "customer_id"); n != 1 {
		t.Errorf("customer_id missing = %v, want 1", n)
	}

	// Undecodable records, each with its reason.
	payload := encodeAvroOrder(t, schema, good)
	for _, tc := range []struct {
		value  []byte
		reason Reason
	}{
		{[]byte(`{"order_id":"x"}`), ReasonBadMagicByte},
		{wire(id+100, nil, payload), ReasonUnknownSchemaID},
		{wire(id, nil, payload[:len(payload)-3]), ReasonTruncated},
		{wire(id, nil, append(payload[:len(payload):len(payload)], 1, 2)), ReasonSchemaMismatch},
		{[]byte{0, 0}, ReasonTruncated},
	} {
		c := func() float64 { return seriesValue(t, e.m, famUndecodable, p, "shop", "shop-team", tc.reason.String()) }
		before := c()
		e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: tc.value})
		if n := c() - before; n != 1 {
			t.Errorf("value %x: undecodable{reason=%s} went up by %v, want 1", tc.value, tc.reason, n)
		}
	}
	// The unknown id is asked once, then remembered until its retry time.
	before := reg.Requests()
	e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: wire(id+100, nil, payload)})
	if reg.Requests() != before {
		t.Errorf("an unknown schema id was asked again before its retry time")
	}
	// A registry outage: a new id cannot be fetched.
	reg.SetFailing(true)
	e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: wire(id+1, nil, payload)})
	if n := seriesValue(t, e.m, famUndecodable, p, "shop", "shop-team", "registry_unavailable"); n != 1 {
		t.Errorf("registry_unavailable = %v, want 1", n)
	}
	// A cached schema keeps working through the outage.
	e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: wire(id, nil, payload)})
	if got := ruleCounts(t, e, p)["placed"]; got[0] != 3 {
		t.Errorf("placed passes = %d, want 3 with the schema cached", got[0])
	}
	_ = mreg
}

func TestProtobufThroughRegistry(t *testing.T) {
	reg := srtest.New(t)
	id := reg.MustRegister(t, "orders-value", sr.Schema{Schema: orderProto, Type: sr.TypeProtobuf})
	fd, err := protoschema.Compile(context.Background(), orderProto, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().ByName("Order")
	cfg := loadConfig(t, registryConfig(reg.URL(), "protobuf"))
	e, _, s := newEngine(t, cfg, Options{})
	const p = "shop.orders.placed"
	e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: wire(id, []int{1}, protoOrder(t, md, 12.5, ptr("c-1")))})
	e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: wire(id, []int{1}, protoOrder(t, md, -2, nil))})

	got := ruleCounts(t, e, p)
	want := map[string][3]int64{"positive_total": {1, 1, 0}, "placed": {2, 0, 0}, "city": {2, 0, 0}, "recent": {2, 0, 0}}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("rule %s pass/fail/error = %v, want %v", name, got[name], w)
		}
	}
	e.doTick(context.Background(), false)
	if g, v := s.sum("completeness"); g != 1 || v != 2 {
		t.Errorf("completeness = %d/%d, want 1/2 (optional customer_id unset)", g, v)
	}
	// Index [0] is message Other: the Order bytes hold fields it lacks.
	payload := protoOrder(t, md, 1, nil)
	for _, tc := range []struct {
		value  []byte
		reason Reason
	}{
		{wire(id, []int{0}, payload), ReasonSchemaMismatch},
		{wire(id, []int{5}, payload), ReasonSchemaMismatch},
		{wire(id, []int{1}, payload[:len(payload)-4]), ReasonTruncated},
		{append(wire(id, nil, nil), 6), ReasonTruncated}, // a count of 3 indexes, none there
	} {
		c := func() float64 { return seriesValue(t, e.m, famUndecodable, p, "shop", "shop-team", tc.reason.String()) }
		before := c()
		e.ObserveRecord(p, &kgo.Record{Topic: "orders", Value: tc.value})
		if n := c() - before; n != 1 {
			t.Errorf("value %x: undecodable{reason=%s} went up by %v, want 1", tc.value, tc.reason, n)
		}
	}
}

// gatedRegistry answers GET /schemas/ids/{id} with orderAvsc, in memory,
// once its gate is open, and counts the requests.
type gatedRegistry struct {
	gate     chan struct{}
	requests atomic.Int64
}

func (g *gatedRegistry) RoundTrip(r *http.Request) (*http.Response, error) {
	g.requests.Add(1)
	<-g.gate
	body, err := json.Marshal(map[string]string{"schema": orderAvsc})
	if err != nil {
		return nil, err
	}
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/vnd.schemaregistry.v1+json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r,
	}, nil
}

// TestRegistryConcurrentMissesFetchOnce holds the registry's answer until
// all 16 concurrent misses of one id are blocked, on that request or on
// each other: then there must have been one request, however the machine
// scheduled them.
func TestRegistryConcurrentMissesFetchOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := &gatedRegistry{gate: make(chan struct{})}
		cl, err := sr.NewClient(sr.URLs("http://registry.invalid"), sr.HTTPClient(&http.Client{Transport: reg}))
		if err != nil {
			t.Fatal(err)
		}
		s := &schemas{cl: cl, timeout: 5 * time.Second, now: time.Now, log: slog.New(slog.DiscardHandler), logs: &onceEvery{interval: time.Minute}, byID: map[uint32]*schemaEntry{}}
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if sch, r := s.get(7); r != ReasonOK || sch == nil {
					t.Errorf("get = %v, %s", sch, r)
				}
			})
		}
		synctest.Wait()
		if n := reg.requests.Load(); n != 1 {
			t.Errorf("16 concurrent misses of one id made %d registry requests, want 1", n)
		}
		close(reg.gate)
		wg.Wait()
		if n := reg.requests.Load(); n != 1 {
			t.Errorf("16 misses of one id made %d registry requests in all, want 1", n)
		}
	})
}

func TestRegistryAuth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opt   srtest.Option
		creds string
	}{
		{name: "basic", opt: srtest.BasicAuth("meshwatch", "s3cret-pw"), creds: "username: meshwatch\n    password: s3cret-pw"},
		{name: "bearer", opt: srtest.BearerToken("tok-123"), creds: "token: tok-123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := srtest.New(t, tc.opt)
			id := reg.MustRegister(t, "orders-value", sr.Schema{Schema: orderAvsc})
			value := wire(id, nil, encodeAvroOrder(t, avro.MustParse(orderAvsc), avroOrder{Status: "PLACED", Items: 3, PlacedAt: time.Unix(0, 0)}))
			for _, withCreds := range []bool{false, true} {
				yaml := fmt.Sprintf("schema_registry:\n    url: %q\n", reg.URL())
				if withCreds {
					yaml += "    " + tc.creds + "\n"
				}
				yaml += "products:\n  - {name: shop.orders.placed, domain: shop, owner: shop-team, topics: [orders], format: avro}\n"
				e, _, _ := newEngine(t, loadConfig(t, yaml), Options{})
				e.ObserveRecord("shop.orders.placed", &kgo.Record{Topic: "orders", Value: value})
				rep, _ := e.Quality("shop.orders.placed")
				unavailable := rep.Undecodable["registry_unavailable"]
				if withCreds && unavailable != 0 || !withCreds && unavailable != 1 {
					t.Errorf("with credentials %v: registry_unavailable = %d", withCreds, unavailable)
				}
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"a":1}`, true},
		{"  {\"a\": {\"b\": [1, 2]}}\n", true},
		{`{}`, true},
		{`[1,2]`, false},
		{`"text"`, false},
		{`{"a":1} trailing`, false},
		{`{"a":1} x}`, false},
		{`{"a":1}}`, false},
		{`{}}`, false},
		{"{\"a\":1}  ", true},
		{"{\"a\":1}\n", true},
		{"{\"a\": \"x\" ,\"b\":[1,{\"c\":null}] , \"d\":true }\r\n", true},
		{"{ }\t", true},
		{`{"a":`, false},
		{`not json`, false},
		{``, false},
	} {
		var o jsonObject
		if got := o.reset([]byte(tc.in)); got != tc.ok {
			t.Errorf("decode %q = %v, want %v", tc.in, got, tc.ok)
		}
	}
}
