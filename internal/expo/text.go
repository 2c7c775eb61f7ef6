package expo

import (
	"bufio"
	"math"
	"strconv"
	"strings"
	"time"
)

// textWriter writes the Prometheus text format (0.0.4) straight from the
// samples: no intermediate message, no allocation per series.
type textWriter struct {
	w       *bufio.Writer
	cur     *Family
	started bool // the current family's HELP and TYPE are written
	buf     []byte
}

func (t *textWriter) Begin(f *Family) { t.cur, t.started = f, false }

func (t *textWriter) Counter(v float64, _ time.Time, lv ...string) { t.Sample(v, lv...) }

func (t *textWriter) Sample(v float64, lv ...string) {
	f := t.cur
	b := t.buf[:0]
	if !t.started {
		t.started = true
		b = append(b, "# HELP "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = appendEscaped(b, f.Help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.Name...)
		if f.Type == Counter {
			b = append(b, " counter\n"...)
		} else {
			b = append(b, " gauge\n"...)
		}
	}
	b = append(b, f.Name...)
	if len(f.Labels) > 0 {
		b = append(b, '{')
		for n, i := range f.order {
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, f.Labels[i]...)
			b = append(b, `="`...)
			if i < len(lv) {
				b = appendEscaped(b, lv[i], true)
			}
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	b = append(b, '\n')
	t.buf = b
	_, _ = t.w.Write(b) // a failed write sticks in the bufio.Writer; the handler reads it at the end
}

// appendEscaped escapes a HELP text (\ and newline) or a label value (also
// the double quote) as the text format wants.
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !strings.ContainsAny(s, "\\\n\"") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats a value as client_golang's text encoder does.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 1:
		return append(b, '1')
	case v == 0:
		return append(b, '0')
	case v == -1:
		return append(b, "-1"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
