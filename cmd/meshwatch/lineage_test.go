package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/lag"
	"github.com/meshwatch/meshwatch/lineage"
)

// lineageConfig writes the lineage package's test mesh (three products,
// payments fed by checkout) to a temporary file, with a SASL password from
// an unset variable: the command needs no secret.
func lineageConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../lineage/testdata/mesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	unsetEnv(t, "MESHWATCH_LINEAGE_TEST_PASSWORD")
	doc := strings.Replace(string(b), `  brokers: ["localhost:9092"]`, `  brokers: ["localhost:9092"]
  sasl: {mechanism: SCRAM-SHA-512, username: meshwatch, password: "${MESHWATCH_LINEAGE_TEST_PASSWORD}"}`, 1)
	if doc == string(b) {
		t.Fatal("the brokers line of mesh.yaml moved")
	}
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runLineage(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cmdLineage(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestLineageCommandFormats(t *testing.T) {
	cfg := lineageConfig(t)
	for _, f := range []struct{ format, first string }{
		{"", "digraph lineage {"}, // dot is the default
		{"dot", "digraph lineage {"},
		{"mermaid", "flowchart LR"},
		{"json", "{"},
	} {
		args := []string{"-config", cfg}
		if f.format != "" {
			args = append(args, "-format", f.format)
		}
		code, out, errOut := runLineage(args...)
		if code != exitOK || !strings.HasPrefix(out, f.first+"\n") {
			t.Errorf("-format %q: exit %d, want 0 and output starting %q\n%s\n%s", f.format, code, f.first, out, errOut)
		}
		// Declared edges only: the whole mesh, without observed groups.
		for _, want := range []string{"checkout.orders.placed", "payments-svc", "finance-report", "analytics-team", "feeds"} {
			if !strings.Contains(out, want) {
				t.Errorf("-format %q: no %s in\n%s", f.format, want, out)
			}
		}
		// The unset secret is a warning of the offline load, not an error.
		if !strings.Contains(errOut, "MESHWATCH_LINEAGE_TEST_PASSWORD is not set") {
			t.Errorf("-format %q: stderr has no warning about the unset secret:\n%s", f.format, errOut)
		}
	}
}

func TestLineageCommandProduct(t *testing.T) {
	cfg := lineageConfig(t)
	out := filepath.Join(t.TempDir(), "lineage.json")
	for _, tt := range []struct {
		args  []string
		nodes []string
	}{
		{
			args:  []string{"-product", "payments.charges.settled", "-depth", "1"},
			nodes: []string{"product:checkout.orders.placed", "product:payments.charges.settled", "team:payments-team"},
		},
		{
			args: []string{"-product", "payments.charges.settled"}, // depth 2
			nodes: []string{
				"group:analytics-etl", "group:payments-svc", "product:analytics.revenue.daily", "product:checkout.orders.placed",
				"product:payments.charges.settled", "team:orders-team", "team:payments-team",
			},
		},
	} {
		args := append([]string{"-config", cfg, "-format", "json", "-out", out}, tt.args...)
		code, stdout, errOut := runLineage(args...)
		if code != exitOK || stdout != "" {
			t.Fatalf("%v: exit %d, stdout %q, want 0 and the graph in -out\n%s", tt.args, code, stdout, errOut)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var g lineage.Graph
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%v: %v\n%s", tt.args, err, b)
		}
		var nodes []string
		for _, n := range g.Nodes {
			nodes = append(nodes, n.ID)
		}
		if diff := cmp.Diff(tt.nodes, nodes); diff != "" {
			t.Errorf("%v: nodes (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestLineageCommandUsage(t *testing.T) {
	cfg := lineageConfig(t)
	code, out, errOut := runLineage("-h")
	if code != exitOK || out != "" || !strings.Contains(errOut, "meshwatch lineage -config FILE") || !strings.Contains(errOut, "suggested_feeds") || !strings.Contains(errOut, "-product") {
		t.Errorf("-h: exit %d, want 0 and the synopsis on stderr\n%s", code, errOut)
	}
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-config", cfg, "-nope"}, exitUsage, "flag provided but not defined: -nope"},
		{[]string{"-config", cfg, "extra"}, exitUsage, "unexpected arguments: extra"},
		{[]string{"-config", cfg, "-format", "svg"}, exitUsage, `-format must be dot, mermaid or json, got "svg"`},
		{[]string{"-config", cfg, "-depth", "x"}, exitUsage, `invalid value "x" for flag -depth`},
		{[]string{"-config", cfg, "-depth", "1"}, exitUsage, "depth needs a product"},
		{[]string{"-config", cfg, "-product", "payments.charges.settled", "-depth", "-1"}, exitUsage, "depth must be >= 0, got -1"},
		{[]string{"-config", cfg, "-product", "payments.charges"}, exitUsage, `no product "payments.charges" in the configuration`},
		{[]string{"-config", filepath.Join(t.TempDir(), "none.yaml")}, exitFailed, "no such file"},
		{[]string{"-config", cfg, "-out", filepath.Join(t.TempDir(), "no", "dir", "x.dot")}, exitFailed, "no such file"},
	} {
		code, out, errOut := runLineage(tt.args...)
		if code != tt.code || out != "" || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: exit %d, stdout %q, want %d and %q on stderr:\n%s", tt.args, code, out, tt.code, tt.msg, errOut)
		}
	}
}

// TestLineageObservedGroups: a declared group that never committed on the
// product's topics (NoData) is not observed reading it.
func TestLineageObservedGroups(t *testing.T) {
	pl := lag.ProductLag{Product: "p", Groups: []lag.GroupLag{
		{Group: "reader", Declared: true, Type: "consumer"},
		{Group: "never", Declared: true, NoData: true},
		{Group: "stranger", Type: "classic"},
	}}
	want := []lineage.Observed{{Group: "reader", Type: "consumer"}, {Group: "stranger", Type: "classic"}}
	if diff := cmp.Diff(want, observedGroups(pl)); diff != "" {
		t.Errorf("observedGroups (-want +got):\n%s", diff)
	}
	var a App // no core: nothing observed
	if got := a.lineageObserved("p"); got != nil {
		t.Errorf("lineageObserved without a core = %v, want nil", got)
	}
}

// TestLineageServed: the agent serves /api/v1/lineage and exports
// meshwatch_lineage_edge.
func TestLineageServed(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	app := startApp(t, writeConfig(t, kc, topic, ""), slog.New(slog.DiscardHandler), AppOptions{}, nil)
	base := "http://" + app.Addr()
	code, body := apiCall(t, nil, http.MethodGet, base+"/api/v1/lineage", "", "")
	if code != http.StatusOK || !strings.Contains(body, `"product:`+topic+`"`) || !strings.Contains(body, `"owns"`) {
		t.Errorf("/api/v1/lineage: %d %s, want the product and its owner", code, body)
	}
	code, body = apiCall(t, nil, http.MethodGet, base+"/metrics", "", "")
	if code != http.StatusOK || !strings.Contains(body, `meshwatch_lineage_edge{from="team:`) {
		t.Errorf("/metrics: %d, no meshwatch_lineage_edge series:\n%s", code, grepLines(body, "lineage"))
	}
}
