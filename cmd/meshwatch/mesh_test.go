package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/demo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/srtest"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/lineage"
	"github.com/meshwatch/meshwatch/quality"
)

// The mesh of the lineage acceptance scenario: three products (payments
// fed by checkout), four groups (shadow-reader declared by nobody, its
// team inferred from a pattern), three teams with channels.
const (
	meshCheckout  = "checkout.orders.placed"
	meshPayments  = "payments.charges.settled"
	meshAnalytics = "analytics.revenue.daily"
)

func meshSettings(t *testing.T, kc *kafkatest.Cluster, slackURL string) *config.Config {
	t.Helper()
	fresh := []meshwatch.SLO{{
		Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Second),
		Objective: 0.99, MinEvents: 1 << 30, // the stale condition, not a burn rate from seconds of data
	}}
	cfg := &meshwatch.Config{
		Products: []meshwatch.Product{
			{
				Name: meshCheckout, Domain: "checkout", Owner: "orders-team", Tier: 1,
				Topics: []meshwatch.TopicSelector{{Name: meshCheckout}}, SLOs: fresh,
				Consumers: []meshwatch.Consumer{{Group: "payments-svc", Owner: "payments-team"}, {Group: "analytics-etl", Owner: "analytics-team"}},
			},
			{
				Name: meshPayments, Domain: "payments", Owner: "payments-team", Tier: 1,
				Topics: []meshwatch.TopicSelector{{Name: meshPayments}}, SLOs: fresh,
				Inputs: []string{meshCheckout},
			},
			{
				Name: meshAnalytics, Domain: "analytics", Owner: "analytics-team", Tier: 2,
				Topics: []meshwatch.TopicSelector{{Name: meshAnalytics}}, SLOs: fresh,
				Consumers: []meshwatch.Consumer{{Group: "finance-report", Owner: "orders-team"}},
			},
		},
		Owners: map[string]meshwatch.Owner{
			"orders-team":    {SlackChannel: "#orders", Mention: "<!subteam^S0ORD>"},
			"payments-team":  {SlackChannel: "#payments", Mention: "<!subteam^S0PAY>"},
			"analytics-team": {SlackChannel: "#analytics", Groups: []string{"^shadow-"}},
		},
	}
	set := &config.Config{Config: cfg,
		Kafka: config.Kafka{Brokers: kc.Addrs()},
		HTTP:  config.HTTP{Listen: "127.0.0.1:0", APITokenFile: writeTokenFile(t)},
		State: state.Config{Dir: t.TempDir()},
		Alerting: &alert.Config{
			Slack:         &alert.SlackConfig{Token: "xoxb-mesh-test", APIURL: slackURL + "/"},
			GroupWait:     meshwatch.Duration(100 * time.Millisecond),
			GroupInterval: meshwatch.Duration(200 * time.Millisecond),
		}}
	if err := validateSettings(set); err != nil {
		t.Fatal(err)
	}
	const tick = 200 * time.Millisecond
	set.Collector.Tick = meshwatch.Duration(tick)
	set.Lag.Interval = meshwatch.Duration(tick)
	return set
}

// runApp runs app until stop, which cancels it and checks that it stops
// without error within its shutdown timeout; the test's end cancels it
// too, should the test stop early.
func runApp(t *testing.T, app *App) (ctx context.Context, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	return ctx, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(shutdownTimeout + 2*time.Second):
			t.Fatal("the agent did not stop within its shutdown timeout")
		}
	}
}

