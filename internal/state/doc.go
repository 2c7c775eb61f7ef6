// Package state keeps the agent's state across restarts and failovers: the
// SLOs' buckets (sla), the alert outbox (alert) and the cost ledger (cost),
// behind one small key-value [Store]. Consumers declare the part of the
// interface they use; cmd/meshwatch picks the backend from state.backend.
//
//   - [Dir] (state.backend: dir, the default): files in state.dir. A key
//     is one file, <key with bytes outside [A-Za-z0-9_-] as %XX>.state.
//     Writes go to a temporary file that is synced and renamed over the
//     old one, then the directory is synced: a crash leaves the old value
//     or the new, never a part. Each file starts with a header line with
//     a CRC-32C and the length, so a truncated or garbled file is
//     detected; it is renamed to <file>.corrupt-<time> with one log line,
//     Get reports it once with an error wrapping [ErrCorrupt] (the
//     consumer counts it as corrupt and starts without it, never a crash
//     loop), and afterwards it reads as missing. [Dir.Check] writes and
//     removes a probe file the same way, so that an agent can learn at
//     start and after each flush that the directory cannot be written
//     (permissions, a read-only or full file system) and say so in its
//     readiness; NewDir does not require a writable directory (meshwatch
//     report reads one). A large PutMany writes a pack file instead of a
//     file per key (below).
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
// Dir's pack files. A PutMany of 16 entries or more (the SLO flush of an
// agent with many SLOs) writes them all to one file, pack-<seq>.pack (seq:
// 16 hex digits), the same way (temporary file, fsync, rename, directory
// sync): one file instead of one per key, about 20 times faster
// (BenchmarkPutManySLA). seq grows with each pack; NewDir takes it up
// from the names there. Each entry holds its key and its value
// framed as in a per-key file, with checksums over both, so a damaged
// entry is detected when it is read; a trailer (index of the entries,
// their count, checksums) tells a complete pack. NewDir reads every pack's
// index, oldest first, so the newest record of a key wins; Get reads the
// entry at its offset. A key once in a pack stays in packs: Put writes a
// pack of one entry, Delete and SetAside a tombstone, a smaller PutMany
// holding it a small pack; a per-key file of a key in a pack is stale,
// never read, and removed once the pack is durable. A damaged entry is a
// corrupt value as above (ErrCorrupt, its copy set aside to
// Path(key)+.corrupt-<time>, then a tombstone). A pack that fails its
// checks as a whole can only be damage (a pack becomes visible complete):
// NewDir renames it to <pack>.corrupt-<time> with one log line, and its
// keys read as their records in older packs or per-key files, or as
// missing; no ErrCorrupt, as its keys are unknown. A pack none of whose
// records is the newest is removed after a write; a PutMany folds the live
// records of older packs into its pack when their dead bytes exceed the
// live bytes, or when more than 8 packs would remain. With the same keys
// each flush (package sla), one pack is on disk after each flush, about
// one copy of the data. An agent before packs reads only per-key files:
// downgraded, it loses what was written to packs. dir_pack.go lists the
// crash points.
//
// Values are opaque bytes; what they mean and whether they decode is the
// consumer's business: a consumer that cannot decode a value calls
// SetAside. The package exports no metrics (consumers count their loads
// and flushes) and holds no product logic.
//
// The package owns the state: section (Config: backend, dir, topic, flush,
// with SetDefaults and Validate), which package config composes.
package state
