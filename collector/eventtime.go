package collector

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/buger/jsonparser"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
)

// Reason says why a record's event time could not be read. The zero Reason
// means it was read.
type Reason uint8

// Reasons an event time is unreadable; each is a label value of
// meshwatch_event_time_errors_total.
const (
	ReasonOK          Reason = iota
	ReasonMissing            // the header or field is absent, or JSON null
	ReasonUnparseable        // present, but not RFC 3339 nor a Unix number
	ReasonNotJSON            // the payload is not a JSON object the path can walk
	ReasonOutOfRange         // before 2000-01-01, or beyond what int64 nanoseconds hold
	// ReasonSkew: further from the agent's clock than the product's
	// event_time.max_clock_skew, in the future or in the past (a latency
	// longer than it). Extract never returns it; the collector decides.
	ReasonSkew
	numReasons
)

var reasonNames = [numReasons]string{"", "missing", "unparseable", "not_json", "out_of_range", "skew"}

// String returns the reason's label value.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Extractor reads event times from records as a product's event_time says.
// It is immutable after NewExtractor and safe for concurrent use.
type Extractor struct {
	source string
	header string
	path   []string // JSON keys of the field path
	format string
}

// NewExtractor compiles an event-time declaration. The declaration is assumed
// valid (meshwatch.Config.Validate); an empty format means auto.
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

// Extract returns the record's event time in Unix nanoseconds, or the reason
// it has none. It does not allocate for record timestamps, Unix numbers and
// RFC 3339 times in UTC ("Z"); an RFC 3339 time with an offset costs the
// standard library one allocation for its zone.
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
	// string(v) does not escape strconv (its errors clone the input), so the
	// conversion does not allocate for short values.
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
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
