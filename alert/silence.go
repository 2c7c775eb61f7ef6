package alert

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/meshwatch/meshwatch/internal/webauth"
)

// Matcher operators, Alertmanager's.
const (
	OpEqual    = "="
	OpNotEqual = "!="
	OpRegex    = "=~"
	OpNotRegex = "!~"
)

// Matcher matches one label. A regular expression is anchored at both ends;
// an absent label matches as the empty string.
type Matcher struct {
	Name  string `json:"name"`
	Op    string `json:"op"` // OpEqual (default), OpNotEqual, OpRegex, OpNotRegex
	Value string `json:"value"`

	re *regexp.Regexp
}

// ParseMatcher parses `name=value`, `name!=value`, `name=~regex` or
// `name!~regex`; the value may be double-quoted.
func ParseMatcher(s string) (Matcher, error) {
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~regex or name!~regex", s)
	}
	m := Matcher{Name: strings.TrimSpace(s[:i])}
	rest := s[i:]
	for _, op := range []string{OpRegex, OpNotRegex, OpNotEqual, OpEqual} {
		if strings.HasPrefix(rest, op) {
			m.Op, m.Value = op, strings.TrimSpace(rest[len(op):])
			break
		}
	}
	if m.Op == "" {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~regex or name!~regex", s)
	}
	if len(m.Value) >= 2 && m.Value[0] == '"' && m.Value[len(m.Value)-1] == '"' {
		v, err := strconv.Unquote(m.Value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: bad quoted value: %w", s, err)
		}
		m.Value = v
	}
	return m, m.validate()
}

// String returns the matcher as ParseMatcher reads it.
func (m Matcher) String() string { return m.Name + m.op() + fmt.Sprintf("%q", m.Value) }

func (m Matcher) op() string {
	if m.Op == "" {
		return OpEqual
	}
	return m.Op
}

func (m *Matcher) compile() error {
	if m.Name == "" {
		return errors.New("matcher: empty label name")
	}
	switch m.op() {
	case OpEqual, OpNotEqual:
	case OpRegex, OpNotRegex:
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return fmt.Errorf("matcher %s: %w", m.Name, err)
		}
		m.re = re
	default:
		return fmt.Errorf("matcher %s: operator %q: want =, !=, =~ or !~", m.Name, m.Op)
	}
	return nil
}

// validate compiles a new matcher. Its regular expression must be one on
// its own: "a)|(b" would escape the anchors ("^(?:a)|(b)$") and match
// whatever starts with a or ends with b. Silences read from the Store are
// only compiled, so that one made before this check keeps muting.
func (m *Matcher) validate() error {
	if op := m.op(); op == OpRegex || op == OpNotRegex {
		if _, err := regexp.Compile(m.Value); err != nil {
			return fmt.Errorf("matcher %s: %w", m.Name, err)
		}
	}
	return m.compile()
}

// Matches reports whether labels satisfy the matcher. It is valid after
// compile.
func (m *Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.op() {
	case OpEqual:
		return v == m.Value
	case OpNotEqual:
		return v != m.Value
	case OpRegex:
		return m.re != nil && m.re.MatchString(v)
	case OpNotRegex:
		return m.re != nil && !m.re.MatchString(v)
	}
	return false
}

// probeValues are label values made up to find a matcher that accepts any
// value of its label: one that matches all of them (=~".*", =~".+", !="",
// !="foo", !~"foo", =~"\\S+"…) would match every value a mesh has too.
var probeValues = []string{"x", "Z", "0", "a.b.c-d_e", "with space", "ünï", "meshwatch-probe-3f9c1e"}

// unbounded reports whether m accepts any value of its label: it matches
// every probe value, or at least two values are known of its label in the
// mesh (known) and it matches all of them. An = matcher with a value never
// is. m must be compiled.
func (m *Matcher) unbounded(known []string) bool {
	if m.op() == OpEqual && m.Value != "" {
		return false
	}
	matchesAll := func(vs []string) bool {
		for _, v := range vs {
			if !m.Matches(map[string]string{m.Name: v}) {
				return false
			}
		}
		return true
	}
	return matchesAll(probeValues) || (len(known) >= 2 && matchesAll(known))
}

