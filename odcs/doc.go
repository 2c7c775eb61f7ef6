// Package odcs reads ODCS data contracts (Open Data Contract Standard
// v3.0.x and v3.1.0, kind DataContract), and contracts in the simple form
// of the data-mesh literature (below), as meshwatch products: Load
// translates one contract into a Product, and Merge (MergeWith, which also
// compares the contracts' kafka servers with the cluster's brokers), which
// the loader (package config) calls, reads the contracts that the configuration's
// contracts: lists (files and directories, relative to the configuration
// file's directory; a directory gives every *.yaml and *.yml file under it,
// in name order) and appends one product per contract to Products before
// defaults and validation, so a contract's product is checked like
// any other and each problem is placed in the contract file with its ODCS
// path ("contracts/orders.yaml:40:9: schema[0].quality[2]: ..."). Every
// key ODCS defines is accepted, a key it does not define is an error (ODCS
// allows no other either), and ${VAR} is not expanded in a contract.
//
// The contract's parts become settings of the product:
//
//	name (or dataProduct)                   name
//	domain                                  domain
//	version                                 version (the contract's, e.g. 1.2.0)
//	description.purpose (or usage, or a     description
//	  plain string)
//	team.name                               owner: a key of owners; a team that the
//	                                        configuration does not declare becomes a new
//	                                        owner (a team it declares keeps its settings)
//	support[tool=slack].channel             the owner's slack_channel, when the configuration
//	                                        sets none; scope notifications first, then issues,
//	                                        none, interactive, announcements; "#" added to a
//	                                        bare name
//	servers[type=kafka].format              format: json, avro or protobuf (ODCS default json,
//	                                        also without a kafka server), from the first
//	                                        kafka server
//	servers[type=kafka].host (and port)     compared with cluster.brokers by MergeWith: a
//	                                        kafka server none of whose host:port is a broker
//	                                        is a warning at its host (a host without port
//	                                        matches any port)
//	schema[physicalType=topic].physicalName topics (name when physicalName is not set)
//	properties[].required: true             quality.required; nested properties as dotted
//	                                        paths of their physicalName or name
//	properties[].classification: pii, or a  pii: the property's field, a dotted path as for
//	  tag pii (either in any case)          required; an array whose items are so marked is
//	                                        a PII field itself. Other classes (restricted,
//	                                        confidential...) and tags are ignored
//	quality nullValues                      quality.required
//	quality missingValues                   quality.required for null; a rule
//	                                        "!(message.f in [...])" for the other values
//	quality invalidValues                   a rule "message.f in [...]" (validValues) and/or
//	                                        "message.f.matches('...')" (pattern); an absent
//	                                        field passes: it is missing, not invalid
//	quality type custom, engine cel         a rule whose expr is the implementation
//	schema-level rowCount with a rate unit  quality.volume.min_per_minute: unit rows/second,
//	  (rows/minute, rows per hour...)       rows/minute, rows/hour or rows/day, converted to
//	                                        a minute; mustBeGreaterThan N per minute is
//	                                        ⌊N⌋+1, the lower bound of mustBeBetween is kept
//	slaProperties latency (ly), freshness   an SLO of that SLI whose threshold is value and
//	                                        unit (ms, s, m = minutes, h, d; or a duration
//	                                        "15m" without unit); element (or
//	                                        slaDefaultElement), a property, is event_time.field
//	slaProperties latency valueExt pNN      the objective of the latency SLO: NN % of the
//	                                        records within the threshold (p99 is 99 %, p99.9
//	                                        and p999 are 99.9 %); it wins over
//	                                        meshwatchObjective, which is for SLOs whose
//	                                        objective the contract does not give
//	slaProperties availability (av),        the objective of that SLO: "99.9%", 99.9 with
//	  completeness                          unit percent, or a number without unit (above 1
//	                                        a percentage, else a ratio)
//	slaProperties errorRate (er)            the validity objective: 100% - the rate
//	customProperties meshwatchTier          tier (default 2)
//	customProperties meshwatchObjective     the objective of an SLO that no part gives a
//	                                        percentage for (default 99%)
//	customProperties meshwatchInputs        inputs: the products this one is made from, a
//	                                        list of names or "a, b" (lineage feeds edges)
//
// Rules are named after the check's id when it has one (made a metric
// label, with a warning, when it is not one; two checks with one id are an
// error at the second), else after its name, made a metric label, else
// <field>_valid, <field>_not_missing, <field>_rule; a name that an id or an
// earlier rule has gets a suffix _2, _3... Rule.Source is the contract's
// file:line and Product.Contract its file.
//
// Thresholds of library checks: a count of bad values must be zero (mustBe:
// 0, or mustBeLessThan: 1 with unit rows), or a percentage with unit
// percent: mustBeLessThan (or mustBeLessOrEqualTo) P makes the objective of
// the SLI 100% - P: completeness for nullValues and missingValues, validity
// for invalidValues and the missing values other than null. Every SLI that
// the contract feeds (required fields, rules, volume, SLA properties) gets
// one SLO named after it, window 28d; its objective is the strictest that
// the contract gives for it, or meshwatchObjective when it gives none.
//
// What cannot be monitored on a stream is a warning that starts with
// "unsupported:", never dropped in silence: type sql, type text, custom
// engines other than cel, duplicateValues, unique and primaryKey (uniqueness
// over a whole stream; meshwatch detects duplicates by producer sequence
// numbers only), counts of bad rows other than zero and rowCount without a rate
// (a stream has no end), upper bounds of volume, patterns that are not RE2,
// required fields inside optional objects, checks on array items,
// logicalTypeOptions, schema objects that are not topics, a second latency
// or freshness SLA or event-time element, SLA properties other than those
// above (retention, frequency, timeToRepair...), formats other than json,
// avro and protobuf, valueExt other than a percentile of a latency. The
// checks of every topic object of a contract apply to all the product's
// topics.
//
// What meshwatch does not use at all is a warning that starts with
// "ignored:", one per object at its first such key, naming each: tenant,
// tags, price, roles, the descriptions, business names, logical and
// physical types, examples, the classifications and tags of properties
// other than pii, the ids and names of checks that are not rules
// (dimension, severity, schedule...), dataProduct beside name, the
// description keys other than the one used, the support entries other than
// the alerts' Slack channel, custom properties other than meshwatch's,
// servers that are not kafka and the keys of kafka servers other than
// type, host, port and format.
//
// # The simple form
//
// A file whose top-level mapping is contract:, without kind, is a contract
// in the form of the data-mesh literature:
//
//	contract:
//	  name: order-events-v1
//	  owner: orders-domain-team
//	  schema: {format: avro, version: 1.2.0, compatibility: backward}
//	  sla: {availability: 99.9%, latency_p99: 1000ms, freshness: 60s}
//	  quality:
//	    completeness: 99%
//	    validity_rules: ["order_total > 0", "customer_id is not null"]
//
// It becomes one product:
//
//	name                      name
//	owner                     owner, as team.name
//	domain                    domain; without it, the first segment of a dotted
//	                          name, else the owner without -team, -squad and
//	                          -domain (orders-domain-team gives orders), with a
//	                          warning that says so
//	topic                     the one topic; without it, name
//	description, tier         description, tier
//	version                   version
//	schema.format             format (default json)
//	sla.availability          the availability SLO's objective
//	sla.latency_pNN           the latency SLO: threshold the duration, objective NN %
//	  (latency: the default objective)
//	sla.freshness             the freshness SLO's threshold
//	sla.completeness,         as the ODCS SLA properties of those names
//	  sla.error_rate
//	quality.validity_rules    rules: SQL conditions translated to CEL (below), named
//	                          after their words (order_total > 0 gives
//	                          order_total_gt_0)
//	quality.completeness      the completeness SLO's objective, over the fields that
//	                          the rules require: a rule "f IS NOT NULL", alone or
//	                          ANDed at its top, makes f a required field (and is
//	                          a validity rule as well)
//
// tags, schema.version and schema.compatibility are ignored, with a
// warning; quality accuracy, consistency, uniqueness and timeliness, and the
// SLA properties meshwatch does not measure (retention...), are unsupported;
// any other key is an error.
//
// A validity rule is a SQL condition: comparisons (=, ==, != or <>, <,
// <=, >, >=) of a field with a value or another field, IS [NOT] NULL,
// [NOT] IN (values), [NOT] LIKE 'pattern' (% any text, _ one character, a
// backslash escapes), [NOT] BETWEEN a AND b, AND, OR, NOT and parentheses;
// values are 'strings' (a quote doubled is a quote), numbers and TRUE or FALSE; a field
// is a dotted path of names, a name with other characters in backquotes
// (`order-id`); a field alone is field = TRUE. Keywords are in any case.
// Double quotes are refused: they quote names in SQL, and a string written
// in them would silently compare two fields.
//
// SQL's NULL is carried into CEL: a comparison of a field that is absent or
// null is unknown, and a rule fails only when its condition is false, as a
// SQL CHECK constraint (a missing value is completeness's business). So
// "order_total > 0" becomes
//
//	!has(message.order_total) || message.order_total == null || message.order_total > 0
//
// "customer_id is not null" becomes
//
//	has(message.customer_id) && message.customer_id != null
//
// and under a NOT the guard turns around: "NOT status = 'x'" becomes
// !(has(message.status) && message.status != null && message.status == 'x').
// A bad condition is an error at the line and column, inside the string, of
// the part that is wrong (the string's own position when it spans lines).
//
// The package imports the root package and its internal YAML machinery
// only; its messages and positions are pinned by the golden files of
// testdata/contracts, and the CEL of each form of SQL condition by those of
// testdata/sql.
package odcs
