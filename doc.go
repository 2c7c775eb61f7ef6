// Package meshwatch is the data-product model of the meshwatch agent: the
// Config that declares the Kafka cluster, the products, their topics and
// SLOs, and their owners; how it is read from YAML; its defaults; and its
// validation. Every other package of the agent speaks in these types and
// imports this one; it imports none of them.
//
// The package does no I/O beyond reading a configuration file (LoadFile) and
// the secrets its *_file keys name. It does not talk to Kafka, Slack or
// anything else, and it exports no metrics.
//
// # The configuration file
//
// config.yaml (see config.example.yaml at the root of the repository) is a
// single YAML document. Load decodes it strictly: an unknown key is an
// error, not a silent no-op. Scalar values may hold ${VAR} or
// ${VAR:-default}, expanded from the environment; a password or a token may
// instead come from a file (sasl.password_file, sasl.token_file). Durations
// take Go units and days ("10s", "28d"); objectives are percentages
// ("99.9%") or ratios (0.999). Defaults are applied before validation, see
// Config.SetDefaults. Config.YAML writes a Config back out.
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
package meshwatch