// labelValues are the distinct values of labels known in the mesh, by
// label name (Manager.knownValues): a matcher that matches all of at least
// two of them mutes the whole mesh.
type labelValues map[string][]string

// Silence mutes the alerts all its matchers match from StartsAt to
// EndsAt. A silenced alert opens no incident and joins none; an alert that
// was already notified stays in its incident until it resolves, but the
// incident is not repeated while all its alerts are muted.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	// AuthenticatedAs is the caller the API's Guard (internal/webauth)
	// authenticated when the silence was made ("token ci-bot", "user
	// alice"); empty for an anonymous caller. CreatedBy is what the
	// caller says of itself.
	AuthenticatedAs string `json:"authenticated_as,omitempty"`
}

// SilenceRequest is the body of POST /api/v1/silences. Either ExpiresAt or
// Duration (a Go duration such as "2h", or "1d") gives the end. CreatedBy
// is required of an anonymous caller; it defaults to the name of an
// authenticated one.
type SilenceRequest struct {
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Duration  string    `json:"duration,omitempty"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
}

// maxSilence bounds a silence: a forgotten one must not mute a product
// forever.
const maxSilence = 90 * 24 * time.Hour

// Limits on silences, so that no caller can grow the agent's memory and
// state without bound: how many may be in force or to come at once, and how
// large one may be (as JSON), with at most MaxSilenceMatchers matchers.
const (
	MaxSilences        = 1000
	MaxSilenceBytes    = 8 << 10
	MaxSilenceMatchers = 32
)

// silence validates r and makes the silence it asks for at now, by caller.
// known are the values of labels known in the mesh: a silence whose every
// matcher accepts any value of its label (unbounded), or whose matchers
// match an alert without labels, would mute every alert and is refused.
func (r *SilenceRequest) silence(now time.Time, known labelValues, caller webauth.Caller) (*Silence, error) {
	var errs []error
	if len(r.Matchers) == 0 {
		errs = append(errs, errors.New("matchers: at least one is required"))
	}
	if len(r.Matchers) > MaxSilenceMatchers {
		return nil, fmt.Errorf("matchers: at most %d, got %d", MaxSilenceMatchers, len(r.Matchers))
	}
	ms := make([]Matcher, len(r.Matchers))
	matchesEmpty, compiled := true, 0
	var unbounded []string
	for i, m := range r.Matchers {
		if err := m.validate(); err != nil {
			errs = append(errs, fmt.Errorf("matchers[%d]: %w", i, err))
			continue
		}
		compiled++
		if !m.Matches(map[string]string{}) {
			matchesEmpty = false
		}
		if m.unbounded(known[m.Name]) {
			unbounded = append(unbounded, m.String())
		}
		ms[i] = m
	}
	switch {
	case compiled == 0 || compiled < len(r.Matchers):
		// Nothing to judge, or not all of it.
	case len(unbounded) == compiled:
		what := unbounded[0] + " accepts every value of its label"
		if len(unbounded) > 1 {
			what = strings.Join(unbounded, ", ") + " each accept every value of their label"
		}
		example := `product="<a product>"`
		if ps := known[LabelProduct]; len(ps) > 0 {
			example = (&Matcher{Name: LabelProduct, Value: ps[0]}).String()
		}
		errs = append(errs, fmt.Errorf("matchers: %s, so the silence would mute every alert: name what to mute with =, e.g. %s", what, example))
	case matchesEmpty:
		errs = append(errs, errors.New("matchers: they match an alert without labels, so every alert: name at least one label value"))
	}
	createdBy := r.CreatedBy
	if strings.TrimSpace(createdBy) == "" && caller.Authenticated() {
		createdBy = caller.Name
	}
	if strings.TrimSpace(createdBy) == "" {
		errs = append(errs, errors.New("created_by: required of an anonymous caller: say who you are"))
	}
	if strings.TrimSpace(r.Comment) == "" {
		errs = append(errs, errors.New("comment: required"))
	}
	start := r.StartsAt
	if start.IsZero() || start.Before(now) {
		start = now
	}
	end := r.ExpiresAt
	switch {
	case r.Duration != "" && !end.IsZero():
		errs = append(errs, errors.New("give expires_at or duration, not both"))
	case r.Duration != "":
		d, err := parseDuration(r.Duration)
		switch {
		case errors.Is(err, errSilenceTooLong):
			errs = append(errs, fmt.Errorf("duration: a silence lasts at most %s, got %s", maxSilence, r.Duration))
		case err != nil || d <= 0:
			errs = append(errs, fmt.Errorf("duration: want a positive duration such as 2h or 1d, got %q", r.Duration))
		default:
			end = start.Add(d)
		}
	case end.IsZero():
		errs = append(errs, errors.New("expires_at or duration: required"))
	}
	if !end.IsZero() && !end.After(start) {
		errs = append(errs, fmt.Errorf("expires_at: must be after %s, got %s", start.Format(time.RFC3339), end.Format(time.RFC3339)))
	}
	if end.Sub(start) > maxSilence {
		errs = append(errs, fmt.Errorf("a silence lasts at most %s, got %s", maxSilence, end.Sub(start)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	sl := &Silence{
		ID: hex.EncodeToString(id[:]), Matchers: ms, StartsAt: start.UTC(), EndsAt: end.UTC(),
		CreatedBy: createdBy, Comment: r.Comment,
	}
	if caller.Authenticated() {
		sl.AuthenticatedAs = caller.String()
	}
	if b, err := json.Marshal(sl); err != nil || len(b) > MaxSilenceBytes {
		return nil, fmt.Errorf("the silence is %d bytes, at most %d: shorten its comment, created_by or matchers", len(b), MaxSilenceBytes)
	}
	return sl, nil
}

// errSilenceTooLong is a duration in days longer than maxSilence.
var errSilenceTooLong = errors.New("longer than a silence may last")

// parseDuration reads a Go duration, or whole days as "Nd". Days beyond
// what a silence may last are refused before they are multiplied, which
// would overflow into a short (or negative) duration.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.ParseInt(n, 10, 64); err == nil && strconv.FormatInt(days, 10) == n {
			if days > int64(maxSilence/(24*time.Hour)) {
				return 0, errSilenceTooLong
			}
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// activeAt reports whether s mutes at now.
func (s *Silence) activeAt(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// matches reports whether s's matchers all match labels.
func (s *Silence) matches(labels map[string]string) bool {
	for i := range s.Matchers {
		if !s.Matchers[i].Matches(labels) {
			return false
		}
	}
	return true
}

// Beginnings of the notes a silence posts into incidents' threads; Slack
// picks its emoji by them.
const (
	noteSilenced   = "Silenced by "
	noteUnsilenced = "Silence "
)

// silencedNote is the note of a silence added at now: "Silenced by ops
// (token ci-bot) until Mar 2 12:00 UTC (2h), reason: broker upgrade.
// Matchers: product="checkout.orders.placed". Silence 0123456789abcdef."
func silencedNote(s *Silence, now time.Time) string {
	var b strings.Builder
	b.WriteString(noteSilenced + noteText(s.CreatedBy, 80))
	if s.AuthenticatedAs != "" {
		b.WriteString(" (" + noteText(s.AuthenticatedAs, 80) + ")")
	}
	if s.StartsAt.After(now) {
		b.WriteString(" from " + clock(s.StartsAt))
	}
	fmt.Fprintf(&b, " until %s (%s), reason: %s.", clock(s.EndsAt), human(s.EndsAt.Sub(s.StartsAt)),
		strings.TrimRight(noteText(s.Comment, 200), ". "))
	b.WriteString(" Matchers: " + noteText(strings.Join(matcherStrings(s.Matchers), ", "), 300) + ".")
	b.WriteString(" Silence " + s.ID + ".")
	return b.String()
}

// unsilencedNote is the note of a silence removed by caller: "Silence
// 0123456789abcdef (broker upgrade) removed by user alice: its alerts
// notify again."
func unsilencedNote(s *Silence, caller webauth.Caller) string {
	by := "an anonymous caller"
	if caller.Authenticated() {
		by = noteText(caller.String(), 80)
	}
	return fmt.Sprintf("%s%s (%s) removed by %s: its alerts notify again.", noteUnsilenced, s.ID, noteText(s.Comment, 200), by)
}

// noteText makes what people typed fit a note: one line (oneLine), at
// most n characters.
func noteText(s string, n int) string { return truncate(oneLine(s), n) }

// oneLine turns control and bidirectional formatting characters into
// spaces and runs of spaces into one.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
