package collector

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/protoschema"
	"github.com/meshwatch/meshwatch/internal/srtest"
)

// logLines keeps the collector's log lines, and writes them to the test's
// log too.
type logLines struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *logLines) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the lines that hold every one of subs.
func (l *logLines) lines(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.b.String()) {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

func (l *logLines) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withLog makes the collector log into l.
func withLog(l *logLines) func(*Options) {
	return func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// sampleAll produces records made by mk until the product has measured one
// of them, then n more at once, the last with the header "last", and waits
// until done says that the last is measured: every record the product
// measures is thus one of mk's, and what the test reads next does not
// move. The topic must have one partition, so that the last record is
// measured after every other. The collector's clock must be stopped: the
// budget (500 records of burst) does not refill meanwhile, which n stays
// far below.
func (h *harness) sampleAll(t *testing.T, product, topic string, n int, mk func() *kgo.Record, done func() bool) {
	t.Helper()
	ps := h.c.byName[product]
	kafkatest.WaitFor(t, hangGuard, func() bool {
		r := mk()
		h.produce(t, topic, r.Timestamp, r.Value, r.Headers...)
		return ps.sampledTotal() > 0
	}, "product %s never sampled a record of %s", product, topic)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = mk()
		recs[i].Topic = topic
	}
	recs[n-1].Headers = append(recs[n-1].Headers, kgo.RecordHeader{Key: "last"})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := h.kc.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, hangGuard, done, "%s: the last of %d records was never measured (%v measured)",
		product, n, lazy(func() any { return ps.sampledTotal() }))
}

// latencySLIValid returns the latency SLI events (valid) of the product
// handed over so far and still pending.
func (h *harness) latencySLIValid(product string) int64 {
	ev, _ := h.sink.since(0, "latency")
	var v int64
	for _, e := range ev {
		if e.Product == product {
			v += e.Valid
		}
	}
	ps := h.c.byName[product]
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, s := range ps.latSLOs {
		v += s.v
	}
	return v
}

// checkErrors fails unless the product's event-time errors are want for
// reason and 0 for every other.
func checkErrors(t *testing.T, ps *productState, reason Reason, want int64) {
	t.Helper()
	for r := ReasonOK + 1; r < numReasons; r++ {
		w := int64(0)
		if r == reason {
			w = want
		}
		if got := ps.snapshot().eventTimeErrors[r]; got != w {
			t.Errorf("event-time errors %v = %d, want %d", r, got, w)
		}
	}
}

// TestMissingEventTimeFieldFallsBack: a JSON product whose event-time field
// is absent from every record is not silent: its freshness comes from the
// record timestamps, its latency too (the default fallback), each record
// is counted as missing, and that is logged once, without a value.
func TestMissingEventTimeFieldFallsBack(t *testing.T) {
	const age = 30 * time.Second // how old the record timestamps are
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	p.Format = meshwatch.FormatJSON
	p.EventTime = meshwatch.EventTime{Field: "meta.placed_at", Format: meshwatch.TimeFormatUnixMs}
	p.SLOs[1].Threshold = meshwatch.Duration(time.Minute) // fresh at 30 s
	clk := &stopClock{}
	logs := &logLines{t: t}
	rs := newRecordSink()
	h := start(t, kc, testConfig(kc, p), func(o *Options) { o.Now = clk.Now; o.Records = rs }, withLog(logs))
	now := clk.Stop()
	defer clk.Start()
	ts := now.Add(-age).Truncate(time.Millisecond)
	h.sampleAll(t, p.Name, "checkout.orders.placed", 30, func() *kgo.Record {
		return &kgo.Record{Timestamp: ts, Value: []byte(`{"order_id":"SECRET-ord-1","meta":{"source":"SECRET-web"}}`)}
	}, func() bool { return rs.sawLast(p.Name) })
	ps := h.c.byName[p.Name]
	checkErrors(t, ps, ReasonMissing, ps.sampledTotal())

	st, _ := h.c.Status(p.Name)
	if st.Silent || !st.Newest.Equal(ts) || st.Freshness != now.Sub(ts) {
		t.Errorf("status silent %v, newest %v, freshness %v; want not silent, the record timestamp %v, %v",
			st.Silent, st.Newest, st.Freshness, ts, now.Sub(ts))
	}
	// A tick reports it so.
	kafkatest.WaitFor(t, hangGuard, func() bool {
		_, silent := seriesValue(t, h.reg, p.Name, "meshwatch_product_silent")
		f, _ := seriesValue(t, h.reg, p.Name, "meshwatch_freshness_seconds")
		return !silent && f == now.Sub(ts).Seconds()
	}, "no tick reported the product fresh from its record timestamps: %v", lazy(func() any { return productSeries(t, h.reg, p.Name) }))
	// The record timestamp stands in for the event time in latency too.
	p50, n, _ := h.c.Latency(p.Name, "5m", 0.5)
	if n != ps.sampledTotal() || !within(p50, now.Sub(ts), 0.01) {
		t.Errorf("latency p50 %v over %d records, want %v ± 1%% over %d", p50, n, now.Sub(ts), ps.sampledTotal())
	}
	if v := h.latencySLIValid(p.Name); v != ps.sampledTotal() {
		t.Errorf("latency SLI valid events %d, want one per record (%d)", v, ps.sampledTotal())
	}
	if got := logs.lines("product="+p.Name, "reason=missing"); len(got) != 1 || !strings.Contains(got[0], "record_timestamp") {
		t.Errorf("log lines of the missing field: %q, want one that names the fallback", got)
	}
	if strings.Contains(logs.all(), "SECRET") {
		t.Error("a log line shows a payload value")
	}
}

