package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch"
)

func custom(expr, message string) Policy {
	return Policy{Name: "custom-1", Expr: expr, Message: message}
}

func TestCustom(t *testing.T) {
	runCases(t, []builtinCase{
		{name: "true", policy: custom("product.tier != 1 || product.description != ''", "")},
		{name: "false, default message", policy: custom("product.tier != 1 || product.description != ''", ""),
			product: func(p *meshwatch.Product) { p.Description = "" },
			want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error",
				Why: "product checkout.orders.placed does not satisfy policy custom-1: product.tier != 1 || product.description != ''"}}},
		{name: "message template", policy: Policy{Name: "runbook", Severity: "warning", Expr: "product.tier != 1 || product.description != ''",
			Message: "tier-{{product.tier}} product {{ product.name }} of {{product.owner}} ({{product.owner_channel}}) has no description; SLOs: {{product.slos}}; PII: {{product.pii}}; subject {{subject.name}} is {{subject.compatibility}}, topics {{topics}}, public: {{acls.public_read}}"},
			product: func(p *meshwatch.Product) { p.Description = "" },
			want: []Violation{{Policy: "runbook", Product: topic, Severity: "warning",
				Why: "tier-1 product checkout.orders.placed of orders-team (#orders-data) has no description; SLOs: freshness; PII: customer.email; subject checkout.orders.placed-value is BACKWARD, topics checkout.orders.placed, public: false"}}},
		{name: "message offline", policy: custom("product.version.startsWith('2.')", "{{product.name}} is at {{product.version}}; subject {{subject.name}}, topics {{topics}}"), offline: true,
			want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error",
				Why: "checkout.orders.placed is at 1.2.0; subject none, topics none"}}},
		{name: "lists and SLOs", policy: custom("product.slos.exists(s, s.sli == 'latency') && 'customer.email' in product.pii", "no latency SLO"),
			want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error", Why: "no latency SLO"}}},
		{name: "topics", policy: custom("topics.all(t, t.replication_factor >= 3 && int(t.configs['min.insync.replicas']) >= 2)", "under-replicated"), cluster: func(c *Cluster) {
			c.Topics[topic].Configs["min.insync.replicas"] = "1"
		}, want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error", Why: "under-replicated"}}},
		{name: "topics need the cluster", policy: custom("size(topics) > 5", ""), offline: true},
		{name: "subject", policy: custom("subject != null && subject.exists && subject.compatibility == 'FULL' && 'placed_at' in subject.fields", "{{subject.name}} is {{subject.compatibility}}"),
			want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error", Why: "checkout.orders.placed-value is BACKWARD"}}},
		{name: "no subject for json", policy: custom("subject == null", ""), product: func(p *meshwatch.Product) { p.Format = meshwatch.FormatJSON }},
		{name: "a subject the registry lacks", policy: custom("subject.exists", "{{subject.name}} exists: {{subject.exists}}"), cluster: func(c *Cluster) {
			c.Subjects = map[string]Subject{topic + "-value": {Name: topic + "-value"}}
		}, want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error", Why: "checkout.orders.placed-value exists: false"}}},
		// Not read (the registry did not answer): subject is null, which a
		// policy can test; never "exists: false".
		{name: "a subject not read", policy: custom("subject == null || subject.exists", "{{subject.name}} exists: {{subject.exists}}"), cluster: func(c *Cluster) { c.Subjects = map[string]Subject{} }},
		{name: "acls", policy: custom("acls.known && !acls.public_read", "public: {{acls.public_read}}, known: {{acls.known}}"), cluster: func(c *Cluster) {
			c.ACLs = append(c.ACLs, ACL{Principal: "User:*", ResourceName: topic + ".dlq", PatternType: "LITERAL", Operation: "READ", Permission: "ALLOW"})
		}, want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error", Why: "public: true, known: true"}}},
		{name: "acls unknown", policy: custom("acls.known", "unknown"), cluster: func(c *Cluster) { c.ACLs = nil },
			want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error", Why: "unknown"}}},
		{name: "evaluation error", policy: custom("topics.all(t, t.configs['segment.ms'] == '1')", ""),
			want: []Violation{{Policy: "custom-1", Product: topic, Severity: "error",
				Why: "policy custom-1 could not be evaluated for product checkout.orders.placed: no such key: segment.ms"}}},
		{name: "scope", policy: Policy{Name: "x", Expr: "false", Message: "m", Scope: Scope{Domains: []string{"payments"}}}},
	})
}

// TestScope checks that domains and tiers select products, and that both
// must hold.
func TestScope(t *testing.T) {
	products := []meshwatch.Product{baseProduct(), baseProduct(), baseProduct(), baseProduct()}
	products[0].Name, products[0].Domain, products[0].Tier = "checkout.a.b", "checkout", 1
	products[1].Name, products[1].Domain, products[1].Tier = "checkout.c.d", "checkout", 2
	products[2].Name, products[2].Domain, products[2].Tier = "payments.e.f", "payments", 1
	products[3].Name, products[3].Domain, products[3].Tier = "search.g.h", "search", 3
	mesh := model(products...)
	for _, tt := range []struct {
		name  string
		scope Scope
		want  []string
	}{
		{"all", Scope{}, []string{"checkout.a.b", "checkout.c.d", "payments.e.f", "search.g.h"}},
		{"domains", Scope{Domains: []string{"checkout", "search"}}, []string{"checkout.a.b", "checkout.c.d", "search.g.h"}},
		{"tiers", Scope{Tiers: []int{1}}, []string{"checkout.a.b", "payments.e.f"}},
		{"domains and tiers", Scope{Domains: []string{"checkout"}, Tiers: []int{1, 3}}, []string{"checkout.a.b"}},
		{"none", Scope{Domains: []string{"search"}, Tiers: []int{1}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, v := range evaluate(t, Policy{Name: "all", Expr: "false", Scope: tt.scope}, mesh, nil) {
				got = append(got, v.Product)
			}
			if !equal(got, tt.want) {
				t.Errorf("products = %q, want %q", got, tt.want)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEvaluateSortedAndPure evaluates several policies on several
// products twice: the violations are sorted by policy, product, topic and
// why, the same both times, and the inputs unchanged.
func TestEvaluateSortedAndPure(t *testing.T) {
	a, b := baseProduct(), baseProduct()
	a.Name, a.Description = "checkout.z.z", ""
	b.Name, b.Version = "checkout.a.a", ""
	mesh := model(a, b)
	s, err := Compile(&Config{
		{Policy: Metadata},
		{Name: "described", Expr: "product.description != ''", Message: "{{product.name}}"},
		{Policy: UnownedTopics},
		{Policy: TopicConfig, MinReplicationFactor: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := baseCluster()
	c.Topics["zzz"] = Topic{Name: "zzz"}
	first := s.Evaluate(mesh, c)
	want := []Violation{
		{Policy: "described", Product: "checkout.z.z", Severity: "error", Why: "checkout.z.z"},
		{Policy: "metadata", Product: "checkout.a.a", Severity: "error", Why: "product checkout.a.a has no version; required: a contract version (version:, or its ODCS contract's version)"},
		{Policy: "metadata", Product: "checkout.z.z", Severity: "error", Why: "product checkout.z.z has no description; required: a description"},
		{Policy: "topic_config", Product: "checkout.a.a", Topic: topic, Severity: "error", Why: "topic checkout.orders.placed has replication factor 3; products need at least 5"},
		{Policy: "topic_config", Product: "checkout.z.z", Topic: topic, Severity: "error", Why: "topic checkout.orders.placed has replication factor 3; products need at least 5"},
		{Policy: "unowned_topics", Topic: "zzz", Severity: "error", Why: "topic zzz belongs to no product (allow-list: none)"},
	}
	if len(first) != len(want) {
		t.Fatalf("got %d violations, want %d: %+v", len(first), len(want), first)
	}
	for i := range want {
		if first[i] != want[i] {
			t.Errorf("violation %d = %+v, want %+v", i, first[i], want[i])
		}
	}
	again := s.Evaluate(mesh, c)
	for i := range first {
		if first[i] != again[i] {
			t.Errorf("second evaluation differs at %d: %+v, then %+v", i, first[i], again[i])
		}
	}
	if got := c.Topics[topic].Configs["retention.ms"]; got != "604800000" || len(c.Topics) != 3 || mesh.Products[0].Name != "checkout.z.z" {
		t.Errorf("Evaluate changed its inputs")
	}
}

func TestOfflineAndIDs(t *testing.T) {
	s, err := Compile(&Config{
		{Policy: Naming}, {Policy: TopicConfig, Name: "tc-1", MinReplicationFactor: 3}, {Policy: TopicConfig, Name: "tc-2", MinReplicationFactor: 2},
		{Policy: PII}, {Name: "p", Expr: "product.tier > 0"}, {Name: "t", Expr: "size(topics) > 0"},
		{Name: "s", Expr: "subject == null"}, {Name: "a", Expr: "acls.known"}, {Policy: UnownedTopics}, {Policy: Metadata}, {Policy: Schema},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.IDs(), []string{"naming", "tc-1", "tc-2", "pii", "p", "t", "s", "a", "unowned_topics", "metadata", "schema"}; !equal(got, want) {
		t.Errorf("IDs = %q, want %q", got, want)
	}
	if got, want := s.Offline().IDs(), []string{"naming", "pii", "p", "metadata"}; !equal(got, want) {
		t.Errorf("Offline().IDs = %q, want %q", got, want)
	}
	empty, err := Compile(nil)
	if err != nil || len(empty.Evaluate(model(baseProduct()), baseCluster())) != 0 {
		t.Errorf("Compile(nil) = %v, %v; want an empty Set", empty, err)
	}
	if got := Builtins(); !equal(got, []string{"naming", "metadata", "topic_config", "schema", "pii", "unowned_topics"}) {
		t.Errorf("Builtins = %q", got)
	}
}

// TestEvaluateConcurrently evaluates one Set from two goroutines, as a
// scrape and an API request may: under -race, it shows that evaluations
// share nothing they write.
func TestEvaluateConcurrently(t *testing.T) {
	p := baseProduct()
	p.Topics = append(p.Topics, meshwatch.TopicSelector{Pattern: `^checkout\.orders\.`})
	p.Description = ""
	mesh := model(p)
	s, err := Compile(&Config{{Policy: TopicConfig, MinReplicationFactor: 4}, {Policy: UnownedTopics}, {Name: "c", Expr: "size(topics) > 5 && product.description != ''", Message: "{{topics}}"}})
	if err != nil {
		t.Fatal(err)
	}
	c := baseCluster()
	want := s.Evaluate(mesh, c)
	done := make(chan []Violation)
	for range 2 {
		go func() { done <- s.Evaluate(mesh, c) }()
	}
	for range 2 {
		got := <-done
		if len(got) != len(want) || len(want) != 3 {
			t.Fatalf("got %d violations, want %d (3)", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("violation %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	}
}

// TestCustomCostLimit checks that a policy of nested comprehensions stops
// at CostLimit, as a violation that says so, and that a single one runs
// without it.
func TestCustomCostLimit(t *testing.T) {
	c := baseCluster()
	s := c.Subjects[topic+"-value"]
	s.Fields = nil
	for i := range 1000 {
		s.Fields = append(s.Fields, fmt.Sprintf("f%d", i))
	}
	c.Subjects[topic+"-value"] = s
	mesh := model(baseProduct())
	got := evaluate(t, Policy{Name: "quadratic", Expr: "subject.fields.all(a, subject.fields.exists(b, a == b))"}, mesh, c)
	if len(got) != 1 || !strings.Contains(got[0].Why, "policy quadratic could not be evaluated for product checkout.orders.placed: operation cancelled: actual cost limit exceeded") {
		t.Errorf("violations = %+v, want one saying the cost limit was exceeded", got)
	}
	if got := evaluate(t, Policy{Name: "linear", Expr: "subject.fields.all(a, a.startsWith('f'))"}, mesh, c); len(got) != 0 {
		t.Errorf("violations = %+v, want none", got)
	}
}
