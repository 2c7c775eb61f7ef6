// Package quality checks the contents of sampled records against their
// product's promises and turns the results into completeness, validity and
// volume SLI events.
//
// # What it owns
//
//   - Decoding, once per sampled record, shared by every rule: JSON (read
//     lazily: top-level keys are indexed in one pass, values converted only
//     when a rule reads them); Avro and Protobuf in the Confluent wire format
//     (magic byte 0, 4-byte schema id, Protobuf message indexes) with schemas
//     from a Confluent-compatible registry (franz-go pkg/sr, basic or bearer
//     auth, TLS), compiled once and cached by id; raw for the rest.
//     Tombstones (nil values) are not checked. An undecodable record is
//     counted with its reason — not_json, bad_magic_byte, unknown_schema_id,
//     truncated, schema_mismatch, registry_unavailable — and is invalid (and
//     incomplete when the product has required fields). It is never fatal
//     and never logged per record; a schema id the registry did not serve is
//     asked again only after a backoff (5 s doubling to 1 min).
//   - The event time of Avro and Protobuf products, for the collector:
//     ObserveRecordField is ObserveRecord that also returns one field of
//     the value it decoded (the product's event_time.field, dotted keys
//     through nested records and messages), so that a sampled record is
//     decoded once, here, for the rules and for its latency. DecodeField
//     decodes without checking, for the collector's freshness probe. A
//     record that cannot be decoded comes back as an error naming its
//     undecodable reason, never a value; the collector reads the field's
//     time (package collector, Extractor.ExtractValue).
//   - Required fields (dotted paths, present and non-null) → completeness.
//   - CEL rules (cel-go) over message, key, headers, timestamp, topic,
//     partition and offset → validity. Rules are compiled once; Check reports
//     syntax and type errors with the file position of the rule. A rule with
//     a comprehension runs under a cost limit (CostLimit) so that it cannot
//     stall the agent; a rule that errs (a missing field, a type mismatch,
//     the limit) counts as error and the record as invalid.
//   - Sequence gaps and duplicates per producer key (or per partition) with
//     bounded memory: beyond max_keys the idlest producer is forgotten. Each
//     expected sequence number is a completeness event, a missing one a bad
//     one. A partition the collector skipped (Skipped) is not judged across
//     the skip, so the counts are exact only when a product is sampled whole.
//   - Volume: records appended per one-minute window (end-offset deltas) ≥
//     min_per_minute; silent partitions.
//   - Dead-letter topics: records appended there (end-offset deltas) count
//     against validity, scaled by the product's sample ratio so that the
//     share is DLQ / (product + DLQ). Their reasons come from the
//     __rule.name or __connect.errors.exception.class.name header, read with
//     direct fetch requests (at most 1 MiB per leader and 256 KiB per
//     partition each tick; a partition several products name is read once;
//     a read position that fell out of range moves to the end), at most 20 distinct
//     reasons per product (then other); a header value that is not a plain
//     name counts as other.
//   - Confluent ruleSet.domainRules of type CEL and CEL_FIELD (with an
//     optional "guard ; expr" and tags) and metadata.properties (owner, …)
//     of each avro/protobuf product's <topic>-value subject, read every
//     Options.RefreshInterval and evaluated like config rules.
//   - The report behind /api/v1/products/{name}/quality (Engine.Quality,
//     Engine.Handler): counts per rule and, for failures, the places (topic,
//     partition, offset) of the last five records.
//
// No payload value, key or header value ever leaves the package: not in a
// log line, a metric label, an error, an SLI event or the report — save the
// one field ObserveRecordField and DecodeField return to their caller (the
// collector, which reads a time from it and neither logs nor exports it).
// CEL evaluation errors, which may quote a value, are counted and dropped.
//
// It does not sample Kafka (package collector, which calls ObserveRecord or
// ObserveRecordField, DecodeField and Skipped), nor measure event times, load ODCS contracts (the root package), or evaluate SLOs
// (package sla, fed through Sink).
//
// # Configuration
//
// The package owns the schema_registry: section (RegistryConfig, with
// Validate); package config composes it and reads its *_file secrets, and
// New takes it, with collector.tick, through Options. Check, the CEL rules
// and field paths of the products, is a check that the loader runs.
//
// # Concurrency
//
// ObserveRecord, ObserveRecordField and Skipped are called from the
// collector's poll goroutine, DecodeField from its tick; they hold the
// product's mutex, so products are checked independently.
// A /metrics scrape reads each product's counts under the same mutex,
// family by family, and writes nothing while it holds it.
// Run ticks every collector.tick and refreshes ruleSets; its Kafka requests
// never run on the per-record path. A registry fetch for a schema id not yet
// cached happens once, on the record that first carries it.
//
// # Metrics
//
// Product series carry the labels product, domain and owner. They are an
// expo.Source (package internal/expo): read at each scrape from the counts
// the engine keeps per product and streamed one family at a time, with
// created timestamps on the counters, rather than held as client_golang
// series. They export what happened, and only for the features a product
// uses:
//
//   - A series that counts an event — a rule's result, an undecodable
//     reason, a missing field, a completeness or validity result, a
//     sequence gap, duplicate, reset or eviction, a dead letter and its
//     reason — appears at its first event. A result that never happened
//     has no series, not a 0: a ratio's numerator needs "or … * 0" when it
//     may be absent. The first event of a new series is not seen by rate()
//     or increase() unless Prometheus ingests created timestamps
//     (created-timestamp-zero-ingestion, protobuf scrapes).
//   - Sequence series exist only for products with quality.sequence,
//     volume series only for products with quality.volume (from their first
//     measurement: the first end-offset listing for silent partitions, the
//     first full minute for the rate), dead-letter series only for products
//     with dlq_topics.
//   - meshwatch_quality_rules has a series per source only while the source
//     has a rule. A rule's records_total series stay when the rule is
//     dropped, and a rule that replaces one of the same name (a new schema
//     version) counts on in them.
//   - meshwatch_quality_checked_total is always there.
//
// A product with two config rules whose records all pass thus exports
// checked_total, records_total{rule,result="pass"} twice,
// validity_events_total{result="good"} and rules{source="config"}.
//
//	meshwatch_quality_checked_total                       records the rules looked at (always)
//	meshwatch_quality_records_total{rule,result}          records checked by a rule: pass, fail, error
//	meshwatch_quality_undecodable_total{reason}           not_json, bad_magic_byte, unknown_schema_id, truncated,
//	                                                      schema_mismatch, registry_unavailable
//	meshwatch_quality_required_missing_total{field}       records missing a required field
//	meshwatch_quality_completeness_events_total{result}   good, bad (with required fields or a sequence check)
//	meshwatch_quality_validity_events_total{result}       good, bad
//	meshwatch_quality_sequence_missing_total              sequence numbers skipped (sequence)
//	meshwatch_quality_sequence_duplicates_total           numbers not above the producer's last (sequence)
//	meshwatch_quality_sequence_resets_total               producers that started a new sequence (sequence)
//	meshwatch_quality_sequence_evictions_total            producers forgotten beyond max_keys (sequence)
//	meshwatch_quality_sequence_keys                       producers tracked (sequence, from the start)
//	meshwatch_quality_volume_records_per_minute           over the last volume window (volume)
//	meshwatch_quality_silent_partitions                   partitions without a new record for a minute (volume)
//	meshwatch_quality_dlq_records_total                   records appended to the dead-letter topics (dlq_topics)
//	meshwatch_quality_dlq_reasons_total{reason}           dead-lettered records read, by reason (dlq_topics)
//	meshwatch_quality_rules{source}                       rules evaluated: config, registry
//
// Agent series:
//
//	meshwatch_quality_schema_fetches_total{result}        schema fetches by id: ok or an undecodable reason
//	meshwatch_quality_ruleset_refreshes_total{result}     ok, not_found, error
//	meshwatch_quality_tick_errors_total{step}             end_offsets, metadata, dlq_fetch
package quality
