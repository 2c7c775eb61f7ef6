package odcs

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"

	"github.com/meshwatch/meshwatch/internal/golden"
	"github.com/meshwatch/meshwatch/internal/yamlconf"
)

// updating reports whether -update, which the package's external tests
// define, asks to rewrite the golden files.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// ruleEnv mirrors the CEL environment of the quality engine's rules
// (quality.newRuleEnv), which this package may not import: the generated
// rules must compile there, and package config's tests compile them with
// the real one.
func ruleEnv(t testing.TB) *cel.Env {
	t.Helper()
	env, err := cel.NewEnv(
		cel.Variable("message", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("key", cel.BytesType),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("timestamp", cel.TimestampType),
		cel.Variable("topic", cel.StringType),
		cel.Variable("partition", cel.IntType),
		cel.Variable("offset", cel.IntType),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
	)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// predicates reads the predicates of a testdata/sql file: one a line,
// without the blank lines and the comments ("# ...").
func predicates(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "# ") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// TestSQLForms translates the predicates of each testdata/sql/*.txt but
// errors.txt, one file per form of SQL predicate, and compares the CEL
// rules with the golden file beside it. Every rule must compile in the
// quality engine's environment as a condition.
func TestSQLForms(t *testing.T) {
	files, err := filepath.Glob("testdata/sql/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("found %d predicate files, want one per form", len(files))
	}
	env := ruleEnv(t)
	for _, file := range files {
		if filepath.Base(file) == "errors.txt" {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			var b strings.Builder
			for _, pred := range predicates(t, file) {
				e, err := parseSQL(pred)
				if err != nil {
					t.Errorf("%q: %v", pred, err)
					continue
				}
				rule := sqlToCEL(e, true).s
				fmt.Fprintf(&b, "%s\n\t%s\n\tname %s", pred, rule, sqlRuleName(pred))
				for _, f := range requiredFields(e) {
					fmt.Fprintf(&b, ", requires %s", strings.Join(f, "."))
				}
				b.WriteString("\n")
				ast, iss := env.Compile(rule)
				if iss.Err() != nil {
					t.Errorf("%q gives %s, which does not compile: %v", pred, rule, iss.Err())
					continue
				}
				if !ast.OutputType().IsExactType(cel.BoolType) {
					t.Errorf("%q gives %s, of type %s, not bool", pred, rule, ast.OutputType())
				}
			}
			golden.Check(t, strings.TrimSuffix(file, ".txt")+".golden", b.String(), updating())
		})
	}
}

// TestSQLErrors parses the bad predicates of testdata/sql/errors.txt and
// compares their problems, each at the column of the predicate where it
// is, with errors.golden.
func TestSQLErrors(t *testing.T) {
	var b strings.Builder
	for _, pred := range append(predicates(t, "testdata/sql/errors.txt"), "", "   ") {
		_, err := parseSQL(pred)
		var se *sqlError
		if !errors.As(err, &se) {
			t.Errorf("%q: got error %v, want a *sqlError", pred, err)
			continue
		}
		if se.off < 0 || se.off > len(pred) {
			t.Errorf("%q: offset %d out of the predicate", pred, se.off)
		}
		fmt.Fprintf(&b, "%q\n\tcol %d: %s\n", pred, se.off+1, se.msg)
	}
	golden.Check(t, "testdata/sql/errors.golden", b.String(), updating())
}

// TestSQLSemantics evaluates translated rules on records: a rule passes
// unless its predicate is false, a comparison with an absent or null
// field being unknown (SQL's CHECK), and IS NOT NULL needs the field
// present and not null.
func TestSQLSemantics(t *testing.T) {
	env := ruleEnv(t)
	type rec = map[string]any
	absent, null := rec{}, rec{"x": nil, "y": nil}
	tests := []struct {
		pred string
		rec  rec
		pass bool
	}{
		{"x > 0", rec{"x": 1.5}, true},
		{"x > 0", rec{"x": int64(-1)}, false},
		{"x > 0", absent, true},
		{"x > 0", null, true},
		{"NOT x > 0", absent, true},
		{"NOT x > 0", rec{"x": 1.0}, false},
		{"NOT (x > 0 OR y > 0)", rec{"y": 1.0}, false}, // unknown OR true is true
		{"NOT (x > 0 OR y > 0)", rec{"y": -1.0}, true}, // NOT (unknown OR false) is unknown
		{"NOT (x > 0 AND y > 0)", rec{"y": 1.0}, true}, // NOT (unknown AND true) is unknown
		{"NOT (x > 0 AND y > 0)", rec{"y": -1.0}, true},
		{"x > 0 AND y > 0", rec{"x": 1.0, "y": -1.0}, false},
		{"x > 0 OR y > 0", rec{"x": -1.0, "y": -1.0}, false},
		{"x > 0 OR y > 0", rec{"x": -1.0}, true},
		{"x is not null", absent, false},
		{"x is not null", null, false},
		{"x is not null", rec{"x": ""}, true},
		{"x is null", null, true},
		{"x is null", absent, true},
		{"x is null", rec{"x": 0.0}, false},
		{"NOT (x IS NULL)", absent, false},
		{"x = 1", rec{"x": 1.0}, true},
		{"x = 1", rec{"x": int64(1)}, true},
		{"x = 'a'", rec{"x": 1.0}, false},
		{"x IN ('a', 'b')", rec{"x": "b"}, true},
		{"x IN ('a', 'b')", rec{"x": "c"}, false},
		{"x NOT IN ('a', 'b')", rec{"x": "c"}, true},
		{"x NOT IN ('a', 'b')", absent, true},
		{"x LIKE 'EU-%'", rec{"x": "EU-1\n2"}, true},
		{"x LIKE 'EU-%'", rec{"x": "eu-1"}, false},
		{"x LIKE 'a_c'", rec{"x": "abc"}, true},
		{"x LIKE 'a_c'", rec{"x": "abbc"}, false},
		{"x LIKE '100\\%'", rec{"x": "100%"}, true},
		{"x LIKE '100\\%'", rec{"x": "1000"}, false},
		{"x LIKE 'a.c'", rec{"x": "abc"}, false},
		{"x BETWEEN 1 AND 3", rec{"x": 3.0}, true},
		{"x BETWEEN 1 AND 3", rec{"x": 3.5}, false},
		{"x NOT BETWEEN 1 AND 3", rec{"x": 2.0}, false},
		{"x > y", rec{"x": 2.0}, true},
		{"x > y", rec{"x": 2.0, "y": 3.0}, false},
		{"a.b IS NOT NULL", rec{"a": rec{"b": 1.0}}, true},
		{"a.b IS NOT NULL", rec{"a": nil}, false},
		{"a.b IS NOT NULL", rec{"a": rec{}}, false},
		{"a.b > 0", rec{"a": nil}, true},
		{"a.b > 0", rec{"a": rec{"b": -1.0}}, false},
		{"`a-b` > 0", rec{"a-b": -1.0}, false},
		{"`a-b` > 0", absent, true},
		{"`a-b` IS NULL", absent, true},
		{"x", rec{"x": true}, true},
		{"x", rec{"x": false}, false},
		{"NOT x", absent, true},
		{"name = 'O''Brien'", rec{"name": "O'Brien"}, true},
	}
	for _, tt := range tests {
		e, err := parseSQL(tt.pred)
		if err != nil {
			t.Errorf("%q: %v", tt.pred, err)
			continue
		}
		rule := sqlToCEL(e, true).s
		ast, iss := env.Compile(rule)
		if iss.Err() != nil {
			t.Errorf("%q: %s: %v", tt.pred, rule, iss.Err())
			continue
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := prg.Eval(map[string]any{"message": tt.rec})
		if err != nil {
			t.Errorf("%q on %v: %s errs: %v", tt.pred, tt.rec, rule, err)
			continue
		}
		if got := out.Value() == true; got != tt.pass {
			t.Errorf("%q on %v: %s gives %v, want %v", tt.pred, tt.rec, rule, got, tt.pass)
		}
	}
}

// TestValueColumns maps the bytes of scalars to their columns, through
// quotes and escapes.
func TestValueColumns(t *testing.T) {
	// The value's byte 4 is "x" in each document.
	for _, doc := range []string{
		"k: abc x > 1\n",
		"k: \"abc x > 1\"\n",
		"k: 'abc x > 1'\n",
		"k: [\"a\\tc x\"]\n",
		"k: 'a''c x'\n",
		"k: \"é\\u00e9c x\"\n",
		"k:\n  - \"\\\"bc x\"\n",
	} {
		m, root := mapperOf(t, doc)
		n := findScalar(root, "x")
		if n == nil {
			t.Fatalf("%q: no scalar with x", doc)
		}
		line := strings.SplitN(doc, "\n", n.Line+1)[n.Line-1]
		want := utf8.RuneCountInString(line[:strings.Index(line, " x")]) + 2 // 1-based column of x
		off := strings.Index(n.Value, "x")
		if got := m.scalarPosition(n, off); got.Line != n.Line || got.Col != want {
			t.Errorf("%q: byte %d of %q at %d:%d, want %d:%d", doc, off, n.Value, got.Line, got.Col, n.Line, want)
		}
	}
	// A scalar on several lines keeps its own position.
	m, root := mapperOf(t, "k: |\n  abc x\n")
	n := findScalar(root, "x")
	if got := m.scalarPosition(n, 4); got.Line != n.Line || got.Col != n.Column {
		t.Errorf("block scalar: %v, want its position %d:%d", got, n.Line, n.Column)
	}
}

// mapperOf returns a mapper of the YAML document doc, and its root.
func mapperOf(t *testing.T, doc string) (*contractMapper, *yaml.Node) {
	t.Helper()
	root, p := yamlconf.Parse("t.yaml", []byte(doc))
	if p != nil {
		t.Fatalf("%q: %v", doc, p)
	}
	return &contractMapper{d: yamlconf.NewDecoder("t.yaml", nil), data: []byte(doc)}, root
}

// findScalar returns the first scalar under n whose value holds s.
func findScalar(n *yaml.Node, s string) *yaml.Node {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, s) {
		return n
	}
	for _, c := range n.Content {
		if f := findScalar(c, s); f != nil {
			return f
		}
	}
	return nil
}