// TestMeshUpstreamBreach is issue 19's acceptance on kfake: the agent's
// lineage graph of the scenario; an upstream breach tells each consuming
// team exactly once, in its own channel, with what it has at stake; the
// downstream product's incident names its upstream cause and does not
// page; the copies resolve with the upstream.
func TestMeshUpstreamBreach(t *testing.T) {
	kc := kafkatest.New(t)
	for _, topic := range []string{meshCheckout, meshPayments, meshAnalytics} {
		kc.MustCreateTopic(t, topic, 1, 1, nil)
	}
	slack := newFakeSlack(t)
	set := meshSettings(t, kc, slack.srv.URL)
	app, err := NewApp(set, slog.New(slog.DiscardHandler), AppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := runApp(t, app)

	// Every product produces while its switch is on.
	var on sync.Map
	for _, topic := range []string{meshCheckout, meshPayments, meshAnalytics} {
		on.Store(topic, new(atomic.Bool))
		v, _ := on.Load(topic)
		v.(*atomic.Bool).Store(true)
	}
	setOn := func(topic string, v bool) { b, _ := on.Load(topic); b.(*atomic.Bool).Store(v) }
	var prod sync.WaitGroup
	for _, topic := range []string{meshCheckout, meshPayments, meshAnalytics} {
		prod.Go(func() {
			kc.ProduceEvery(ctx, 50*time.Millisecond, func() *kgo.Record {
				if b, _ := on.Load(topic); !b.(*atomic.Bool).Load() {
					return nil
				}
				return &kgo.Record{Topic: topic, Value: []byte(`{"n":1}`), Timestamp: time.Now()}
			})
		})
	}
	// The groups commit: three on checkout (shadow-reader undeclared), one
	// on analytics.
	adm := kc.Admin(t)
	commit := func(group, topic string) {
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, group, os); err != nil {
			t.Fatalf("commit %s: %v", group, err)
		}
	}
	kafkatest.WaitFor(t, 15*time.Second, func() bool {
		for _, p := range []string{meshCheckout, meshPayments, meshAnalytics} {
			if st, ok := app.Collector().Status(p); !ok || !st.Ticked || st.Silent || st.Freshness >= time.Second {
				return false
			}
		}
		return true
	}, "the products never became fresh")
	for _, g := range []string{"payments-svc", "analytics-etl", "shadow-reader"} {
		commit(g, meshCheckout)
	}
	commit("finance-report", meshAnalytics)

	// The graph: 3 products, 4 groups, 3 teams; shadow-reader observed,
	// undeclared, and analytics-team's by inference.
	base := "http://" + app.Addr()
	var g lineage.Graph
	kafkatest.WaitFor(t, 15*time.Second, func() bool {
		code, body := get(t, base+"/api/v1/lineage")
		if code != http.StatusOK || json.Unmarshal([]byte(body), &g) != nil {
			return false
		}
		n, ok := g.Node(lineage.GroupID("shadow-reader"))
		return ok && n.Observed
	}, "the lineage never showed the undeclared shadow-reader")
	kinds := map[string]int{}
	for _, n := range g.Nodes {
		kinds[n.Kind]++
	}
	if kinds[lineage.KindProduct] != 3 || kinds[lineage.KindGroup] != 4 || kinds[lineage.KindTeam] != 3 {
		t.Errorf("lineage nodes by kind = %v, want 3 products, 4 groups, 3 teams", kinds)
	}
	if n, _ := g.Node(lineage.GroupID("shadow-reader")); n.Declared || n.Owner != "analytics-team" {
		t.Errorf("shadow-reader: declared %v owner %q, want undeclared, analytics-team (inferred)", n.Declared, n.Owner)
	}
	if !slices.ContainsFunc(g.Edges, func(e lineage.Edge) bool {
		return e.From == lineage.ProductID(meshCheckout) && e.To == lineage.ProductID(meshPayments) && e.Kind == lineage.EdgeFeeds
	}) {
		t.Errorf("lineage has no feeds edge %s → %s", meshCheckout, meshPayments)
	}
	if calls := slack.snapshot(); len(calls) != 0 {
		t.Fatalf("Slack was called while every product was healthy: %+v", calls)
	}

	// The upstream breaks: its owner hears of it, and each consuming team
	// in its channel, once.
	setOn(meshCheckout, false)
	kafkatest.WaitFor(t, 20*time.Second, func() bool {
		r := slack.roots()
		return r["#orders"].TS != "" && r["#payments"].TS != "" && r["#analytics"].TS != ""
	}, "the owner and the consuming teams never all heard of the upstream breach")
	// Then the downstream product, made from it, goes stale too.
	setOn(meshPayments, false)
	var own slackCall
	kafkatest.WaitFor(t, 20*time.Second, func() bool {
		for _, c := range slack.snapshot() {
			if c.Method == "chat.postMessage" && !c.Thread && c.Channel == "#payments" && strings.Contains(c.Text, meshPayments+":") && !strings.HasPrefix(c.Text, "UPSTREAM") {
				own = c
				return true
			}
		}
		return false
	}, "the downstream owner never heard of its own incident")
	if !strings.Contains(own.Blocks, "Upstream: *"+meshCheckout+"*") || !strings.Contains(own.Blocks, "caused upstream by") {
		t.Errorf("the downstream incident does not name its upstream cause:\n%s", own.Blocks)
	}
	if strings.Contains(own.Text+own.Blocks, "<!subteam^S0PAY>") {
		t.Errorf("the downstream incident caused upstream pages its owner: %s", own.Text)
	}
	code, body := get(t, base+"/api/v1/incidents")
	var incs []alert.IncidentView
	if code != http.StatusOK || json.Unmarshal([]byte(body), &incs) != nil {
		t.Fatalf("/api/v1/incidents = %d %s", code, body)
	}
	i := slices.IndexFunc(incs, func(v alert.IncidentView) bool { return v.Product == meshPayments })
	if i < 0 || len(incs[i].Upstream) != 1 || incs[i].Upstream[0].Product != meshCheckout {
		t.Errorf("/api/v1/incidents: %s", body)
	}

	// Both resume: every message turns resolved.
	setOn(meshCheckout, true)
	setOn(meshPayments, true)
	kafkatest.WaitFor(t, 20*time.Second, func() bool {
		resolved := map[string]bool{}
		for _, c := range slack.snapshot() {
			if c.Method == "chat.update" && strings.HasPrefix(c.Text, "RESOLVED") {
				resolved[c.Channel] = true
			}
		}
		return resolved["#orders"] && resolved["#payments"] && resolved["#analytics"]
	}, "the messages never turned resolved")

	// Exactly one notice per consuming team of the upstream incident.
	copies := map[string]int{}
	for _, c := range slack.snapshot() {
		if c.Method == "chat.postMessage" && !c.Thread && strings.Contains(c.Text, "UPSTREAM "+meshCheckout) {
			copies[c.Channel]++
			if strings.Contains(c.Text+c.Blocks, "<!subteam") {
				t.Errorf("a consumer's copy mentions someone: %s", c.Text)
			}
		}
	}
	if copies["#payments"] != 1 || copies["#analytics"] != 1 || len(copies) != 2 {
		t.Errorf("copies of the upstream incident by channel = %v, want one in #payments and one in #analytics", copies)
	}
	for _, c := range slack.snapshot() {
		if c.Channel == "#analytics" && c.Method == "chat.postMessage" && !c.Thread {
			for _, want := range []string{"groups analytics-etl, shadow-reader", "which your team depends on"} {
				if !strings.Contains(c.Text+c.Blocks, want) {
					t.Errorf("analytics-team's copy does not say %q:\n%s\n%s", want, c.Text, c.Blocks)
				}
			}
		}
	}

	stop()
	prod.Wait()
}

