package odcs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meshwatch/meshwatch"
)

// SQL-style predicates: the validity_rules of the simple contract form
// ("order_total > 0", "customer_id is not null"), translated to the CEL
// rules of the quality engine, which binds the decoded record to message
// (a map) and counts a rule that errs, a missing key say, as an error.
//
// The grammar, keywords in any case:
//
//	expr      = and { OR and }
//	and       = not { AND not }
//	not       = NOT not | "(" expr ")" | predicate
//	predicate = operand ( cmp operand
//	                    | IS [NOT] NULL
//	                    | [NOT] IN "(" literal { "," literal } ")"
//	                    | [NOT] LIKE string
//	                    | [NOT] BETWEEN operand AND operand )
//	          | field
//	cmp       = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//	operand   = field | literal
//	field     = name { "." name }    name: letters, digits, _, or `any text`
//	literal   = 'string' ('' is a quote) | [-]number | TRUE | FALSE | NULL
//
// A field alone is "field = TRUE". LIKE takes % (any text) and _ (one
// character); a backslash makes the next character literal.
//
// Values follow SQL's three-valued logic: a comparison that reads a field
// that is absent or null is unknown, and a rule passes unless its predicate
// is false, as a SQL CHECK constraint does (and as dbt's and the other SQL
// checkers' "where not (predicate)" tests do): a missing value is
// completeness's business, not validity's. The translation carries that
// logic into CEL, where a record either passes or fails: each comparison is
// guarded by the presence of its fields, the guard letting unknown through
// (!has(f) || f == null || ...) or not (has(f) && f != null && ...)
// depending on the NOTs above it. IS NULL and IS NOT NULL are never unknown:
// IS NOT NULL is true when the field is present and not null.

// sqlError is a problem of a predicate at byte offset off.
type sqlError struct {
	off int
	msg string
}

func (e *sqlError) Error() string { return e.msg }

func sqlErrorf(off int, format string, args ...any) *sqlError {
	return &sqlError{off: off, msg: fmt.Sprintf(format, args...)}
}

type sqlKind int

const (
	sqlEOF    sqlKind = iota
	sqlName           // a name or a keyword
	sqlQuoted         // a `quoted` name
	sqlString         // a 'string'
	sqlNumber
	sqlOp // a comparison operator
	sqlLParen
	sqlRParen
	sqlComma
	sqlDot
	sqlMinus
)

type sqlToken struct {
	kind sqlKind
	text string // the name, the string's value, the number or the operator
	off  int    // byte offset of the token in the predicate
}

// keyword returns the token's text in upper case when it is a keyword.
func (t sqlToken) keyword() string {
	if t.kind != sqlName {
		return ""
	}
	switch k := strings.ToUpper(t.text); k {
	case "AND", "OR", "NOT", "IS", "NULL", "IN", "LIKE", "BETWEEN", "TRUE", "FALSE":
		return k
	}
	return ""
}

// describe names the token for a message.
func (t sqlToken) describe() string {
	switch t.kind {
	case sqlEOF:
		return "the end of the predicate"
	case sqlString:
		return "the string " + meshwatch.Quote(t.text)
	case sqlQuoted:
		return "`" + t.text + "`"
	}
	return meshwatch.Quote(t.text)
}

// maxPredicate bounds a predicate, and maxPredicateDepth its nesting.
const (
	maxPredicate      = 4096
	maxPredicateDepth = 64
)

