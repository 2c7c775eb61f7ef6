package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
)

// TestValidate checks the problems of policies: each case's problems, as
// "path: msg" lines.
func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config Config
		want   []string
	}{
		{"valid", Config{
			{Policy: Naming, Severity: "warning", Scope: Scope{Domains: []string{"checkout"}, Tiers: []int{1}}, Pattern: "^x", Topics: ptr(true)},
			{Policy: Metadata, Require: []string{"owner_channel", "tier"}},
			{Policy: TopicConfig, MinReplicationFactor: 3, MinInsyncReplicas: 2, Partitions: &Bounds{Max: 10}},
			{Policy: Schema, Compatibility: "full_transitive"},
			{Policy: PII},
			{Policy: UnownedTopics, Allow: []string{"^_"}},
			{Name: "tier1-needs-runbook", Expr: "product.tier != 1 || product.description != ''", Message: "{{product.name}}"},
		}, nil},
		{"neither built-in nor custom", Config{{Severity: "warning"}}, []string{
			"policies[0]: must set policy: (a built-in: naming, metadata, topic_config, schema, pii, unowned_topics) or name: and expr: (a custom CEL policy)",
		}},
		{"unknown built-in", Config{{Policy: "nameing"}}, []string{
			`policies[0].policy: unknown built-in policy "nameing" (did you mean "naming"?); built-ins: naming, metadata, topic_config, schema, pii, unowned_topics (a custom policy sets name: and expr: instead)`,
		}},
		{"bad regexes", Config{{Policy: Naming, Pattern: "(", TopicPattern: "(?!x)"}, {Policy: UnownedTopics, Allow: []string{"ok", "[a-"}}}, []string{
			`policies[0].pattern: must be a regular expression over product names (RE2 syntax), got "(": missing closing )`,
			`policies[0].topic_pattern: must be a regular expression over topic names (RE2 syntax), got "(?!x)": RE2 has no lookahead or lookbehind such as "(?!"`,
			`policies[1].allow[1]: must be a regular expression over topic names (RE2 syntax), got "[a-": missing closing ]`,
		}},
		{"parameters of another policy", Config{{Policy: Metadata, Pattern: "x", Expr: "true"}, {Name: "c", Expr: "true", Allow: []string{"x"}}, {Policy: PII, Fields: ptr(true)}}, []string{
			"policies[0].pattern: is not a parameter of policy metadata; it takes require",
			"policies[0].expr: is only for custom policies (name: and expr:, without policy:); policy metadata takes require",
			"policies[1].allow: is not a parameter of a custom policy; it takes expr, message",
			"policies[2].fields: is not a parameter of policy pii; it takes no parameter",
		}},
		{"severity, scope, name", Config{{Policy: Naming, Name: "Naming!", Severity: "warnig", Scope: Scope{Domains: []string{""}, Tiers: []int{0, 4}}}}, []string{
			`policies[0].name: must be lowercase letters, digits, _ and - starting with a letter, at most 63 (it is a metric label), got "Naming!"`,
			`policies[0].severity: must be error or warning, got "warnig" (did you mean "warning"?)`,
			"policies[0].scope.domains[0]: is required: a product domain, e.g. checkout",
			"policies[0].scope.tiers[0]: must be 1, 2 or 3, got 0",
			"policies[0].scope.tiers[1]: must be 1, 2 or 3, got 4",
		}},
		{"duplicate IDs", Config{{Policy: TopicConfig}, {Policy: TopicConfig}, {Policy: TopicConfig, Name: "tc"}, {Name: "tc", Expr: "true"}}, []string{
			`policies[1].policy: duplicate policy ID "topic_config"; policies[0] has it already (give one of them a name:, the ID of its violations)`,
			`policies[3].name: duplicate policy ID "tc"; policies[2] has it already (give one of them a name:, the ID of its violations)`,
		}},
		{"metadata", Config{{Policy: Metadata, Require: []string{"tier", "slos", "tier"}}}, []string{
			`policies[0].require[1]: must be one of owner_channel, tier, description, slo, contract_version; got "slos" (did you mean "slo"?)`,
			`policies[0].require[2]: duplicate requirement "tier"`,
		}},
		{"topic_config", Config{
			{Policy: TopicConfig, MinReplicationFactor: -1, MinInsyncReplicas: -2, Partitions: &Bounds{Min: 10, Max: 5}},
			{Policy: TopicConfig, Name: "b", Partitions: &Bounds{}},
			{Policy: TopicConfig, Name: "c", RetentionCoversReplay: ptr(false), CleanupPolicyMatchesKind: ptr(false)},
		}, []string{
			"policies[0].min_replication_factor: must be at least 1 (0 does not check), got -1",
			"policies[0].min_insync_replicas: must be at least 1 (0 does not check), got -2",
			"policies[0].partitions.max: must be at least min (10), got 5",
			"policies[1].partitions: must set min, max or both, e.g. {min: 1, max: 100}",
			"policies[2]: checks nothing: set min_replication_factor, min_insync_replicas, partitions, or leave retention_covers_replay or cleanup_policy_matches_kind at true",
		}},
		{"schema", Config{{Policy: Schema, Compatibility: "BACKWARDS"}}, []string{
			`policies[0].compatibility: must be one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE; got "BACKWARDS" (did you mean "BACKWARD"?)`,
		}},
		{"unowned_topics", Config{{Policy: UnownedTopics, Scope: Scope{Tiers: []int{1}}, Allow: []string{""}}}, []string{
			"policies[0].scope: does not apply to unowned_topics: an unowned topic has no product, so no domain or tier",
			`policies[0].allow[0]: is required: a regular expression over topic names, e.g. "^sandbox\\."`,
		}},
		{"custom: required keys", Config{{Name: "x"}, {Expr: "true"}, {Name: "naming", Expr: "true"}}, []string{
			`policies[0].expr: is required for a custom policy: a CEL condition that holds for a compliant product, e.g. "product.tier != 1 || product.description != ''"`,
			"policies[1].name: is required for a custom policy: its ID in violations and metrics, e.g. tier1-needs-runbook",
			`policies[2].name: "naming" is a built-in policy; write policy: naming to use it, or name the custom policy otherwise`,
		}},
		{"custom: CEL errors", Config{
			{Name: "typo", Expr: "product.tier == 1 &&\n  product.teir == 1"},
			{Name: "syntax", Expr: "product.tier >"},
			{Name: "not-bool", Expr: "product.tier"},
			{Name: "unknown", Expr: "message.x == 1"},
			{Name: "types", Expr: "product.tier == 'one'"},
		}, []string{
			"policies[0].expr: policy typo: invalid CEL expression: 2:10: undefined field 'teir'",
			"policies[1].expr: policy syntax: invalid CEL expression: 1:15: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
			"policies[2].expr: policy not-bool: CEL expression must be a condition (bool) that holds for a compliant product, but it is of type int",
			"policies[3].expr: policy unknown: invalid CEL expression: 1:1: undeclared reference to 'message'",
			"policies[4].expr: policy types: invalid CEL expression: 1:14: found no matching overload for '_==_' applied to '(int, string)'",
		}},
		{"custom: messages", Config{
			{Name: "a", Expr: "true", Message: "{{product.nmae}} is bad"},
			{Name: "b", Expr: "true", Message: "{{product.name is bad"},
			{Name: "c", Expr: "true", Message: "{{message}}"},
		}, []string{
			`policies[0].message: unknown placeholder {{product.nmae}} (did you mean "product.name"?); known: topics, product.name, product.domain, product.owner, product.owner_channel, product.tier, product.description, product.version, product.kind, product.format, product.replay_window_seconds, product.pii, product.slos, product.topics, product.topic_patterns, product.dlq_topics, product.deprecated, product.contract, subject.name, subject.exists, subject.compatibility, subject.version, subject.type, subject.fields, acls.public_read, acls.known`,
			`policies[1].message: has an unclosed {{ at "{{product.name is bad": write {{product.name}}`,
			`policies[2].message: unknown placeholder {{message}}; known: topics, product.name, product.domain, product.owner, product.owner_channel, product.tier, product.description, product.version, product.kind, product.format, product.replay_window_seconds, product.pii, product.slos, product.topics, product.topic_patterns, product.dlq_topics, product.deprecated, product.contract, subject.name, subject.exists, subject.compatibility, subject.version, subject.type, subject.fields, acls.public_read, acls.known`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range tt.config.Validate(nil) {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			s, err := Compile(&tt.config)
			if (err == nil) != (len(tt.want) == 0) || (err == nil) != (s != nil) {
				t.Errorf("Compile = %v, %v; want an error iff there are problems", s, err)
			}
			var ps meshwatch.Problems
			if err != nil && (!errors.As(err, &ps) || len(ps) != len(tt.want)) {
				t.Errorf("Compile error is %T with %d problems, want the %d Problems", err, len(ps), len(tt.want))
			}
		})
	}
}

// TestValidateScopeDomains checks that a scope's domain that no product has
// is a warning, which does not stop Compile.
func TestValidateScopeDomains(t *testing.T) {
	c := Config{{Policy: Naming, Scope: Scope{Domains: []string{"checkout", "chekout", "search"}}}}
	var got []string
	for _, p := range c.Validate(model(baseProduct())) {
		got = append(got, p.String())
	}
	want := []string{
		`policies[0].scope.domains[1]: warning: no product has domain "chekout" (did you mean "checkout"?), so the policy applies to none there`,
		`policies[0].scope.domains[2]: warning: no product has domain "search", so the policy applies to none there`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if _, err := Compile(&c); err != nil {
		t.Errorf("Compile: %v", err)
	}
	if ps := (*Config)(nil).Validate(nil); ps != nil {
		t.Errorf("nil Config: %v", ps)
	}
	if strings.Contains(want[0], "%") {
		t.Fatal("unformatted")
	}
}
