package dashboards

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// wantVariables are the template variables each dashboard must have, in
// this order. The product dashboards filter by domain, owner and product
// (the chargeback's owner is the team charged, and it adds cost_center);
// the agent's own series carry no product labels, so its dashboard filters
// by the scrape job and instance instead.
var wantVariables = map[string][]string{
	"overview.json":   {"datasource", "domain", "owner", "product"},
	"product.json":    {"datasource", "domain", "owner", "product", "group"},
	"chargeback.json": {"datasource", "domain", "owner", "product", "cost_center"},
	"agent.json":      {"datasource", "job", "instance"},
}

const dsRef = "${datasource}"

// decode returns the dashboard file name as generic JSON.
func decode(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := fs.ReadFile(Files(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON", name)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// panels returns every panel of d, rows and the panels of collapsed rows
// included.
func panels(d map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(any)
	walk = func(v any) {
		ps, _ := v.([]any)
		for _, p := range ps {
			m, _ := p.(map[string]any)
			out = append(out, m)
			walk(m["panels"])
		}
	}
	walk(d["panels"])
	return out
}

func variables(d map[string]any) []map[string]any {
	tpl, _ := d["templating"].(map[string]any)
	list, _ := tpl["list"].([]any)
	var out []map[string]any
	for _, v := range list {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

func TestEveryDashboardIsChecked(t *testing.T) {
	names := Dashboards()
	var want []string
	for n := range wantVariables {
		want = append(want, n)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("dashboards in the package differ from those wantVariables describes (-want +got):\n%s", diff)
	}
}

func TestDashboards(t *testing.T) {
	uids := map[string]string{}
	titles := map[string]string{}
	for _, name := range Dashboards() {
		t.Run(name, func(t *testing.T) {
			d := decode(t, name)
			uid, title := str(d, "uid"), str(d, "title")
			if !regexp.MustCompile(`^meshwatch-[a-z]+$`).MatchString(uid) {
				t.Errorf("uid %q: want meshwatch-<name> (stable, at most 40 characters)", uid)
			}
			if other, ok := uids[uid]; ok {
				t.Errorf("uid %q is also the uid of %s", uid, other)
			}
			uids[uid] = name
			if !strings.HasPrefix(title, "meshwatch / ") {
				t.Errorf("title %q: want \"meshwatch / <name>\"", title)
			}
			if other, ok := titles[title]; ok {
				t.Errorf("title %q is also the title of %s", title, other)
			}
			titles[title] = name
			if v, _ := d["schemaVersion"].(float64); v < 36 || v > 41 {
				t.Errorf("schemaVersion %v: want Grafana 10/11's (36–41)", d["schemaVersion"])
			}
			if str(d, "description") == "" {
				t.Error("no description")
			}
			if tags, _ := d["tags"].([]any); !slices.Contains(tags, any("meshwatch")) {
				t.Errorf("tags %v lack meshwatch, which the dashboard links select", tags)
			}
			checkLinks(t, d)
			checkVariables(t, name, d)
			checkPanels(t, d)
		})
	}
}

// checkLinks requires a link to every dashboard tagged meshwatch, keeping
// the time range.
func checkLinks(t *testing.T, d map[string]any) {
	t.Helper()
	links, _ := d["links"].([]any)
	for _, l := range links {
		m, _ := l.(map[string]any)
		tags, _ := m["tags"].([]any)
		if m["type"] == "dashboards" && slices.Contains(tags, any("meshwatch")) && m["keepTime"] == true {
			return
		}
	}
	t.Errorf("no dashboard link of type dashboards with tag meshwatch and keepTime: %v", links)
}

func checkVariables(t *testing.T, name string, d map[string]any) {
	t.Helper()
	vars := variables(d)
	var got []string
	for _, v := range vars {
		if v["type"] != "custom" {
			got = append(got, str(v, "name"))
		}
	}
	if diff := cmp.Diff(wantVariables[name], got); diff != "" {
		t.Errorf("variables (custom ones aside) (-want +got):\n%s", diff)
	}
	for _, v := range vars {
		vn := str(v, "name")
		switch v["type"] {
		case "datasource":
			if vn != "datasource" || v["query"] != "prometheus" {
				t.Errorf("variable %s: want the datasource variable named datasource with query prometheus, got %v", vn, v)
			}
		case "query":
			if ds := str(v, "datasource", "uid"); ds != dsRef {
				t.Errorf("variable %s: datasource %q, want %s", vn, ds, dsRef)
			}
			if v["multi"] != true || v["includeAll"] != true {
				t.Errorf("variable %s: want multi and includeAll", vn)
			}
			if !strings.HasPrefix(str(v, "definition"), "label_values(") {
				t.Errorf("variable %s: definition %q, want label_values(...)", vn, str(v, "definition"))
			}
			if str(v, "definition") != str(v, "query", "query") {
				t.Errorf("variable %s: definition and query differ", vn)
			}
		case "custom":
			if str(v, "query") == "" {
				t.Errorf("variable %s: custom without values", vn)
			}
		default:
			t.Errorf("variable %s: unexpected type %v", vn, v["type"])
		}
	}
}

type rect struct{ x, y, w, h int }

func (r rect) overlaps(o rect) bool {
	return r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h
}

func checkPanels(t *testing.T, d map[string]any) {
	t.Helper()
	ids := map[float64]bool{}
	titles := map[string]bool{}
	var rects []rect
	var rectTitles []string
	n := 0
	for _, p := range panels(d) {
		title := str(p, "title")
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel %q: id %v used twice", title, id)
		}
		ids[id] = true
		gp, _ := p["gridPos"].(map[string]any)
		num := func(k string) int { f, _ := gp[k].(float64); return int(f) }
		r := rect{num("x"), num("y"), num("w"), num("h")}
		if r.w <= 0 || r.h <= 0 || r.x < 0 || r.x+r.w > 24 {
			t.Errorf("panel %q: gridPos %v outside the 24-column grid", title, gp)
		}
		for i, o := range rects {
			if r.overlaps(o) {
				t.Errorf("panel %q overlaps panel %q", title, rectTitles[i])
			}
		}
		rects, rectTitles = append(rects, r), append(rectTitles, title)
		if p["type"] == "row" {
			continue
		}
		n++
		if title == "" || titles[title] {
			t.Errorf("panel title %q: want a unique, non-empty title (the checks report queries by it)", title)
		}
		titles[title] = true
		if str(p, "description") == "" {
			t.Errorf("panel %q: no description", title)
		}
		if ds := str(p, "datasource", "uid"); ds != dsRef {
			t.Errorf("panel %q: datasource %q, want %s", title, ds, dsRef)
		}
		if str(p, "fieldConfig", "defaults", "unit") == "" {
			t.Errorf("panel %q: no unit", title)
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q: no query", title)
		}
		refs := map[string]bool{}
		for _, tg := range targets {
			m, _ := tg.(map[string]any)
			ref := str(m, "refId")
			if ref == "" || refs[ref] {
				t.Errorf("panel %q: refId %q empty or used twice", title, ref)
			}
			refs[ref] = true
			if ds := str(m, "datasource", "uid"); ds != dsRef {
				t.Errorf("panel %q %s: datasource %q, want %s", title, ref, ds, dsRef)
			}
			if str(m, "expr") == "" {
				t.Errorf("panel %q %s: no expr", title, ref)
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d panels", n)
	}
}

// TestDataLinks checks every link to a dashboard (/d/<uid>/...): the uid
// exists, and each var-<name> it sets is a variable of that dashboard.
func TestDataLinks(t *testing.T) {
	vars := map[string][]string{} // uid → variable names
	docs := map[string]map[string]any{}
	for _, name := range Dashboards() {
		d := decode(t, name)
		docs[name] = d
		for _, v := range variables(d) {
			vars[str(d, "uid")] = append(vars[str(d, "uid")], str(v, "name"))
		}
	}
	links := 0
	for name, d := range docs {
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if u, ok := v["url"].(string); ok && strings.HasPrefix(u, "/d/") {
					links++
					checkLink(t, name, u, vars)
				}
				for _, c := range v {
					walk(c)
				}
			case []any:
				for _, c := range v {
					walk(c)
				}
			}
		}
		walk(d)
	}
	if links == 0 {
		t.Error("no data link to a dashboard")
	}
}

func checkLink(t *testing.T, file, link string, vars map[string][]string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Errorf("%s: link %q: %v", file, link, err)
		return
	}
	uid := strings.Split(strings.TrimPrefix(u.Path, "/d/"), "/")[0]
	names, ok := vars[uid]
	if !ok {
		t.Errorf("%s: link %q: no dashboard has uid %q", file, link, uid)
		return
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := strings.CutPrefix(k, "var-"); ok && !slices.Contains(names, v) {
			t.Errorf("%s: link %q sets var-%s, which dashboard %s does not have", file, link, v, uid)
		}
	}
}

func TestQueriesParse(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	perFile := map[string]int{}
	for _, q := range qs {
		perFile[q.File]++
		expr := Expand(q.Expr, DefaultIntervals, ".*")
		names, err := Metrics(expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", q, err, expr)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: selects no metric: %s", q, expr)
		}
	}
	for _, f := range append(Dashboards(), RulesFile) {
		if perFile[f] < 5 {
			t.Errorf("%s: %d queries found, want more", f, perFile[f])
		}
	}
}

// sentinel stands for a variable's value in TestVariablesAreRegexpValues.
const sentinel = "MESHWATCHVAR"

// TestVariablesAreRegexpValues requires every variable of a query to be
// defined by its dashboard and to stand in the value of a =~ or !~
// matcher, where "All" and multiple values (which Grafana writes as a
// regular expression) mean what they should.
func TestVariablesAreRegexpValues(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string][]string{}
	durations := map[string]bool{} // file/name of single-valued variables whose every option is a duration
	for _, name := range Dashboards() {
		for _, v := range variables(decode(t, name)) {
			defined[name] = append(defined[name], str(v, "name"))
			ok := str(v, "type") == "custom" && v["multi"] != true && v["includeAll"] != true
			for _, o := range strings.Split(str(v, "query"), ",") {
				if _, err := model.ParseDuration(strings.TrimSpace(o)); err != nil {
					ok = false
				}
			}
			durations[name+"/"+str(v, "name")] = ok
		}
	}
	for _, q := range qs {
		for _, loc := range variableRef.FindAllStringSubmatchIndex(q.Expr, -1) {
			m := variableRef.FindStringSubmatch(q.Expr[loc[0]:loc[1]])
			name := m[1] + m[2] + m[3]
			if !strings.HasPrefix(name, "__") && !slices.Contains(defined[q.File], name) {
				t.Errorf("%s: uses $%s, which %s does not define", q, name, q.File)
			}
			if !strings.HasPrefix(name, "__") && IsRangeVariable(q.Expr, loc[0], loc[1]) && !durations[q.File+"/"+name] {
				t.Errorf("%s: $%s is a range, so it must be a custom variable of durations, neither multi-valued nor with All", q, name)
			}
		}
		expr := Expand(q.Expr, DefaultIntervals, sentinel)
		e, err := parser.ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		inMatchers := 0
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			for _, m := range vs.LabelMatchers {
				c := strings.Count(m.Value, sentinel)
				if c > 0 && m.Type != labels.MatchRegexp && m.Type != labels.MatchNotRegexp {
					t.Errorf("%s: variable in %s: multiple values and All need =~", q, m)
				}
				inMatchers += c
			}
			return nil
		})
		if all := strings.Count(expr, sentinel); all != inMatchers {
			t.Errorf("%s: %d of its %d variables are not matcher values: %s", q, all-inMatchers, all, q.Expr)
		}
	}
}

