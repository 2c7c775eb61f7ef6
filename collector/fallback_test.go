package collector

import (
	"errors"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
)

// TestExtractValue reads the values a decoder hands back for an Avro or
// Protobuf field.
func TestExtractValue(t *testing.T) {
	ts := time.Date(2026, 11, 21, 10, 30, 15, 123456789, time.UTC)
	auto := NewExtractor(meshwatch.EventTime{Field: "meta.placed_at"})
	withFormat := func(f string) *Extractor {
		return NewExtractor(meshwatch.EventTime{Field: "meta.placed_at", Format: f})
	}
	for _, tc := range []struct {
		name   string
		x      *Extractor
		v      any
		found  bool
		err    error
		want   int64
		reason Reason
	}{
		{"timestamp", auto, ts, true, nil, ts.UnixNano(), ReasonOK},
		{"timestamp whatever the format", withFormat(meshwatch.TimeFormatUnixS), ts, true, nil, ts.UnixNano(), ReasonOK},
		{"long millis by magnitude", auto, ts.UnixMilli(), true, nil, ts.Truncate(time.Millisecond).UnixNano(), ReasonOK},
		{"long in the declared unit", withFormat(meshwatch.TimeFormatUnixUs), ts.UnixMicro(), true, nil, ts.Truncate(time.Microsecond).UnixNano(), ReasonOK},
		{"unsigned seconds", auto, uint64(ts.Unix()), true, nil, ts.Truncate(time.Second).UnixNano(), ReasonOK},
		{"double seconds", auto, float64(ts.Unix()) + 0.5, true, nil, ts.Truncate(time.Second).Add(500 * time.Millisecond).UnixNano(), ReasonOK},
		{"string rfc3339", auto, ts.Format(time.RFC3339Nano), true, nil, ts.UnixNano(), ReasonOK},
		{"string of digits", auto, strconv.FormatInt(ts.UnixMilli(), 10), true, nil, ts.Truncate(time.Millisecond).UnixNano(), ReasonOK},
		{"not found", auto, nil, false, nil, 0, ReasonMissing},
		{"null", auto, nil, true, nil, 0, ReasonMissing},
		{"proto3 default 0", auto, int64(0), true, nil, 0, ReasonMissing},
		{"unsigned 0", auto, uint64(0), true, nil, 0, ReasonMissing},
		{"double 0", auto, 0.0, true, nil, 0, ReasonMissing},
		{"undecodable", auto, nil, false, errors.New("quality: undecodable record: truncated"), 0, ReasonUndecodable},
		{"bool", auto, true, true, nil, 0, ReasonUnparseable},
		{"nested record", auto, map[string]any{"s": int64(1)}, true, nil, 0, ReasonUnparseable},
		{"bytes", auto, []byte("2026-11-21T10:30:15Z"), true, nil, 0, ReasonUnparseable},
		{"text", auto, "yesterday", true, nil, 0, ReasonUnparseable},
		{"number where rfc3339 is declared", withFormat(meshwatch.TimeFormatRFC3339), ts.UnixMilli(), true, nil, 0, ReasonUnparseable},
		{"double NaN", withFormat(meshwatch.TimeFormatUnixS), math.NaN(), true, nil, 0, ReasonUnparseable},
		{"year 3000", auto, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), true, nil, 0, ReasonOutOfRange},
		{"unsigned beyond int64", auto, uint64(1 << 63), true, nil, 0, ReasonOutOfRange},
		{"seconds beyond int64 nanoseconds", withFormat(meshwatch.TimeFormatUnixS), int64(1) << 40, true, nil, 0, ReasonOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := tc.x.ExtractValue(tc.v, tc.found, tc.err)
			if reason != tc.reason || got != tc.want {
				t.Errorf("ExtractValue(%#v, %v, %v) = %d, %q; want %d, %q", tc.v, tc.found, tc.err, got, reason, tc.want, tc.reason)
			}
		})
	}
}

