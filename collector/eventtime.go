package collector

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/buger/jsonparser"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
)

// Reason says why a record's event time could not be used. The zero Reason
// means it was read and is plausible.
type Reason uint8

// Reasons an event time is unusable; each is a label value of
// meshwatch_event_time_errors_total. A record of any reason but skew and
// future falls back to its record timestamp, or is left out of latency with
// event_time.fallback skip (see the package doc).
const (
	ReasonOK          Reason = iota
	ReasonMissing            // the header or field is absent, or null (or a Protobuf/Avro number 0)
	ReasonUnparseable        // present, but not RFC 3339 nor a Unix number
	ReasonNotJSON            // the payload is not a JSON object the path can walk
	ReasonOutOfRange         // before 2000-01-01, or beyond what int64 nanoseconds hold
	// ReasonSkew: a latency longer than the product's
	// event_time.max_clock_skew (a producer clock far behind, or a record
	// that late). Extract never returns it; the collector decides.
	ReasonSkew
	// ReasonUndecodable: the Avro or Protobuf value holding the field could
	// not be decoded (package quality counts why, in
	// meshwatch_quality_undecodable_total), or no record sink decodes for
	// the collector.
	ReasonUndecodable
	// ReasonFuture: further in the future than the product's
	// event_time.max_clock_skew. Extract never returns it; the collector
	// decides.
	ReasonFuture
	numReasons
)

var reasonNames = [numReasons]string{"", "missing", "unparseable", "not_json", "out_of_range", "skew", "undecodable", "future"}

// String returns the reason's label value.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// unreadable reports whether the record's event time could not be read at
// all, as opposed to read and found implausible (skew, future): only then
// does event_time.fallback apply.
func (r Reason) unreadable() bool {
	return r != ReasonOK && r != ReasonSkew && r != ReasonFuture
}

// Values of a product's event_time.fallback: what a record whose event time
// cannot be read (missing, unparseable, not_json, out_of_range,
// undecodable) is measured with.
const (
	// FallbackRecordTimestamp (the default): its record timestamp stands in
	// for the event time, for latency and freshness.
	FallbackRecordTimestamp = meshwatch.EventTimeFallbackRecordTimestamp
	// FallbackSkip: it gives no latency (neither histogram nor latency SLO
	// event); it still counts as arriving at its record timestamp for
	// freshness, so that a product whose records flow is never silent.
	FallbackSkip = meshwatch.EventTimeFallbackSkip
)

// eventTimeFallback returns the product's event_time.fallback (the default
// when unset).
func eventTimeFallback(p *meshwatch.Product) string {
	if p.EventTime.Fallback == "" {
		return FallbackRecordTimestamp
	}
	return p.EventTime.Fallback
}

// Extractor reads event times from records as a product's event_time says.
// It is immutable after NewExtractor and safe for concurrent use.
type Extractor struct {
	source string
	header string
	path   []string // keys of the field path
	format string
	// decoded says that the field is in an Avro or Protobuf value, which
	// only a decoder reads (the record sink, package quality): Extract
	// cannot read it, ExtractValue reads what the decoder found.
	decoded bool
}

// NewExtractor compiles an event-time declaration. The declaration is assumed
// valid (meshwatch.Config.Validate); an empty format means auto. A field is
// read from a JSON payload by Extract; see NewProductExtractor for Avro and
// Protobuf.
func NewExtractor(et meshwatch.EventTime) *Extractor {
	x := &Extractor{source: et.Source(), header: et.Header, format: et.Format}
	if x.format == "" {
		x.format = meshwatch.TimeFormatAuto
	}
	if et.Field != "" {
		x.path = strings.Split(et.Field, ".")
	}
	return x
}

// NewProductExtractor is NewExtractor for the product's event_time, aware
// of its format: the field of an Avro or Protobuf product is read from its
// decoded value (Decoded, ExtractValue).
func NewProductExtractor(p *meshwatch.Product) *Extractor {
	x := NewExtractor(p.EventTime)
	x.decoded = x.source == meshwatch.EventTimeField && (p.Format == meshwatch.FormatAvro || p.Format == meshwatch.FormatProtobuf)
	return x
}

// Decoded reports whether the event time is a field of a decoded Avro or
// Protobuf value: the caller decodes and hands the field to ExtractValue.
func (x *Extractor) Decoded() bool { return x.decoded }

