package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopic is the compacted topic the Kafka store uses by default.
const DefaultTopic = "__meshwatch_state"

// Kafka is a Store in a compacted Kafka topic, for agents without a disk of
// their own (DaemonSets) and for failover: whoever takes a product over
// reads its state from the topic. Each key is a record key; the latest
// record of a key is its value and a tombstone (a null value) deletes it, so
// compaction keeps the topic as small as the state.
//
// NewKafka reads the whole topic to its end and keeps the latest value of
// every key in memory; Get and Keys answer from memory; Put, PutMany, Delete
// and SetAside produce synchronously and update memory once the brokers
// acknowledged. Sync reads what other agents wrote since. Safe for
// concurrent use.
type Kafka struct {
	cl    *kgo.Client
	topic string
	log   *slog.Logger
	now   func() time.Time

	syncMu sync.Mutex // one Sync at a time

	mu     sync.RWMutex
	values map[string][]byte
	at     map[string]int64 // offset of the record behind each key's value or tombstone
	next   map[int32]int64  // the next offset to read per partition
}

// apply makes r the value of its key unless a later record of the key was
// applied already (a Put that raced a Sync). The caller holds k.mu.
func (k *Kafka) apply(r *kgo.Record) {
	key := string(r.Key)
	if at, ok := k.at[key]; ok && at >= r.Offset {
		return
	}
	k.at[key] = r.Offset
	if r.Value == nil {
		delete(k.values, key)
	} else {
		k.values[key] = r.Value
	}
}

// NewKafka opens the state topic with client, creating it with
// cleanup.policy=compact (one partition, the brokers' default replication)
// if it does not exist, and loads it by reading every partition to its end.
// client produces and administers; the reads use a short-lived client built
// from client.Opts(), so client must not be a group consumer. ctx bounds the
// load. log may be nil.
func NewKafka(ctx context.Context, client *kgo.Client, topic string, log *slog.Logger) (*Kafka, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if topic == "" {
		topic = DefaultTopic
	}
	k := &Kafka{
		cl: client, topic: topic, now: time.Now,
		log:    log.With("component", "state", "backend", "kafka", "topic", topic),
		values: make(map[string][]byte),
		at:     make(map[string]int64),
		next:   make(map[int32]int64),
	}
	if err := k.ensureTopic(ctx); err != nil {
		return nil, err
	}
	if err := k.Sync(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Kafka) ensureTopic(ctx context.Context) error {
	adm := kadm.NewClient(k.cl)
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, k.topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		k.log.Info("created the compacted state topic")
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
	default:
		return fmt.Errorf("state: create topic %s: %w", k.topic, err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, k.topic)
	if err != nil {
		k.log.Warn("could not check the state topic's cleanup.policy", "err", err)
		return nil
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && !strings.Contains(c.MaybeValue(), "compact") {
				k.log.Warn("the state topic is not compacted: it keeps every flush until retention deletes them, and state older than retention is lost",
					"cleanup_policy", c.MaybeValue())
			}
		}
	}
	return nil
}

// Sync reads the topic from where the last read stopped to its current end,
// so that values other agents wrote since are seen. NewKafka calls it; an
// agent that takes a product over calls it before it loads the product's
// state.
func (k *Kafka) Sync(ctx context.Context) error {
	k.syncMu.Lock()
	defer k.syncMu.Unlock()
	adm := kadm.NewClient(k.cl)
	ends, err := adm.ListEndOffsets(ctx, k.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("state: end offsets of %s: %w", k.topic, err)
	}
	k.mu.RLock()
	want := make(map[int32]kgo.Offset)
	end := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if next, ok := k.next[o.Partition]; !ok || next < o.Offset {
			if o.Offset > 0 {
				end[o.Partition] = o.Offset
				want[o.Partition] = kgo.NewOffset().At(max(next, 0))
			}
		}
	})
	k.mu.RUnlock()
	if len(want) == 0 {
		return nil
	}

	opts := append(slices.Clone(k.cl.Opts()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.topic: want}),
		kgo.KeepControlRecords(), // their offsets count towards the end
	)
	rc, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("state: reader of %s: %w", k.topic, err)
	}
	defer rc.Close()
	pending := len(end)
	var read int
	for pending > 0 {
		fs := rc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("state: read %s to its end: %w", k.topic, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("state: read %s partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		k.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic != k.topic {
				return // client's own ConsumeTopics, carried over by Opts
			}
			k.next[r.Partition] = r.Offset + 1
			if e, ok := end[r.Partition]; ok && r.Offset+1 >= e {
				delete(end, r.Partition)
				pending--
			}
			if r.Attrs.IsControl() || r.Key == nil {
				return
			}
			read++
			k.apply(r)
		})
		k.mu.Unlock()
	}
	k.log.Debug("state topic read to its end", "records", read)
	return nil
}

// Get implements Store, from memory. It never reports ErrCorrupt: record
// batches carry their own CRC, which the client checks when it reads, so a
// value is the bytes that were produced; whether they decode is the
// consumer's business (SetAside).
func (k *Kafka) Get(_ context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	v, ok := k.values[key]
	return slices.Clone(v), ok, nil
}

// Put implements Store: it returns once the record is acknowledged.
func (k *Kafka) Put(ctx context.Context, key string, value []byte) error {
	return k.PutMany(ctx, map[string][]byte{key: value})
}

// PutMany implements Store with one synchronous produce of every entry.
// Entries that were acknowledged are applied even if others failed.
func (k *Kafka) PutMany(ctx context.Context, entries map[string][]byte) error {
	recs := make([]*kgo.Record, 0, len(entries))
	for _, key := range slices.Sorted(maps.Keys(entries)) {
		if err := checkKey(key); err != nil {
			return err
		}
		v := entries[key]
		if v == nil {
			v = []byte{} // nil would be a tombstone
		}
		recs = append(recs, &kgo.Record{Topic: k.topic, Key: []byte(key), Value: slices.Clone(v)})
	}
	return k.produce(ctx, recs)
}

func (k *Kafka) produce(ctx context.Context, recs []*kgo.Record) error {
	results := k.cl.ProduceSync(ctx, recs...)
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("state: put %s: %w", r.Record.Key, r.Err))
			continue
		}
		k.apply(r.Record)
	}
	return errors.Join(errs...)
}

// Delete implements Store by producing a tombstone.
func (k *Kafka) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return k.produce(ctx, []*kgo.Record{{Topic: k.topic, Key: []byte(key)}})
}

// Keys implements Store, from memory. Values set aside are not listed.
func (k *Kafka) Keys(_ context.Context, prefix string) ([]string, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var keys []string
	for key := range k.values {
		if strings.HasPrefix(key, prefix) && (strings.HasPrefix(prefix, asidePrefix) || !strings.HasPrefix(key, asidePrefix)) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// SetAside implements Store: the value moves to the key
// "__aside__/<key>" (one per key, the latest kept) and key gets a
// tombstone, in one produce.
func (k *Kafka) SetAside(ctx context.Context, key, reason string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	k.mu.RLock()
	v, ok := k.values[key]
	k.mu.RUnlock()
	if !ok {
		return nil
	}
	err := k.produce(ctx, []*kgo.Record{
		{Topic: k.topic, Key: []byte(asidePrefix + key), Value: v},
		{Topic: k.topic, Key: []byte(key)},
	})
	if err != nil {
		return err
	}
	k.log.Error("state entry is corrupt and was set aside; starting without it", "key", key, "reason", reason, "aside_key", asidePrefix+key)
	return nil
}
