package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
)

// benchMesh returns n products over ten domains, one topic of two
// partitions each, every built-in policy and two custom ones, and the
// cluster: about one product in ten breaks something.
func benchMesh(b *testing.B, n int) (*Set, *meshwatch.Config, *Cluster) {
	b.Helper()
	mesh := &meshwatch.Config{Owners: map[string]meshwatch.Owner{}}
	c := &Cluster{Online: true, Topics: make(map[string]Topic, n+n/100), Subjects: make(map[string]Subject, n), ACLs: []ACL{
		{Principal: "User:*", Host: "*", ResourceName: "d3.", PatternType: "PREFIXED", Operation: "READ", Permission: "ALLOW"},
		{Principal: "User:etl", Host: "*", ResourceName: "*", PatternType: "LITERAL", Operation: "READ", Permission: "ALLOW"},
	}}
	for d := range 10 {
		mesh.Owners[fmt.Sprintf("team-%d", d)] = meshwatch.Owner{SlackChannel: fmt.Sprintf("#team-%d", d)}
	}
	for i := range n {
		d := i % 10
		name := fmt.Sprintf("d%d.entity%d.happened", d, i)
		p := meshwatch.Product{
			Name: name, Domain: fmt.Sprintf("d%d", d), Owner: fmt.Sprintf("team-%d", d), Tier: 1 + i%3,
			Description: "A product.", Topics: []meshwatch.TopicSelector{{Name: name}},
			Format:    meshwatch.FormatAvro,
			SLOs:      []meshwatch.SLO{{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99}},
			Quality:   meshwatch.Quality{Required: []string{"id", "customer.id"}},
			EventTime: meshwatch.EventTime{Field: "at"},
			Version:   "1.0.0", Kind: meshwatch.KindEvents, ReplayWindow: meshwatch.Duration(24 * time.Hour),
			DLQTopics: []string{name + ".dlq"},
		}
		if i%4 == 0 {
			p.PII = []string{"customer.email"}
		}
		if i%10 == 9 {
			p.Description, p.Version = "", "" // metadata and the custom policy
		}
		mesh.Products = append(mesh.Products, p)
		rf := 3
		if i%50 == 0 {
			rf = 1
		}
		c.Topics[name] = Topic{Name: name, Partitions: 2, ReplicationFactor: rf, Configs: map[string]string{
			"min.insync.replicas": "2", "retention.ms": "604800000", "cleanup.policy": "delete",
		}}
		c.Subjects[name+"-value"] = Subject{Name: name + "-value", Exists: true, Compatibility: "BACKWARD", Version: 1, Type: "AVRO",
			Fields: []string{"id", "customer.id", "customer.email", "at"}}
		if i%100 == 0 {
			c.Topics["orphan"+name] = Topic{Name: "orphan" + name, Partitions: 1, ReplicationFactor: 3}
		}
	}
	mesh.SetDefaults()
	if errs := mesh.Validate().Errors(); len(errs) > 0 {
		b.Fatal(errs)
	}
	s, err := Compile(&Config{
		{Policy: Naming},
		{Policy: Metadata},
		{Policy: TopicConfig, Scope: Scope{Tiers: []int{1}}, MinReplicationFactor: 3, MinInsyncReplicas: 2, Partitions: &Bounds{Min: 1, Max: 100}},
		{Policy: Schema, Compatibility: "BACKWARD"},
		{Policy: PII},
		{Policy: UnownedTopics, Allow: []string{"^_confluent"}},
		{Name: "tier1-needs-description", Expr: "product.tier != 1 || product.description != ''", Message: "tier-1 product {{product.name}} has no description"},
		{Name: "replicated", Severity: "warning", Expr: "topics.all(t, t.replication_factor >= 2)", Message: "{{product.name}} has a topic of one replica"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, mesh, c
}

// BenchmarkEvaluate10k evaluates six built-in policies and two custom ones
// on 10,000 products online; the target is at most 100 ms an evaluation.
func BenchmarkEvaluate10k(b *testing.B) {
	s, mesh, c := benchMesh(b, 10_000)
	vs := s.Evaluate(mesh, c)
	if len(vs) == 0 {
		b.Fatal("no violation: the benchmark checks nothing")
	}
	b.ResetTimer()
	for b.Loop() {
		s.Evaluate(mesh, c)
	}
	b.ReportMetric(float64(len(vs)), "violations")
}