// TestFutureEventTimeIsCounted: an event time further in the future than
// max_clock_skew is counted as future, gives no latency (neither a
// histogram value nor a latency SLI event), and the record still counts as
// arriving, at its record timestamp.
func TestFutureEventTimeIsCounted(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	p.Format = meshwatch.FormatJSON
	p.EventTime = meshwatch.EventTime{Field: "placed_at"} // max_clock_skew: the default hour
	clk := &stopClock{}
	logs := &logLines{t: t}
	rs := newRecordSink()
	h := start(t, kc, testConfig(kc, p), func(o *Options) { o.Now = clk.Now; o.Records = rs }, withLog(logs))
	now := clk.Stop()
	defer clk.Start()
	ts := now.Add(-5 * time.Second).Truncate(time.Millisecond)
	evt := now.Add(2 * time.Hour).UTC().Format(time.RFC3339Nano)
	h.sampleAll(t, p.Name, "checkout.orders.placed", 20, func() *kgo.Record {
		return &kgo.Record{Timestamp: ts, Value: []byte(`{"placed_at":"` + evt + `"}`)}
	}, func() bool { return rs.sawLast(p.Name) })
	ps := h.c.byName[p.Name]
	checkErrors(t, ps, ReasonFuture, ps.sampledTotal())
	if v, _ := seriesValue(t, h.reg, p.Name, `meshwatch_event_time_errors_total{reason="future"}`); v != float64(ps.sampledTotal()) {
		t.Errorf(`meshwatch_event_time_errors_total{reason="future"} = %v, want %d`, v, ps.sampledTotal())
	}
	if _, n, _ := h.c.Latency(p.Name, "5m", 0.5); n != 0 {
		t.Errorf("the latency window holds %d records, want none", n)
	}
	if n := nativeCount(t, h.reg); n != 0 {
		t.Errorf("meshwatch_latency_seconds holds %d records, want none", n)
	}
	if v := h.latencySLIValid(p.Name); v != 0 {
		t.Errorf("latency SLI valid events %d, want none", v)
	}
	if st, _ := h.c.Status(p.Name); st.Silent || !st.Newest.Equal(ts) {
		t.Errorf("status silent %v, newest %v; want the record timestamp %v", st.Silent, st.Newest, ts)
	}
	if got := logs.lines("product="+p.Name, "reason=future"); len(got) != 1 {
		t.Errorf("log lines of the future event time: %q, want one", got)
	}
}

