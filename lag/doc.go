// Package lag measures the consumer lag of every data product's groups:
// offset lag, time lag and a status, per partition and per group, and the
// lag SLI.
//
// # What it owns
//
//   - The groups of a product: every consumer group with committed offsets
//     on the product's topics, and every group the product declares under
//     consumers (or names in a lag SLO), with the consumer's owner
//     (meshwatch.UnknownOwner when undeclared), Kafka's group state and its
//     members. A topic selected by two products belongs to the first, as in
//     the collector. A declared group without committed offsets on the
//     product's topics (one that does not exist, or never consumed) is
//     reported with NoData: state Dead when Kafka does not know it, no
//     status (no meshwatch_consumer_status series), no lag series, and
//     its lag SLO events are not valid (no data is silent, not perfect).
//   - Offset lag per group and partition: end offset − committed offset,
//     clamped at 0 (the two come from two brokers at two moments). A
//     partition of the group's topics that it never committed is reported as
//     such (Committed nil), with no lag and no status.
//   - Time lag (Compute, pure): for a lagging partition, now − the timestamp
//     of the record at the committed offset, read with direct fetch requests
//     to the leaders (method "exact"), at most lag.exact_fetches new reads per
//     pass; a record is read once while the committed offset stays. Beyond
//     the budget, or when the record is gone, it is interpolated from the
//     partition's sampled (end offset, time) history (method
//     "interpolated"), which never overstates by more than one pass and does
//     not spike on bursts. Caught up is 0; never negative, never NaN. The
//     end offsets of every product topic are sampled each pass, so a group
//     that starts lagging has a history; the history keeps 64 points per
//     partition, idle runs as two, older points thinned. The cluster's topic
//     list is read again once a minute, or at once when a group commits on
//     a product topic it does not have: a new topic's history starts within
//     a minute.
//   - Data loss: a committed offset below the log start (records expired
//     or deleted unread); retention risk: time lag / retention.ms of the
//     topic, and at least 1 once records are lost.
//   - The time-lag distribution of each group over the last 5m (one sample
//     per pass, p50 and p99 read through an HDR histogram), in Snapshot
//     only (not exported to Prometheus).
//   - Status (Evaluate, pure) per partition, and per group as its worst
//     partition: OK, WARN (time lag growing), REWIND (committed offset below
//     the highest seen), STALL (behind, a member is assigned the partition,
//     no commit progress), STOP (the same with no member), LOST (committed
//     below the log start), on time and commit progress. STALL and STOP
//     need the partition behind with its committed offset unchanged, and as
//     much time lag, for its patience: Options.StuckAfter (default 6
//     passes, at least 1m) until its commit cadence is known, then twice the
//     longest of its last 4 commit gaps, from 2 passes up to 10 minutes. A
//     gap counts only when the partition was not stuck before the commit
//     (one pass when it was caught up), so idle time and stalls are not
//     learned as cadence. A group committing at every pass is STOP or STALL
//     at the third pass that sees the same offset; one committing every
//     minute after 2 minutes. LOST, REWIND, STALL and STOP are reported at
//     the pass that establishes them; a rise to WARN and every return to a
//     less severe status need lag.passes consecutive passes (Burrow's
//     anti-flapping), except that REWIND clears at the first pass whose
//     committed offset is back at or past the highest seen. A group's
//     status is Settled once each of its partitions has been watched for
//     its patience and no change waits out its hysteresis: after a start or
//     a takeover, a group that stopped long before reads OK, unsettled,
//     until then (an alert on it is kept meanwhile, not resolved).
//   - The lag SLI: per pass and lag SLO, one event, good when the group's
//     time lag (its largest partition's) is within the threshold.
//
// It never joins a group, commits or produces: groups and offsets are read
// with admin requests (ListGroups, OffsetFetch, DescribeGroups,
// ConsumerGroupDescribe, ShareGroupDescribe, DescribeShareGroupOffsets,
// ListOffsets, DescribeConfigs, Metadata) and records with sessionless
// fetch requests. It does not evaluate SLOs (package sla) or alert.
// Every group kind of Kafka 4 is described with its own API, as ListGroups
// types it: classic groups with DescribeGroups, KIP-848 consumer groups
// with ConsumerGroupDescribe (DescribeGroups answers "no members" for them,
// which would make a live group look stopped), share groups (KIP-932) with
// ShareGroupDescribe and DescribeShareGroupOffsets. A declared group Kafka
// does not list is described as classic (Dead when it does not exist).
//
// # Configuration
//
// The package owns the lag: section (Config: interval, exact_fetches,
// passes, kafka_lag_exporter_metrics, with SetDefaults and Validate);
// package config composes it, and New takes it beside the model. What the
// metrics export is set by MetricsOptions, given to NewMetrics: the
// granularity of the lag series (metrics.lag_granularity, group, topic or
// partition, read with ParseGranularity; default topic) and
// kafka-lag-exporter's names (lag.kafka_lag_exporter_metrics).
//
// # Concurrency
//
// Run makes a pass at once and then every lag.interval from one and a half
// intervals on: half an interval out of step with the collector's ticks,
// which start with the agent, so that the two do not ask the cluster at the
// same moment. A pass is bounded in time and its result is swapped in
// whole. Snapshot and a scrape read the last snapshot and never call Kafka;
// series of groups and partitions that are gone disappear with it.
//
// # Metrics
//
// The series of a group on a product carry the labels product, group,
// owner (the consumer's owner) and group_type (classic, consumer for KIP-848
// groups, share for KIP-932 share groups; empty while Kafka does not list
// the group). The two lag series follow the granularity
// (metrics.lag_granularity, MetricsOptions.Granularity): per topic by
// default (their topic's committed partitions: the sum of the offset lags,
// the largest time lag with its method), per partition with "partition"
// (labels topic and partition), not at all with "group", where the group
// series carry the lag. No lag series has a label that changes from pass
// to pass: how the time lag was measured is a series of its own.
//
//	meshwatch_consumer_lag_records{topic[,partition]}        end − committed (committed partitions only)
//	meshwatch_consumer_lag_seconds{topic[,partition]}        time lag
//	meshwatch_consumer_group_lag_records                     sum over the group's partitions
//	meshwatch_consumer_group_lag_seconds                     largest partition time lag
//	meshwatch_consumer_group_lag_method{method}              the current method, 1: exact, interpolated, or lower_bound (a value that is at least the lag, as after a start)
//	meshwatch_consumer_status{status}                        the current status, 1 (no series with no_data)
//	meshwatch_consumer_group_no_data                         1 while the group has no committed offset
//	meshwatch_consumer_retention_risk_ratio                  largest time lag / retention.ms; 1 once records are lost
//
// Only while they are above 0 (they appear then):
//
//	meshwatch_consumer_uncommitted_partitions                partitions of its topics never committed
//	meshwatch_consumer_lost_records                          records between the committed offsets and the log start: data loss
//
// A group with no committed offset (no_data 1) has no status, lag, method,
// retention risk or lost records series. A product read by one group thus
// has, at the default granularity, 6 series plus 2 per topic it reads.
//
// A share group has no committed offsets: its share-partition start offset
// (every record below it acknowledged or archived) stands for the
// committed offset, its offset lag is the broker's count of records not yet
// acknowledged (DescribeShareGroupOffsets), and its time lag the age of the
// record at the start offset, read like any other.
//
// The state and members of a group are the group's own, not of a product:
// one series per group, labelled group and owner. The owner is the first
// declared one (not meshwatch.UnknownOwner) in config order of the products
// the group reads; the state and members are those of the group in the
// first of those products (a pass reads them once per group).
//
//	meshwatch_consumer_group_state{group,owner,group_type,state}  the current Kafka state, 1 (Dead: does not exist)
//	meshwatch_consumer_group_members{group,owner,group_type}      members of the group
//
// The 5m time-lag quantiles of the JSON API (p50_seconds, p99_seconds) are
// not exported: quantile_over_time over meshwatch_consumer_group_lag_seconds
// computes them. Nor is data loss, which is meshwatch_consumer_lost_records
// > 0.
//
// Agent series:
//
//	meshwatch_lag_pass_duration_seconds                      histogram of pass time
//	meshwatch_lag_pass_errors_total{step}                    list_groups, fetch_offsets, share_offsets, metadata, describe_groups, end_offsets, start_offsets, topic_configs
//	meshwatch_lag_exact_reads_total{result}                  ok, error, timeout, over_budget
//	meshwatch_lag_last_pass_timestamp_seconds                when the last pass sampled the offsets
//	meshwatch_lag_groups                                     product groups at the last pass
//
// With lag.kafka_lag_exporter_metrics (default on), kafka-lag-exporter's
// names and labels too, over the partitions of product topics. The group
// series at every granularity:
//
//	kafka_consumergroup_group_max_lag{cluster_name,group}
//	kafka_consumergroup_group_max_lag_seconds{cluster_name,group}
//	kafka_consumergroup_group_sum_lag{cluster_name,group}
//
// At the default granularity, topic, and at partition, the sum per topic
// (over the partitions the group committed):
//
//	kafka_consumergroup_group_topic_sum_lag{cluster_name,group,topic}
//
// At partition, also the partition series:
//
//	kafka_consumergroup_group_lag{cluster_name,group,topic,partition,member_host,consumer_id,client_id}
//	kafka_consumergroup_group_lag_seconds{cluster_name,group,topic,partition,member_host,consumer_id,client_id}
//
// At group, neither. A partition no member is assigned has member_host,
// consumer_id and client_id "unknown", as in kafka-lag-exporter.
package lag