// at names where the event time is read, for log lines: the header, the
// field or the record timestamp.
func (x *Extractor) at() string {
	switch x.source {
	case meshwatch.EventTimeHeader:
		return "header " + x.header
	case meshwatch.EventTimeField:
		return "field " + strings.Join(x.path, ".")
	}
	return "record timestamp"
}

// Path returns the keys of the event-time field, nil for a header or the
// record timestamp. The slice is the extractor's: do not change it.
func (x *Extractor) Path() []string { return x.path }

// Extract returns the record's event time in Unix nanoseconds, or the reason
// it has none. It does not allocate for record timestamps, Unix numbers and
// RFC 3339 times in UTC ("Z"); an RFC 3339 time with an offset costs the
// standard library one allocation for its zone. A field of a decoded
// extractor is ReasonUndecodable here: only ExtractValue reads it.
func (x *Extractor) Extract(r *kgo.Record) (int64, Reason) {
	switch x.source {
	case meshwatch.EventTimeHeader:
		for i := range r.Headers {
			if r.Headers[i].Key == x.header {
				return x.parse(r.Headers[i].Value, true)
			}
		}
		return 0, ReasonMissing
	case meshwatch.EventTimeField:
		if x.decoded {
			return 0, ReasonUndecodable
		}
		v, typ, _, err := jsonparser.Get(r.Value, x.path...)
		switch {
		case errors.Is(err, jsonparser.KeyPathNotFoundError):
			// A payload that is not an object at all is not JSON for our
			// purposes; a JSON object without the key is a missing field.
			if len(bytes.TrimSpace(r.Value)) == 0 || bytes.TrimSpace(r.Value)[0] != '{' {
				return 0, ReasonNotJSON
			}
			return 0, ReasonMissing
		case err != nil:
			return 0, ReasonNotJSON
		}
		switch typ {
		case jsonparser.Null:
			return 0, ReasonMissing
		case jsonparser.String, jsonparser.Number:
			return x.parse(v, typ == jsonparser.String)
		default:
			return 0, ReasonUnparseable
		}
	default:
		return r.Timestamp.UnixNano(), ReasonOK
	}
}

// ExtractValue returns the event time of a field that a decoder read from
// an Avro or Protobuf value, as RecordSink.ObserveRecordField returns it:
// v the field's value, found whether the path is there, err why the value
// could not be decoded. It reads what the decoders make of a time:
// time.Time (Avro timestamp-millis/micros and date, Protobuf
// google.protobuf.Timestamp) as it is, whatever the format; int64, uint64
// and float64 as Unix numbers in the format's unit (auto: told by
// magnitude); a string as a header value. The number 0 is missing, not
// 1970: Protobuf does not send a scalar at its default.
func (x *Extractor) ExtractValue(v any, found bool, err error) (int64, Reason) {
	switch {
	case err != nil:
		return 0, ReasonUndecodable
	case !found:
		return 0, ReasonMissing
	}
	switch v := v.(type) {
	case nil:
		return 0, ReasonMissing
	case time.Time:
		// UnixNano is defined from 1678 to 2262 only.
		if y := v.Year(); y < 1678 || y > 2261 {
			return 0, ReasonOutOfRange
		}
		return v.UnixNano(), ReasonOK
	case int64:
		if v == 0 {
			return 0, ReasonMissing
		}
		return x.unixInt(v)
	case uint64:
		if v == 0 {
			return 0, ReasonMissing
		}
		if v > 1<<63-1 {
			return 0, ReasonOutOfRange
		}
		return x.unixInt(int64(v))
	case float64:
		if v == 0 {
			return 0, ReasonMissing
		}
		return x.unixFloat(v)
	case string:
		return x.parse([]byte(v), true)
	default:
		return 0, ReasonUnparseable
	}
}

// unit returns the nanoseconds per unit of the extractor's Unix format, 0
// for auto (told by magnitude) and -1 for rfc3339 (no number is a time).
func (x *Extractor) unit() float64 {
	switch x.format {
	case meshwatch.TimeFormatRFC3339:
		return -1
	case meshwatch.TimeFormatUnixS:
		return 1e9
	case meshwatch.TimeFormatUnixMs:
		return 1e6
	case meshwatch.TimeFormatUnixUs:
		return 1e3
	case meshwatch.TimeFormatUnixNs:
		return 1
	}
	return 0
}

