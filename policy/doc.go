// Package policy is federated computational governance: the policies:
// section of config.yaml, policies that every data product of the mesh is
// held to, checked against the model and against what the cluster says.
//
//	policies:
//	  - policy: naming                      # a built-in, with its parameters
//	    severity: warning                   # error (default) or warning
//	    scope: {domains: [checkout], tiers: [1]}
//	  - policy: topic_config
//	    name: topic_config_tier1            # the ID, to tell two of one built-in apart
//	    scope: {tiers: [1]}
//	    min_replication_factor: 3
//	    min_insync_replicas: 2
//	  - name: tier1-needs-description       # a custom policy: name, expr, message
//	    expr: "product.tier != 1 || product.description != ''"
//	    message: "tier-1 product {{product.name}} has no description"
//
// Config is the section, as decoded; Config.Validate reports its problems
// with their paths (the loader, package config, places them in the file:
// "config.yaml:40:11: policies[3].expr: ..."); Compile makes it a Set, and
// Set.Evaluate checks a validated model (meshwatch.Config) against a
// Cluster (what Gather read of the cluster: topics and their
// configuration, schema subjects, ACLs) and returns the Violations, sorted
// by policy, product, topic and why-text. Evaluate is pure: it reads its
// inputs only, and the same inputs give the same violations.
//
// # Common keys
//
// Each entry is a built-in policy (policy:) or a custom one (name: and
// expr:). Every entry takes:
//
//	name      the policy's ID in violations and metrics: lowercase letters, digits, _ and -,
//	          starting with a letter, at most 63. Required for a custom policy (and not
//	          the name of a built-in); a built-in's defaults to its policy:. IDs are unique.
//	severity  error (default) or warning: the severity of its violations.
//	scope     {domains: [...], tiers: [...]}: the products it applies to, those of one of
//	          the domains (when given) and of one of the tiers (when given); empty: all.
//	          A domain that no product has is a warning. unowned_topics takes none.
//
// A parameter of another policy is an error, as is an unknown policy (with
// a suggestion), a regular expression that is not RE2, and a custom
// policy's expression that does not compile, is not a condition (bool), or
// reads a field that its object does not have (product.teir): the problem
// is placed at the expression, and says where in it, line:column ("1:9:
// undefined field 'teir'").
//
// # Built-in policies
//
// Every why-text names what was observed and what is required.
//
// naming: the product's name, and each topic it names (not its patterns
// or DLQ topics), follow <domain>.<entity>.<event>: three dot-separated
// segments of lowercase letters, digits, _ and -, the first the product's
// domain; a topic may add segments after the event (a version:
// checkout.orders.placed.v2). Parameters:
//
//	pattern        a regular expression that product names must match instead
//	topic_pattern  one that topic names must match instead (default: pattern, when set)
//	topics         false: check the product's name only (default true)
//
// metadata: the product declares what its consumers need. Parameter
// require, a list of (default all):
//
//	owner_channel     its owner is declared under owners with a slack_channel
//	tier              its tier is 1, 2 or 3. Defaults give every product of a loaded
//	                  configuration a tier (2), so this fails for a Config built in code only
//	description       it has a description
//	slo               it declares at least one SLO
//	contract_version  it has a version (version:, or its ODCS contract's version)
//
// topic_config (needs the cluster): the configuration of each topic of
// the product (those it names, and the cluster's topics its patterns
// select; not its DLQ topics) keeps its promises. A topic it names that
// the cluster does not have is one violation, "topic X does not exist",
// and nothing else is checked of it. Parameters:
//
//	min_replication_factor       the topic's replication factor is at least N (0: not checked)
//	min_insync_replicas          its min.insync.replicas is at least M (0: not checked)
//	retention_covers_replay      its retention.ms covers the product's replay_window (default
//	                             true): -1 (infinite) passes, as does a topic with
//	                             cleanup.policy compact alone (it keeps every key's latest value);
//	                             a product without replay_window promises nothing
//	cleanup_policy_matches_kind  its cleanup.policy fits the product's kind (default true): delete
//	                             for events; compact, or compact,delete, for state
//	partitions                   {min: N, max: M}: its partition count is within (0: open)
//
// A configuration value that the topic lacks (Gather reads the effective
// ones, so this is rare) is a violation that says so.
//
// schema (needs the cluster and a schema registry: without one,
// Cluster.Subjects is nil and the policy checks nothing): for a product of
// format avro or protobuf, the subject <topic>-value of each of its topics
// (as topic_config) exists, and
//
//	compatibility  its compatibility level is at least this one (default: not checked):
//	               NONE < BACKWARD, FORWARD < FULL; FULL satisfies BACKWARD and FORWARD,
//	               X_TRANSITIVE satisfies X, and X_TRANSITIVE needs a transitive level
//	fields         the latest schema has every field the product references (default
//	               true): quality.required, event_time.field, pii, quality.sequence.field and
//	               .key; a field is there when the schema has it or fields nested under it.
//	               A subject whose fields Gather could not list is not checked for fields
//
// pii: for a product that lists pii fields, three checks.
//
// Headers (offline too): the headers the configuration reads: event_time.header, and the header names that the product's
// quality rules index literally (headers['x-email'], headers["x-email"],
// headers[?'x-email'] or headers.email in the rule's text). Such a header
// must not name a PII field: be equal to its dotted path or to its last
// segment, ignoring case, - and _ alike (header Customer-Email names field
// customer_email and customer.customer_email).
//
// Keys (needs the cluster and a registry): where the registry has a
// <topic>-key subject for one of the product's topics (a plain string key
// has none; command meshwatch asks for them for every product holding
// PII), its latest schema has no PII field: none equal to a pii path or
// to its last segment.
//
// ACLs (needs the cluster): no ACL allows User:* to read one of the
// product's topics or DLQ topics: an ACL of principal User:*, permission
// ALLOW, operation READ or ALL, on the topic's literal name, on a prefix of
// it (PREFIXED), or on "*". When the cluster did not describe its ACLs
// (Cluster.ACLs nil: no authorizer, or the agent may not describe ACLs),
// each product holding PII gets one violation of severity warning, whatever
// the policy's, saying that it cannot tell.
//
// unowned_topics (needs the cluster): every topic of the cluster belongs
// to a product: one it names, one its patterns select, or one of its
// dlq_topics. Internal topics (names starting with "__") are never
// reported. The violations have a Topic and no Product. Parameter:
//
//	allow  regular expressions over topic names that need no product
//
// # Custom policies
//
// A custom policy is a CEL expression (name:, expr:, message:) that holds
// for a compliant product; it is evaluated on each product of its scope,
// and a product for which it is false is a violation whose why-text is the
// message. An expression that fails (a key a map lacks, the cost limit) is
// a violation that says so. The expression reads four variables:
//
//	product  the product (Product): name, domain, owner, owner_channel (the owner's
//	         slack_channel, or ""), tier, description, version, kind, format,
//	         replay_window_seconds, pii (list of strings), slos (list of {name, sli}),
//	         topics (the names it names), topic_patterns, dlq_topics, deprecated (bool),
//	         contract (its ODCS file, or "")
//	topics   the product's topics that the cluster has (Topic), those it names then
//	         those its patterns select: name, partitions, replication_factor, configs (a
//	         map of string to string: t.configs['retention.ms']; test a key with
//	         'retention.ms' in t.configs first, or write t.configs[?'k'].orValue(''))
//	subject  the schema registry subject of the product's first topic, <topic>-value
//	         (Subject): name, exists (false when the registry does not have it),
//	         compatibility, version, type, fields (list); null for a product that is not
//	         avro or protobuf, or without a registry
//	acls     ACLSummary: public_read (an ACL lets User:* read one of its topics or DLQ
//	         topics), known (false when the cluster did not describe its ACLs)
//
// A custom policy whose expression reads only product runs offline too
// (meshwatch validate); one that reads topics, subject or acls needs the
// cluster, and is not evaluated without one. The CEL environment has the
// string extensions (ext.Strings) and optional types; cross-type numeric
// comparisons are on.
//
// message is the why-text: literal text with {{object.field}} placeholders,
// a dotted lookup of one field of product, subject or acls
// ({{product.name}}, {{product.owner_channel}}, {{subject.compatibility}},
// {{acls.public_read}}), or {{topics}} (the names of topics). Lists are
// written comma-separated, a missing subject and an empty value as "none".
// An unknown placeholder is an error. Without message, the why-text is
// "product P does not satisfy policy ID: <expr>".
//
// # Offline
//
// On a Cluster that is not Online (or nil), Evaluate runs only the
// policies that need no cluster: naming, metadata, the header check of
// pii, and the custom policies that read product only. Set.Offline
// returns them.
//
// # Reading the cluster
//
// Gather reads what the policies need through a franz-go admin client:
// one Metadata request for the topic list (answered from the client's
// metadata cache when it is younger than MetadataMinAge), DescribeConfigs
// in batches of 1,000 topics for each topic's effective configuration
// (every key the broker returns with a value, the topic's own or the
// broker's default), internal topics ("__…") left out, the replication
// factor the fewest replicas any partition lists. With ACLs, one
// DescribeACLs for every ACL on topics: a cluster without an authorizer,
// or one that does not let the agent describe ACLs, leaves Cluster.ACLs
// nil, which the pii policy reports as unknown rather than as a pass.
// With a schema registry, each product's subject: its latest version,
// type, dotted field paths (SchemaFields; references fetched, parents
// before children) and compatibility level (the subject's, else the
// global one); a subject the registry does not have is present with
// Exists false, one the registry failed to answer is absent (unknown, not
// missing). An error reading topics or configs fails the Gather; other
// errors are joined into the error returned with an otherwise filled
// Cluster, so one registry or ACL failure does not stop the topic
// policies.
//
// # Metrics
//
// NewCollector exports the latest violations, for the command to
// register:
//
//	meshwatch_policy_violations{policy,product,severity}
//
// the number of violations of policy (its ID) by product at severity
// (error or warning); product is "" for the topics no product claims.
package policy