// TestMeshNotices is issue 19's acceptance of the change notices on
// kfake: checkout.orders.placed is deprecated and its subject gets a
// breaking schema version (through the registry fake); each consuming
// team hears of each once, over many passes, in its channel; its owner
// hears of neither.
func TestMeshNotices(t *testing.T) {
	kc := kafkatest.New(t)
	for _, topic := range []string{meshCheckout, meshPayments, meshAnalytics} {
		kc.MustCreateTopic(t, topic, 1, 1, nil)
	}
	reg := srtest.New(t)
	const (
		subject = meshCheckout + "-value"
		v1      = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`
		// A field without a default: the new schema cannot read old data.
		v2 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"currency","type":"string"}]}`
	)
	if _, _, err := reg.Register(subject, sr.Schema{Schema: v1}); err != nil {
		t.Fatal(err)
	}
	slack := newFakeSlack(t)
	set := meshSettings(t, kc, slack.srv.URL)
	set.SchemaRegistry = &quality.RegistryConfig{URL: reg.URL()}
	set.Products[0].Format = meshwatch.FormatAvro
	set.Products[0].Deprecated = &meshwatch.Deprecation{Sunset: time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly), Replacement: meshAnalytics}
	var logs syncBuffer
	app, err := NewApp(set, slog.New(slog.NewTextHandler(&logs, nil)), AppOptions{NoticeEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A notice that does not come is told by the Slack calls and the log.
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range slack.snapshot() {
				t.Logf("slack %s %s %s thread=%v: %.100q", c.At.Format("15:04:05.000"), c.Method, c.Channel, c.Thread, c.Text)
			}
			t.Logf("agent log:\n%s", logs.String())
		}
	})
	_, stop := runApp(t, app)

	notices := func(word string) map[string]int {
		out := map[string]int{}
		for _, c := range slack.snapshot() {
			if c.Method == "chat.postMessage" && !c.Thread && strings.Contains(c.Text, word) {
				out[c.Channel]++
			}
		}
		return out
	}
	// The bounds catch a hang: each notice takes a pass (100 ms) and a
	// paced Slack post, seconds on a busy machine.
	kafkatest.WaitFor(t, time.Minute, func() bool {
		n := notices("Deprecated: " + meshCheckout)
		return n["#payments"] > 0 && n["#analytics"] > 0
	}, "the consuming teams never heard of the deprecation")

	if _, _, err := reg.Register(subject, sr.Schema{Schema: v2}); err != nil {
		t.Fatal(err)
	}
	t.Logf("schema version 2 registered at %s", time.Now().Format("15:04:05.000"))
	kafkatest.WaitFor(t, time.Minute, func() bool {
		n := notices("BREAKING")
		return n["#payments"] > 0 && n["#analytics"] > 0
	}, "the consuming teams never heard of the breaking schema change")
	// Many more passes (each reads the subject): nothing is told again.
	after := reg.Requests()
	kafkatest.WaitFor(t, time.Minute, func() bool { return reg.Requests() >= after+10 }, "the notices stopped checking the registry")

	for word, what := range map[string]string{"Deprecated: " + meshCheckout: "deprecation", "BREAKING": "breaking schema change"} {
		if n := notices(word); n["#payments"] != 1 || n["#analytics"] != 1 || len(n) != 2 {
			t.Errorf("%s notices by channel = %v, want one in #payments and one in #analytics", what, n)
		}
	}
	for _, c := range slack.snapshot() {
		if c.Channel == "#analytics" && strings.Contains(c.Text, "BREAKING") {
			for _, want := range []string{"version 2, was 1", "analytics-etl"} {
				if !strings.Contains(c.Text, want) {
					t.Errorf("the breaking notice does not say %q: %s", want, c.Text)
				}
			}
			if strings.Contains(c.Text, `"fields"`) || strings.Contains(c.Text, "currency") {
				t.Errorf("the notice quotes the schema: %s", c.Text)
			}
		}
	}

	stop()
}

