package expo

import (
	"bufio"
	"math"
	"strconv"
	"time"
)

// textWriter writes the Prometheus text format (0.0.4) straight from the
// samples: no intermediate message, no allocation per series.
type textWriter struct {
	w       *bufio.Writer
	cur     *Family
	started bool // the current family's HELP and TYPE are written
	buf     []byte
	err     error // the first failed write: nothing more is formatted
}

func (t *textWriter) Begin(f *Family) { t.cur, t.started = f, false }

func (t *textWriter) Counter(v float64, _ time.Time, lv ...string) { t.Sample(v, lv...) }

func (t *textWriter) Sample(v float64, lv ...string) {
	if t.err != nil {
		return
	}
	b := t.header(t.buf[:0])
	b = t.line(b, "", lv, "", v)
	t.write(b)
}

// write writes b and keeps it as the buffer to reuse. A failed write (the
// scraper went away) stops the formatting; the error sticks in the
// bufio.Writer too, and the handler reads it at the end.
func (t *textWriter) write(b []byte) {
	t.buf = b
	_, t.err = t.w.Write(b)
}

// Histogram writes the classic buckets, +Inf, _sum and _count: the text
// format has no native buckets.
func (t *textWriter) Histogram(h *HistogramValue, lv ...string) {
	if t.err != nil {
		return
	}
	b := t.header(t.buf[:0])
	var le []byte
	for i, ub := range h.Bounds {
		le = appendFloat(le[:0], ub)
		b = t.line(b, "_bucket", lv, string(le), float64(h.Cumulative[i]))
	}
	b = t.line(b, "_bucket", lv, "+Inf", float64(h.Count))
	b = t.line(b, "_sum", lv, "", h.Sum)
	b = t.line(b, "_count", lv, "", float64(h.Count))
	t.write(b)
}

// header appends the current family's HELP and TYPE lines before its first
// series.
func (t *textWriter) header(b []byte) []byte {
	if t.started {
		return b
	}
	f := t.cur
	t.started = true
	b = append(b, "# HELP "...)
	b = append(b, f.Name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.Help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.Name...)
	switch f.Type {
	case Counter:
		b = append(b, " counter\n"...)
	case Histogram:
		b = append(b, " histogram\n"...)
	default:
		b = append(b, " gauge\n"...)
	}
	return b
}

// line appends one sample line: the family's name and suffix, its labels
// in name order, le last when given, and the value.
func (t *textWriter) line(b []byte, suffix string, lv []string, le string, v float64) []byte {
	f := t.cur
	b = append(b, f.Name...)
	b = append(b, suffix...)
	if len(f.Labels) > 0 || le != "" {
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
		if le != "" {
			if len(f.Labels) > 0 {
				b = append(b, ',')
			}
			b = append(b, `le="`...)
			b = append(b, le...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

// appendEscaped escapes a HELP text (\ and newline) or a label value (also
// the double quote) as the text format wants.
func appendEscaped(b []byte, s string, quote bool) []byte {
	// Most values need no escape: find the first byte that does with a
	// plain loop (strings.ContainsAny here was about a fifth of a scrape's
	// CPU at 10,000 products).
	i := 0
	for i < len(s) && s[i] != '\\' && s[i] != '\n' && s[i] != '"' {
		i++
	}
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
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