func sqlLex(s string) ([]sqlToken, error) {
	if len(s) > maxPredicate {
		return nil, sqlErrorf(0, "is %d bytes long, more than %d", len(s), maxPredicate)
	}
	var toks []sqlToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, sqlToken{kind: sqlName, text: s[i:j], off: i})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j < len(s) && s[j] == '.' {
				j++
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
			}
			if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
				k := j + 1
				if k < len(s) && (s[k] == '+' || s[k] == '-') {
					k++
				}
				if k < len(s) && s[k] >= '0' && s[k] <= '9' {
					j = k
					for j < len(s) && s[j] >= '0' && s[j] <= '9' {
						j++
					}
				}
			}
			if j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				return nil, sqlErrorf(i, "%s is neither a number nor a field name (a name starts with a letter or _)", meshwatch.Quote(s[i:j+1]))
			}
			toks = append(toks, sqlToken{kind: sqlNumber, text: s[i:j], off: i})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, sqlErrorf(i, "the string that starts here is not closed with '")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, sqlToken{kind: sqlString, text: b.String(), off: i})
			i = j + 1
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return nil, sqlErrorf(i, "the field name that starts here is not closed with `")
			}
			if j == 0 {
				return nil, sqlErrorf(i, "`` is an empty field name")
			}
			toks = append(toks, sqlToken{kind: sqlQuoted, text: s[i+1 : i+1+j], off: i})
			i += j + 2
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			what := "a string"
			if end >= 0 {
				what = meshwatch.Quote(s[i+1 : i+1+end])
			}
			return nil, sqlErrorf(i, "double quotes are for names in SQL, not strings: write %s in single quotes ('...'), or a field name as it is or in backquotes (`...`)", what)
		case c == '(':
			toks = append(toks, sqlToken{kind: sqlLParen, text: "(", off: i})
			i++
		case c == ')':
			toks = append(toks, sqlToken{kind: sqlRParen, text: ")", off: i})
			i++
		case c == ',':
			toks = append(toks, sqlToken{kind: sqlComma, text: ",", off: i})
			i++
		case c == '.':
			toks = append(toks, sqlToken{kind: sqlDot, text: ".", off: i})
			i++
		case c == '-':
			toks = append(toks, sqlToken{kind: sqlMinus, text: "-", off: i})
			i++
		case c == '=' || c == '<' || c == '>' || c == '!':
			op := s[i : i+1]
			if i+1 < len(s) {
				switch two := s[i : i+2]; two {
				case "==", "!=", "<>", "<=", ">=":
					op = two
				}
			}
			if op == "!" {
				return nil, sqlErrorf(i, "! is not SQL: write NOT, or != for not equal")
			}
			toks = append(toks, sqlToken{kind: sqlOp, text: op, off: i})
			i += len(op)
		case c == '&' || c == '|':
			word := "AND"
			if c == '|' {
				word = "OR"
			}
			return nil, sqlErrorf(i, "%s is not SQL: write %s", meshwatch.Quote(string(c)), word)
		case c == '+' || c == '*' || c == '/' || c == '%':
			return nil, sqlErrorf(i, "arithmetic (%s) is not supported: compare a field with a value or another field", meshwatch.Quote(string(c)))
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, sqlErrorf(i, "unexpected character %s", meshwatch.Quote(string(r)))
		}
	}
	return append(toks, sqlToken{kind: sqlEOF, off: len(s)}), nil
}

// Parsed predicates.
type (
	sqlExpr interface{}

	sqlAnd struct{ l, r sqlExpr }
	sqlOr  struct{ l, r sqlExpr }
	sqlNot struct{ x sqlExpr }

	// sqlAtom is a condition on fields. It is unknown when one of fields
	// is absent or null; cond is its CEL when all are there, of CEL
	// precedence prec.
	sqlAtom struct {
		fields [][]string
		cond   string
		prec   int
		// notNull is the field of "field IS NOT NULL".
		notNull []string
	}
)

// sqlOperand is a field or a literal.
type sqlOperand struct {
	field []string
	lit   string // the CEL literal
	null  bool
	tok   sqlToken
}

type sqlParser struct {
	toks  []sqlToken
	i     int
	depth int
}

func (p *sqlParser) peek() sqlToken { return p.toks[p.i] }

func (p *sqlParser) next() sqlToken {
	t := p.toks[p.i]
	if t.kind != sqlEOF {
		p.i++
	}
	return t
}

// parseSQL parses a predicate.
func parseSQL(s string) (sqlExpr, error) {
	toks, err := sqlLex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 {
		return nil, sqlErrorf(0, "is empty: want a condition such as order_total > 0")
	}
	p := &sqlParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != sqlEOF {
		if t.kind == sqlRParen {
			return nil, sqlErrorf(t.off, "this ) has no ( to close")
		}
		return nil, sqlErrorf(t.off, "want AND, OR or the end of the predicate, got %s", t.describe())
	}
	return e, nil
}

func (p *sqlParser) or() (sqlExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().keyword() == "OR" {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = sqlOr{l, r}
	}
	return l, nil
}

func (p *sqlParser) and() (sqlExpr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek().keyword() == "AND" {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = sqlAnd{l, r}
	}
	return l, nil
}

func (p *sqlParser) not() (sqlExpr, error) {
	if p.depth++; p.depth > maxPredicateDepth {
		return nil, sqlErrorf(p.peek().off, "nests deeper than %d levels", maxPredicateDepth)
	}
	defer func() { p.depth-- }()
	t := p.peek()
	switch {
	case t.keyword() == "NOT":
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return sqlNot{x}, nil
	case t.kind == sqlLParen:
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != sqlRParen {
			return nil, sqlErrorf(c.off, "want ) to close (, got %s", c.describe())
		}
		return e, nil
	}
	return p.predicate()
}