// TestDemoMesh is issue 19's acceptance on the demo: its /api/v1/lineage
// has the products, the groups and the teams, and a consuming team's
// channel gets its copy of an upstream incident well within two minutes
// (finance-team, which reads the late payments and makes the ledger from
// them), while the ledger's own incident names its upstream cause.
func TestDemoMesh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	start := time.Now()
	d := startDemo(t)
	base := "http://" + d.addr
	var g lineage.Graph
	kafkatest.WaitFor(t, time.Minute, func() bool {
		code, body := get(t, base+"/api/v1/lineage")
		if code != http.StatusOK || json.Unmarshal([]byte(body), &g) != nil {
			return false
		}
		kinds := map[string]int{}
		for _, n := range g.Nodes {
			kinds[n.Kind]++
		}
		return kinds[lineage.KindProduct] == 5 && kinds[lineage.KindGroup] >= 5 && kinds[lineage.KindTeam] >= 5
	}, "the demo's lineage never had its 5 products, 5 groups and the teams")
	if !slices.ContainsFunc(g.Edges, func(e lineage.Edge) bool {
		return e.Kind == lineage.EdgeFeeds && e.From == lineage.ProductID(demo.TransactionsSettled) && e.To == lineage.ProductID(demo.LedgerEntries)
	}) {
		t.Errorf("no feeds edge %s → %s", demo.TransactionsSettled, demo.LedgerEntries)
	}
	copyLine := "FIRE UPSTREAM " + demo.TransactionsSettled + " → #finance-ops"
	kafkatest.WaitFor(t, 2*time.Minute, func() bool { return strings.Contains(d.stdout.String(), copyLine) },
		"finance-team's channel never heard of the upstream incident")
	t.Logf("a consuming team's copy %v after the demo started (acceptance: within 2 minutes)", time.Since(start).Round(time.Second))
	out := d.stdout.String()
	if !strings.Contains(out, "for finance-team, which depends on it: groups invoice-mailer, ledger-writer; product "+demo.LedgerEntries) {
		t.Errorf("the copy does not say what finance-team has at stake:\n%s", out)
	}
	kafkatest.WaitFor(t, time.Minute, func() bool {
		code, body := get(t, base+"/api/v1/incidents")
		var incs []alert.IncidentView
		if code != http.StatusOK || json.Unmarshal([]byte(body), &incs) != nil {
			return false
		}
		return slices.ContainsFunc(incs, func(v alert.IncidentView) bool {
			return v.Product == demo.LedgerEntries && len(v.Upstream) > 0 && v.Upstream[0].Product == demo.TransactionsSettled
		})
	}, "the ledger's incident never named its upstream cause")
}

