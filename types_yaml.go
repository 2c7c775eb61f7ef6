package meshwatch

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

const day = 24 * time.Hour

// String formats d like time.Duration, with whole days as "d" and without
// trailing zero units: "10s", "1m30s", "28d", "1d12h".
func (d Duration) String() string {
	if d == 0 {
		return "0s"
	}
	sign := ""
	v := time.Duration(d)
	if v < 0 {
		if v == math.MinInt64 {
			return v.String()
		}
		sign, v = "-", -v
	}
	var b strings.Builder
	b.WriteString(sign)
	if days := v / day; days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
		v -= days * day
	}
	if v > 0 {
		s := v.String()
		// time.Duration prints 1h0m0s; "1h" reads better and parses the same.
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		b.WriteString(s)
	}
	return b.String()
}

// ParseDuration parses a Go duration ("1s", "1m30s"), optionally led by a
// number of days ("28d", "1d12h"), as a Duration is written in YAML.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	rest := s
	neg := false
	if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	i := strings.IndexByte(rest, 'd')
	if i <= 0 || !allDigits(rest[:i]) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, durationError(s)
		}
		return Duration(d), nil
	}
	days, err := strconv.ParseInt(rest[:i], 10, 64)
	if err != nil || days > int64(math.MaxInt64/day) {
		return 0, durationError(s)
	}
	d := time.Duration(days) * day
	if tail := rest[i+1:]; tail != "" {
		if tail[0] == '-' || tail[0] == '+' {
			return 0, durationError(s)
		}
		t, err := time.ParseDuration(tail)
		if err != nil || t > math.MaxInt64-d {
			return 0, durationError(s)
		}
		d += t
	}
	if neg {
		d = -d
	}
	return Duration(d), nil
}

func durationError(s string) error {
	return fmt.Errorf("must be a duration like 10s, 1m30s or 28d, got %s", Quote(s))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// UnmarshalYAML reads a duration such as "10s", "1m30s", "28d" or "1d12h".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if isNull(n) {
		*d = 0
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a duration like 10s, 1m30s or 28d, got %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes d as String does: "10s", "28d".
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// String formats p as a percentage: 0.999 is "99.9%".
func (p Percent) String() string {
	f := float64(p)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return shiftDecimal(f, 2) + "%"
}

// shiftDecimal writes f multiplied by 10^shift in plain decimal notation. It
// moves the decimal point of f's shortest representation instead of
// multiplying, so that 0.999 gives "99.9", not "99.89999999999999", and
// parsing the result divided back gives f exactly.
func shiftDecimal(f float64, shift int) string {
	if f == 0 {
		return "0"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. "-9.99e-01"
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mant, exps, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(exps)
	digits := strings.Replace(mant, ".", "", 1)
	point := 1 + exp + shift // digits before the decimal point
	switch {
	case point <= 0:
		return sign + "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return sign + digits + strings.Repeat("0", point-len(digits))
	default:
		return sign + digits[:point] + "." + digits[point:]
	}
}

// ParsePercent reads "99.9%" or a ratio such as 0.999, as a Percent is
// written in YAML. A number above 1 is an error that says how to write it.
func ParsePercent(s string) (Percent, error) {
	s = strings.TrimSpace(s)
	if num, ok := strings.CutSuffix(s, "%"); ok {
		num = strings.TrimSpace(num)
		// Parse "99.9e-2" rather than dividing 99.9 by 100, so that "99.9%"
		// is exactly the float nearest to 0.999.
		mant, exp, err := num, 0, error(nil)
		if i := strings.IndexAny(num, "eE"); i >= 0 {
			mant = num[:i]
			exp, err = strconv.Atoi(num[i+1:])
		}
		var f float64
		if err == nil {
			f, err = strconv.ParseFloat(mant+"e"+strconv.Itoa(exp-2), 64)
		}
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return 0, fmt.Errorf(`must be a percentage from 0%% to 100%% like "99.9%%", got %s`, Quote(s))
		}
		return Percent(f), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf(`must be a percentage like "99.9%%" or a ratio from 0 to 1 like 0.999, got %s`, Quote(s))
	}
	if f > 1 {
		if f <= 100 {
			return 0, fmt.Errorf(`must be a ratio from 0 to 1, got %s; write "%s%%" or %s`, s, s, shiftDecimal(f, -2))
		}
		return 0, fmt.Errorf(`must be a percentage like "99.9%%" or a ratio from 0 to 1 like 0.999, got %s`, s)
	}
	return Percent(f), nil
}

// UnmarshalYAML reads "99.9%" or a ratio from 0 to 1 such as 0.999. A number
// above 1 is an error that says how to write it.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	if isNull(n) {
		*p = 0
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf(`must be a percentage like "99.9%%", got %s`, describe(n))
	}
	v, err := ParsePercent(n.Value)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalYAML writes p as a percentage: "99.9%".
func (p Percent) MarshalYAML() (any, error) {
	return p.String(), nil
}

// UnmarshalYAML reads a topic name ("orders") or a mapping with name or
// pattern ({pattern: "^orders\\..*$"}).
func (s *TopicSelector) UnmarshalYAML(n *yaml.Node) error {
	*s = TopicSelector{}
	switch n.Kind {
	case yaml.ScalarNode:
		if !isNull(n) {
			s.Name = n.Value
		}
		return nil
	case yaml.MappingNode:
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var dst *string
			switch k.Value {
			case "name":
				dst = &s.Name
			case "pattern":
				dst = &s.Pattern
			default:
				errs = append(errs, fmt.Errorf("line %d: unknown key %q; allowed: name, pattern", k.Line, k.Value))
				continue
			}
			if v.Kind != yaml.ScalarNode {
				errs = append(errs, fmt.Errorf("line %d: %s must be a string, got %s", v.Line, k.Value, describe(v)))
				continue
			}
			if !isNull(v) {
				*dst = v.Value
			}
		}
		return errors.Join(errs...)
	default:
		return fmt.Errorf(`must be a topic name or a mapping like {pattern: "^orders\\..*$"}, got %s`, describe(n))
	}
}

// MarshalYAML writes a plain string for a name, and a mapping for a pattern.
func (s TopicSelector) MarshalYAML() (any, error) {
	if s.Pattern == "" {
		return s.Name, nil
	}
	return struct {
		Name    string `yaml:"name,omitempty"`
		Pattern string `yaml:"pattern"`
	}{s.Name, s.Pattern}, nil
}

// isNull reports whether n is an empty value: missing, "~", "null" or blank.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node holds, for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch {
	case n == nil || isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	default:
		return Quote(n.Value)
	}
}
