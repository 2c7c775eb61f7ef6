// Package state keeps the agent's state across restarts and failovers: the
// SLOs' buckets (sla), the alert outbox (alert) and the cost ledger (cost),
// behind one small key-value [Store]. Consumers declare the part of the
// interface they use; cmd/meshwatch picks the backend from state.backend.
//
//   - [Dir] (state.backend: dir, the default): one file per key in
//     state.dir. Writes go to a temporary file that is synced and renamed
//     over the old one, then the directory is synced: a crash leaves the old
//     value or the new, never a part. Each file starts with a header line
//     with a CRC-32C and the length, so a truncated or garbled file is
//     detected; it is renamed to <file>.corrupt-<time> with one log line,
//     Get reports it once with an error wrapping [ErrCorrupt] (the consumer
//     counts it as corrupt and starts without it, never a crash loop), and
//     afterwards it reads as missing. [Dir.Check] writes and removes a probe
//     file the same way, so that an agent can learn at start and after each
//     flush that the directory cannot be written (permissions, a read-only
//     or full file system) and say so in its readiness; NewDir does not
//     require a writable directory (meshwatch report reads one).
//   - [Kafka] (state.backend: kafka): a compacted topic (state.topic,
//     default __meshwatch_state, created with cleanup.policy=compact if
//     missing) whose record keys are the keys. NewKafka reads it to its end
//     and serves reads from memory; writes produce synchronously; Delete
//     produces a tombstone. An agent that takes over a product calls Sync
//     to see what the previous owner wrote. Values set aside move to the key
//     __aside__/<key>.
//   - [Mem]: a map in memory, for a component given no store (alert) and
//     for tests; values set aside move to <key>.corrupt.
//
// Only Dir can find a value damaged: Kafka's record batches carry their own
// CRC and Mem holds what it was given, so neither reports ErrCorrupt.
//
// Values are opaque bytes; what they mean and whether they decode is the
// consumer's business: a consumer that cannot decode a value calls
// SetAside. The package exports no metrics (consumers count their loads
// and flushes) and holds no product logic.
//
// The package owns the state: section (Config: backend, dir, topic, flush,
// with SetDefaults and Validate), which package config composes.
package state
