package kfetch_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/kfetch"
)

// opTimeout bounds a test's requests: it only stops a hang, a busy machine
// never reaches it.
const opTimeout = time.Minute

// t0 is the timestamp of the first record a test produces; record i of a
// partition has t0 + i s.
var t0 = time.UnixMilli(1_700_000_000_000)

type harness struct {
	c   *kafkatest.Cluster
	cl  *kgo.Client // fetches, and produces to the partition a record names
	adm *kadm.Client
	ctx context.Context
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	c := kafkatest.New(t)
	// Uncompressed, so that a record's size is what its value says.
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return &harness{c: c, cl: cl, adm: kadm.NewClient(cl), ctx: ctx}
}

// produceAt produces one record per offset-to-be, each its own batch:
// value "<offset>" padded with dots to size bytes, timestamp t0 + offset s.
// The partition's next offset must be from.
func (h *harness) produceAt(t *testing.T, topic string, partition int32, from int64, n, size int) {
	t.Helper()
	for o := from; o < from+int64(n); o++ {
		v := []byte(strconv.FormatInt(o, 10))
		if len(v) < size {
			v = append(v, bytes.Repeat([]byte("."), size-len(v))...)
		}
		r := &kgo.Record{Topic: topic, Partition: partition, Value: v, Timestamp: t0.Add(time.Duration(o) * time.Second)}
		if err := h.cl.ProduceSync(h.ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if r.Offset != o {
			t.Fatalf("produced %s/%d at offset %d, want %d", topic, partition, r.Offset, o)
		}
	}
}

func (h *harness) leaders(t *testing.T, topics ...string) kfetch.Leaders {
	t.Helper()
	md, err := h.adm.Metadata(h.ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	return kfetch.MetadataLeaders(md.Topics)
}

// checkRecords checks that r read the records from..to-1 as produceAt made
// them, and nothing after.
func checkRecords(t *testing.T, r kfetch.Result, from, to int64) {
	t.Helper()
	checkRecordsNext(t, r, from, to, max(to, r.Offset))
}

// checkRecordsNext is checkRecords of a read whose next offset is next.
func checkRecordsNext(t *testing.T, r kfetch.Result, from, to, next int64) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%s/%d at %d: %v", r.Topic, r.Partition, r.Offset, r.Err)
	}
	var got []int64
	for _, rec := range r.Records {
		got = append(got, rec.Offset)
		if v, _, _ := bytes.Cut(rec.Value, []byte(".")); string(v) != strconv.FormatInt(rec.Offset, 10) {
			t.Errorf("%s/%d record %d: value %.20q", r.Topic, r.Partition, rec.Offset, rec.Value)
		}
		if want := t0.Add(time.Duration(rec.Offset) * time.Second); !rec.Timestamp.Equal(want) {
			t.Errorf("%s/%d record %d: timestamp %v, want %v", r.Topic, r.Partition, rec.Offset, rec.Timestamp, want)
		}
		if rec.Topic != r.Topic || rec.Partition != r.Partition {
			t.Errorf("record %d says %s/%d, want %s/%d", rec.Offset, rec.Topic, rec.Partition, r.Topic, r.Partition)
		}
	}
	var want []int64
	for o := from; o < to; o++ {
		want = append(want, o)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s/%d at %d: offsets %v, want %v", r.Topic, r.Partition, r.Offset, got, want)
	}
	if r.NextOffset != next {
		t.Errorf("%s/%d at %d: next offset %d, want %d", r.Topic, r.Partition, r.Offset, r.NextOffset, next)
	}
}