// TestProductExtractorDecodes: a field of an Avro or Protobuf product is
// read from decoded values; Extract, which reads JSON, cannot.
func TestProductExtractorDecodes(t *testing.T) {
	for format, decoded := range map[string]bool{
		meshwatch.FormatJSON: false, meshwatch.FormatAvro: true, meshwatch.FormatProtobuf: true, meshwatch.FormatRaw: false,
	} {
		p := &meshwatch.Product{Format: format, EventTime: meshwatch.EventTime{Field: "meta.placed_at"}}
		x := NewProductExtractor(p)
		if x.Decoded() != decoded {
			t.Errorf("format %s: Decoded = %v, want %v", format, x.Decoded(), decoded)
		}
		if decoded {
			if _, reason := x.Extract(&kgo.Record{Value: []byte(`{"meta":{"placed_at":1}}`)}); reason != ReasonUndecodable {
				t.Errorf("format %s: Extract = %v, want undecodable", format, reason)
			}
		}
		p.EventTime = meshwatch.EventTime{Header: "t"}
		if NewProductExtractor(p).Decoded() {
			t.Errorf("format %s: a header event time is decoded", format)
		}
	}
}

// TestObserveFallback: a record whose event time cannot be read is counted
// by reason and measured at its record timestamp, or, with fallback skip,
// gives no latency; either way freshness counts it at its record
// timestamp. A future event time gives no latency whatever the fallback.
func TestObserveFallback(t *testing.T) {
	const bound = 10 * time.Minute
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	ts := now.Add(-3 * time.Second) // the record timestamp
	field := func(v string) []byte { return []byte(`{"id":"SECRET","placed_at":` + v + `}`) }
	for _, tc := range []struct {
		name      string
		skip      bool
		ts        time.Time // record timestamp; ts unless set
		value     []byte
		reason    Reason
		histogram uint64 // records in the histograms
		latency   time.Duration
		good      int64 // latency SLI (threshold 5s)
		valid     int64
		newest    time.Time
	}{
		{name: "read", value: field(strconv.Quote(now.Add(-time.Second).Format(time.RFC3339Nano))),
			histogram: 1, latency: time.Second, good: 1, valid: 1, newest: now.Add(-time.Second)},
		{name: "missing falls back", value: []byte(`{"id":"SECRET"}`), reason: ReasonMissing,
			histogram: 1, latency: 3 * time.Second, good: 1, valid: 1, newest: ts},
		{name: "null falls back", value: field("null"), reason: ReasonMissing,
			histogram: 1, latency: 3 * time.Second, good: 1, valid: 1, newest: ts},
		{name: "unparseable falls back", value: field(`"soon"`), reason: ReasonUnparseable,
			histogram: 1, latency: 3 * time.Second, good: 1, valid: 1, newest: ts},
		{name: "not json falls back", value: []byte(`placed_at=1`), reason: ReasonNotJSON,
			histogram: 1, latency: 3 * time.Second, good: 1, valid: 1, newest: ts},
		{name: "out of range falls back", value: field("5"), reason: ReasonOutOfRange,
			histogram: 1, latency: 3 * time.Second, good: 1, valid: 1, newest: ts},
		{name: "missing skipped", skip: true, value: []byte(`{"id":"SECRET"}`), reason: ReasonMissing,
			newest: ts},
		{name: "unparseable skipped", skip: true, value: field(`"soon"`), reason: ReasonUnparseable,
			newest: ts},
		{name: "future", value: field(strconv.FormatInt(now.Add(bound+time.Second).UnixMilli(), 10)), reason: ReasonFuture,
			newest: ts},
		{name: "future skipped alike", skip: true, value: field(strconv.FormatInt(now.Add(bound+time.Second).UnixMilli(), 10)), reason: ReasonFuture,
			newest: ts},
		{name: "future with a future record timestamp", ts: now.Add(2 * bound), value: field(strconv.FormatInt(now.Add(bound+time.Second).UnixMilli(), 10)),
			reason: ReasonFuture, newest: now},
		// The fallback is counted once, by its first reason: a record
		// timestamp past the bound is a late record, not also skew.
		{name: "fallback to an old record timestamp", ts: now.Add(-bound - time.Second), value: []byte(`{}`), reason: ReasonMissing,
			histogram: 0, good: 0, valid: 1, newest: now.Add(-bound - time.Second)},
		{name: "fallback to a future record timestamp", ts: now.Add(2 * bound), value: []byte(`{}`), reason: ReasonMissing,
			newest: now},
		{name: "fallback to no record timestamp", ts: time.UnixMilli(-1), value: []byte(`{}`), reason: ReasonMissing,
			newest: now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			p := testProduct(0)
			p.Format = meshwatch.FormatJSON
			p.EventTime = meshwatch.EventTime{Field: "placed_at", MaxClockSkew: meshwatch.Duration(bound)}
			p.SLOs[0].Threshold = meshwatch.Duration(5 * time.Second)
			ps := newProductState(p, NewMetrics(reg))
			ps.skip = tc.skip
			recTS := ts
			if !tc.ts.IsZero() {
				recTS = tc.ts
			}
			ps.observeBatch([]*kgo.Record{{Timestamp: recTS, Value: tc.value}}, now.UnixNano())

			for r := ReasonOK + 1; r < numReasons; r++ {
				want := int64(0)
				if r == tc.reason {
					want = 1
				}
				if got := ps.snapshot().eventTimeErrors[r]; got != want {
					t.Errorf("%v = %d, want %d", r, got, want)
				}
			}
			scratch := hdr.New(histLowestMs, histHighestMs, histDigits)
			if n := ps.updateQuantiles(scratch); uint64(n) != tc.histogram {
				t.Errorf("HDR holds %d, want %d", n, tc.histogram)
			}
			if got := nativeCount(t, reg); got != tc.histogram {
				t.Errorf("native histogram holds %d, want %d", got, tc.histogram)
			}
			if tc.histogram > 0 {
				ps.win.merge(scratch, metricSlots)
				if got := time.Duration(scratch.Max()) * time.Millisecond; !within(got, tc.latency, 0.01) {
					t.Errorf("latency %v, want %v ± 1%%", got, tc.latency)
				}
			}
			if s := ps.latSLOs[0]; s.g != tc.good || s.v != tc.valid {
				t.Errorf("latency SLI good/valid = %d/%d, want %d/%d", s.g, s.v, tc.good, tc.valid)
			}
			if ps.newest != tc.newest.UnixNano() {
				t.Errorf("newest = %v, want %v", time.Unix(0, ps.newest).UTC(), tc.newest)
			}
		})
	}
}

