package dashboards

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

//go:embed *.json rules/*.yaml
var files embed.FS

// RulesFile is the path of the agent's alerting rules in [Files].
const RulesFile = "rules/meshwatch-agent.rules.yaml"

// Files returns the dashboards (*.json at the root) and the rules
// (rules/*.yaml), read-only.
func Files() fs.FS { return files }

// Dashboards returns the file names of the dashboards in [Files], sorted.
func Dashboards() []string {
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		panic(err) // the pattern is a constant
	}
	slices.Sort(names)
	return names
}

// Kind says where a [Query] comes from.
type Kind string

// Kinds of queries.
const (
	KindTarget   Kind = "target"   // a panel's target
	KindVariable Kind = "variable" // a template variable's label_values or query_result
	KindRule     Kind = "rule"     // an alerting or recording rule
)

// Query is one PromQL expression of a dashboard or of the rules file.
type Query struct {
	Kind Kind
	File string // the file in Files, e.g. "product.json" or RulesFile
	// Panel is the panel's title for a target, "$name" for a variable, and
	// the alert's (or record's) name for a rule.
	Panel string
	RefID string // the target's refId; "" for variables and rules
	// Expr is the expression as written, with Grafana's variables; a
	// variable's is the series selector of its label_values (or the
	// expression of its query_result).
	Expr string
}

// String says where q comes from, for test failures: the file, the panel
// and the refId.
func (q Query) String() string {
	if q.RefID != "" {
		return fmt.Sprintf("%s: %q %s", q.File, q.Panel, q.RefID)
	}
	return fmt.Sprintf("%s: %s %q", q.File, q.Kind, q.Panel)
}

// dashboard is the part of a Grafana dashboard that Queries reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

// panel is a panel of a dashboard; a row holds its panels in Panels when
// it is collapsed.
type panel struct {
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"`
}

// target is a panel's query.
type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

// variable is a template variable.
type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Definition string          `json:"definition"`
	Query      json.RawMessage `json:"query"`
}

// load decodes the dashboard name of Files.
func load(name string) (*dashboard, error) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &d, nil
}