// TestEventTimeFallbackSkip: with fallback skip, a record without its
// event time is counted and gives no latency, and the product is still not
// silent: freshness comes from the record timestamps.
func TestEventTimeFallbackSkip(t *testing.T) {
	const age = 7 * time.Second
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
	p := product("checkout.orders.placed", named("checkout.orders.placed")...)
	p.Format = meshwatch.FormatJSON
	p.EventTime = meshwatch.EventTime{Field: "placed_at", Fallback: meshwatch.EventTimeFallbackSkip}
	clk := &stopClock{}
	logs := &logLines{t: t}
	rs := newRecordSink()
	h := start(t, kc, testConfig(kc, p), func(o *Options) {
		o.Now = clk.Now
		o.Records = rs
	}, withLog(logs))
	now := clk.Stop()
	defer clk.Start()
	ts := now.Add(-age).Truncate(time.Millisecond)
	h.sampleAll(t, p.Name, "checkout.orders.placed", 20, func() *kgo.Record {
		return &kgo.Record{Timestamp: ts, Value: []byte(`{"order_id":"o-1"}`)}
	}, func() bool { return rs.sawLast(p.Name) })
	ps := h.c.byName[p.Name]
	checkErrors(t, ps, ReasonMissing, ps.sampledTotal())
	if _, n, _ := h.c.Latency(p.Name, "5m", 0.5); n != 0 {
		t.Errorf("the latency window holds %d records, want none", n)
	}
	if n := nativeCount(t, h.reg); n != 0 {
		t.Errorf("meshwatch_latency_seconds holds %d records, want none", n)
	}
	if v := h.latencySLIValid(p.Name); v != 0 {
		t.Errorf("latency SLI valid events %d, want none", v)
	}
	if st, _ := h.c.Status(p.Name); st.Silent || !st.Newest.Equal(ts) || st.Freshness != now.Sub(ts) {
		t.Errorf("status silent %v, newest %v, freshness %v; want the record timestamp %v, %v", st.Silent, st.Newest, st.Freshness, ts, now.Sub(ts))
	}
	if got := logs.lines("product="+p.Name, "reason=missing"); len(got) != 1 || !strings.Contains(got[0], "fallback skip") {
		t.Errorf("log lines of the missing field: %q, want one that names fallback skip", got)
	}
}

// Schemas of the decoded products: the event time is nested, meta.placed_at.
const (
	orderAvsc = `{"type": "record", "name": "Order", "namespace": "shop", "fields": [
  {"name": "order_id", "type": "string"},
  {"name": "meta", "type": {"type": "record", "name": "Meta", "fields": [
    {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}}]}`
	orderProto = `syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";
message Other { string x = 1; }
message Order {
  string order_id = 1;
  Meta meta = 2;
  message Meta { google.protobuf.Timestamp placed_at = 1; }
}
`
)

// decodingSink is a RecordSink that decodes Avro and Protobuf records in
// the Confluent wire format with schemas from a registry, as package
// quality does (which the collector's tests cannot import), and counts how
// often each record is handed over.
type decodingSink struct {
	cl *sr.Client

	mu      sync.Mutex
	schemas map[int]any // avro.Schema or protoreflect.FileDescriptor
	handed  map[string]int
	observe int // ObserveRecord calls
	field   int // ObserveRecordField calls
	decodes int // DecodeField calls
	last    bool
}

// sawLast reports whether a record with header "last" reached the sink.
func (s *decodingSink) sawLast() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func newDecodingSink(t *testing.T, url string) *decodingSink {
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	return &decodingSink{cl: cl, schemas: map[int]any{}, handed: map[string]int{}}
}

func (s *decodingSink) ObserveRecord(_ string, r *kgo.Record) {
	s.mu.Lock()
	s.observe++
	s.last = s.last || isLast(r)
	s.handed[fmt.Sprint(r.Partition, "@", r.Offset)]++
	s.mu.Unlock()
}

func (s *decodingSink) ObserveRecordField(_ string, r *kgo.Record, path []string) (any, bool, error) {
	s.mu.Lock()
	s.field++
	s.last = s.last || isLast(r)
	s.handed[fmt.Sprint(r.Partition, "@", r.Offset)]++
	s.mu.Unlock()
	return s.decodeField(r, path)
}

func (s *decodingSink) DecodeField(_ string, r *kgo.Record, path []string) (any, bool, error) {
	s.mu.Lock()
	s.decodes++
	s.mu.Unlock()
	return s.decodeField(r, path)
}

func (s *decodingSink) Skipped(string, string, int32) {}

func (s *decodingSink) decodeField(r *kgo.Record, path []string) (any, bool, error) {
	var h sr.ConfluentHeader
	id, rest, err := h.DecodeID(r.Value)
	if err != nil {
		return nil, false, err
	}
	sch, err := s.schema(id)
	if err != nil {
		return nil, false, err
	}
	var tree any
	switch sch := sch.(type) {
	case avro.Schema:
		if err := avro.Unmarshal(sch, rest, &tree); err != nil {
			return nil, false, err
		}
	case protoreflect.FileDescriptor:
		idx, rest, err := h.DecodeIndex(rest, 16)
		if err != nil {
			return nil, false, err
		}
		md := sch.Messages().Get(idx[0])
		m := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(rest, m); err != nil {
			return nil, false, err
		}
		tree = protoTree(m)
	}
	for _, k := range path {
		m, ok := tree.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		if tree, ok = m[k]; !ok {
			return nil, false, nil
		}
	}
	return tree, true, nil
}

