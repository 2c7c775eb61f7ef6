package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meshwatch/meshwatch"
)

const topic = "checkout.orders.placed"

// baseProduct is a tier-1 Avro product that every built-in policy passes
// on baseCluster.
func baseProduct() meshwatch.Product {
	return meshwatch.Product{
		Name: topic, Domain: "checkout", Owner: "orders-team", Tier: 1,
		Description:  "Orders accepted by the checkout service.",
		Topics:       []meshwatch.TopicSelector{{Name: topic}},
		Format:       meshwatch.FormatAvro,
		SLOs:         []meshwatch.SLO{{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99}},
		Quality:      meshwatch.Quality{Required: []string{"order_id", "customer"}},
		EventTime:    meshwatch.EventTime{Field: "placed_at"},
		Version:      "1.2.0",
		Kind:         meshwatch.KindEvents,
		ReplayWindow: meshwatch.Duration(7 * 24 * time.Hour),
		PII:          []string{"customer.email"},
		DLQTopics:    []string{topic + ".dlq"},
	}
}

// baseCluster is the cluster of baseProduct, as Gather would read it.
func baseCluster() *Cluster {
	return &Cluster{
		Online: true,
		Topics: map[string]Topic{
			topic: {Name: topic, Partitions: 6, ReplicationFactor: 3, Configs: map[string]string{
				"min.insync.replicas": "2", "retention.ms": "604800000", "cleanup.policy": "delete",
			}},
			topic + ".dlq": {Name: topic + ".dlq", Partitions: 1, ReplicationFactor: 3, Configs: map[string]string{
				"min.insync.replicas": "2", "retention.ms": "604800000", "cleanup.policy": "delete",
			}},
		},
		Subjects: map[string]Subject{
			topic + "-value": {Name: topic + "-value", Exists: true, Compatibility: "BACKWARD", Version: 3, Type: "AVRO",
				Fields: []string{"order_id", "customer.id", "customer.email", "placed_at"}},
		},
		ACLs: []ACL{{Principal: "User:fraud", Host: "*", ResourceName: topic, PatternType: "LITERAL", Operation: "READ", Permission: "ALLOW"}},
	}
}

// model returns a defaulted and validated model of products, whose topic
// patterns are compiled (its problems are not the policies' business).
func model(products ...meshwatch.Product) *meshwatch.Config {
	c := &meshwatch.Config{
		Products: products,
		Owners: map[string]meshwatch.Owner{
			"orders-team":   {SlackChannel: "#orders-data"},
			"payments-team": {},
		},
	}
	c.SetDefaults()
	// Validate compiles the topic patterns; some cases make the mesh
	// invalid on purpose (an owner nobody declared), which the policies
	// must still judge.
	_ = c.Validate()
	return c
}

// evaluate compiles pol alone and evaluates it.
func evaluate(t *testing.T, pol Policy, mesh *meshwatch.Config, c *Cluster) []Violation {
	t.Helper()
	s, err := Compile(&Config{pol})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s.Evaluate(mesh, c)
}

// builtinCase is a case of a built-in policy's table: the base product
// and cluster, changed, and the violations wanted.
type builtinCase struct {
	name    string
	policy  Policy
	product func(*meshwatch.Product)
	cluster func(*Cluster) // nil cluster: offline
	offline bool
	want    []Violation
}

func runCases(t *testing.T, tests []builtinCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := baseProduct()
			if tt.product != nil {
				tt.product(&p)
			}
			c := baseCluster()
			if tt.cluster != nil {
				tt.cluster(c)
			}
			if tt.offline {
				c = nil
			}
			got := evaluate(t, tt.policy, model(p), c)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// v is a violation of the base product at severity error.
func v(policy, topic, why string) Violation {
	return Violation{Policy: policy, Product: "checkout.orders.placed", Topic: topic, Severity: SeverityError, Why: why}
}
