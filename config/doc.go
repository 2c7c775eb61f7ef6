// Package config loads the configuration file of the meshwatch agent into
// a Config: the data-product model of the root package (naming:, the name
// of cluster:, products:, owners:, contracts:) composed with the section
// that each package using it owns:
//
//	cluster: (brokers, client_id, tls, sasl)  Kafka, here
//	http:, web:                               HTTP, Web, here (cmd/meshwatch serves them)
//	metrics:                                  Metrics, here (what /metrics exports per product)
//	collector:                                collector.Config
//	lag:                                      lag.Config
//	schema_registry:                          quality.RegistryConfig
//	state:                                    state.Config (internal/state)
//	push:                                     push.Config (internal/push)
//	sharding:                                 shard.Config (internal/shard)
//	cost:                                     cost.Config
//	alerting:                                 alert.Config
//	policies:                                 policy.Config (governance policies)
//
// Each section has its own defaults and validation; Load (and LoadFile)
// parses the file, decodes it strictly with the position of every value,
// reads the secrets of its *_file keys and the data contracts it lists
// (package odcs), applies Config.SetDefaults, runs Config.Validate (the
// model's, every section's, and the checks of packages: CEL rules, names
// too long for the state store), and reports every problem at once,
// placed. A Config built in code (the demo's) takes the same SetDefaults
// and Validate. YAML writes a Config back out.
//
// config.yaml (see config.example.yaml at the root of the repository) is a
// single YAML document. Load decodes it strictly: an unknown key is an
// error, not a silent no-op. Scalar values may hold ${VAR} or
// ${VAR:-default}, expanded from the environment; a password or a token may
// instead come from a file (sasl.password_file, sasl.token_file). Durations
// take Go units and days ("10s", "28d"); objectives are percentages
// ("99.9%") or ratios (0.999). Defaults are applied before validation, see
// Config.SetDefaults.
//
// The configuration may list ODCS data contracts under contracts:; each
// becomes a product, whose problems are placed in the contract file
// (package odcs says how a contract maps to a product).
//
// # Problems
//
// Load reports every problem at once, not just the first, as Problems: one
// line each, "file:line:col: path: msg", where path names the setting with
// its YAML keys (products[2].slos[0].threshold) and msg says what is allowed
// and what was given. A warning (a product name that does not follow
// <domain>.<entity>.<event> under naming: warn) does not stop the agent. No
// problem, String method or written-out config ever shows a Secret: it
// prints as "<secret>".
package config
