// Package kfetch reads partitions from an offset with direct fetch requests
// to their leaders: the one way meshwatch reads records without consuming
// them. lag reads the record at a group's committed offset, quality the
// dead-lettered records' reason headers, cost the tail of a partition to
// measure its bytes per offset.
//
// [Fetch] takes the wanted partitions and offsets ([Want]), a [Leaders]
// lookup ([MetadataLeaders] of a kadm metadata answer, or the caller's own)
// and [Options], and returns one [Result] per want, in order. It sends one
// request per leader, to all leaders at once, each of them:
//
//   - sessionless (session ID 0, epoch -1): it leaves no fetch session on
//     the broker;
//   - from no replica (replica ID -1), read_uncommitted, with no leader
//     epoch (any leader will do) and no wait for data (MaxWait 0, MinBytes
//     1): a partition with nothing at the offset answers empty at once;
//   - bounded by Options.MaxBytes for the response and
//     Options.PartitionMaxBytes for each partition. Only the first
//     partition of a response with data gets a batch larger than its
//     share (KIP-74); another is answered with nothing, or is left out of
//     a full response, and comes with no error and no records.
//
// It never joins a group, commits or changes an offset: a fetch by a client
// that is no group member is invisible to the groups.
//
// Each partition's outcome is in its Result's Err, never in a return value
// of Fetch: [ErrNoLeader] (Leaders knew no leader, and it was not asked),
// [ErrDuplicate], a [*BrokerError] for a request that failed as a whole
// (including ctx ending: errors.Is(err, context.DeadlineExceeded) tells a
// timeout), or the partition's Kafka error as a kerr value, e.g.
// kerr.OffsetOutOfRange (the offset expired or is past the end),
// kerr.UnknownTopicID (the topic was deleted, or recreated under a new ID),
// kerr.NotLeaderForPartition. The only retry is for a leader that moved: a
// partition whose old leader answers NOT_LEADER_OR_FOLLOWER and names the
// new one (KIP-951, Kafka 3.7 and later) is asked once more, there. Every
// other failure is the caller's to retry on its next pass, with new
// metadata.
//
// With Options.Decode the batches are decoded (with one shared, pooled
// decompressor) into the records at or after the wanted offset, transaction
// markers left out; Result.NextOffset is where a next read starts, past any
// trailing marker or compacted batch. Without it Result.Batches holds the
// raw batches, for a caller that measures them instead.
//
// [ListOffsets] lists the start or end offsets of partitions the caller
// knows, asking the leaders a [Leaders] lookup names directly (one request
// per broker, all at once) and the rest through the client;
// [ListOffsetsStale] also names the topics whose leaders the lookup had
// wrong or not at all, whose metadata the caller should read again.
//
// Fetch applies no timeout of its own: ctx bounds it (the client's request
// timeout still applies to each request). It is safe for concurrent use.
package kfetch
