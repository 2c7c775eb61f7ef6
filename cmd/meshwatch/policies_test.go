package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/demo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/shard"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/policy"
)

// writeConfigFile writes set as a config file and returns its path.
func writeConfigFile(t *testing.T, set *config.Config) string {
	t.Helper()
	b, err := config.YAML(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDemoPolicies is issue 20's acceptance of the CLI: on the demo's
// cluster, meshwatch check -policies finds the demo's two violations and
// exits 1, and exits 0 once they are fixed in the config; meshwatch
// validate evaluates the offline policies without the cluster.
func TestDemoPolicies(t *testing.T) {
	kc := kafkatest.New(t)
	p, err := demo.NewProducers(kc.Addrs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.CreateTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	set := &config.Config{Config: demo.Catalog(), Kafka: config.Kafka{Brokers: kc.Addrs()}, Policies: demoPolicies()}
	set.SetDefaults()
	if err := set.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	path := writeConfigFile(t, set)

	code, out, errOut := runCmd(t, t.Context(), "check", "-config", path, "-policies")
	if code != exitFailed {
		t.Fatalf("check -policies on the demo: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"error     tier1-replication  finance.ledger.entries / finance.ledger.entries",
		"replication factor 1",
		"error     unowned_topics     topic sandbox.scratch",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check -policies does not print %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "2 violations of severity error") {
		t.Errorf("check -policies stderr: %q", errOut)
	}
	code, out, _ = runCmd(t, t.Context(), "check", "-config", path, "-policies", "-format", "json", "-product", demo.LedgerEntries)
	var v policiesView
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != exitFailed || len(v.Violations) != 1 || v.Violations[0].Policy != "tier1-replication" {
		t.Errorf("check -policies -format json -product %s: exit %d %+v (%v)\n%s", demo.LedgerEntries, code, v, err, out)
	}

	// Fixed in the config: the ledger is tier 2 until its topic is
	// replicated, and sandboxes are allowed.
	i := slices.IndexFunc(set.Products, func(p meshwatch.Product) bool { return p.Name == demo.LedgerEntries })
	set.Products[i].Tier = 2
	for j := range *set.Policies {
		if (*set.Policies)[j].Policy == policy.UnownedTopics {
			(*set.Policies)[j].Allow = append((*set.Policies)[j].Allow, `^sandbox\.`)
		}
	}
	fixed := writeConfigFile(t, set)
	if code, out, errOut := runCmd(t, t.Context(), "check", "-config", fixed, "-policies"); code != exitOK || !strings.Contains(out, "no policy violation") {
		t.Errorf("check -policies once fixed: exit %d, want 0\n%s\n%s", code, out, errOut)
	}

	// validate: the offline policies only; an error one fails it.
	if code, out, _ := runCmd(t, t.Context(), "validate", "-config", fixed); code != exitOK {
		t.Errorf("validate of the fixed demo config: exit %d\n%s", code, out)
	}
	set.Products[i].Description = ""
	*set.Policies = append(*set.Policies, policy.Policy{Policy: policy.Metadata, Name: "described", Require: []string{policy.RequireDescription}})
	code, out, _ = runCmd(t, t.Context(), "validate", "-config", writeConfigFile(t, set))
	if code != exitFailed || !strings.Contains(out, "error     described  finance.ledger.entries") || strings.Contains(out, "unowned_topics") {
		t.Errorf("validate with an offline error violation: exit %d, want 1, only offline policies\n%s", code, out)
	}
}

// TestPolicyRuntime is issue 20's acceptance of the agent: a topic's
// configuration changed at runtime raises a violation at the next
// evaluation — in /api/v1/policies, /metrics and a ticket to the owner,
// which a tier-1 product's does not make a page — and clears it when put
// back; the owner gets its digest once.
func TestPolicyRuntime(t *testing.T) {
	const topic = "checkout.orders.placed"
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, topic, 1, 3, nil)
	slack := newFakeSlack(t)
	cfg := &meshwatch.Config{
		Products: []meshwatch.Product{{
			Name: topic, Domain: "checkout", Owner: "orders-team", Tier: 1, Description: "Orders.",
			Topics:       []meshwatch.TopicSelector{{Name: topic}},
			ReplayWindow: meshwatch.Duration(7 * 24 * time.Hour),
			SLOs: []meshwatch.SLO{{
				Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.99, MinEvents: 1 << 30,
			}},
		}},
		Owners: map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders", Mention: "<!subteam^S0ORD>"}},
	}
	set := &config.Config{Config: cfg,
		Kafka: config.Kafka{Brokers: kc.Addrs()},
		HTTP:  config.HTTP{Listen: "127.0.0.1:0", APITokenFile: writeTokenFile(t)},
		State: state.Config{Dir: t.TempDir()},
		Alerting: &alert.Config{
			Slack:         &alert.SlackConfig{Token: "xoxb-policy-test", APIURL: slack.srv.URL + "/"},
			GroupWait:     meshwatch.Duration(100 * time.Millisecond),
			GroupInterval: meshwatch.Duration(200 * time.Millisecond),
		},
		Policies: &policy.Config{{Policy: policy.TopicConfig, RetentionCoversReplay: new(true)}},
	}
	if err := validateSettings(set); err != nil {
		t.Fatal(err)
	}
	set.Collector.Tick = meshwatch.Duration(200 * time.Millisecond)
	app, err := NewApp(set, slog.New(slog.DiscardHandler), AppOptions{PolicyEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := runApp(t, app)
	base := "http://" + app.Addr()
	policies := func() policiesView {
		var v policiesView
		if code, body := get(t, base+"/api/v1/policies"); code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("/api/v1/policies = %d %s", code, body)
		}
		return v
	}
	kafkatest.WaitFor(t, 15*time.Second, func() bool { return policies().EvaluatedAt != nil }, "the policies were never evaluated")
	if v := policies(); len(v.Violations) != 0 {
		t.Fatalf("violations with the default retention (7d): %+v", v.Violations)
	}

	// A day of retention: less than the week the product promises.
	adm := kadm.NewClient(kc.Client(t))
	alter := func(value *string) {
		op := kadm.AlterConfig{Name: "retention.ms", Value: value}
		if value == nil {
			op.Op = kadm.DeleteConfig
		}
		rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{op}, topic)
		if err == nil {
			_, err = rs.On(topic, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	alter(new("86400000"))
	kafkatest.WaitFor(t, 15*time.Second, func() bool { return len(policies().Violations) == 1 }, "the shorter retention never raised a violation")
	v := policies().Violations[0]
	if v.Policy != policy.TopicConfig || v.Product != topic || v.Severity != policy.SeverityError || !strings.Contains(v.Why, "replay window of 7d") {
		t.Errorf("violation = %+v", v)
	}
	var ticket slackCall
	kafkatest.WaitFor(t, 15*time.Second, func() bool {
		for _, c := range slack.snapshot() {
			if c.Method == "chat.postMessage" && !c.Thread && c.Channel == "#orders" && strings.Contains(c.Text, "policy topic_config") {
				ticket = c
				return true
			}
		}
		return false
	}, "the owner never got the policy ticket")
	if !strings.HasPrefix(ticket.Text, "TICKET") || strings.Contains(ticket.Text+ticket.Blocks, "<!subteam^S0ORD>") {
		t.Errorf("a tier-1 product's policy violation pages: %s", ticket.Text)
	}
	if code, body := get(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, `meshwatch_policy_violations{policy="topic_config",product="`+topic+`",severity="error"} 1`) {
		t.Errorf("/metrics has no violation series")
	}
	kafkatest.WaitFor(t, 15*time.Second, func() bool {
		for _, c := range slack.snapshot() {
			if c.Channel == "#orders" && strings.HasPrefix(c.Text, "Policy digest for orders-team: 1 violation") {
				return true
			}
		}
		return false
	}, "the owner never got its digest")

	// Put back: the violation clears and the ticket resolves.
	alter(nil)
	kafkatest.WaitFor(t, 15*time.Second, func() bool { return len(policies().Violations) == 0 }, "the violation never cleared")
	kafkatest.WaitFor(t, 15*time.Second, func() bool {
		for _, c := range slack.snapshot() {
			if c.Method == "chat.update" && c.TS == ticket.TS && strings.HasPrefix(c.Text, "RESOLVED") {
				return true
			}
		}
		return false
	}, "the policy ticket never resolved")
	digests := 0
	for _, c := range slack.snapshot() {
		if strings.HasPrefix(c.Text, "Policy digest") {
			digests++
		}
	}
	if digests != 1 {
		t.Errorf("%d digests, want 1 (weekly)", digests)
	}

	stop()
}

// TestAlertShardsFleetWide: a policy ticket, like a cost alert, belongs to
// the fleet-wide duties' shard, whose agent raises it — not to the shard
// of its product, whose owner would overwrite it.
func TestAlertShardsFleetWide(t *testing.T) {
	a := &App{set: &config.Config{Sharding: &shard.Config{Partitions: 12}}}
	of, names := a.alertShards([]int32{3}, true)
	if !slices.Equal(names, []string{"p3", "cost"}) {
		t.Errorf("shards = %v", names)
	}
	for name, want := range map[string]string{alert.NamePolicyViolation: "cost", alert.NameCostBudget: "cost", alert.NameSLOBurnRate: "p" + strconv.Itoa(int(shard.Of("checkout.orders.placed", 12)))} {
		al := &alert.Alert{Labels: map[string]string{alert.LabelAlertname: name}, Product: "checkout.orders.placed"}
		if got := of(al); got != want {
			t.Errorf("%s: shard %q, want %q", name, got, want)
		}
	}
}

// TestPolicyConditions: one ticket per policy, product and topic with
// every reason; warnings are no ticket; an unowned topic's ticket has no
// product.
func TestPolicyConditions(t *testing.T) {
	vs := []policy.Violation{
		{Policy: "topic_config", Product: "p", Topic: "t", Severity: "error", Why: "topic t has replication factor 1; products need at least 3"},
		{Policy: "topic_config", Product: "p", Topic: "t", Severity: "error", Why: "topic t has min.insync.replicas=1; products need at least 2"},
		{Policy: "naming", Product: "p", Severity: "warning", Why: "bad name"},
		{Policy: "unowned_topics", Topic: "sandbox.scratch", Severity: "error", Why: "topic sandbox.scratch belongs to no product"},
	}
	got := policyConditions(vs)
	if len(got) != 2 {
		t.Fatalf("conditions = %+v, want 2", got)
	}
	if d := got[0].Description; !strings.Contains(d, "replication factor 1; products need at least 3; topic t has min.insync.replicas=1") || strings.Count(d, policyHint) != 1 {
		t.Errorf("joined description = %q", d)
	}
	if c := got[1]; c.Product != "" || c.Topic != "sandbox.scratch" || c.Severity != meshwatch.SeverityTicket || c.Summary != "topic sandbox.scratch breaks the unowned_topics policy" {
		t.Errorf("unowned topic's ticket = %+v", c)
	}
}

// TestPolicyRunnerUnknown: before the first evaluation, after a failed
// read and after a partial one, the runner holds the open tickets (an
// unknown condition); a complete read does not.
func TestPolicyRunnerUnknown(t *testing.T) {
	set, err := policy.Compile(&policy.Config{{Policy: policy.UnownedTopics}})
	if err != nil {
		t.Fatal(err)
	}
	mesh := demo.Catalog()
	mesh.SetDefaults()
	cluster := &policy.Cluster{Online: true, Topics: map[string]policy.Topic{"stray": {Name: "stray", Partitions: 1, ReplicationFactor: 1}}}
	var next struct {
		c   *policy.Cluster
		err error
	}
	r := &policyRunner{set: set, mesh: mesh, now: time.Now, log: slog.New(slog.DiscardHandler),
		read: func(context.Context) (*policy.Cluster, error) { return next.c, next.err }}
	held := func() bool {
		return slices.ContainsFunc(r.Conditions(), func(c meshwatch.Condition) bool { return c.Unknown() })
	}
	if !held() {
		t.Error("before the first evaluation: tickets not held")
	}
	next.c = cluster
	r.evaluate(t.Context())
	if held() || len(r.Conditions()) != 1 {
		t.Errorf("after a complete read: %+v, want the stray topic's ticket alone", r.Conditions())
	}
	next.c, next.err = nil, errors.New("brokers unreachable")
	r.evaluate(t.Context())
	if !held() || len(r.Violations()) != 1 {
		t.Errorf("after a failed read: held %v, violations %+v; want the last ones, held", held(), r.Violations())
	}
	next.c, next.err = cluster, errors.New("registry: 503")
	r.evaluate(t.Context())
	if !held() {
		t.Error("after a partial read: tickets not held")
	}
}

// TestRegistrySubjects: the subjects the policies read are those of the
// cluster's topics that a product selects, by name or pattern: values of
// products read through the registry, keys of products holding PII.
func TestRegistrySubjects(t *testing.T) {
	cfg := &meshwatch.Config{
		Products: []meshwatch.Product{
			{Name: "a", Format: meshwatch.FormatAvro, Topics: []meshwatch.TopicSelector{{Name: "a.orders"}, {Name: "a.missing"}}},
			{Name: "b", Format: meshwatch.FormatJSON, PII: []string{"email"}, Topics: []meshwatch.TopicSelector{{Pattern: `^b\.`}}},
			{Name: "c", Format: meshwatch.FormatJSON, Topics: []meshwatch.TopicSelector{{Name: "c.clicks"}}},
		},
	}
	_ = cfg.Validate() // compiles the patterns; the rest of this hand-made model is not the test's
	got := registrySubjects(cfg, []string{"a.orders", "b.eu", "b.us", "c.clicks", "other"})
	want := []string{"a.orders-value", "b.eu-key", "b.us-key"}
	if !slices.Equal(got, want) {
		t.Errorf("subjects = %q, want %q", got, want)
	}
}