func TestExpand(t *testing.T) {
	iv := Intervals{RateInterval: 2 * time.Minute, Interval: 30 * time.Second, Range: 6 * time.Hour}
	tests := []struct{ name, in, all, want string }{
		{"plain", `x{product=~"$product"}`, ".*", `x{product=~".*"}`},
		{"braces", `x{product=~"${product}"}`, ".+", `x{product=~".+"}`},
		{"format", `x{b=~"product:(${product:regex})|cc:(${cost_center:pipe})"}`, ".*", `x{b=~"product:(.*)|cc:(.*)"}`},
		{"deprecated", `x{product=~"[[product]]"}`, ".*", `x{product=~".*"}`},
		{"rate interval", `rate(x[$__rate_interval])`, ".*", `rate(x[2m])`},
		{"interval", `increase(x[$__interval])`, ".*", `increase(x[30s])`},
		{"range", `increase(x[${__range}])`, ".*", `increase(x[6h])`},
		{"numbers", `x / $__range_s + $__interval_ms + $__range_ms`, ".*", `x / 21600 + 30000 + 21600000`},
		{"unknown built-in stays", `rate(x[$__whatever])`, ".*", `rate(x[$__whatever])`},
		{"range variable", `rate(x{a=~"$a"}[$window]) / rate(y[${window}])`, ".*", `rate(x{a=~".*"}[6h]) / rate(y[6h])`},
		{"regex anchors untouched", `x{topic=~"^a$", b="$"}`, ".*", `x{topic=~"^a$", b="$"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.in, iv, tt.all); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
		wantErr    bool
	}{
		{"one", `up == 0`, []string{"up"}, false},
		{"binary and duplicates", `sum(rate(b_total[5m])) / sum(rate(b_total[1h])) + on() a`, []string{"a", "b_total"}, false},
		{"by __name__", `{__name__="x", job="j"}`, []string{"x"}, false},
		{"histogram", `histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))`, []string{"h_bucket"}, false},
		{"subquery and offset", `max_over_time(g[1h:1m] offset 5m) or vector(0)`, []string{"g"}, false},
		{"no metric", `vector(0)`, nil, false},
		{"regex name", `{__name__=~"meshwatch_.*"}`, nil, true},
		{"syntax", `sum(rate(x[5m])`, nil, true},
		{"unexpanded variable", `rate(x[$__rate_interval])`, nil, true},
		{"experimental function", `sort_by_label(x, "a")`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Metrics(tt.expr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Metrics(%q) error = %v, want error %v", tt.expr, err, tt.wantErr)
			}
			if !tt.wantErr {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Metrics(%q) (-want +got):\n%s", tt.expr, diff)
				}
			}
		})
	}
}

func TestQueriesFindVariablesAndRules(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	has := func(want Query) {
		t.Helper()
		if !slices.Contains(qs, want) {
			t.Errorf("Queries lacks %+v", want)
		}
	}
	has(Query{Kind: KindVariable, File: "product.json", Panel: "$product",
		Expr: `meshwatch_product_info{domain=~"$domain", owner=~"$owner"}`})
	has(Query{Kind: KindVariable, File: "agent.json", Panel: "$job", Expr: `meshwatch_build_info`})
	has(Query{Kind: KindRule, File: RulesFile, Panel: "MeshwatchAgentDown", Expr: `up{job="meshwatch"} == 0`})
	has(Query{Kind: KindTarget, File: "overview.json", Panel: "Incidents open", RefID: "A",
		Expr: `sum(meshwatch_alert_incidents_open)`})
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range qs {
		if q.Kind == KindRule {
			n++
		}
	}
	if n != len(rules) || n == 0 {
		t.Errorf("Queries has %d rule expressions, the rules file %d rules", n, len(rules))
	}
}

func TestVariableExpr(t *testing.T) {
	tests := []struct {
		def, want string
		ok        bool
	}{
		{`label_values(meshwatch_product_info, domain)`, `meshwatch_product_info`, true},
		{`label_values(m{a=~"$a", b="x,y"}, product)`, `m{a=~"$a", b="x,y"}`, true},
		{`query_result(topk(5, m))`, `topk(5, m)`, true},
		{`label_values(product)`, ``, false},
		{`label_names()`, ``, false},
		{`metrics(meshwatch_.*)`, ``, false},
	}
	for _, tt := range tests {
		got, ok := variableExpr(tt.def)
		if got != tt.want || ok != tt.ok {
			t.Errorf("variableExpr(%q) = %q, %v; want %q, %v", tt.def, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRules(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Alert == "" || !strings.HasPrefix(r.Alert, "Meshwatch") || strings.HasPrefix(r.Alert, "MeshwatchSLO") {
			t.Errorf("rule %q: want an alert named Meshwatch… (MeshwatchSLO… is for `meshwatch rules`)", r.Name())
		}
		if seen[r.Alert] {
			t.Errorf("alert %s defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if r.For == "" {
			t.Errorf("%s: no for: (write for: 0m to fire at once)", r.Alert)
		}
		if s := r.Labels["severity"]; s != "page" && s != "ticket" {
			t.Errorf("%s: severity %q, want page or ticket (the agent's own vocabulary)", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s: no %s annotation", r.Alert, a)
			}
		}
		anchor := strings.ToLower(r.Alert)
		if want := "README.md#" + anchor; !strings.HasSuffix(r.Annotations["runbook_url"], want) {
			t.Errorf("%s: runbook_url %q, want …/dashboards/%s", r.Alert, r.Annotations["runbook_url"], want)
		}
		if !regexp.MustCompile(`(?m)^#+ ` + regexp.QuoteMeta(r.Alert) + `$`).Match(readme) {
			t.Errorf("%s: README.md has no heading %q for its runbook", r.Alert, r.Alert)
		}
	}
}

// TestReadmeDescribesEveryPanel keeps README.md in step with the dashboards.
func TestReadmeDescribesEveryPanel(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ") // Markdown wraps lines
	for _, name := range Dashboards() {
		d := decode(t, name)
		for _, want := range []string{name, str(d, "title"), str(d, "uid")} {
			if !strings.Contains(readme, want) {
				t.Errorf("README.md does not mention %q", want)
			}
		}
		for _, p := range panels(d) {
			if p["type"] != "row" && !strings.Contains(readme, str(p, "title")) {
				t.Errorf("README.md does not mention panel %q of %s", str(p, "title"), name)
			}
		}
	}
}

// promtool returns the path of promtool, skipping the test when it is not
// installed, unless CI is set (CI must have it).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI (Debian package prometheus): %v", err)
		}
		t.Skipf("promtool not installed: %v", err)
	}
	return p
}

func TestRulesPromtool(t *testing.T) {
	bin := promtool(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "check", "rules", filepath.FromSlash(RulesFile)).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", RulesFile, err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules said:\n%s", out)
	}
}