func (x *Extractor) unixInt(n int64) (int64, Reason) {
	u := x.unit()
	if u < 0 {
		return 0, ReasonUnparseable
	}
	return scaleInt(n, u)
}

func (x *Extractor) unixFloat(f float64) (int64, Reason) {
	u := x.unit()
	if u < 0 {
		return 0, ReasonUnparseable
	}
	return scaleFloat(f, u)
}

// parse reads v as the extractor's format. text says whether v may be RFC
// 3339 (a header or a JSON string) rather than only a number.
func (x *Extractor) parse(v []byte, text bool) (int64, Reason) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0, ReasonMissing
	}
	switch x.format {
	case meshwatch.TimeFormatRFC3339:
		return parseRFC3339(v)
	case meshwatch.TimeFormatUnixS:
		return parseUnix(v, 1e9)
	case meshwatch.TimeFormatUnixMs:
		return parseUnix(v, 1e6)
	case meshwatch.TimeFormatUnixUs:
		return parseUnix(v, 1e3)
	case meshwatch.TimeFormatUnixNs:
		return parseUnix(v, 1)
	}
	// auto: a number is Unix time in the unit its magnitude implies; text that
	// is not a number must be RFC 3339. Deciding by the characters first keeps
	// RFC 3339 text away from strconv, whose errors allocate.
	if numeric(v) {
		return parseUnix(v, 0)
	}
	if !text {
		return 0, ReasonUnparseable
	}
	return parseRFC3339(v)
}

// numeric reports whether v is made only of the characters of a decimal
// number: digits, a sign, a point and an exponent.
func numeric(v []byte) bool {
	for _, c := range v {
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

func parseRFC3339(v []byte) (int64, Reason) {
	// Text without the shape of RFC 3339 is refused here: the standard
	// library's error for it allocates, on every record of a product
	// whose field holds something else.
	if len(v) < len("2006-01-02T15:04:05") || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' {
		return 0, ReasonUnparseable
	}
	var t time.Time
	if err := t.UnmarshalText(v); err != nil {
		return 0, ReasonUnparseable
	}
	return t.UnixNano(), ReasonOK
}

// Magnitudes that tell the unit of an auto Unix time: seconds stay below 1e11
// until the year 5138, milliseconds below 1e14, microseconds below 1e17.
const (
	autoSecondsBelow = 1e11
	autoMillisBelow  = 1e14
	autoMicrosBelow  = 1e17
)

// parseUnix reads an integer or decimal Unix time; unit is the nanoseconds per
// unit, or 0 to infer the unit from the magnitude.
func parseUnix(v []byte, unit float64) (int64, Reason) {
	if n, ok := parseInt(v); ok {
		return scaleInt(n, unit)
	}
	// string(v) does not escape strconv (its errors clone the input), so the
	// conversion does not allocate for short values.
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, ReasonUnparseable
	}
	return scaleFloat(f, unit)
}

// scaleInt returns n units in nanoseconds; unit 0 infers the unit from the
// magnitude.
func scaleInt(n int64, unit float64) (int64, Reason) {
	if unit == 0 {
		unit = autoUnit(float64(n))
	}
	if unit == 1 {
		return n, ReasonOK
	}
	u := int64(unit)
	if n > (1<<63-1)/u || n < -(1<<63-1)/u {
		return 0, ReasonOutOfRange
	}
	return n * u, ReasonOK
}

// scaleFloat is scaleInt for a decimal number.
func scaleFloat(f, unit float64) (int64, Reason) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, ReasonUnparseable
	}
	if unit == 0 {
		unit = autoUnit(f)
	}
	f *= unit
	if f > maxNanos || f < -maxNanos {
		return 0, ReasonOutOfRange
	}
	return int64(f), ReasonOK
}

const maxNanos = float64(1<<63 - 1)

func autoUnit(f float64) float64 {
	if f < 0 {
		f = -f
	}
	switch {
	case f < autoSecondsBelow:
		return 1e9
	case f < autoMillisBelow:
		return 1e6
	case f < autoMicrosBelow:
		return 1e3
	default:
		return 1
	}
}

// parseInt parses a decimal integer with an optional sign; ok is false for
// anything else, including overflow.
func parseInt(v []byte) (int64, bool) {
	neg := false
	if len(v) > 0 && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		v = v[1:]
	}
	// Leading zeros do not count towards the 19 digits an int64 holds.
	for len(v) > 1 && v[0] == '0' {
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}
