// Package collector samples data products on Kafka and measures what their
// promises are about: end-to-end latency, freshness, availability and
// throughput, and the SLI events (good / valid) of their latency, freshness
// and availability SLOs.
//
// # What it owns
//
//   - Topic resolution: each product's topic names and regex patterns are
//     resolved at start, every collector.discovery (default 1m), and at once
//     when a fetch says a topic is unknown. A new matching topic is picked up;
//     a deleted one is dropped after one error. A topic claimed by two products
//     belongs to the first in the config. A topic deleted and created again
//     under the same name (its topic ID changed, or a leader epoch went
//     backwards: the cluster was rebuilt without its data) is purged from the
//     clients, which would otherwise keep failing on the old ID, and read
//     afresh from the tail; every tick compares the IDs, so this happens
//     within a tick or two, without a restart.
//   - Tail sampling: every partition is read by direct assignment from the
//     end. The agent never joins or commits for a group and never produces.
//     Each product has a budget (records/s and bytes/s, a token bucket with
//     half a second of burst); when it is spent, the product's partitions are
//     removed from the client and re-added at the end once the budget has
//     refilled, so samples are always fresh and the agent's read is bounded.
//     A partition whose fetches fail is held back with exponential backoff
//     (200 ms up to the tick) instead of retried in a loop. Transaction
//     markers are fetched (and not measured) so that the read position of a
//     transactional topic reaches its end.
//   - Blind spots: a product whose records the agent cannot read is blind,
//     never green. Each tick compares every partition's end offset with
//     what the sampler fetched (a re-add at the tail skips records on
//     purpose and does not count): records listed a tick earlier and still
//     unread for the tick interval, at least 5 s, make it blind "stalled";
//     fetches that keep failing with nothing fetched for as long, while
//     records arrive, make it blind "fetch_errors" (a topic ID the broker
//     does not know counts, though it is no outage of the product). A blind
//     product is not available (problem "blind"), its availability SLO gets
//     no event while that is the only problem (unknown, neither good nor
//     bad), and one log line a minute names it.
//   - Event time per record: the record timestamp, a header, or a field of
//     the value (dotted keys through nested objects): of a JSON value, read
//     in place, or of an Avro or Protobuf value, read from the record
//     sink's decoding (see "Records and decoding" below). A header or JSON
//     value is RFC 3339 or Unix s/ms/µs/ns (the unit told by magnitude
//     unless set); a decoded value is a timestamp (Avro timestamp-millis,
//     timestamp-micros and date, google.protobuf.Timestamp) whatever the
//     format, a Unix number, or RFC 3339 text; a decoded number 0 is
//     missing (Protobuf does not send a scalar at its default).
//   - Unusable event times are counted by reason, logged once per product
//     and reason (never with the value), never per record. One that cannot
//     be read — missing, unparseable, not_json, out_of_range, undecodable —
//     falls back to the record timestamp (event_time.fallback
//     record_timestamp, the default), which is then measured as the event
//     time, or, with fallback skip, gives no latency (no histogram value,
//     no latency SLO event). Either way the record counts as arriving for
//     freshness at its record timestamp: a product whose records flow is
//     never silent.
//   - Clock skew, beyond the product's event_time.max_clock_skew (default
//     1h), is counted: an event time that far in the future (reason future)
//     gives no latency at all — neither 0 nor anything else, so a producer
//     clock far ahead cannot make latency look perfect — and the record
//     counts as arriving at its record timestamp, at most now; a latency
//     that long (reason skew) stays out of the histograms, so one producer
//     clock far behind cannot make p99 an hour, but is still a latency SLI
//     event (bad unless the threshold is longer), because the record is
//     late to every consumer that trusts its event time. Within the bound
//     a future event time counts as now (latency 0, newest event now) and
//     is not counted: clocks differ by milliseconds. A product whose
//     producers must not run ahead unseen sets a tighter
//     event_time.max_clock_skew (at least 1s).
//   - Latency: observed − event time goes into a Prometheus native histogram
//     and an HDR histogram per product (1 ms–1 h, 2 significant digits) over
//     rolling windows of 1m and 5m, made of 15 s slots counted by HDR
//     bucket: 4 KiB of counters for the current slot (allocated at the
//     product's first record), 4 bytes per populated bucket for a completed
//     one; quantiles merge them into one HDR histogram, exactly as if it
//     had recorded the values. The 5m window is exported (p50, p99);
//     Collector.Latency answers for both.
//   - Freshness per tick: now − the newest event time seen (a record
//     without a usable event time counts at its record timestamp, here and
//     in the probe); partitions whose end offset moved without a sampled
//     record are probed for their last record (at most Options.MaxProbes
//     per tick) so that a throttled product is not reported stale. While nothing has been seen since the agent
//     started, freshness counts from the start, and a freshness SLO gets no
//     event until that exceeds its threshold: a product just (re)started on
//     is not known to be stale, nor fresh.
//   - Availability per tick: every partition has a leader and at least
//     min.insync.replicas in-sync replicas, and the product's fetches
//     succeeded since the last tick. A retryable fetch error (a leader that
//     moved) counts only when the same partition fails again in one of the
//     next two ticks, so that a leader election whose errors arrive on
//     either side of a tick is not an outage; a topic that
//     vanished is dropped by discovery, not counted as an outage. Metadata is
//     asked of a broker directly, never answered from the client's cache,
//     into the collector's own view (metaView): a mesh of up to 1,000
//     topics is read whole every tick; a larger one a slice of
//     max(1,000, topics/6) topics per tick, plus the topics the view lacks,
//     those it saw a problem on, and those whose end offsets its leaders
//     could not give (a moved leader, a deleted topic: read again in the
//     same tick). So a leaderless partition shows at the next tick at any
//     size, and in a mesh above 1,000 topics a partition newly under
//     min.insync.replicas within six ticks.
//     The freshness and availability series exist from the first tick on;
//     a problem has a series only while it holds.
//   - Throughput per tick from end-offset deltas, and the sample ratio.
//
// It does not evaluate SLOs, budgets or burn rates (package sla), consumer
// lag (package lag) or record contents beyond the event time (package
// quality). SLI events leave through the Sink interface once per tick; every
// measured record is handed to the optional RecordSink (package quality), and
// records the budget skips are reported to it as skipped per partition.
//
// # Records and decoding
//
// The collector parses no Avro or Protobuf and knows no schema registry:
// the RecordSink does (package quality, which cannot be imported here, nor
// import this package; cmd/meshwatch wires its Engine as Options.Records).
// A record is decoded at most once per sample. For a product whose event
// time is a field of an Avro or Protobuf value, the poll loop takes the
// budget for the fetched batch, hands each admitted record to
// RecordSink.ObserveRecordField — which decodes it once, checks it as
// ObserveRecord would, and returns the field's value — and then measures
// the batch with those values (Extractor.ExtractValue); such records are
// not handed to ObserveRecord as well. Every other product is measured
// first (a JSON field read in place, without allocating) and its records
// handed to ObserveRecord. The freshness probe's records, which are not
// samples, are decoded by RecordSink.DecodeField and not checked. Without a
// RecordSink, the field of an Avro or Protobuf product cannot be read:
// every record counts as undecodable and falls back.
//
// # Configuration
//
// The package owns the collector: section (Config: tick, discovery, the
// default budget and max_clock_skew, with SetDefaults and Validate);
// package config composes it, and New takes it beside the model. Its
// budget and max_clock_skew are the defaults of every product's sampling
// and event_time.max_clock_skew (ProductDefaults).
//
// # Concurrency
//
// Run starts five loops in one errgroup — poll, discovery, tick, resume and
// window — and returns when all have stopped. The per-record path holds the
// product's mutex once per fetched batch (twice for a decoded event time,
// with the record sink called between) and does not allocate in steady
// state (the native buckets of a product's latency histogram grow when a
// latency falls outside the range seen so far; decoding allocates in the
// sink). A scrape reads the values the loops keep in each product's state,
// under its lock once per product, and never calls Kafka: every product
// series, the latency histogram included, is written by one expo.Source,
// family by family, straight to the /metrics response (package
// internal/expo), without a client_golang metric per series.
//
// # Metrics
//
// Product series carry the labels product, domain and owner. Cardinality
// is by design: an enumeration exports its current values only (a reason
// that does not hold has no series, not a 0), and a counter of rare events
// appears at its first event (absent: none since the agent started). Such
// a counter carries the time of its first event as its created timestamp,
// so that a Prometheus ingesting created timestamps as zero samples counts
// that event in increase() and rate(); without that, they count from the
// second. A product with an event time, SLOs and one topic exports 15
// series in steady state (the latency histogram as its 3 text lines:
// le="+Inf", _sum, _count). Nothing is lost: the good and valid SLI events
// are exported by package sla (meshwatch_slo_good_total,
// meshwatch_slo_valid_total), a product's topics are in the API (Status),
// the newest event time is now − freshness.
//
//	meshwatch_product_info{tier}                       1 per product
//	meshwatch_records_sampled_total                    records measured
//	meshwatch_sampled_bytes_total                      key+value bytes measured
//	meshwatch_records_skipped_total                    fetched but over budget; appears at the first such record
//	meshwatch_budget_throttled_total                   times the budget paused the product; appears at the first such event
//	meshwatch_sample_ratio                             measured / produced over the last tick
//	meshwatch_records_produced_total                   from end-offset deltas
//	meshwatch_produced_bytes_total                     offset deltas × mean sampled record size
//	meshwatch_latency_seconds                          native histogram (schema 3, at most 160 buckets); classic buckets only with MetricsOptions.LatencyBuckets
//	meshwatch_latency_hdr_seconds{window,quantile}     HDR p50, p99 over 5m (window="5m"); absent while the window holds no record
//	meshwatch_event_time_errors_total{reason}          missing, unparseable, not_json, out_of_range, undecodable (these fall back), future, skew; each appears at its first such record
//	meshwatch_freshness_seconds                        now − newest event time (from the first tick on)
//	meshwatch_product_silent                           1 while no event has been seen since start; no series once one has
//	meshwatch_available                                1 when the last tick found no problem
//	meshwatch_availability_problem{reason}             1 per current problem: no_topics, no_leader, under_min_isr, fetch_errors, metadata, blind; none while available
//	meshwatch_product_blind{reason}                    1 while the agent cannot read the product: fetch_errors or stalled; none while it reads it
//	meshwatch_product_partitions                       partitions of the product's topics
//	meshwatch_fetch_errors_total                       partition fetch errors; appears at the first such error
//
// Agent series (no product labels):
//
//	meshwatch_discovery_runs_total{result}             ok, error
//	meshwatch_topic_conflicts                          topics claimed by two products at the last discovery
//	meshwatch_tick_errors_total{step}                  failed requests: metadata, end_offsets, start_offsets, topic_configs
//	meshwatch_freshness_probes_total{result}           ok, error, timeout
//	meshwatch_tick_duration_seconds                    histogram of tick time
package collector