// Queries returns every query of every dashboard — panel targets (those of
// collapsed rows included) and template variables — and every rule
// expression, in file order.
func Queries() ([]Query, error) {
	var qs []Query
	var errs []error
	for _, name := range Dashboards() {
		d, err := load(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			def, err := v.definition()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: variable %s: %w", name, v.Name, err))
				continue
			}
			if expr, ok := variableExpr(def); ok {
				qs = append(qs, Query{Kind: KindVariable, File: name, Panel: "$" + v.Name, Expr: expr})
			}
		}
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				for _, t := range p.Targets {
					qs = append(qs, Query{Kind: KindTarget, File: name, Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	}
	rules, err := Rules()
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range rules {
		qs = append(qs, Query{Kind: KindRule, File: RulesFile, Panel: r.Name(), Expr: r.Expr})
	}
	return qs, errors.Join(errs...)
}

// definition returns the variable's query as Grafana's query editor shows
// it: the definition, or the query, a string or {"query": "..."}.
func (v variable) definition() (string, error) {
	if v.Definition != "" {
		return v.Definition, nil
	}
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		return "", fmt.Errorf("query is neither a string nor {\"query\": ...}: %w", err)
	}
	return o.Query, nil
}

// variableExpr returns the PromQL in a Prometheus variable query:
// label_values(SELECTOR, label) gives SELECTOR, query_result(EXPR) gives
// EXPR. label_values(label), label_names() and metrics(regex) hold none.
func variableExpr(def string) (string, bool) {
	def = strings.TrimSpace(def)
	inner, ok := call(def, "label_values")
	if ok {
		i := lastTopLevelComma(inner)
		if i < 0 {
			return "", false
		}
		return strings.TrimSpace(inner[:i]), true
	}
	if inner, ok := call(def, "query_result"); ok {
		return strings.TrimSpace(inner), true
	}
	return "", false
}

func call(s, fn string) (string, bool) {
	if !strings.HasPrefix(s, fn+"(") || !strings.HasSuffix(s, ")") {
		return "", false
	}
	return s[len(fn)+1 : len(s)-1], true
}

// lastTopLevelComma returns the index of the last comma of s outside
// braces, parentheses and quotes, or -1.
func lastTopLevelComma(s string) int {
	depth, last := 0, -1
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{' || c == '(' || c == '[':
			depth++
		case c == '}' || c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			last = i
		}
	}
	return last
}

// Rule is an alerting or recording rule of the rules file.
type Rule struct {
	Group         string            `yaml:"-"`
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// Name returns the alert's name, or the recorded series' name.
func (r Rule) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// Rules decodes [RulesFile], strictly: an unknown key is an error.
func Rules() ([]Rule, error) {
	b, err := fs.ReadFile(files, RulesFile)
	if err != nil {
		return nil, err
	}
	var f struct {
		Groups []struct {
			Name     string `yaml:"name"`
			Interval string `yaml:"interval"`
			Limit    int    `yaml:"limit"`
			Rules    []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", RulesFile, err)
	}
	var rules []Rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			r.Group = g.Name
			rules = append(rules, r)
		}
	}
	return rules, nil
}

// Intervals are the durations [Expand] puts in place of Grafana's built-in
// interval variables.
type Intervals struct {
	RateInterval time.Duration // $__rate_interval
	Interval     time.Duration // $__interval, $__interval_ms
	Range        time.Duration // $__range, $__range_s, $__range_ms
}

// DefaultIntervals are what Grafana would use with a 15 s scrape interval on
// a dashboard showing one hour.
var DefaultIntervals = Intervals{RateInterval: time.Minute, Interval: 15 * time.Second, Range: time.Hour}

// variableRef matches ${name}, ${name:format}, $name and [[name]] (the
// deprecated form).
var variableRef = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]`)

// Expand returns expr with Grafana's variables replaced: the built-in
// interval variables by iv, a variable that is the whole range of a range
// selector ([$window]: a single-valued variable of durations) by iv.Range,
// and every other variable by all, the regular expression that selecting
// "All" amounts to, e.g. ".*" or ".+". An unknown built-in ($__name) is
// left as it is, so that the expression does not parse. Expand does not
// check where a variable stands: the dashboards' tests require that every
// other variable is the value of a regexp matcher.
func Expand(expr string, iv Intervals, all string) string {
	var b strings.Builder
	last := 0
	for _, loc := range variableRef.FindAllStringSubmatchIndex(expr, -1) {
		start, end := loc[0], loc[1]
		b.WriteString(expr[last:start])
		last = end
		ref := expr[start:end]
		name := ""
		for i := 2; i < len(loc); i += 2 {
			if loc[i] >= 0 {
				name = expr[loc[i]:loc[i+1]]
			}
		}
		if !strings.HasPrefix(name, "__") {
			if IsRangeVariable(expr, start, end) {
				b.WriteString(model.Duration(iv.Range).String())
			} else {
				b.WriteString(all)
			}
			continue
		}
		switch name {
		case "__rate_interval":
			b.WriteString(model.Duration(iv.RateInterval).String())
		case "__interval":
			b.WriteString(model.Duration(iv.Interval).String())
		case "__interval_ms":
			b.WriteString(strconv.FormatInt(iv.Interval.Milliseconds(), 10))
		case "__range":
			b.WriteString(model.Duration(iv.Range).String())
		case "__range_s":
			b.WriteString(strconv.FormatInt(int64(iv.Range/time.Second), 10))
		case "__range_ms":
			b.WriteString(strconv.FormatInt(iv.Range.Milliseconds(), 10))
		default:
			b.WriteString(ref)
		}
	}
	b.WriteString(expr[last:])
	return b.String()
}

// IsRangeVariable says whether the variable reference at expr[start:end]
// is the whole range of a range selector, as in rate(x[$window]).
func IsRangeVariable(expr string, start, end int) bool {
	return start > 0 && expr[start-1] == '[' && end < len(expr) && expr[end] == ']'
}

// Metrics returns the names of the metrics expr selects, sorted and without
// duplicates. expr must be PromQL without Grafana variables (see [Expand]);
// it is an error if it does not parse, or if a selector picks its metrics by
// a regular expression on __name__ (which no check could verify).
func Metrics(expr string) ([]string, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name != labels.MetricName {
				continue
			}
			if m.Type != labels.MatchEqual {
				errs = append(errs, fmt.Errorf("%s: selects metrics by %s", vs, m))
				continue
			}
			name = m.Value
		}
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	slices.Sort(names)
	return names, errors.Join(errs...)
}
