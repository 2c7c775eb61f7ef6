// Package dashboards holds meshwatch's Grafana dashboards and the Prometheus
// alerting rules for the agent's own health, embedded so that tests can
// check them against the agent's real metrics and a real Prometheus.
//
// # What it owns
//
//   - The dashboards, Grafana JSON (schema version 39, Grafana 10 and 11),
//     each with a datasource variable every query uses:
//     overview.json "meshwatch / Overview", product.json "meshwatch /
//     Product", chargeback.json "meshwatch / Chargeback" and agent.json
//     "meshwatch / Agent". README.md says what each shows and how to import
//     them.
//   - rules/meshwatch-agent.rules.yaml ([RulesFile]): alerting rules on the
//     agent's health (down, not ready, failing ticks, lag passes, SLO
//     evaluation, state flushes, alert delivery, quality and cost errors).
//   - Reading them: [Queries] lists every PromQL expression — panel
//     targets, template-variable queries and rule expressions — with where
//     it comes from; [Expand] turns Grafana's variables into concrete PromQL;
//     [Metrics] returns the metric names an expression selects.
//
// It does not generate the SLO rules (package sla, `meshwatch rules`),
// talk to Grafana or Prometheus, or export metrics. The tests here check the files themselves
// (valid JSON, variables, links, unique uids, every expression parses, the
// rules pass promtool); cmd/meshwatch checks that every metric they
// reference exists on the running demo, and, behind the e2e build tag
// (`make e2e`), that every query returns data from a real Prometheus that
// scrapes the demo and evaluates the rules.
//
// # Concurrency
//
// Every function is safe for concurrent use; the files are read-only.
package dashboards