// protoTree is the message as package quality hands it over: set fields by
// name, google.protobuf.Timestamp as time.Time.
func protoTree(m protoreflect.Message) any {
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		f := m.Descriptor().Fields()
		return time.Unix(m.Get(f.ByNumber(1)).Int(), m.Get(f.ByNumber(2)).Int()).UTC()
	}
	out := map[string]any{}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() == protoreflect.MessageKind {
			out[string(fd.Name())] = protoTree(v.Message())
		} else {
			out[string(fd.Name())] = v.Interface()
		}
		return true
	})
	return out
}

func (s *decodingSink) schema(id int) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[id]; ok {
		return sch, nil
	}
	ss, err := s.cl.SchemaByID(context.Background(), id)
	if err != nil {
		return nil, err
	}
	var sch any
	switch ss.Type {
	case sr.TypeProtobuf:
		sch, err = protoschema.Compile(context.Background(), ss.Schema, nil)
	default:
		sch, err = avro.Parse(ss.Schema)
	}
	if err != nil {
		return nil, err
	}
	s.schemas[id] = sch
	return sch, nil
}

func (s *decodingSink) counts() (handedTwice, observe, field int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.handed {
		if n > 1 {
			handedTwice++
		}
	}
	return handedTwice, s.observe, s.field
}

