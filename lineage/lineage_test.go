package lineage_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/doctest"
	"github.com/meshwatch/meshwatch/internal/expo"
	"github.com/meshwatch/meshwatch/internal/golden"
	"github.com/meshwatch/meshwatch/lineage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	checkout  = "checkout.orders.placed"
	payments  = "payments.charges.settled"
	analytics = "analytics.revenue.daily"
)

// mesh loads testdata/mesh.yaml: three products (payments fed by
// checkout), four groups, three teams.
func mesh(t *testing.T) *meshwatch.Config {
	t.Helper()
	set, problems, err := config.LoadFileWith("testdata/mesh.yaml", config.Options{Offline: true})
	if err != nil {
		t.Fatalf("load: %v\n%v", err, problems)
	}
	return set.Config
}

// observed is what the lag monitor would see: payments-svc and
// analytics-etl (declared) and shadow-reader (undeclared) committing on
// checkout; finance-report, declared on analytics, never committed.
func observed(product string) []lineage.Observed {
	if product == checkout {
		return []lineage.Observed{{Group: "payments-svc", Type: "classic"}, {Group: "shadow-reader", Type: "classic"}, {Group: "analytics-etl", Type: "consumer"}}
	}
	return nil
}

func TestBuild(t *testing.T) {
	cfg := mesh(t)
	products := []lineage.Node{
		{ID: "product:" + analytics, Kind: "product", Label: analytics, Declared: true, Owner: "analytics-team", Domain: "analytics"},
		{ID: "product:" + checkout, Kind: "product", Label: checkout, Declared: true, Owner: "orders-team", Domain: "checkout"},
		{ID: "product:" + payments, Kind: "product", Label: payments, Declared: true, Owner: "payments-team", Domain: "payments"},
	}
	teams := []lineage.Node{
		{ID: "team:analytics-team", Kind: "team", Label: "analytics-team", Declared: true},
		{ID: "team:orders-team", Kind: "team", Label: "orders-team", Declared: true},
		{ID: "team:payments-team", Kind: "team", Label: "payments-team", Declared: true},
	}
	declaredEdges := []lineage.Edge{
		{From: "group:finance-report", To: "product:" + analytics, Kind: "consumes", Declared: true},
		{From: "group:finance-report", To: "team:orders-team", Kind: "member_of", Declared: true},
		{From: "product:" + analytics, To: "product:" + checkout, Kind: "suggested_feeds"},
		{From: "product:" + checkout, To: "product:" + payments, Kind: "feeds", Declared: true},
		{From: "product:" + checkout, To: "product:" + analytics, Kind: "suggested_feeds"},
		{From: "team:analytics-team", To: "product:" + analytics, Kind: "owns", Declared: true},
		{From: "team:orders-team", To: "product:" + checkout, Kind: "owns", Declared: true},
		{From: "team:payments-team", To: "product:" + payments, Kind: "owns", Declared: true},
	}
	tests := []struct {
		name     string
		observed func(string) []lineage.Observed
		groups   []lineage.Node
		edges    []lineage.Edge // besides declaredEdges
	}{
		{
			name: "declared only",
			groups: []lineage.Node{
				{ID: "group:analytics-etl", Kind: "group", Label: "analytics-etl", Declared: true, Owner: "analytics-team"},
				{ID: "group:finance-report", Kind: "group", Label: "finance-report", Declared: true, Owner: "orders-team"},
				{ID: "group:payments-svc", Kind: "group", Label: "payments-svc", Declared: true, Owner: "payments-team"},
			},
			edges: []lineage.Edge{
				{From: "group:analytics-etl", To: "product:" + checkout, Kind: "consumes", Declared: true},
				{From: "group:analytics-etl", To: "team:analytics-team", Kind: "member_of", Declared: true},
				{From: "group:payments-svc", To: "product:" + checkout, Kind: "consumes", Declared: true},
				{From: "group:payments-svc", To: "team:payments-team", Kind: "member_of", Declared: true},
			},
		},
		{
			name:     "observed",
			observed: observed,
			groups: []lineage.Node{
				{ID: "group:analytics-etl", Kind: "group", Label: "analytics-etl", Declared: true, Observed: true, Owner: "analytics-team", Type: "consumer"},
				{ID: "group:finance-report", Kind: "group", Label: "finance-report", Declared: true, Owner: "orders-team"},
				{ID: "group:payments-svc", Kind: "group", Label: "payments-svc", Declared: true, Observed: true, Owner: "payments-team", Type: "classic"},
				// Undeclared: its product's owner had not been asked.
				{ID: "group:shadow-reader", Kind: "group", Label: "shadow-reader", Observed: true, Type: "classic"},
			},
			edges: []lineage.Edge{
				{From: "group:analytics-etl", To: "product:" + checkout, Kind: "consumes", Declared: true, Observed: true},
				{From: "group:analytics-etl", To: "team:analytics-team", Kind: "member_of", Declared: true},
				{From: "group:payments-svc", To: "product:" + checkout, Kind: "consumes", Declared: true, Observed: true},
				{From: "group:payments-svc", To: "team:payments-team", Kind: "member_of", Declared: true},
				// No member_of: its owner is unknown.
				{From: "group:shadow-reader", To: "product:" + checkout, Kind: "consumes", Observed: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := lineage.Graph{
				Nodes: append(append(append([]lineage.Node{}, tt.groups...), products...), teams...),
				Edges: sortEdges(append(append([]lineage.Edge{}, declaredEdges...), tt.edges...)),
			}
			for range 3 { // map order must not show
				got := lineage.Build(cfg, tt.observed)
				if diff := gocmp.Diff(want, got); diff != "" {
					t.Fatalf("Build (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// sortEdges orders edges as Build does, by from, to, kind.
func sortEdges(es []lineage.Edge) []lineage.Edge {
	slices.SortFunc(es, func(a, b lineage.Edge) int {
		return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To), strings.Compare(a.Kind, b.Kind))
	})
	return es
}

// TestBuildUnknownOwner: a declared consumer without an owner, or with
// meshwatch.UnknownOwner, is a declared group of no team.
func TestBuildUnknownOwner(t *testing.T) {
	cfg := &meshwatch.Config{
		Owners: map[string]meshwatch.Owner{"t": {}},
		Products: []meshwatch.Product{{Name: "p", Owner: "t", Consumers: []meshwatch.Consumer{
			{Group: "a"}, {Group: "b", Owner: meshwatch.UnknownOwner},
		}}},
	}
	nodes, edges := ids(lineage.Build(cfg, nil))
	if want := []string{"group:a", "group:b", "product:p", "team:t"}; !gocmp.Equal(nodes, want) {
		t.Errorf("nodes %v, want %v", nodes, want)
	}
	if want := []string{"group:a consumes product:p", "group:b consumes product:p", "team:t owns product:p"}; !gocmp.Equal(edges, want) {
		t.Errorf("edges %v, want %v", edges, want)
	}
}

// TestBuildSuggestion checks that a declared input takes the suggestion
// away: the suggestion is only for what is not declared.
func TestBuildSuggestion(t *testing.T) {
	cfg := mesh(t)
	cfg.Products[2].Inputs = []string{checkout} // analytics declares checkout
	g := lineage.Build(cfg, nil)
	var kinds []string
	for _, e := range g.Edges {
		if e.From == "product:"+checkout && e.To == "product:"+analytics {
			kinds = append(kinds, e.Kind)
		}
	}
	if !gocmp.Equal(kinds, []string{"feeds"}) {
		t.Errorf("edges checkout → analytics: %v, want [feeds]", kinds)
	}
}

// TestBuildSuggestionLinear checks that a team owning more than
// MaxSuggestOwned products gets no suggestion: 2 teams of 500 products,
// each team's group reading the other's, would otherwise suggest 500,000
// edges; the graph stays a few edges per product.
func TestBuildSuggestionLinear(t *testing.T) {
	for _, owned := range []int{lineage.MaxSuggestOwned, 500} {
		cfg := &meshwatch.Config{Owners: map[string]meshwatch.Owner{"a": {}, "b": {}}}
		for i := range 2 * owned {
			own, other := "a", "b"
			if i%2 == 1 {
				own, other = other, own
			}
			cfg.Products = append(cfg.Products, meshwatch.Product{Name: fmt.Sprintf("p%d", i), Owner: own,
				Consumers: []meshwatch.Consumer{{Group: other + "-reader", Owner: other}}})
		}
		suggested := 0
		g := lineage.Build(cfg, nil)
		for _, e := range g.Edges {
			if e.Kind == lineage.EdgeSuggestedFeeds {
				suggested++
			}
		}
		want := 0
		if owned <= lineage.MaxSuggestOwned {
			want = 2 * owned * owned // each product read by the other team's group, suggested to each of its products
		}
		if suggested != want {
			t.Errorf("%d products per team: %d suggestions, want %d", owned, suggested, want)
		}
		if len(g.Edges) > 3*len(cfg.Products)+want {
			t.Errorf("%d products per team: %d edges for %d products", owned, len(g.Edges), len(cfg.Products))
		}
	}
}

func ids(g lineage.Graph) (nodes, edges []string) {
	for _, n := range g.Nodes {
		nodes = append(nodes, n.ID)
	}
	for _, e := range g.Edges {
		edges = append(edges, e.From+" "+e.Kind+" "+e.To)
	}
	return nodes, edges
}

func TestAround(t *testing.T) {
	g := lineage.Build(mesh(t), observed)
	tests := []struct {
		product     string
		depth       int
		nodes, edge []string
	}{
		{product: payments, depth: 0, nodes: []string{"product:" + payments}},
		{
			product: payments, depth: 1,
			nodes: []string{"product:" + checkout, "product:" + payments, "team:payments-team"},
			edge:  []string{"product:" + checkout + " feeds product:" + payments, "team:payments-team owns product:" + payments},
		},
		{
			product: payments, depth: 2,
			nodes: []string{"group:analytics-etl", "group:payments-svc", "group:shadow-reader", "product:" + analytics, "product:" + checkout, "product:" + payments, "team:orders-team", "team:payments-team"},
			edge: []string{
				"group:analytics-etl consumes product:" + checkout,
				"group:payments-svc consumes product:" + checkout,
				"group:payments-svc member_of team:payments-team",
				"group:shadow-reader consumes product:" + checkout,
				"product:" + analytics + " suggested_feeds product:" + checkout,
				"product:" + checkout + " suggested_feeds product:" + analytics,
				"product:" + checkout + " feeds product:" + payments,
				"team:orders-team owns product:" + checkout,
				"team:payments-team owns product:" + payments,
			},
		},
		{product: "no.such.product", depth: 2},
	}
	for _, tt := range tests {
		nodes, edges := ids(g.Around(tt.product, tt.depth))
		if diff := gocmp.Diff(tt.nodes, nodes); diff != "" {
			t.Errorf("Around(%s, %d) nodes (-want +got):\n%s", tt.product, tt.depth, diff)
		}
		if diff := gocmp.Diff(tt.edge, edges); diff != "" {
			t.Errorf("Around(%s, %d) edges (-want +got):\n%s", tt.product, tt.depth, diff)
		}
	}
	// Without a limit, everything connected: here the whole graph.
	if all := g.Around(payments, -1); !gocmp.Equal(all, g) {
		t.Errorf("Around(%s, -1) is not the whole connected graph:\n%s", payments, gocmp.Diff(g, all))
	}
}

// TestValidateInputs loads configurations with bad inputs and checks every
// problem, placed at its key.
func TestValidateInputs(t *testing.T) {
	base, err := os.ReadFile("testdata/mesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, inputs string // the inputs: line of payments
		want         []string
	}{
		{name: "valid", inputs: "inputs: [checkout.orders.placed, analytics.revenue.daily]"},
		{name: "empty", inputs: "inputs: []"},
		{
			name: "unknown", inputs: "inputs: [checkout.orders.plcaed]",
			want: []string{`mesh.yaml:23:14: products[1].inputs[0]: must name a product of this configuration, got "checkout.orders.plcaed" (did you mean "checkout.orders.placed"?)`},
		},
		{
			name: "self", inputs: "inputs: [payments.charges.settled]",
			want: []string{`mesh.yaml:23:14: products[1].inputs[0]: must name another product: "payments.charges.settled" cannot feed itself`},
		},
		{
			name: "blank and duplicate", inputs: `inputs: [checkout.orders.placed, "", checkout.orders.placed]`,
			want: []string{
				`mesh.yaml:23:38: products[1].inputs[1]: is required: the name of a product of this configuration that feeds this one`,
				`mesh.yaml:23:42: products[1].inputs[2]: duplicate input "checkout.orders.placed"; inputs[0] has it already`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(string(base), "inputs: [checkout.orders.placed]", tt.inputs, 1)
			if data == string(base) && tt.name != "valid" {
				t.Fatal("the inputs line was not replaced")
			}
			_, problems, _ := config.LoadWith("mesh.yaml", []byte(data), nil, config.Options{Offline: true})
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// odd is a graph whose names hold what a renderer must escape.
func odd() lineage.Graph {
	cfg := &meshwatch.Config{
		Owners: map[string]meshwatch.Owner{`team "quoted"`: {}},
		Products: []meshwatch.Product{
			{Name: `a\b"c`, Owner: `team "quoted"`, Consumers: []meshwatch.Consumer{{Group: "g<script>&#x;\nend", Owner: `team "quoted"`}}},
			{Name: "subgraph end", Owner: `team "quoted"`, Inputs: []string{`a\b"c`}},
		},
	}
	return lineage.Build(cfg, func(string) []lineage.Observed { return []lineage.Observed{{Group: "digraph {}"}} })
}

func TestRender(t *testing.T) {
	graphs := map[string]lineage.Graph{
		"mesh":     lineage.Build(mesh(t), observed),
		"odd":      odd(),
		"payments": lineage.Build(mesh(t), observed).Around(payments, 1),
	}
	ext := map[string]string{"dot": ".dot", "mermaid": ".mmd", "json": ".json"}
	for name, g := range graphs {
		for _, f := range lineage.Formats {
			var b strings.Builder
			if err := lineage.Write(&b, g, f); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+ext[f]), b.String(), *update)
		}
	}
	// An empty graph is empty lists, not null.
	var empty strings.Builder
	if err := lineage.WriteJSON(&empty, lineage.Graph{}); err != nil || empty.String() != "{\n  \"nodes\": [],\n  \"edges\": []\n}\n" {
		t.Errorf("WriteJSON(Graph{}) = %q, %v", empty.String(), err)
	}
	if err := lineage.Write(&strings.Builder{}, graphs["mesh"], "svg"); err == nil {
		t.Error("Write of an unknown format did not fail")
	}
}

// TestDOTRendersWithGraphviz renders the DOT outputs with Graphviz: they
// must be valid DOT, whatever the names hold. CI installs the Debian
// package graphviz.
func TestDOTRendersWithGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz's dot is not on PATH (Debian package graphviz): the DOT output is not rendered")
	}
	for name, g := range map[string]lineage.Graph{"mesh": lineage.Build(mesh(t), observed), "odd": odd()} {
		var in bytes.Buffer
		if err := lineage.WriteDOT(&in, g); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = &in
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("%s: dot -Tsvg: %v\n%s", name, err, stderr.String())
			continue
		}
		svg := out.String()
		if !strings.Contains(svg, "<svg") {
			t.Errorf("%s: dot -Tsvg wrote no SVG", name)
		}
		// Every node and edge is drawn.
		if n := strings.Count(svg, `class="node"`); n != len(g.Nodes) {
			t.Errorf("%s: the SVG has %d nodes, want %d", name, n, len(g.Nodes))
		}
		if n := strings.Count(svg, `class="edge"`); n != len(g.Edges) {
			t.Errorf("%s: the SVG has %d edges, want %d", name, n, len(g.Edges))
		}
	}
}

func TestHandler(t *testing.T) {
	h := lineage.Handler(mesh(t), observed)
	get := func(query string) (int, string, []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/lineage"+query, nil))
		return rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()
	}
	type shape struct {
		Nodes []map[string]any `json:"nodes"`
		Edges []map[string]any `json:"edges"`
	}
	code, ct, body := get("")
	if code != 200 || ct != "application/json" {
		t.Fatalf("GET: %d %s\n%s", code, ct, body)
	}
	var all shape
	if err := json.Unmarshal(body, &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Nodes) != 10 || len(all.Edges) != 13 {
		t.Errorf("GET: %d nodes, %d edges, want 10 and 13", len(all.Nodes), len(all.Edges))
	}
	for _, n := range all.Nodes {
		if n["id"] == "group:shadow-reader" && (n["kind"] != "group" || n["declared"] != false) {
			t.Errorf("the undeclared group reads %v", n)
		}
		for _, k := range []string{"id", "kind", "label", "declared"} {
			if _, ok := n[k]; !ok {
				t.Errorf("node %v has no %s", n, k)
			}
		}
	}
	for _, e := range all.Edges {
		for _, k := range []string{"from", "to", "kind", "declared"} {
			if _, ok := e[k]; !ok {
				t.Errorf("edge %v has no %s", e, k)
			}
		}
	}
	// The product filter, at the default depth 2, and at depth 1.
	for query, want := range map[string][2]int{
		"?product=" + payments:              {8, 9},
		"?product=" + payments + "&depth=1": {3, 2},
		"?product=" + payments + "&depth=0": {1, 0},
	} {
		code, _, body := get(query)
		var s shape
		if err := json.Unmarshal(body, &s); code != 200 || err != nil {
			t.Fatalf("GET %s: %d %v\n%s", query, code, err, body)
		}
		if len(s.Nodes) != want[0] || len(s.Edges) != want[1] {
			t.Errorf("GET %s: %d nodes, %d edges, want %d and %d", query, len(s.Nodes), len(s.Edges), want[0], want[1])
		}
		if s.Edges == nil {
			t.Errorf("GET %s: edges is null, want []", query)
		}
	}
	for query, want := range map[string]string{
		"?product=" + payments + "&depth=x":  `depth must be a whole number of edges, got "x"`,
		"?product=" + payments + "&depth=-1": "depth must be >= 0, got -1",
		"?product=" + payments + "&depth=":   `depth must be a whole number of edges, got ""`,
		"?depth=1":                           "depth needs a product: it counts edges from that product",
		"?product=payments.charges.setled":   `no product "payments.charges.setled" in the configuration (did you mean "payments.charges.settled"?)`,
		"?product=a<b>":                      `no product "a<b>" in the configuration`,
	} {
		code, ct, body := get(query)
		var e struct{ Error string }
		if err := json.Unmarshal(body, &e); code != 400 || ct != "application/json" || err != nil || e.Error != want {
			t.Errorf("GET %s: %d %s %s, want 400 {\"error\": %q}", query, code, ct, body, want)
		}
		if strings.Contains(string(body), `\u00`) {
			t.Errorf("GET %s: the error is HTML-escaped:\n%s", query, body)
		}
	}
	// No HTML escaping.
	rec := httptest.NewRecorder()
	lineage.Handler(&meshwatch.Config{Products: []meshwatch.Product{{Name: "a<b>&c"}}}, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/lineage", nil))
	if !strings.Contains(rec.Body.String(), `"product:a<b>&c"`) {
		t.Errorf("the JSON is HTML-escaped:\n%s", rec.Body.String())
	}
}

func TestCollector(t *testing.T) {
	g := lineage.Build(mesh(t), observed).Around(payments, 1)
	c := lineage.NewCollector(func() lineage.Graph { return g })
	want := `# HELP meshwatch_lineage_edge 1 for each edge of the lineage graph: from and to are node IDs (product:NAME, group:NAME, team:NAME), kind is owns, consumes, member_of, feeds or suggested_feeds, id is from->to:kind. For a Grafana node graph.
# TYPE meshwatch_lineage_edge gauge
meshwatch_lineage_edge{from="product:checkout.orders.placed",id="product:checkout.orders.placed->product:payments.charges.settled:feeds",kind="feeds",to="product:payments.charges.settled"} 1
meshwatch_lineage_edge{from="team:payments-team",id="team:payments-team->product:payments.charges.settled:owns",kind="owns",to="product:payments.charges.settled"} 1
# HELP meshwatch_lineage_node 1 for each node of the lineage graph: id is product:NAME, group:NAME or team:NAME, title the name, kind product, group or team. For a Grafana node graph.
# TYPE meshwatch_lineage_node gauge
meshwatch_lineage_node{id="product:checkout.orders.placed",kind="product",title="checkout.orders.placed"} 1
meshwatch_lineage_node{id="product:payments.charges.settled",kind="product",title="payments.charges.settled"} 1
meshwatch_lineage_node{id="team:payments-team",kind="team",title="payments-team"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	// The collector reads the graph at each scrape.
	g = lineage.Build(mesh(t), observed)
	// /metrics streams it: the same series as it collects.
	reg := expo.NewRegistry()
	reg.MustRegister(c)
	if err := reg.Check(); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c); n != len(g.Nodes)+len(g.Edges) {
		t.Errorf("after the graph changed: %d series, want %d", n, len(g.Nodes)+len(g.Edges))
	}
}

// TestDocListsMetrics checks that the "# Metrics" list of doc.go names
// every metric the package registers.
func TestDocListsMetrics(t *testing.T) {
	doctest.Metrics(t, "doc.go", func(reg prometheus.Registerer) {
		reg.MustRegister(lineage.NewCollector(func() lineage.Graph { return lineage.Graph{} }))
	})
}

// TestCached: the graph is built once per maxAge, whatever the scrapes.
func TestCached(t *testing.T) {
	builds := 0
	now := time.Unix(1_000, 0)
	get := lineage.Cached(func() lineage.Graph {
		builds++
		return lineage.Graph{Edges: make([]lineage.Edge, builds)}
	}, 10*time.Second, func() time.Time { return now })
	for range 3 {
		get()
	}
	if builds != 1 || len(get().Edges) != 1 {
		t.Fatalf("%d builds within maxAge, want 1", builds)
	}
	now = now.Add(10 * time.Second)
	if g := get(); builds != 2 || len(g.Edges) != 2 {
		t.Errorf("%d builds after maxAge, want 2 and the new graph", builds)
	}
}

// TestAudiences: who hears of each product — the teams of its consuming
// groups and the owners of the products it feeds, with a channel,
// subscribed, never its own owner — and the index gives the same.
func TestAudiences(t *testing.T) {
	cfg := mesh(t)
	g := lineage.Build(cfg, observed)
	want := []lineage.Audience{
		{Team: "analytics-team", Channel: "#analytics", Groups: []string{"analytics-etl"}},
		{Team: "payments-team", Channel: "#payments", Groups: []string{"payments-svc"}, Products: []string{payments}},
	}
	if diff := gocmp.Diff(want, lineage.Audiences(cfg, g, checkout)); diff != "" {
		t.Errorf("audiences of %s (-want +got):\n%s", checkout, diff)
	}
	if got := want[1].Affected(); got != "group payments-svc; product "+payments {
		t.Errorf("Affected() = %q", got)
	}
	// finance-report belongs to orders-team, which owns checkout, not
	// analytics: orders-team hears of analytics.
	if diff := gocmp.Diff([]lineage.Audience{{Team: "orders-team", Channel: "#orders", Groups: []string{"finance-report"}}}, lineage.Audiences(cfg, g, analytics)); diff != "" {
		t.Errorf("audiences of %s (-want +got):\n%s", analytics, diff)
	}
	if got := lineage.Audiences(cfg, g, payments); got != nil {
		t.Errorf("audiences of %s = %+v, want none: nobody reads it", payments, got)
	}
	idx := lineage.NewAudienceIndex(cfg, g)
	if diff := gocmp.Diff(want, idx[checkout]); diff != "" {
		t.Errorf("index of %s (-want +got):\n%s", checkout, diff)
	}

	// Subscriptions off: per team, per product.
	o := cfg.Owners["analytics-team"]
	o.Subscribe = new(false)
	cfg.Owners["analytics-team"] = o
	if got := lineage.Audiences(cfg, g, checkout); len(got) != 1 || got[0].Team != "payments-team" {
		t.Errorf("analytics-team unsubscribed: audiences %+v, want payments-team only", got)
	}
	cfg.Products[0].NotifyConsumers = new(false)
	if got := lineage.Audiences(cfg, g, checkout); got != nil {
		t.Errorf("notify_consumers: false: audiences %+v, want none", got)
	}
}

// TestInferredOwner: an observed group no product declares belongs to the
// team whose groups pattern matches it, marked inferred, and its team
// hears of what it reads; a declared owner is never overridden.
func TestInferredOwner(t *testing.T) {
	cfg := mesh(t)
	o := cfg.Owners["analytics-team"]
	o.Groups = []string{"^shadow-", "^payments-"} // payments-svc is declared payments-team's
	cfg.Owners["analytics-team"] = o
	g := lineage.Build(cfg, observed)
	var memberOf []lineage.Edge
	for _, e := range g.Edges {
		if e.Kind == lineage.EdgeMemberOf && (e.From == "group:shadow-reader" || e.From == "group:payments-svc") {
			memberOf = append(memberOf, e)
		}
	}
	want := []lineage.Edge{
		{From: "group:payments-svc", To: "team:payments-team", Kind: "member_of", Declared: true},
		{From: "group:shadow-reader", To: "team:analytics-team", Kind: "member_of", Inferred: true},
	}
	if diff := gocmp.Diff(want, memberOf); diff != "" {
		t.Errorf("member_of edges (-want +got):\n%s", diff)
	}
	if n, _ := g.Node("group:shadow-reader"); n.Owner != "analytics-team" || n.Declared {
		t.Errorf("shadow-reader: owner %q declared %v, want analytics-team, undeclared", n.Owner, n.Declared)
	}
	got := lineage.Audiences(cfg, g, checkout)
	if len(got) == 0 || got[0].Team != "analytics-team" || !slices.Equal(got[0].Groups, []string{"analytics-etl", "shadow-reader"}) {
		t.Errorf("audiences of %s: %+v, want analytics-team with analytics-etl and shadow-reader", checkout, got)
	}

	// By a member's client ID instead: payments-team's clients.
	cfg = mesh(t)
	o = cfg.Owners["payments-team"]
	o.Clients = []string{"^payments-"}
	cfg.Owners["payments-team"] = o
	withClients := func(product string) []lineage.Observed {
		obs := observed(product)
		for i := range obs {
			if obs[i].Group == "shadow-reader" {
				obs[i].ClientIDs = []string{"payments-recon-7"}
			}
		}
		return obs
	}
	g = lineage.Build(cfg, withClients)
	if n, _ := g.Node("group:shadow-reader"); n.Owner != "payments-team" {
		t.Errorf("shadow-reader with client payments-recon-7: owner %q, want payments-team (clients)", n.Owner)
	}
	if g = lineage.Build(cfg, observed); func() bool { n, _ := g.Node("group:shadow-reader"); return n.Owner != "" }() {
		t.Error("shadow-reader without that client: inferred anyway")
	}
}