func (p *sqlParser) operand() (sqlOperand, error) {
	t := p.next()
	switch {
	case t.kind == sqlString:
		return sqlOperand{lit: celString(t.text), tok: t}, nil
	case t.kind == sqlNumber:
		lit, err := sqlNumberLit(t, false)
		return sqlOperand{lit: lit, tok: t}, err
	case t.kind == sqlMinus:
		n := p.next()
		if n.kind != sqlNumber {
			return sqlOperand{}, sqlErrorf(t.off, "arithmetic (\"-\") is not supported: a minus sign goes before a number")
		}
		lit, err := sqlNumberLit(n, true)
		return sqlOperand{lit: lit, tok: t}, err
	case t.keyword() == "TRUE" || t.keyword() == "FALSE":
		return sqlOperand{lit: strings.ToLower(t.text), tok: t}, nil
	case t.keyword() == "NULL":
		return sqlOperand{null: true, tok: t}, nil
	case t.kind == sqlName && t.keyword() != "":
		return sqlOperand{}, sqlErrorf(t.off, "want a field or a value, got the keyword %s (a field of that name is written `%s`)", strings.ToUpper(t.text), t.text)
	case t.kind == sqlName || t.kind == sqlQuoted:
		if p.peek().kind == sqlLParen {
			return sqlOperand{}, sqlErrorf(t.off, "functions such as %s(...) are not supported: compare a field with a value or another field", t.text)
		}
		segs := []string{t.text}
		for p.peek().kind == sqlDot {
			p.next()
			n := p.next()
			if n.kind != sqlName && n.kind != sqlQuoted {
				return sqlOperand{}, sqlErrorf(n.off, "want a field name after the dot, got %s", n.describe())
			}
			segs = append(segs, n.text)
		}
		if len(segs) > maxPathDepth {
			return sqlOperand{}, sqlErrorf(t.off, "nests %d fields deep, more than %d", len(segs), maxPathDepth)
		}
		return sqlOperand{field: segs, tok: t}, nil
	case t.kind == sqlEOF:
		return sqlOperand{}, sqlErrorf(t.off, "ends too early: want a field or a value")
	}
	return sqlOperand{}, sqlErrorf(t.off, "want a field or a value, got %s", t.describe())
}

// maxPathDepth is the quality engine's limit of a field path's depth.
const maxPathDepth = 16

// sqlNumberLit writes a number as a CEL literal: an int when it has neither
// a point nor an exponent, else a double.
func sqlNumberLit(t sqlToken, neg bool) (string, error) {
	s := t.text
	if neg {
		s = "-" + s
	}
	if !strings.ContainsAny(t.text, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(n, 10), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return "", sqlErrorf(t.off, "number %s is out of range", meshwatch.Quote(s))
	}
	out := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(out, ".eIN") {
		out += ".0"
	}
	return out, nil
}

// cel writes an operand in CEL.
func (o sqlOperand) cel() string {
	if o.field != nil {
		return celField(o.field)
	}
	return o.lit
}

