package meshwatch

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Position is a place in a configuration file. Line and Col count from 1;
// zero means unknown.
type Position struct {
	File      string
	Line, Col int
}

// String returns "file:line:col", leaving out the parts that are unknown.
func (p Position) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(p.Line))
		if p.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Col))
		}
	}
	return b.String()
}

// Problem is one thing wrong with a configuration. Path names the setting
// with the YAML keys, e.g. "products[2].slos[0].threshold"; Msg says what is
// allowed and what was given. A Warning does not stop the agent.
type Problem struct {
	Pos     Position
	Path    string
	Msg     string
	Warning bool
}

// String formats p as "file:line:col: path: msg", or
// "file:line:col: path: warning: msg" for a warning. Unknown parts of the
// position, and an empty path, are left out.
func (p Problem) String() string {
	var b strings.Builder
	if pos := p.Pos.String(); pos != "" {
		b.WriteString(pos)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is a list of problems. As an error it reads as every problem,
// errors and warnings, one per line in order; the loader sorts them by
// position.
type Problems []Problem

// Error returns every problem, errors and warnings alike, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Warnings returns the problems that are warnings.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Err returns ps as an error when it holds at least one error-level problem,
// and nil when it is empty or holds only warnings.
func (ps Problems) Err() error {
	for _, p := range ps {
		if !p.Warning {
			return ps
		}
	}
	return nil
}

// DidYouMean returns " (did you mean "c"?)" for the candidate c that s is
// likely a typo of, and "" when there is none: the end of a message such
// as `unknown key "domian"`.
func DidYouMean(s string, candidates []string) string {
	c := Closest(s, candidates)
	if c == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", Quote(c))
}

// Closest returns the candidate that s is a likely typo of, or "": the
// nearest by edit distance, ignoring case, when it is close enough and no
// other candidate is as close.
func Closest(s string, candidates []string) string {
	limit := 2 // edits allowed: one for short words, where two make anything alike
	if len(s) <= 4 {
		limit = 1
	}
	best, bestDist, tie := "", limit+1, false
	for _, c := range candidates {
		switch d := editDistance(strings.ToLower(s), strings.ToLower(c)); {
		case d < bestDist:
			best, bestDist, tie = c, d, false
		case d == bestDist:
			tie = true
		}
	}
	if best == "" || tie || bestDist >= len(best) {
		// Two equally close candidates: a guess would mislead.
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes. It gives up
// (returning a large number) for long strings, which are never typos of a
// key.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// JoinPath appends a mapping key to the path of a setting (Problem.Path,
// Config.Position): "cluster" and "sasl" give "cluster.sasl". Keys that
// are not plain words are quoted: owners["team a"].
func JoinPath(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// IndexPath appends a list index to the path of a setting: products[2].
func IndexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ParentPath strips the last key or index from the path of a setting:
// "products[0].name" gives "products[0]", "products[0]" gives "products",
// "owners" gives "".
func ParentPath(p string) string {
	if strings.HasSuffix(p, `"]`) {
		// A quoted key: strconv.Quote escapes every '"' inside it, so the
		// last `["` starts it.
		if i := strings.LastIndex(p, `["`); i >= 0 {
			return p[:i]
		}
	}
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Quote quotes s for a problem's message, shortened when long.
func Quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
