package policy

import (
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
)

func TestNaming(t *testing.T) {
	pol := Policy{Policy: Naming}
	runCases(t, []builtinCase{
		{name: "passes", policy: pol},
		{name: "a topic may add a version", policy: pol, product: func(p *meshwatch.Product) {
			p.Topics = []meshwatch.TopicSelector{{Name: topic + ".v2"}}
		}},
		{name: "patterns and DLQ topics are not checked", policy: pol, product: func(p *meshwatch.Product) {
			p.Topics = append(p.Topics, meshwatch.TopicSelector{Pattern: "^Checkout\\..*$"})
			p.DLQTopics = []string{"DLQ"}
		}},
		{name: "uppercase segment", policy: pol, product: func(p *meshwatch.Product) { p.Name = "checkout.Orders.placed" },
			want: []Violation{{Policy: "naming", Product: "checkout.Orders.placed", Severity: "error",
				Why: `product checkout.Orders.placed does not follow <domain>.<entity>.<event>: segment "Orders" must be lowercase letters, digits, _ or -`}}},
		{name: "first segment is not the domain", policy: pol, product: func(p *meshwatch.Product) { p.Name = "payments.orders.placed" },
			want: []Violation{{Policy: "naming", Product: "payments.orders.placed", Severity: "error",
				Why: `product payments.orders.placed does not follow <domain>.<entity>.<event>: the first segment must be the domain "checkout", got "payments"`}}},
		{name: "four segments", policy: pol, product: func(p *meshwatch.Product) { p.Name = "checkout.orders.placed.v2" },
			want: []Violation{{Policy: "naming", Product: "checkout.orders.placed.v2", Severity: "error",
				Why: `product checkout.orders.placed.v2 does not follow <domain>.<entity>.<event>: want 3 dot-separated segments, got 4`}}},
		{name: "topic of two segments", policy: pol, product: func(p *meshwatch.Product) {
			p.Topics = []meshwatch.TopicSelector{{Name: "checkout.orders"}}
		}, want: []Violation{v("naming", "checkout.orders", `topic checkout.orders does not follow <domain>.<entity>.<event>[.<suffix>]: want at least 3 dot-separated segments, got 2`)}},
		{name: "topic of another domain", policy: pol, product: func(p *meshwatch.Product) {
			p.Topics = []meshwatch.TopicSelector{{Name: "orders.placed.v1"}}
		}, want: []Violation{v("naming", "orders.placed.v1", `topic orders.placed.v1 does not follow <domain>.<entity>.<event>[.<suffix>]: the first segment must be the domain "checkout", got "orders"`)}},
		{name: "topics: false", policy: Policy{Policy: Naming, Topics: ptr(false)}, product: func(p *meshwatch.Product) {
			p.Topics = []meshwatch.TopicSelector{{Name: "checkout.orders"}}
		}},
		{name: "pattern", policy: Policy{Policy: Naming, Severity: "warning", Pattern: `^[a-z]+\.[a-z]+\.[a-z]+$`}, product: func(p *meshwatch.Product) {
			p.Name = "checkout.orders.placed_v2"
			p.Topics = []meshwatch.TopicSelector{{Name: "checkout.orders.placed_v2"}, {Name: topic}}
		}, want: []Violation{
			{Policy: "naming", Product: "checkout.orders.placed_v2", Severity: "warning", Why: `product checkout.orders.placed_v2 does not match the naming pattern ^[a-z]+\.[a-z]+\.[a-z]+$`},
			{Policy: "naming", Product: "checkout.orders.placed_v2", Topic: "checkout.orders.placed_v2", Severity: "warning", Why: `topic checkout.orders.placed_v2 does not match the naming pattern ^[a-z]+\.[a-z]+\.[a-z]+$`},
		}},
		{name: "topic_pattern", policy: Policy{Policy: Naming, TopicPattern: `^prod\.`}, want: []Violation{
			v("naming", topic, `topic checkout.orders.placed does not match the naming pattern ^prod\.`),
		}},
		{name: "runs offline", policy: pol, offline: true, product: func(p *meshwatch.Product) { p.Name = "checkout.orders" },
			want: []Violation{{Policy: "naming", Product: "checkout.orders", Severity: "error",
				Why: `product checkout.orders does not follow <domain>.<entity>.<event>: want 3 dot-separated segments, got 2`}}},
	})
}