// sqlOps are the comparison operators in CEL.
var sqlOps = map[string]string{"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (p *sqlParser) predicate() (sqlExpr, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	negate := false
	if t.keyword() == "NOT" {
		p.next()
		negate = true
		t = p.peek()
		switch t.keyword() {
		case "IN", "LIKE", "BETWEEN":
		default:
			return nil, sqlErrorf(t.off, "want IN, LIKE or BETWEEN after NOT, got %s", t.describe())
		}
	}
	var e sqlExpr
	switch {
	case t.kind == sqlOp:
		p.next()
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		if l.null || r.null {
			fix := "IS NULL"
			if sqlOps[t.text] == "!=" {
				fix = "IS NOT NULL"
			}
			return nil, sqlErrorf(t.off, "%s NULL is never true in SQL: write %s", t.text, fix)
		}
		if l.field == nil && r.field == nil {
			return nil, sqlErrorf(l.tok.off, "compares two values: a rule compares a field")
		}
		e = atom(sqlOps[t.text], precRel, l, r)
	case t.keyword() == "IS":
		p.next()
		not := false
		if p.peek().keyword() == "NOT" {
			p.next()
			not = true
		}
		if n := p.next(); n.keyword() != "NULL" {
			return nil, sqlErrorf(n.off, "want NULL after IS%s, got %s (IS TRUE and the like are not supported: write = TRUE)", map[bool]string{true: " NOT"}[not], n.describe())
		}
		if l.field == nil {
			return nil, sqlErrorf(l.tok.off, "IS NULL applies to a field, not a value")
		}
		if not {
			e = sqlAtom{cond: strings.Join(knownConds([][]string{l.field}), " && "), prec: precAnd, notNull: l.field}
		} else {
			e = sqlAtom{cond: strings.Join(unknownConds([][]string{l.field}), " || "), prec: precOr}
		}
	case t.keyword() == "IN":
		p.next()
		if l.field == nil {
			return nil, sqlErrorf(l.tok.off, "the left of IN must be a field")
		}
		if o := p.next(); o.kind != sqlLParen {
			return nil, sqlErrorf(o.off, "want ( after IN, got %s", o.describe())
		}
		var lits []string
		for {
			v, err := p.operand()
			if err != nil {
				return nil, err
			}
			switch {
			case v.null:
				return nil, sqlErrorf(v.tok.off, "NULL in an IN list never matches in SQL: write (%s IN (...) OR %s IS NULL)", strings.Join(l.field, "."), strings.Join(l.field, "."))
			case v.field != nil:
				return nil, sqlErrorf(v.tok.off, "an IN list holds values, not fields")
			}
			lits = append(lits, v.lit)
			if n := p.next(); n.kind == sqlRParen {
				break
			} else if n.kind != sqlComma {
				return nil, sqlErrorf(n.off, "want , or ) in the IN list, got %s", n.describe())
			}
		}
		e = sqlAtom{fields: [][]string{l.field}, cond: celField(l.field) + " in [" + strings.Join(lits, ", ") + "]", prec: precRel}
	case t.keyword() == "LIKE":
		p.next()
		if l.field == nil {
			return nil, sqlErrorf(l.tok.off, "the left of LIKE must be a field")
		}
		pat := p.next()
		if pat.kind != sqlString {
			return nil, sqlErrorf(pat.off, "want a pattern in single quotes after LIKE, like 'EU-%%', got %s", pat.describe())
		}
		re, err := likeRegexp(pat.text)
		if err != nil {
			return nil, sqlErrorf(pat.off, "%s", err.Error())
		}
		e = sqlAtom{fields: [][]string{l.field}, cond: celField(l.field) + ".matches(" + celString(re) + ")", prec: precPrimary}
	case t.keyword() == "BETWEEN":
		p.next()
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if a := p.next(); a.keyword() != "AND" {
			return nil, sqlErrorf(a.off, "want AND between the bounds of BETWEEN, got %s", a.describe())
		}
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		for _, o := range []sqlOperand{l, lo, hi} {
			if o.null {
				return nil, sqlErrorf(o.tok.off, "BETWEEN with NULL is never true in SQL")
			}
		}
		if l.field == nil && lo.field == nil && hi.field == nil {
			return nil, sqlErrorf(l.tok.off, "compares values only: a rule compares a field")
		}
		a, b := atom(">=", precRel, l, lo).(sqlAtom), atom("<=", precRel, l, hi).(sqlAtom)
		e = sqlAtom{fields: append(a.fields, b.fields...), cond: a.cond + " && " + b.cond, prec: precAnd}
	default:
		if l.field == nil {
			if l.null {
				return nil, sqlErrorf(l.tok.off, "NULL alone is not a condition")
			}
			return nil, sqlErrorf(t.off, "want a comparison after %s, such as = or IS NULL, got %s", l.tok.describe(), t.describe())
		}
		if t.kind != sqlEOF && t.keyword() != "AND" && t.keyword() != "OR" && t.kind != sqlRParen {
			return nil, sqlErrorf(t.off, "want a comparison (=, <>, <, >, IS NULL, IN, LIKE, BETWEEN), AND, OR or the end of the predicate after %s, got %s", strings.Join(l.field, "."), t.describe())
		}
		// A field alone is a boolean field: field = TRUE.
		return sqlAtom{fields: [][]string{l.field}, cond: celField(l.field) + " == true", prec: precRel}, nil
	}
	if negate {
		return sqlNot{e}, nil
	}
	return e, nil
}

// atom is the comparison l op r.
func atom(op string, prec int, l, r sqlOperand) sqlExpr {
	var fields [][]string
	for _, o := range []sqlOperand{l, r} {
		if o.field != nil {
			fields = append(fields, o.field)
		}
	}
	return sqlAtom{fields: fields, cond: l.cel() + " " + op + " " + r.cel(), prec: prec}
}