// orderEncoder returns a function that encodes an order whose
// meta.placed_at is evt, in the Confluent wire format of the schema the
// registry gave id.
func orderEncoder(t *testing.T, format string, id int) func(evt time.Time) []byte {
	t.Helper()
	hdr := func(idx []int) []byte {
		b, err := new(sr.ConfluentHeader).AppendEncode(nil, id, idx)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if format == meshwatch.FormatAvro {
		schema := avro.MustParse(orderAvsc)
		return func(evt time.Time) []byte {
			b, err := avro.Marshal(schema, map[string]any{"order_id": "o-1", "meta": map[string]any{"placed_at": evt}})
			if err != nil {
				t.Fatal(err)
			}
			return append(hdr(nil), b...)
		}
	}
	fd, err := protoschema.Compile(context.Background(), orderProto, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().ByName("Order")
	return func(evt time.Time) []byte {
		m := dynamicpb.NewMessage(md)
		m.Set(md.Fields().ByName("order_id"), protoreflect.ValueOfString("o-1"))
		meta := m.Mutable(md.Fields().ByName("meta")).Message()
		ts := meta.Mutable(meta.Descriptor().Fields().ByName("placed_at")).Message()
		ts.Set(ts.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfInt64(evt.Unix()))
		ts.Set(ts.Descriptor().Fields().ByNumber(2), protoreflect.ValueOfInt32(int32(evt.Nanosecond())))
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return append(hdr([]int{1}), b...) // Order is the second message
	}
}

// TestDecodedEventTimeLatency: an Avro or Protobuf product whose event time
// is a nested field measures latency from it within 1 % of the known delay
// (the collector's clock stopped: every record's latency is exactly the
// delay, however late it arrives). Each record is handed to the record sink
// once, to be decoded once, and never again by ObserveRecord. The record
// timestamps are the production time: a fallback to them would read 0.
func TestDecodedEventTimeLatency(t *testing.T) {
	const delay = 2 * time.Second
	for _, format := range []string{meshwatch.FormatAvro, meshwatch.FormatProtobuf} {
		t.Run(format, func(t *testing.T) {
			reg := srtest.New(t)
			schema := sr.Schema{Schema: orderAvsc}
			if format == meshwatch.FormatProtobuf {
				schema = sr.Schema{Schema: orderProto, Type: sr.TypeProtobuf}
			}
			encode := orderEncoder(t, format, reg.MustRegister(t, "checkout.orders.placed-value", schema))
			kc := kafkatest.New(t)
			kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
			p := product("checkout.orders.placed", named("checkout.orders.placed")...)
			p.Format = format
			p.EventTime = meshwatch.EventTime{Field: "meta.placed_at"}
			clk := &stopClock{}
			rs := newDecodingSink(t, reg.URL())
			h := start(t, kc, testConfig(kc, p), func(o *Options) { o.Now = clk.Now; o.Records = rs })
			now := clk.Stop()
			defer clk.Start()
			evt := now.Add(-delay)
			ps := h.c.byName[p.Name]
			// The sink sees a record before it is measured: the last is
			// measured once the window holds every record admitted.
			h.sampleAll(t, p.Name, "checkout.orders.placed", 40, func() *kgo.Record {
				return &kgo.Record{Timestamp: now, Value: encode(evt)}
			}, func() bool {
				s := ps.snapshot()
				_, n, _ := h.c.Latency(p.Name, "5m", 0.5)
				for _, e := range s.eventTimeErrors {
					n += e
				}
				return rs.sawLast() && n >= s.sampled
			})
			checkErrors(t, ps, ReasonOK, 0)
			for _, q := range []float64{0.01, 0.5, 0.99} {
				lat, n, _ := h.c.Latency(p.Name, "5m", q)
				if n != ps.sampledTotal() || !within(lat, delay, 0.01) {
					t.Errorf("latency q%v %v over %d records, want %v ± 1%% over %d", q, lat, n, delay, ps.sampledTotal())
				}
			}
			sum, count := nativeSum(t, h.reg)
			if mean := time.Duration(sum / float64(count) * 1e9); count != uint64(ps.sampledTotal()) || !within(mean, delay, 0.01) {
				t.Errorf("meshwatch_latency_seconds mean %v over %d records, want %v ± 1%% over %d", mean, count, delay, ps.sampledTotal())
			}
			if st, _ := h.c.Status(p.Name); !st.Newest.Equal(evt.Truncate(time.Millisecond)) && !st.Newest.Equal(evt) {
				t.Errorf("newest %v, want the event time %v", st.Newest, evt)
			}
			twice, observe, field := rs.counts()
			if twice != 0 || observe != 0 || int64(field) != ps.sampledTotal() {
				t.Errorf("record sink: %d records handed over twice, %d by ObserveRecord, %d by ObserveRecordField; want 0, 0 and one per measured record (%d)",
					twice, observe, field, ps.sampledTotal())
			}
		})
	}
}

// TestFreshnessProbeFallsBack: the freshness probe reads the last records
// of partitions the sampler never measured, as sampling does: a decoded
// product's event time through the record sink's DecodeField, and a
// record without its event time by its record timestamp.
func TestFreshnessProbeFallsBack(t *testing.T) {
	evt := time.Now().Add(-30 * time.Minute).Truncate(time.Millisecond)
	ts := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond) // the record timestamp
	for _, tc := range []struct {
		name   string
		format string
		value  func(t *testing.T, reg *srtest.Server) []byte
		newest time.Time
	}{
		{"json field missing", meshwatch.FormatJSON, func(*testing.T, *srtest.Server) []byte { return []byte(`{"order_id":"o-1"}`) }, ts},
		{"json field future", meshwatch.FormatJSON, func(*testing.T, *srtest.Server) []byte {
			return []byte(`{"meta":{"placed_at":` + strconv.FormatInt(time.Now().Add(3*time.Hour).UnixMilli(), 10) + `}}`)
		}, ts},
		{"avro field", meshwatch.FormatAvro, func(t *testing.T, reg *srtest.Server) []byte {
			return orderEncoder(t, meshwatch.FormatAvro, reg.MustRegister(t, "checkout.orders.placed-value", sr.Schema{Schema: orderAvsc}))(evt)
		}, evt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := srtest.New(t)
			kc := kafkatest.New(t)
			kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
			// Produced before the agent starts: never sampled, only probed.
			if err := kc.Produce(context.Background(), &kgo.Record{Topic: "checkout.orders.placed", Timestamp: ts, Value: tc.value(t, reg)}); err != nil {
				t.Fatal(err)
			}
			p := product("checkout.orders.placed", named("checkout.orders.placed")...)
			p.Format = tc.format
			p.EventTime = meshwatch.EventTime{Field: "meta.placed_at"}
			cfg := testConfig(kc, p)
			cfg.Collector.Tick = meshwatch.Duration(time.Hour) // the test ticks
			rs := newDecodingSink(t, reg.URL())
			h := start(t, kc, cfg, func(o *Options) { o.ProbeTimeout = hangGuard; o.Records = rs })
			h.c.tick(context.Background(), hangGuard)
			st, _ := h.c.Status(p.Name)
			if st.Silent || !st.Newest.Equal(tc.newest) {
				t.Errorf("after the probe: silent %v, newest %v; want %v", st.Silent, st.Newest, tc.newest)
			}
			if got := h.c.byName[p.Name].sampledTotal(); got != 0 {
				t.Errorf("sampled %d records produced before the start", got)
			}
			if _, observe, field := rs.counts(); observe != 0 || field != 0 {
				t.Errorf("the probe handed its record over to be checked (%d, %d): it is not a sample", observe, field)
			}
		})
	}
}

// nativeSum returns the sum (seconds) and count of meshwatch_latency_seconds.
func nativeSum(t *testing.T, reg prometheus.Gatherer) (float64, uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == "meshwatch_latency_seconds" {
			for _, m := range mf.GetMetric() {
				sum += m.GetHistogram().GetSampleSum()
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return sum, n
}
