package collector

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
)

func TestExtract(t *testing.T) {
	ts := time.Date(2026, 11, 21, 10, 30, 15, 123456789, time.UTC)
	sec := strconv.FormatInt(ts.Unix(), 10)
	ms := strconv.FormatInt(ts.UnixMilli(), 10)
	us := strconv.FormatInt(ts.UnixMicro(), 10)
	ns := strconv.FormatInt(ts.UnixNano(), 10)
	hdr := func(v string) *kgo.Record {
		return &kgo.Record{Headers: []kgo.RecordHeader{{Key: "other", Value: []byte("x")}, {Key: "x-event-time", Value: []byte(v)}}}
	}
	val := func(v string) *kgo.Record { return &kgo.Record{Value: []byte(v)} }
	header := meshwatch.EventTime{Header: "x-event-time"}
	field := meshwatch.EventTime{Field: "meta.placed_at"}
	withFormat := func(e meshwatch.EventTime, f string) meshwatch.EventTime { e.Format = f; return e }

	for _, tc := range []struct {
		name   string
		et     meshwatch.EventTime
		rec    *kgo.Record
		want   int64
		reason Reason
	}{
		{"record timestamp", meshwatch.EventTime{}, &kgo.Record{Timestamp: ts}, ts.UnixNano(), ReasonOK},
		{"header rfc3339", header, hdr(ts.Format(time.RFC3339Nano)), ts.UnixNano(), ReasonOK},
		{"header rfc3339 with offset", header, hdr(ts.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano)), ts.UnixNano(), ReasonOK},
		{"header auto seconds", header, hdr(sec), ts.Truncate(time.Second).UnixNano(), ReasonOK},
		{"header auto millis", header, hdr(ms), ts.Truncate(time.Millisecond).UnixNano(), ReasonOK},
		{"header auto micros", header, hdr(us), ts.Truncate(time.Microsecond).UnixNano(), ReasonOK},
		{"header auto nanos", header, hdr(ns), ts.UnixNano(), ReasonOK},
		{"header decimal seconds", header, hdr(sec + ".5"), ts.Truncate(time.Second).Add(500 * time.Millisecond).UnixNano(), ReasonOK},
		{"header explicit unit", withFormat(header, meshwatch.TimeFormatUnixMs), hdr(sec), ts.Truncate(time.Second).UnixNano() / 1000, ReasonOK},
		{"header missing", header, &kgo.Record{}, 0, ReasonMissing},
		{"header empty", header, hdr(" "), 0, ReasonMissing},
		{"header garbage", header, hdr("yesterday"), 0, ReasonUnparseable},
		{"header rfc3339 format rejects number", withFormat(header, meshwatch.TimeFormatRFC3339), hdr(sec), 0, ReasonUnparseable},
		{"header overflow", withFormat(header, meshwatch.TimeFormatUnixS), hdr("99999999999999999"), 0, ReasonOutOfRange},
		{"field string rfc3339", field, val(`{"meta":{"placed_at":"` + ts.Format(time.RFC3339Nano) + `"}}`), ts.UnixNano(), ReasonOK},
		{"field number seconds", field, val(`{"id":1,"meta":{"placed_at":` + sec + `}}`), ts.Truncate(time.Second).UnixNano(), ReasonOK},
		{"field number millis as string", field, val(`{"meta":{"placed_at":"` + ms + `"}}`), ts.Truncate(time.Millisecond).UnixNano(), ReasonOK},
		{"field null", field, val(`{"meta":{"placed_at":null}}`), 0, ReasonMissing},
		{"field absent", field, val(`{"meta":{}}`), 0, ReasonMissing},
		{"field wrong type", field, val(`{"meta":{"placed_at":true}}`), 0, ReasonUnparseable},
		{"field object", field, val(`{"meta":{"placed_at":{"s":1}}}`), 0, ReasonUnparseable},
		{"not json", field, val(`placed_at=1`), 0, ReasonNotJSON},
		{"empty value", field, val(``), 0, ReasonNotJSON},
		{"truncated json", field, val(`{"meta":{"placed_at":`), 0, ReasonNotJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := NewExtractor(tc.et).Extract(tc.rec)
			if reason != tc.reason || got != tc.want {
				t.Errorf("Extract = %d, %q; want %d, %q", got, reason, tc.want, tc.reason)
			}
		})
	}
}

// FuzzExtractHeader checks the auto format against the standard library: a
// value that is an integer must read as that integer in the unit its
// magnitude implies, RFC 3339 text as time.Parse reads it, and nothing else
// may read as a time.
func FuzzExtractHeader(f *testing.F) {
	for _, s := range []string{"1700000000", "1700000000123", "-5", "2026-11-21T10:30:15Z", "2026-11-21T10:30:15.5+02:00", "1.5", "", "x", "99999999999999999999", "+12"} {
		f.Add(s)
	}
	x := NewExtractor(meshwatch.EventTime{Header: "t"})
	f.Fuzz(func(t *testing.T, v string) {
		got, reason := x.Extract(&kgo.Record{Headers: []kgo.RecordHeader{{Key: "t", Value: []byte(v)}}})
		if reason >= numReasons {
			t.Fatalf("reason %d out of range", reason)
		}
		if reason != ReasonOK {
			if got != 0 {
				t.Fatalf("%q: unreadable (%s) but returned %d", v, reason, got)
			}
			return
		}
		trimmed := strings.TrimSpace(v) // values are trimmed of Unicode space, as bytes.TrimSpace does
		if n, err := strconv.ParseInt(trimmed, 10, 64); err == nil {
			u := int64(autoUnit(float64(n)))
			if got != n*u {
				t.Fatalf("%q: got %d, want %d×%d", v, got, n, u)
			}
			return
		}
		if _, err := strconv.ParseFloat(trimmed, 64); err == nil {
			return // decimals go through float rounding; range-checked above
		}
		pt, err := time.Parse(time.RFC3339Nano, trimmed)
		if err != nil {
			t.Fatalf("%q read as %d but is neither a number nor RFC 3339", v, got)
		}
		if pt.UnixNano() != got {
			t.Fatalf("%q: got %d, time.Parse says %d", v, got, pt.UnixNano())
		}
	})
}

// FuzzExtractField feeds arbitrary payloads to the JSON field extractor: it
// must never panic and must return either a time or a reason.
func FuzzExtractField(f *testing.F) {
	for _, s := range []string{`{"a":{"b":1700000000}}`, `{"a":{"b":"2026-11-21T10:30:15Z"}}`, `{"a":`, `[1,2]`, `{"a":{"b":null}}`, `"x"`, ``} {
		f.Add([]byte(s))
	}
	x := NewExtractor(meshwatch.EventTime{Field: "a.b"})
	f.Fuzz(func(t *testing.T, v []byte) {
		got, reason := x.Extract(&kgo.Record{Value: v})
		if reason >= numReasons {
			t.Fatalf("reason %d out of range", reason)
		}
		if again, r2 := x.Extract(&kgo.Record{Value: v}); again != got || r2 != reason {
			t.Fatalf("not deterministic: %d %v then %d %v", got, reason, again, r2)
		}
		if reason != ReasonOK && got != 0 {
			t.Fatalf("unreadable (%s) but returned %d", reason, got)
		}
	})
}