// likeRegexp translates a LIKE pattern to an RE2 expression that matches
// the whole value.
func likeRegexp(pat string) (string, error) {
	var b strings.Builder
	b.WriteString("(?s)^") // % and _ match line breaks too
	lit := func(s string) { b.WriteString(regexp.QuoteMeta(s)) }
	start := 0
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '%', '_':
			lit(pat[start:i])
			if pat[i] == '%' {
				b.WriteString(".*")
			} else {
				b.WriteString(".")
			}
			start = i + 1
		case '\\':
			lit(pat[start:i])
			if i+1 == len(pat) {
				return "", fmt.Errorf("the pattern ends with a backslash, which escapes nothing (write \\\\ for a backslash)")
			}
			_, size := utf8.DecodeRuneInString(pat[i+1:])
			lit(pat[i+1 : i+1+size])
			i += size
			start = i + 1
		}
	}
	lit(pat[start:])
	b.WriteString("$")
	return b.String(), nil
}

// CEL precedences, from the loosest.
const (
	precOr = iota + 1
	precAnd
	precRel
	precUnary
	precPrimary
)

type celExpr struct {
	s    string
	prec int
}

func (e celExpr) at(prec int) string {
	if e.prec < prec {
		return "(" + e.s + ")"
	}
	return e.s
}

// sqlToCEL translates a predicate into a CEL condition that is true when
// the predicate is true or, with unknownPasses, unknown. A rule is
// sqlToCEL(e, true): it fails only when its predicate is false.
func sqlToCEL(e sqlExpr, unknownPasses bool) celExpr {
	switch e := e.(type) {
	case sqlAnd:
		l, r := sqlToCEL(e.l, unknownPasses), sqlToCEL(e.r, unknownPasses)
		return celExpr{l.at(precAnd) + " && " + r.at(precAnd), precAnd}
	case sqlOr:
		l, r := sqlToCEL(e.l, unknownPasses), sqlToCEL(e.r, unknownPasses)
		return celExpr{l.at(precOr) + " || " + r.at(precOr), precOr}
	case sqlNot:
		if x, ok := e.x.(sqlNot); ok {
			return sqlToCEL(x.x, unknownPasses) // NOT NOT x is x, unknown too
		}
		// NOT x is true when x is false: unknown passes NOT x when it
		// does not pass x.
		return celExpr{"!" + sqlToCEL(e.x, !unknownPasses).at(precUnary), precUnary}
	case sqlAtom:
		cond := celExpr{e.cond, e.prec}
		if len(e.fields) == 0 {
			return cond
		}
		if unknownPasses {
			return celExpr{strings.Join(unknownConds(e.fields), " || ") + " || " + cond.at(precOr), precOr}
		}
		return celExpr{strings.Join(knownConds(e.fields), " && ") + " && " + cond.at(precAnd), precAnd}
	}
	panic(fmt.Sprintf("odcs: unknown predicate %T", e))
}

// knownConds are the CEL conditions under which each of fields is present
// and not null, its parents first.
func knownConds(fields [][]string) []string {
	return fieldConds(fields, false)
}

// unknownConds are the CEL conditions under which one of fields is absent
// or null.
func unknownConds(fields [][]string) []string {
	return fieldConds(fields, true)
}

func fieldConds(fields [][]string, absent bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fields {
		for i := range f {
			parent, cur := celField(f[:i]), celField(f[:i+1])
			if seen[cur] {
				continue
			}
			seen[cur] = true
			has := "has(" + parent + "." + f[i] + ")"
			if !celIdent(f[i]) {
				has = celString(f[i]) + " in " + parent
			}
			switch {
			case absent && celIdent(f[i]):
				out = append(out, "!"+has, cur+" == null")
			case absent:
				out = append(out, "!("+has+")", cur+" == null")
			default:
				out = append(out, has, cur+" != null")
			}
		}
	}
	return out
}

// requiredFields returns the fields of the IS NOT NULL conditions that the
// whole predicate requires: those ANDed at its top.
func requiredFields(e sqlExpr) [][]string {
	switch e := e.(type) {
	case sqlAnd:
		return append(requiredFields(e.l), requiredFields(e.r)...)
	case sqlAtom:
		if e.notNull != nil {
			return [][]string{e.notNull}
		}
	}
	return nil
}

// sqlRuleName names the rule of a predicate after its words, with the
// operators spelt out: "order_total > 0" gives order_total_gt_0.
func sqlRuleName(s string) string {
	toks, err := sqlLex(s)
	if err != nil {
		return ruleLabel(s)
	}
	words := map[string]string{"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
	var parts []string
	for _, t := range toks {
		switch t.kind {
		case sqlOp:
			parts = append(parts, words[t.text])
		case sqlName, sqlQuoted, sqlString, sqlNumber:
			parts = append(parts, t.text)
		case sqlMinus:
			parts = append(parts, "minus")
		}
	}
	return ruleLabel(strings.Join(parts, " "))
}
