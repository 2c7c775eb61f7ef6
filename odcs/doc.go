// Package odcs reads ODCS data contracts (Open Data Contract Standard
// v3.0.x and v3.1.0, kind DataContract) as meshwatch products: Load
// translates one contract into a Product, and Merge, which the loader
// (package config) calls, reads the contracts that the configuration's
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
//	                                        also without a kafka server)
//	schema[physicalType=topic].physicalName topics (name when physicalName is not set)
//	properties[].required: true             quality.required; nested properties as dotted
//	                                        paths of their physicalName or name
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
//	slaProperties availability (av),        the objective of that SLO: "99.9%", 99.9 with
//	  completeness                          unit percent, or a number without unit (above 1
//	                                        a percentage, else a ratio)
//	slaProperties errorRate (er)            the validity objective: 100% - the rate
//	customProperties meshwatchTier          tier (default 2)
//	customProperties meshwatchObjective     the objective of an SLO that no part gives a
//	                                        percentage for (default 99%)
//
// Rules are named after the check's name, made a metric label, or
// <field>_valid, <field>_not_missing, <field>_rule; Rule.Source is the
// contract's file:line and Product.Contract its file.
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
// engines other than cel, duplicateValues and unique (uniqueness over a whole
// stream), counts of bad rows other than zero and rowCount without a rate
// (a stream has no end), upper bounds of volume, patterns that are not RE2,
// required fields inside optional objects, checks on array items,
// logicalTypeOptions, schema objects that are not topics, a second latency
// or freshness SLA or event-time element, SLA properties other than those
// above (retention, frequency, timeToRepair...), formats other than json,
// avro and protobuf. The checks of every topic object of a contract apply to
// all the product's topics.
//
// The package imports the root package and its internal YAML machinery
// only; its messages and positions are pinned by the golden files of
// testdata/contracts.
package odcs
