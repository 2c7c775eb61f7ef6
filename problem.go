package meshwatch

import (
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
// errors and warnings, one per line in order; Load sorts them by position.
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