func TestMetadata(t *testing.T) {
	pol := Policy{Policy: Metadata}
	runCases(t, []builtinCase{
		{name: "passes", policy: pol},
		{name: "owner without a channel", policy: pol, product: func(p *meshwatch.Product) { p.Owner = "payments-team" },
			want: []Violation{v("metadata", "", "owner payments-team of product checkout.orders.placed has no slack_channel; required: an owner with a Slack channel")}},
		{name: "owner not declared", policy: pol, product: func(p *meshwatch.Product) { p.Owner = "ghosts" },
			want: []Violation{v("metadata", "", "owner ghosts of product checkout.orders.placed is not declared under owners; required: an owner with a Slack channel")}},
		{name: "tier out of range", policy: pol, product: func(p *meshwatch.Product) { p.Tier = 5 },
			want: []Violation{v("metadata", "", "product checkout.orders.placed has tier 5; required: a tier of 1, 2 or 3")}},
		{name: "nothing declared", policy: pol, product: func(p *meshwatch.Product) {
			p.Description, p.SLOs, p.Version = "  ", nil, ""
		}, want: []Violation{
			v("metadata", "", "product checkout.orders.placed declares no SLO; required: at least one SLO"),
			v("metadata", "", "product checkout.orders.placed has no description; required: a description"),
			v("metadata", "", "product checkout.orders.placed has no version; required: a contract version (version:, or its ODCS contract's version)"),
		}},
		{name: "require a subset", policy: Policy{Policy: Metadata, Require: []string{"description"}}, product: func(p *meshwatch.Product) {
			p.Description, p.SLOs, p.Version = "", nil, ""
		}, want: []Violation{v("metadata", "", "product checkout.orders.placed has no description; required: a description")}},
		{name: "runs offline", policy: pol, offline: true, product: func(p *meshwatch.Product) { p.Version = "" },
			want: []Violation{v("metadata", "", "product checkout.orders.placed has no version; required: a contract version (version:, or its ODCS contract's version)")}},
	})
}

