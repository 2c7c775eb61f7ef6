// Package kafkatest runs in-process Kafka clusters for tests and for
// `meshwatch demo`.
//
// A [Cluster] is a franz-go kfake cluster of three brokers listening on
// 127.0.0.1: it speaks the real Kafka wire protocol, so the code under test
// uses its ordinary franz-go clients against it. Beside the embedded
// *kfake.Cluster, Cluster offers what meshwatch's tests do over and over:
// clients closed at the end of the test, topic creation with a replication
// factor and configs, synchronous producing that keeps each record's
// Timestamp and Headers, and faults shaped like the failures meshwatch
// measures:
//
//   - [Cluster.FailFetches]: every Fetch of a topic answers
//     UNKNOWN_SERVER_ERROR per partition, which a franz-go consumer returns
//     from PollFetches (retriable errors such as NOT_LEADER_OR_FOLLOWER are
//     retried inside franz-go and never reach the caller);
//   - [Cluster.Leaderless]: Metadata reports a partition with leader -1 and
//     LEADER_NOT_AVAILABLE, and its last leader refuses to serve it.
//
// [WaitFor] is the one way tests wait for something asynchronous: it polls a
// condition against a deadline. Tests do not sleep to synchronise.
//
// kafkatest owns no metrics and no product logic; it is used by tests and by
// internal/demo only, never by the agent's runtime path.
package kafkatest