// TestObserveFallbackDoesNotAllocate: the fallback paths of a JSON field
// cost no allocation either.
func TestObserveFallbackDoesNotAllocate(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name  string
		skip  bool
		value string
	}{
		{"missing", false, `{"id":"x"}`},
		{"unparseable", false, `{"t":"soon"}`},
		{"missing skipped", true, `{"id":"x"}`},
		{"future", false, `{"t":` + strconv.FormatInt(now.Add(2*time.Hour).UnixMilli(), 10) + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testProduct(0)
			p.Format = meshwatch.FormatJSON
			p.EventTime = meshwatch.EventTime{Field: "t"}
			ps := newProductState(p, NewMetrics(prometheus.NewRegistry()))
			ps.skip = tc.skip
			batch := []*kgo.Record{{Timestamp: now.Add(-time.Second), Value: []byte(tc.value)}}
			ps.observeBatch(batch, now.UnixNano())
			if a := testing.AllocsPerRun(1000, func() { ps.observeBatch(batch, now.UnixNano()) }); a != 0 {
				t.Fatalf("observeBatch allocates %v times per record", a)
			}
		})
	}
}

// fieldSink is a RecordSink that returns a fixed field value for every
// record and counts the calls.
type fieldSink struct {
	v              any
	found          bool
	err            error
	observe, field int
	paths          [][]string
	values         []string
}

func (s *fieldSink) ObserveRecord(string, *kgo.Record) { s.observe++ }
func (s *fieldSink) ObserveRecordField(_ string, r *kgo.Record, path []string) (any, bool, error) {
	s.field++
	s.paths = append(s.paths, path)
	s.values = append(s.values, string(r.Value))
	return s.v, s.found, s.err
}
func (s *fieldSink) DecodeField(string, *kgo.Record, []string) (any, bool, error) {
	return s.v, s.found, s.err
}
func (s *fieldSink) Skipped(string, string, int32) {}