func TestTopicConfig(t *testing.T) {
	pol := Policy{Policy: TopicConfig, Scope: Scope{Tiers: []int{1}}, MinReplicationFactor: 3, MinInsyncReplicas: 2, Partitions: &Bounds{Min: 3, Max: 100}}
	setConfig := func(key, value string) func(*Cluster) {
		return func(c *Cluster) {
			t := c.Topics[topic]
			t.Configs = map[string]string{"min.insync.replicas": "2", "retention.ms": "604800000", "cleanup.policy": "delete"}
			if value == "" {
				delete(t.Configs, key)
			} else {
				t.Configs[key] = value
			}
			c.Topics[topic] = t
		}
	}
	state := func(p *meshwatch.Product) { p.Kind = meshwatch.KindState }
	runCases(t, []builtinCase{
		{name: "passes", policy: pol},
		{name: "replication factor", policy: pol, cluster: func(c *Cluster) {
			t := c.Topics[topic]
			t.ReplicationFactor = 1
			c.Topics[topic] = t
		}, want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has replication factor 1; tier-1 products need at least 3")}},
		{name: "min.insync.replicas", policy: pol, cluster: setConfig("min.insync.replicas", "1"),
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has min.insync.replicas=1; tier-1 products need at least 2")}},
		{name: "min.insync.replicas unknown", policy: pol, cluster: setConfig("min.insync.replicas", ""),
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has no min.insync.replicas in its configuration; tier-1 products need at least 2")}},
		{name: "retention shorter than the replay window", policy: pol, cluster: setConfig("retention.ms", "86400000"),
			want: []Violation{v("topic_config", topic, "retention of checkout.orders.placed is 1d (retention.ms=86400000); the product promises a replay window of 7d")}},
		{name: "retention of 1d12h", policy: pol, cluster: setConfig("retention.ms", "129600000"),
			want: []Violation{v("topic_config", topic, "retention of checkout.orders.placed is 1d12h (retention.ms=129600000); the product promises a replay window of 7d")}},
		{name: "infinite retention", policy: pol, cluster: setConfig("retention.ms", "-1")},
		{name: "no replay window, no promise", policy: pol, product: func(p *meshwatch.Product) { p.ReplayWindow = 0 }, cluster: setConfig("retention.ms", "1000")},
		{name: "retention not checked", policy: Policy{Policy: TopicConfig, RetentionCoversReplay: ptr(false)}, cluster: setConfig("retention.ms", "1000")},
		{name: "retention unknown", policy: pol, cluster: setConfig("retention.ms", "lots"),
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has no retention.ms in its configuration; the product promises a replay window of 7d")}},
		{name: "events on a compacted topic", policy: pol, cluster: setConfig("cleanup.policy", "compact"),
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has cleanup.policy=compact; a product of kind events needs delete")}},
		{name: "events on compact,delete", policy: pol, cluster: setConfig("cleanup.policy", "compact,delete"),
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has cleanup.policy=compact,delete; a product of kind events needs delete")}},
		{name: "state on a compacted topic", policy: pol, product: state, cluster: setConfig("cleanup.policy", "compact")},
		{name: "state on compact,delete", policy: pol, product: state, cluster: setConfig("cleanup.policy", "delete, compact")},
		{name: "state on delete", policy: pol, product: state, cluster: setConfig("cleanup.policy", "delete"),
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has cleanup.policy=delete; a product of kind state needs compact (or compact,delete)")}},
		{name: "cleanup.policy unknown", policy: pol, cluster: setConfig("cleanup.policy", ""),
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has no cleanup.policy in its configuration; a product of kind events needs delete")}},
		{name: "compacted state keeps every key whatever retention.ms", policy: pol, product: state, cluster: func(c *Cluster) {
			setConfig("cleanup.policy", "compact")(c)
			c.Topics[topic].Configs["retention.ms"] = "1000"
		}},
		{name: "too many partitions", policy: pol, cluster: func(c *Cluster) {
			t := c.Topics[topic]
			t.Partitions = 200
			c.Topics[topic] = t
		}, want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has 200 partitions; tier-1 products need at most 100")}},
		{name: "too few partitions", policy: pol, cluster: func(c *Cluster) {
			t := c.Topics[topic]
			t.Partitions = 1
			c.Topics[topic] = t
		}, want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has 1 partition; tier-1 products need at least 3")}},
		{name: "missing topic, once", policy: pol, cluster: func(c *Cluster) { delete(c.Topics, topic) },
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed does not exist")}},
		{name: "tier 2 is out of scope", policy: pol, product: func(p *meshwatch.Product) { p.Tier = 2 }, cluster: func(c *Cluster) { delete(c.Topics, topic) }},
		{name: "scope in the why-text", policy: Policy{Policy: TopicConfig, Scope: Scope{Domains: []string{"checkout"}, Tiers: []int{1, 2}}, MinReplicationFactor: 4},
			want: []Violation{v("topic_config", topic, "topic checkout.orders.placed has replication factor 3; tier-1 products of domain checkout need at least 4")}},
		{name: "topics of a pattern", policy: pol, product: func(p *meshwatch.Product) {
			p.Topics = []meshwatch.TopicSelector{{Pattern: `^checkout\.orders\.[a-z]$`}}
		}, cluster: func(c *Cluster) {
			good := c.Topics[topic]
			for _, name := range []string{"checkout.orders.a", "checkout.orders.b", "checkout.payments.c", "x.checkout.orders.d"} {
				t := good
				t.Name = name
				if name != "checkout.orders.b" {
					t.ReplicationFactor = 1
				}
				c.Topics[name] = t
			}
		}, want: []Violation{
			v("topic_config", "checkout.orders.a", "topic checkout.orders.a has replication factor 1; tier-1 products need at least 3"),
		}},
		{name: "not offline", policy: pol, offline: true},
		{name: "not on an offline cluster", policy: pol, cluster: func(c *Cluster) { c.Online = false; delete(c.Topics, topic) }},
	})
}

func TestSchema(t *testing.T) {
	pol := Policy{Policy: Schema, Compatibility: "backward"}
	compat := func(level string) func(*Cluster) {
		return func(c *Cluster) {
			s := c.Subjects[topic+"-value"]
			s.Compatibility = level
			c.Subjects[topic+"-value"] = s
		}
	}
	runCases(t, []builtinCase{
		{name: "passes", policy: pol},
		{name: "FULL satisfies BACKWARD", policy: pol, cluster: compat("FULL")},
		{name: "BACKWARD_TRANSITIVE satisfies BACKWARD", policy: pol, cluster: compat("BACKWARD_TRANSITIVE")},
		{name: "NONE", policy: pol, cluster: compat("NONE"),
			want: []Violation{v("schema", topic, "subject checkout.orders.placed-value has compatibility NONE; products need at least BACKWARD")}},
		{name: "FORWARD is not BACKWARD", policy: pol, cluster: compat("FORWARD"),
			want: []Violation{v("schema", topic, "subject checkout.orders.placed-value has compatibility FORWARD; products need at least BACKWARD")}},
		// No level read (the registry did not answer): unknown, no
		// violation.
		{name: "no level", policy: pol, cluster: compat("")},
		{name: "FULL needs FULL", policy: Policy{Policy: Schema, Compatibility: "FULL"},
			want: []Violation{v("schema", topic, "subject checkout.orders.placed-value has compatibility BACKWARD; products need at least FULL")}},
		{name: "compatibility not checked", policy: Policy{Policy: Schema}, cluster: compat("NONE")},
		// Absent: not read (the registry failed to answer): unknown, not
		// missing.
		{name: "subject not read", policy: pol, cluster: func(c *Cluster) { delete(c.Subjects, topic+"-value") }},
		{name: "no subject", policy: pol, cluster: func(c *Cluster) { c.Subjects[topic+"-value"] = Subject{Name: topic + "-value"} },
			want: []Violation{v("schema", topic, "subject checkout.orders.placed-value does not exist in the schema registry; a product of format avro needs its schema registered")}},
		{name: "subject that does not exist", policy: pol, product: func(p *meshwatch.Product) { p.Format = meshwatch.FormatProtobuf }, cluster: func(c *Cluster) {
			c.Subjects[topic+"-value"] = Subject{Name: topic + "-value"}
		}, want: []Violation{v("schema", topic, "subject checkout.orders.placed-value does not exist in the schema registry; a product of format protobuf needs its schema registered")}},
		{name: "referenced fields", policy: pol, product: func(p *meshwatch.Product) {
			p.Quality.Required = []string{"order_id", "total", "customer.phone"}
			p.EventTime.Field = "meta.at"
			p.PII = []string{"customer.phone", "customer.email", "iban"}
			p.Quality.Sequence = &meshwatch.Sequence{Field: "seq", Key: "customer.id"}
		}, want: []Violation{
			v("schema", topic, "the latest schema of subject checkout.orders.placed-value (version 3) has no field customer.phone; the product's quality.required references it"),
			v("schema", topic, "the latest schema of subject checkout.orders.placed-value (version 3) has no field iban; the product's pii references it"),
			v("schema", topic, "the latest schema of subject checkout.orders.placed-value (version 3) has no field meta.at; the product's event_time.field references it"),
			v("schema", topic, "the latest schema of subject checkout.orders.placed-value (version 3) has no field seq; the product's quality.sequence.field references it"),
			v("schema", topic, "the latest schema of subject checkout.orders.placed-value (version 3) has no field total; the product's quality.required references it"),
		}},
		{name: "fields not checked", policy: Policy{Policy: Schema, Fields: ptr(false)}, product: func(p *meshwatch.Product) { p.PII = []string{"iban"} }},
		{name: "a subject without fields is not checked for them", policy: pol, product: func(p *meshwatch.Product) { p.PII = []string{"iban"} }, cluster: func(c *Cluster) {
			s := c.Subjects[topic+"-value"]
			s.Fields = nil
			c.Subjects[topic+"-value"] = s
		}},
		{name: "a json product has no subject", policy: pol, product: func(p *meshwatch.Product) { p.Format = meshwatch.FormatJSON }, cluster: compat("NONE")},
		{name: "no registry", policy: pol, cluster: func(c *Cluster) { c.Subjects = nil }},
		{name: "not offline", policy: pol, offline: true},
	})
}

func TestCompatibility(t *testing.T) {
	for _, tt := range []struct {
		level, required string
		ok              bool
	}{
		{"NONE", "NONE", true},
		{"NONE", "BACKWARD", false},
		{"BACKWARD", "BACKWARD", true},
		{"BACKWARD", "FORWARD", false},
		{"FORWARD", "FORWARD", true},
		{"FULL", "BACKWARD", true},
		{"FULL", "FORWARD", true},
		{"FULL", "FULL", true},
		{"BACKWARD", "FULL", false},
		{"BACKWARD_TRANSITIVE", "BACKWARD", true},
		{"BACKWARD", "BACKWARD_TRANSITIVE", false},
		{"FULL", "BACKWARD_TRANSITIVE", false},
		{"FULL_TRANSITIVE", "BACKWARD_TRANSITIVE", true},
		{"FULL_TRANSITIVE", "FULL", true},
		{"FORWARD_TRANSITIVE", "FULL", false},
		{"WHATEVER", "BACKWARD", false},
	} {
		req := compatBits(tt.required)
		if got := compatBits(tt.level)&req == req; got != tt.ok {
			t.Errorf("%s satisfies %s = %v, want %v", tt.level, tt.required, got, tt.ok)
		}
	}
}

func TestPII(t *testing.T) {
	pol := Policy{Policy: PII}
	acl := func(principal, resource, pattern, op, perm string) func(*Cluster) {
		return func(c *Cluster) {
			c.ACLs = append(c.ACLs, ACL{Principal: principal, Host: "*", ResourceName: resource, PatternType: pattern, Operation: op, Permission: perm})
		}
	}
	runCases(t, []builtinCase{
		{name: "passes", policy: pol},
		{name: "event_time.header names a PII field", policy: pol, product: func(p *meshwatch.Product) {
			p.EventTime = meshwatch.EventTime{Header: "Email"}
		}, want: []Violation{v("pii", "", `event_time.header "Email" of product checkout.orders.placed names the PII field customer.email; PII must stay out of record headers`)}},
		{name: "- and _ alike", policy: pol, product: func(p *meshwatch.Product) {
			p.EventTime = meshwatch.EventTime{Header: "customer-email"}
			p.PII = []string{"customer_email"}
		}, want: []Violation{v("pii", "", `event_time.header "customer-email" of product checkout.orders.placed names the PII field customer_email; PII must stay out of record headers`)}},
		{name: "a header that holds more than the name", policy: pol, product: func(p *meshwatch.Product) {
			p.EventTime = meshwatch.EventTime{Header: "x-email-time"}
		}},
		{name: "a quality rule reads a PII header", policy: pol, product: func(p *meshwatch.Product) {
			p.Format = meshwatch.FormatJSON
			p.Quality.Rules = []meshwatch.Rule{
				{Name: "signed", Expr: `headers['Customer.Email'] != '' && headers["x-sig"] != ''`},
				{Name: "mail", Expr: `has(headers.email)`},
			}
		}, want: []Violation{
			v("pii", "", `quality rule mail reads header "email", which names the PII field customer.email; PII must stay out of record headers`),
			v("pii", "", `quality rule signed reads header "Customer.Email", which names the PII field customer.email; PII must stay out of record headers`),
		}},
		{name: "a key schema with a PII field", policy: pol, cluster: func(c *Cluster) {
			c.Subjects[topic+"-key"] = Subject{Name: topic + "-key", Exists: true, Version: 2, Type: "AVRO", Fields: []string{"region", "email"}}
		}, want: []Violation{v("pii", topic, "the key schema of topic checkout.orders.placed (subject checkout.orders.placed-key, version 2) has field customer.email, which the product's pii lists; PII must stay out of record keys")}},
		{name: "a key schema without PII, or none", policy: pol, cluster: func(c *Cluster) {
			c.Subjects[topic+"-key"] = Subject{Name: topic + "-key", Exists: true, Version: 1, Fields: []string{"order_id"}}
			c.Subjects[topic+".dlq-key"] = Subject{Name: topic + ".dlq-key"}
		}},
		{name: "public read on the topic", policy: pol, cluster: acl("User:*", topic, "LITERAL", "READ", "ALLOW"),
			want: []Violation{v("pii", topic, `topic checkout.orders.placed holds PII (customer.email) and an ACL allows READ to User:* (ALLOW on LITERAL "checkout.orders.placed"); products holding PII must not be readable by everyone`)}},
		{name: "public ALL on a prefix", policy: pol, cluster: acl("User:*", "checkout.", "PREFIXED", "All", "Allow"),
			want: []Violation{
				v("pii", topic, `topic checkout.orders.placed holds PII (customer.email) and an ACL allows ALL to User:* (ALLOW on PREFIXED "checkout."); products holding PII must not be readable by everyone`),
				v("pii", topic+".dlq", `topic checkout.orders.placed.dlq holds PII (customer.email) and an ACL allows ALL to User:* (ALLOW on PREFIXED "checkout."); products holding PII must not be readable by everyone`),
			}},
		{name: "public read on every topic", policy: pol, product: func(p *meshwatch.Product) {
			p.DLQTopics = nil
			p.PII = []string{"a", "b", "c", "d", "e"}
		}, cluster: acl("User:*", "*", "LITERAL", "READ", "ALLOW"),
			want: []Violation{v("pii", topic, `topic checkout.orders.placed holds PII (a, b, c and 2 more) and an ACL allows READ to User:* (ALLOW on LITERAL "*"); products holding PII must not be readable by everyone`)}},
		{name: "ACLs that are not public reads", policy: pol, cluster: func(c *Cluster) {
			acl("User:*", topic, "LITERAL", "READ", "DENY")(c)
			acl("User:alice", topic, "LITERAL", "READ", "ALLOW")(c)
			acl("User:*", topic, "LITERAL", "WRITE", "ALLOW")(c)
			acl("User:*", "payments.", "PREFIXED", "READ", "ALLOW")(c)
			acl("User:*", "checkout.orders.placed.v2", "LITERAL", "READ", "ALLOW")(c)
			acl("User:*", "*", "PREFIXED", "READ", "ALLOW")(c) // the prefix "*", not the wildcard
		}},
		{name: "ACLs unknown", policy: pol, cluster: func(c *Cluster) { c.ACLs = nil },
			want: []Violation{{Policy: "pii", Product: topic, Severity: "warning",
				Why: "cannot tell whether User:* may read the topics of product checkout.orders.placed, which holds PII (customer.email): the cluster did not describe its ACLs (no authorizer, or the agent may not describe ACLs)"}}},
		{name: "no PII, no check", policy: pol, product: func(p *meshwatch.Product) {
			p.PII = nil
			p.EventTime = meshwatch.EventTime{Header: "email"}
		}, cluster: acl("User:*", "*", "LITERAL", "READ", "ALLOW")},
		{name: "offline: headers only", policy: pol, offline: true, product: func(p *meshwatch.Product) {
			p.EventTime = meshwatch.EventTime{Header: "email"}
		}, want: []Violation{v("pii", "", `event_time.header "email" of product checkout.orders.placed names the PII field customer.email; PII must stay out of record headers`)}},
	})
}

func TestUnownedTopics(t *testing.T) {
	orphans := func(c *Cluster) {
		for _, name := range []string{"_confluent-metrics", "sandbox.scratch", "checkout.payments.captured", "legacy.orders"} {
			c.Topics[name] = Topic{Name: name, Partitions: 1, ReplicationFactor: 3}
		}
	}
	runCases(t, []builtinCase{
		{name: "every topic is claimed", policy: Policy{Policy: UnownedTopics}},
		{name: "unclaimed topics", policy: Policy{Policy: UnownedTopics, Allow: []string{"^_confluent", `^sandbox\.`}}, cluster: orphans, want: []Violation{
			{Policy: "unowned_topics", Topic: "checkout.payments.captured", Severity: "error", Why: "topic checkout.payments.captured belongs to no product (allow-list: ^_confluent, ^sandbox\\.)"},
			{Policy: "unowned_topics", Topic: "legacy.orders", Severity: "error", Why: "topic legacy.orders belongs to no product (allow-list: ^_confluent, ^sandbox\\.)"},
		}},
		{name: "claimed by a pattern, a DLQ and a name", policy: Policy{Policy: UnownedTopics, Severity: "warning", Allow: []string{"^_confluent"}}, product: func(p *meshwatch.Product) {
			p.Topics = append(p.Topics, meshwatch.TopicSelector{Pattern: `^checkout\.payments\.`})
			p.DLQTopics = append(p.DLQTopics, "legacy.orders")
		}, cluster: orphans, want: []Violation{
			{Policy: "unowned_topics", Topic: "sandbox.scratch", Severity: "warning", Why: "topic sandbox.scratch belongs to no product (allow-list: ^_confluent)"},
		}},
		{name: "unanchored pattern", policy: Policy{Policy: UnownedTopics}, product: func(p *meshwatch.Product) {
			p.Topics = append(p.Topics, meshwatch.TopicSelector{Pattern: `orders|metrics|sandbox|payments`})
		}, cluster: orphans},
		{name: "no allow-list; internal topics never", policy: Policy{Policy: UnownedTopics}, cluster: func(c *Cluster) {
			c.Topics["__consumer_offsets"] = Topic{Name: "__consumer_offsets"}
			c.Topics["scratch"] = Topic{Name: "scratch"}
		}, want: []Violation{{Policy: "unowned_topics", Topic: "scratch", Severity: "error", Why: "topic scratch belongs to no product (allow-list: none)"}}},
		{name: "not offline", policy: Policy{Policy: UnownedTopics}, offline: true},
	})
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * 24 * time.Hour:      "7d",
		36 * time.Hour:          "1d12h",
		90 * time.Second:        "1m30s",
		time.Hour + time.Second: "1h1s",
		1500 * time.Millisecond: "1.5s",
		0:                       "0s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
