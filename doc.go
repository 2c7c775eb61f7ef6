// Package meshwatch is the data-product model of the meshwatch agent: the
// Config that names the Kafka cluster and declares the products, their
// topics and SLOs, and their owners; their defaults (Config.SetDefaults)
// and their validation (Config.Validate); the SLI events and alert
// conditions that the leaves emit; and the Problems that say what is wrong
// with a configuration, where. Every other package of the agent speaks in
// these types and imports this one; it imports none of them.
//
// The sections of config.yaml that configure the agent rather than the
// mesh belong to the packages that use them (collector:, lag:,
// schema_registry: to quality, state:, sharding:, push:, alerting:, cost:),
// and package config composes them with the model: config.Load reads a
// configuration file, package odcs reads the ODCS data contracts it lists,
// and config.YAML writes it back out. The YAML forms of the model's values
// are defined here: durations take Go units and days ("10s", "28d"),
// objectives are percentages ("99.9%") or ratios (0.999), a topic is a name
// or {pattern: "^regex$"}.
//
// # Problems
//
// The loader reports every problem at once, not just the first, as
// Problems: one line each, "file:line:col: path: msg", where path names the
// setting with its YAML keys (products[2].slos[0].threshold; JoinPath,
// IndexPath and ParentPath build and take them apart) and msg says what is
// allowed and what was given; the loader (package config) places each path
// in the file. A warning (a product name that does not follow
// <domain>.<entity>.<event> under naming: warn) does not stop the agent. No problem, String method or
// written-out config ever shows a Secret: it prints as "<secret>".
package meshwatch