// TestObserveDecoded: a decoded product's records within the budget are
// handed to the sink once each, with the field's path, and measured with
// what it returns; the records over budget are neither.
func TestObserveDecoded(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	p := testProduct(4) // a burst of 2 records
	p.Format = meshwatch.FormatAvro
	p.EventTime = meshwatch.EventTime{Field: "meta.placed_at"}
	ps := newProductState(p, NewMetrics(prometheus.NewRegistry()))
	sink := &fieldSink{v: now.Add(-1500 * time.Millisecond), found: true}
	recs := []*kgo.Record{{Value: []byte("a")}, {Value: []byte("b")}, {Value: []byte("c")}}
	n, scratch := ps.observeDecoded(sink, recs, now.UnixNano(), nil)
	if n != 2 || sink.field != 2 || sink.observe != 0 {
		t.Fatalf("measured %d, handed over %d by ObserveRecordField and %d by ObserveRecord; want 2, 2, 0", n, sink.field, sink.observe)
	}
	if strings.Join(sink.values, ",") != "a,b" || strings.Join(sink.paths[0], ".") != "meta.placed_at" {
		t.Errorf("handed over %v with path %v", sink.values, sink.paths[0])
	}
	if cap(scratch) < 2 {
		t.Errorf("scratch not kept: cap %d", cap(scratch))
	}
	if got, _, _ := latencyOf(ps); !within(got, 1500*time.Millisecond, 0.01) {
		t.Errorf("latency %v, want 1.5s ± 1%%", got)
	}
	if ps.totalSampled != 2 || ps.totalSkipped != 1 {
		t.Errorf("sampled/skipped = %d/%d, want 2/1", ps.totalSampled, ps.totalSkipped)
	}

	// What the sink could not decode falls back to the record timestamp.
	ps2 := newProductState(p, NewMetrics(prometheus.NewRegistry()))
	bad := &fieldSink{err: errors.New("quality: undecodable record: unknown_schema_id")}
	ps2.observeDecoded(bad, []*kgo.Record{{Timestamp: now.Add(-4 * time.Second)}}, now.UnixNano(), scratch)
	if got := ps2.snapshot().eventTimeErrors[ReasonUndecodable]; got != 1 {
		t.Errorf("undecodable = %d, want 1", got)
	}
	if got, _, _ := latencyOf(ps2); !within(got, 4*time.Second, 0.01) {
		t.Errorf("latency %v, want the record timestamp's 4s ± 1%%", got)
	}

	// Without a sink (observeBatch), the field cannot be read at all.
	ps3 := newProductState(p, NewMetrics(prometheus.NewRegistry()))
	ps3.observeBatch([]*kgo.Record{{Timestamp: now.Add(-time.Second)}}, now.UnixNano())
	if got := ps3.snapshot().eventTimeErrors[ReasonUndecodable]; got != 1 {
		t.Errorf("without a sink: undecodable = %d, want 1", got)
	}
}

// latencyOf returns the largest latency in the product's window and the
// count.
func latencyOf(ps *productState) (time.Duration, int64, bool) {
	h := hdr.New(histLowestMs, histHighestMs, histDigits)
	ps.mu.Lock()
	ps.win.merge(h, metricSlots)
	ps.mu.Unlock()
	return time.Duration(h.Max()) * time.Millisecond, h.TotalCount(), h.TotalCount() > 0
}

// within reports whether got is want within the relative error rel.
func within(got, want time.Duration, rel float64) bool {
	return math.Abs(float64(got-want)) <= rel*float64(want)
}

// TestDocListsEventTimeReasons: the reasons of
// meshwatch_event_time_errors_total are listed where doc.go lists the
// metric, and in its help.
func TestDocListsEventTimeReasons(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^//\tmeshwatch_event_time_errors_total\{reason\}.*$`).Find(doc)
	if line == nil {
		t.Fatal("doc.go does not list meshwatch_event_time_errors_total{reason}")
	}
	var help string
	for _, f := range newProductCollector().Families() {
		if f.Name == "meshwatch_event_time_errors_total" {
			help = f.Help
		}
	}
	if help == "" {
		t.Fatal("no family meshwatch_event_time_errors_total")
	}
	for r := ReasonOK + 1; r < numReasons; r++ {
		word := regexp.MustCompile(`\b` + r.String() + `\b`)
		if !word.Match(line) {
			t.Errorf("doc.go's line of meshwatch_event_time_errors_total does not list reason %s: %s", r, line)
		}
		if !word.MatchString(help) {
			t.Errorf("the help of meshwatch_event_time_errors_total does not name reason %s", r)
		}
	}
}
