package meshwatch

import (
	"fmt"
	"io"
)

// Secret is a string that must not be shown: a password or a token. Every
// way of printing it (fmt, String, GoString, YAML, JSON, text) gives
// "<secret>" instead of the value, or "" when it is empty; Reveal gives the
// value to the code that needs it, such as the Kafka client's SASL mechanism.
type Secret string

const secretPlaceholder = "<secret>"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "<secret>", or "" when s is empty. It is what fmt's %v, %+v
// and %s print.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return secretPlaceholder
}

// GoString returns `"<secret>"`, or `""` when s is empty, for fmt's %#v.
func (s Secret) GoString() string {
	if s == "" {
		return `""`
	}
	return `"` + secretPlaceholder + `"`
}

// MarshalYAML writes "<secret>", or "" when s is empty, so that a config
// written back out never holds a secret.
func (s Secret) MarshalYAML() (any, error) {
	return s.String(), nil
}

// MarshalText gives "<secret>", or "" when s is empty, so that encoding/json
// and log/slog's JSON handler never write the secret either.
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// Format prints "<secret>" (or "" when s is empty) for every verb, with the
// verb's flags and width: fmt must not reach the string by reflection, as it
// does for verbs such as %d that a Stringer does not cover.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}
