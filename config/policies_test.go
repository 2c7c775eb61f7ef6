package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch/policy"
)

// TestLoadPolicies loads policies:, compiles them and evaluates them
// offline on the loaded model.
func TestLoadPolicies(t *testing.T) {
	const doc = `cluster: {brokers: ["kafka-1:9092"]}
products:
  - name: checkout.orders.placed
    domain: checkout
    owner: orders-team
    tier: 1
    topics: [checkout.orders.placed]
  - name: checkout.Payments.captured
    domain: checkout
    owner: orders-team
    description: Payments.
    topics: [checkout.payments.captured]
owners:
  orders-team: {slack_channel: "#orders-data"}
policies:
  - policy: naming
    severity: warning
  - policy: topic_config
    min_replication_factor: 3
  - name: tier1-described
    expr: "product.tier != 1 || product.description != ''"
    message: "tier-{{product.tier}} product {{product.name}} has no description"
`
	cfg, _, err := Load("t.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Policies == nil || len(*cfg.Policies) != 3 {
		t.Fatalf("Policies = %+v, want 3", cfg.Policies)
	}
	if pos := cfg.Position("policies[2].expr").String(); pos != "t.yaml:21:11" {
		t.Errorf("position of policies[2].expr = %s, want t.yaml:21:11", pos)
	}
	set, err := policy.Compile(cfg.Policies)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	got := set.Evaluate(cfg.Config, nil) // offline: topic_config does not run
	want := []policy.Violation{
		{Policy: "naming", Product: "checkout.Payments.captured", Severity: "warning",
			Why: `product checkout.Payments.captured does not follow <domain>.<entity>.<event>: segment "Payments" must be lowercase letters, digits, _ or -`},
		{Policy: "tier1-described", Product: "checkout.orders.placed", Severity: "error", Why: "tier-1 product checkout.orders.placed has no description"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

// TestLoadPolicyTypeError checks that a custom policy's type error is
// placed at its expression in the file, and says where in it.
func TestLoadPolicyTypeError(t *testing.T) {
	const doc = `cluster: {brokers: ["kafka-1:9092"]}
products:
  - {name: checkout.orders.placed, domain: checkout, owner: orders-team, topics: [checkout.orders.placed]}
owners:
  orders-team: {slack_channel: "#orders-data"}
policies:
  - name: tier1-needs-runbook
    expr: product.tier != 1 || product.teir != ''
`
	_, ps, err := Load("t.yaml", []byte(doc), nil)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	want := "t.yaml:8:11: policies[0].expr: policy tier1-needs-runbook: invalid CEL expression: 1:29: undefined field 'teir'"
	if len(ps) != 1 || ps[0].String() != want {
		t.Errorf("problems:\n%v\nwant:\n%s", ps, want)
	}
}