// TestLagToInferredTeams: the lag alert of a group no product declares
// goes to the team the lineage infers for it, when that team has a
// channel and is not the product's owner; other conditions pass as they
// are.
func TestLagToInferredTeams(t *testing.T) {
	cfg := &meshwatch.Config{
		Products: []meshwatch.Product{{Name: meshCheckout, Owner: "orders-team"}},
		Owners: map[string]meshwatch.Owner{
			"orders-team": {SlackChannel: "#orders"}, "analytics-team": {SlackChannel: "#analytics"}, "quiet-team": {},
		},
	}
	lagCond := func(group string) meshwatch.Condition {
		return meshwatch.Condition{Name: meshwatch.AlertConsumerLag, Product: meshCheckout, Group: group, State: "STOP", Severity: meshwatch.SeverityTicket,
			Summary: "consumer group " + group + " (unknown) of " + meshCheckout + " is not committing while behind"}
	}
	src := heldConditions{lagCond("shadow-reader"), lagCond("own-replayer"), lagCond("quiet-reader"), lagCond("nobody"),
		{Name: meshwatch.AlertSLOBurnRate, Product: meshCheckout, Group: "shadow-reader"}}
	teams := map[string]string{"shadow-reader": "analytics-team", "own-replayer": "orders-team", "quiet-reader": "quiet-team"}
	got := newLagToInferredTeams(src, cfg, func() map[string]string { return teams }).Conditions()
	owners := make([]string, len(got))
	for i, c := range got {
		owners[i] = c.Owner
	}
	if want := []string{"analytics-team", "", "", "", ""}; !slices.Equal(owners, want) {
		t.Errorf("owners = %q, want %q", owners, want)
	}
	if s := got[0].Summary; !strings.Contains(s, "shadow-reader (analytics-team, inferred) of") {
		t.Errorf("summary = %q", s)
	}
	if src[0].Owner != "" {
		t.Error("the source's conditions were changed in place")
	}
}
