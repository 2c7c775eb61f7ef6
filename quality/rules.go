package quality

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/meshwatch/meshwatch"
)

// CostLimit bounds the work one rule may do on one record, in cel-go's
// cost units (about one per operation or per element a comprehension or a
// string function visits). A rule that would exceed it stops with an error
// and counts as error for that record, so a pathological rule — a nested
// comprehension over a large list, say — cannot stall the agent. Rules whose
// worst case is below it at compile time run without cost tracking.
const CostLimit = 100_000

// Bounds of what Check accepts beyond the root package's validation.
const (
	maxPathDepth = 16
	maxSeqKeys   = 10_000_000
)

// newRuleEnv returns the CEL environment of record rules: message (the
// decoded value, a map), key (bytes), headers (map of string to string; the
// last header of a name wins), timestamp, topic, partition and offset.
func newRuleEnv() (*cel.Env, error) {
	return cel.NewEnv(
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
}

// newFieldEnv returns the CEL environment of Confluent CEL_FIELD rules,
// evaluated once per field of the message: name, value, typeName (AVRO type
// names in upper case: STRING, INT, LONG, RECORD, …), tags and message.
func newFieldEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("message", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("name", cel.StringType),
		cel.Variable("value", cel.DynType),
		cel.Variable("typeName", cel.StringType),
		cel.Variable("tags", cel.ListType(cel.StringType)),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
	)
}

// compileExpr compiles a CEL expression that must yield a bool. The error
// message gives each problem's line and column within the expression.
func compileExpr(env *cel.Env, expr string) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		var msgs []string
		for _, e := range iss.Errors() {
			msgs = append(msgs, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
		}
		return nil, fmt.Errorf("invalid CEL expression: %s", strings.Join(msgs, "; "))
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, fmt.Errorf("CEL expression must be a condition (bool), but it is of type %s", t)
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if needsCostLimit(ast) {
		opts = append(opts, cel.CostLimit(CostLimit))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid CEL expression: %w", err)
	}
	return prg, nil
}

// Check compiles every CEL rule of cfg's products and checks their
// required and sequence paths, without I/O. Each problem has the path of the
// setting (products[0].quality.rules[1].expr) and its position in the file.
// It is what `meshwatch validate` and the agent's start report beyond the
// root package's validation. cfg must have been validated.
func Check(cfg *meshwatch.Config) meshwatch.Problems {
	var ps meshwatch.Problems
	errf := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	env, err := newRuleEnv()
	if err != nil {
		errf("", "CEL environment: %v", err)
		return ps
	}
	for i := range cfg.Products {
		p := &cfg.Products[i]
		base := fmt.Sprintf("products[%d].quality", i)
		for j, r := range p.Quality.Rules {
			if strings.TrimSpace(r.Expr) == "" {
				continue // the root package reports it
			}
			if _, err := compileExpr(env, r.Expr); err != nil {
				errf(fmt.Sprintf("%s.rules[%d].expr", base, j), "rule %s: %v", r.Name, err)
			}
		}
		for j, f := range p.Quality.Required {
			if msg := checkPath(f); msg != "" {
				errf(fmt.Sprintf("%s.required[%d]", base, j), "%s", msg)
			}
		}
		if s := p.Quality.Sequence; s != nil {
			if msg := checkPath(s.Field); msg != "" && s.Field != "" {
				errf(base+".sequence.field", "%s", msg)
			}
			if msg := checkPath(s.Key); msg != "" && s.Key != "" {
				errf(base+".sequence.key", "%s", msg)
			}
			if s.Key != "" && s.Key == s.Field {
				errf(base+".sequence.key", "must differ from sequence.field (%s): the key names the producer, the field its sequence number", s.Field)
			}
			if s.MaxKeys > maxSeqKeys {
				errf(base+".sequence.max_keys", "must be at most %d producers (each costs about 100 bytes), got %d", maxSeqKeys, s.MaxKeys)
			}
		}
	}
	return ps
}

// checkPath checks what the model's validation does not: the depth of a
// field path (its form, keys separated by single dots, is the model's).
func checkPath(p string) string {
	if n := strings.Count(p, ".") + 1; n > maxPathDepth {
		return fmt.Sprintf("must nest at most %d keys deep, got %d", maxPathDepth, n)
	}
	return ""
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, ".")
}

// needsCostLimit reports whether a rule can do work that grows faster than
// the size of the record: only comprehensions (all, exists, map, filter)
// can. Others run without cost tracking, which would cost an allocation per
// evaluation.
func needsCostLimit(a *cel.Ast) bool {
	found := false
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.ComprehensionKind {
			found = true
		}
	}))
	return found
}