// moveTo makes broker the leader of every partition given.
func (h *harness) moveTo(t *testing.T, broker int32, topic string, partitions ...int32) {
	t.Helper()
	for _, p := range partitions {
		if err := h.c.MoveTopicPartition(topic, p, broker); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFetchOnKafka reads partitions of several leaders at once: records
// from an offset in the middle, from the start, an empty partition, and the
// raw batches of the same.
func TestFetchOnKafka(t *testing.T) {
	h := newHarness(t)
	h.c.MustCreateTopic(t, "t", 3, 1, nil)
	h.moveTo(t, 0, "t", 0)
	h.moveTo(t, 1, "t", 1)
	h.moveTo(t, 2, "t", 2)
	h.produceAt(t, "t", 0, 0, 5, 0)
	h.produceAt(t, "t", 1, 0, 3, 0)
	leaders := h.leaders(t, "t")
	wants := []kfetch.Want{{Topic: "t", Partition: 0, Offset: 2}, {Topic: "t", Partition: 1, Offset: 0}, {Topic: "t", Partition: 2, Offset: 0}}

	got := kfetch.Fetch(h.ctx, h.cl, leaders, wants, kfetch.Options{Decode: true})
	if len(got) != 3 {
		t.Fatalf("%d results, want 3", len(got))
	}
	checkRecords(t, got[0], 2, 5)
	checkRecords(t, got[1], 0, 3)
	checkRecords(t, got[2], 0, 0) // empty: no error, no records
	for i, hw := range []int64{5, 3, 0} {
		if got[i].Broker != int32(i) || got[i].HighWatermark != hw || got[i].LogStartOffset != 0 {
			t.Errorf("t/%d: broker %d, high watermark %d, log start %d; want %d, %d, 0", i, got[i].Broker, got[i].HighWatermark, got[i].LogStartOffset, i, hw)
		}
	}

	raw := kfetch.Fetch(h.ctx, h.cl, leaders, wants, kfetch.Options{})
	for i, r := range raw {
		if r.Err != nil || r.Records != nil || r.NextOffset != r.Offset {
			t.Errorf("raw t/%d: %v, %d records, next %d; want no error, no records, next %d", i, r.Err, len(r.Records), r.NextOffset, r.Offset)
		}
	}
	// Whole batches from the one holding the offset: 3 one-record
	// batches of partition 0, 3 of 1, none of 2.
	for i, n := range []int{3, 3, 0} {
		if got := countBatches(raw[i].Batches); got != n {
			t.Errorf("raw t/%d: %d batches, want %d", i, got, n)
		}
	}
}

// countBatches counts the complete record batches in b.
func countBatches(b []byte) int {
	n := 0
	for len(b) >= 12 {
		size := 12 + int(int32(uint32(b[8])<<24|uint32(b[9])<<16|uint32(b[10])<<8|uint32(b[11])))
		if size <= 12 || size > len(b) {
			break
		}
		n++
		b = b[size:]
	}
	return n
}

// TestFetchLeaderMoved reads with metadata from before the partition's
// leader moved: the old leader names the new one, which is asked.
func TestFetchLeaderMoved(t *testing.T) {
	h := newHarness(t)
	h.c.MustCreateTopic(t, "t", 2, 1, nil)
	h.moveTo(t, 0, "t", 0, 1)
	h.produceAt(t, "t", 0, 0, 3, 0)
	h.produceAt(t, "t", 1, 0, 2, 0)
	stale := h.leaders(t, "t")
	h.moveTo(t, 2, "t", 0)

	got := kfetch.Fetch(h.ctx, h.cl, stale, []kfetch.Want{{Topic: "t", Partition: 0, Offset: 1}, {Topic: "t", Partition: 1, Offset: 0}}, kfetch.Options{Decode: true})
	checkRecords(t, got[0], 1, 3)
	checkRecords(t, got[1], 0, 2)
	if got[0].Broker != 2 || got[1].Broker != 0 {
		t.Errorf("answered by brokers %d and %d, want 2 (the new leader) and 0", got[0].Broker, got[1].Broker)
	}
}

// TestFetchLeaderless reads a partition whose leader is gone: with fresh
// metadata it is not asked for; with stale metadata its old leader refuses
// it, names no other, and that is its error.
func TestFetchLeaderless(t *testing.T) {
	h := newHarness(t)
	h.c.MustCreateTopic(t, "t", 2, 1, nil)
	h.produceAt(t, "t", 0, 0, 2, 0)
	h.produceAt(t, "t", 1, 0, 2, 0)
	stale := h.leaders(t, "t")
	remove := h.c.Leaderless("t", 0)
	defer remove()
	var fresh kfetch.Leaders
	kafkatest.WaitFor(t, opTimeout, func() bool {
		fresh = h.leaders(t, "t")
		_, _, ok := fresh("t", 0)
		return !ok
	}, "metadata still names a leader of t/0")
	wants := []kfetch.Want{{Topic: "t", Partition: 0, Offset: 0}, {Topic: "t", Partition: 1, Offset: 0}}

	got := kfetch.Fetch(h.ctx, h.cl, fresh, wants, kfetch.Options{Decode: true})
	if !errors.Is(got[0].Err, kfetch.ErrNoLeader) || got[0].Broker != -1 {
		t.Errorf("fresh metadata: t/0 %v from broker %d, want ErrNoLeader, not asked", got[0].Err, got[0].Broker)
	}
	checkRecords(t, got[1], 0, 2)

	got = kfetch.Fetch(h.ctx, h.cl, stale, wants, kfetch.Options{Decode: true})
	if !errors.Is(got[0].Err, kerr.NotLeaderForPartition) {
		t.Errorf("stale metadata: t/0 %v, want NOT_LEADER_OR_FOLLOWER", got[0].Err)
	}
	checkRecords(t, got[1], 0, 2)
}

// TestFetchDeletedTopic reads a topic deleted since the metadata, beside a
// live one on the same broker: the deleted one's partitions fail with
// UNKNOWN_TOPIC_ID, the live one is read.
func TestFetchDeletedTopic(t *testing.T) {
	h := newHarness(t)
	h.c.MustCreateTopic(t, "gone", 1, 1, nil)
	h.c.MustCreateTopic(t, "kept", 1, 1, nil)
	h.moveTo(t, 1, "gone", 0)
	h.moveTo(t, 1, "kept", 0)
	h.produceAt(t, "gone", 0, 0, 2, 0)
	h.produceAt(t, "kept", 0, 0, 2, 0)
	stale := h.leaders(t, "gone", "kept")
	if err := h.c.DeleteTopic(h.ctx, "gone"); err != nil {
		t.Fatal(err)
	}

	got := kfetch.Fetch(h.ctx, h.cl, stale, []kfetch.Want{{Topic: "gone", Partition: 0, Offset: 0}, {Topic: "kept", Partition: 0, Offset: 0}}, kfetch.Options{Decode: true})
	if !errors.Is(got[0].Err, kerr.UnknownTopicID) || got[0].Records != nil {
		t.Errorf("deleted topic: %v, %d records; want UNKNOWN_TOPIC_ID and none", got[0].Err, len(got[0].Records))
	}
	checkRecords(t, got[1], 0, 2)
}

// TestFetchOutOfRange reads below the log start (records deleted since they
// were listed) and past the end.
func TestFetchOutOfRange(t *testing.T) {
	h := newHarness(t)
	h.c.MustCreateTopic(t, "t", 1, 1, nil)
	h.produceAt(t, "t", 0, 0, 5, 0)
	del := kadm.Offsets{}
	del.AddOffset("t", 0, 3, -1)
	if _, err := h.adm.DeleteRecords(h.ctx, del); err != nil {
		t.Fatal(err)
	}
	leaders := h.leaders(t, "t")
	for _, tc := range []struct {
		offset int64
		err    error
		from   int64
	}{
		{1, kerr.OffsetOutOfRange, 0},
		{6, kerr.OffsetOutOfRange, 0},
		{3, nil, 3},
		{5, nil, 5}, // the end: nothing yet
	} {
		got := kfetch.Fetch(h.ctx, h.cl, leaders, []kfetch.Want{{Topic: "t", Partition: 0, Offset: tc.offset}}, kfetch.Options{Decode: true})[0]
		if tc.err != nil {
			if !errors.Is(got.Err, tc.err) {
				t.Errorf("at %d: %v, want %v", tc.offset, got.Err, tc.err)
			}
			continue
		}
		checkRecords(t, got, tc.from, 5)
	}
}

// TestFetchMaxBytes reads partitions of one-record batches of about 1 KiB
// with bounds smaller than their data.
func TestFetchMaxBytes(t *testing.T) {
	h := newHarness(t)
	h.c.MustCreateTopic(t, "t", 2, 1, nil)
	h.moveTo(t, 1, "t", 0, 1)
	h.produceAt(t, "t", 0, 0, 10, 1000)
	h.produceAt(t, "t", 1, 0, 10, 1000)
	leaders := h.leaders(t, "t")
	one := func(offset int64, o kfetch.Options) kfetch.Result {
		t.Helper()
		return kfetch.Fetch(h.ctx, h.cl, leaders, []kfetch.Want{{Topic: "t", Partition: 0, Offset: offset}}, o)[0]
	}

	t.Run("partition bound", func(t *testing.T) {
		// Two batches fit in 2500 bytes, three do not.
		checkRecords(t, one(4, kfetch.Options{PartitionMaxBytes: 2500, Decode: true}), 4, 6)
	})
	t.Run("a first batch larger than the bound comes whole", func(t *testing.T) {
		checkRecords(t, one(4, kfetch.Options{PartitionMaxBytes: 100, Decode: true}), 4, 5)
	})
	t.Run("paging by NextOffset reads every record once", func(t *testing.T) {
		var offs []int64
		next, fetches := int64(0), 0
		for next < 10 {
			if fetches++; fetches > 10 {
				t.Fatalf("no progress after %d fetches: at %d, read %v", fetches, next, offs)
			}
			r := one(next, kfetch.Options{PartitionMaxBytes: 2500, Decode: true})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			for _, rec := range r.Records {
				offs = append(offs, rec.Offset)
			}
			next = r.NextOffset
		}
		if want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(offs, want) || fetches != 5 {
			t.Errorf("read %v in %d fetches, want %v in 5", offs, fetches, want)
		}
	})
	t.Run("response bound", func(t *testing.T) {
		// The first partition of the response gets its first batch (it
		// is larger than the whole bound); the other is answered empty
		// or left out, without an error: no room, not no data.
		wants := []kfetch.Want{{Topic: "t", Partition: 0, Offset: 0}, {Topic: "t", Partition: 1, Offset: 0}}
		got := kfetch.Fetch(h.ctx, h.cl, leaders, wants, kfetch.Options{MaxBytes: 500, Decode: true})
		checkRecords(t, got[0], 0, 1)
		checkRecords(t, got[1], 0, 0)
		// Asked alone, it has data.
		got = kfetch.Fetch(h.ctx, h.cl, leaders, wants[1:], kfetch.Options{MaxBytes: 500, Decode: true})
		checkRecords(t, got[0], 0, 1)
	})
}

// TestFetchTransactionMarkers reads around commit markers: a marker is no
// record, the record at its offset is the next one the log has, and a read
// that finds only a trailing marker goes past it. Records of aborted
// transactions are read (read_uncommitted).
func TestFetchTransactionMarkers(t *testing.T) {
	h := newHarness(t)
	h.c.MustCreateTopic(t, "t", 1, 1, nil)
	txn := h.c.Client(t, kgo.TransactionalID("kfetch-test"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	transact := func(commit kgo.TransactionEndTry, from int64, n int) {
		t.Helper()
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for o := from; o < from+int64(n); o++ {
			r := &kgo.Record{Topic: "t", Value: []byte(strconv.FormatInt(o, 10)), Timestamp: t0.Add(time.Duration(o) * time.Second)}
			if err := txn.ProduceSync(h.ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.EndTransaction(h.ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	leaders := h.leaders(t, "t")
	read := func(offset int64) kfetch.Result {
		t.Helper()
		return kfetch.Fetch(h.ctx, h.cl, leaders, []kfetch.Want{{Topic: "t", Partition: 0, Offset: offset}}, kfetch.Options{Decode: true})[0]
	}
	// Wait for the marker: the high watermark passes it.
	waitEnd := func(end int64) {
		t.Helper()
		kafkatest.WaitFor(t, opTimeout, func() bool { return read(0).HighWatermark >= end }, "high watermark below %d", end)
	}

	transact(kgo.TryCommit, 0, 3) // 0..2, commit marker at 3
	waitEnd(4)
	checkRecordsNext(t, read(0), 0, 3, 4) // past the marker
	if r := read(3); r.Err != nil || len(r.Records) != 0 || r.NextOffset != 4 {
		t.Errorf("read at a trailing marker: %v, %d records, next %d; want none and 4", r.Err, len(r.Records), r.NextOffset)
	}

	h.produceAt(t, "t", 0, 4, 2, 0) // 4, 5
	transact(kgo.TryAbort, 6, 1)    // 6, abort marker at 7
	waitEnd(8)
	r := read(3)
	var got []int64
	for _, rec := range r.Records {
		got = append(got, rec.Offset)
	}
	if r.Err != nil || !slices.Equal(got, []int64{4, 5, 6}) || r.NextOffset != 8 {
		t.Errorf("read at a marker: %v, offsets %v, next %d; want 4, 5, 6 (the aborted record too) and 8", r.Err, got, r.NextOffset)
	}
}
