package kfetch

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The table tests drive fetch with a fake broker: a func that answers each
// request as the case says and records what it was asked.

var (
	idA = [16]byte{0xa}
	idB = [16]byte{0xb}
)

// base is the timestamp of the records batch makes: record n of a batch
// has base + n ms.
var base = time.UnixMilli(1_700_000_000_000)

// batch encodes a v2 record batch of n records from offset first, each
// valued with its offset. With control, it holds one commit marker instead
// (n is ignored).
func batch(first int64, n int, control bool) []byte {
	var recs []byte
	attrs := int16(0)
	if control {
		attrs = 0x10 | 0x20 // transactional, control
		n = 1
	}
	for i := range n {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, int64(i)) // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		var key, val []byte
		if control {
			key = []byte{0, 0, 0, 1}       // version 0, commit
			val = []byte{0, 0, 0, 0, 0, 0} // version 0, coordinator epoch 0
		} else {
			val = []byte(strconv.FormatInt(first+int64(i), 10))
		}
		body = binary.AppendVarint(body, int64(len(key)))
		body = append(body, key...)
		body = binary.AppendVarint(body, int64(len(val)))
		body = append(body, val...)
		body = binary.AppendVarint(body, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	// From attributes on: what the CRC covers.
	var tail []byte
	tail = binary.BigEndian.AppendUint16(tail, uint16(attrs))
	tail = binary.BigEndian.AppendUint32(tail, uint32(n-1))                         // last offset delta
	tail = binary.BigEndian.AppendUint64(tail, uint64(base.UnixMilli()))            // first timestamp
	tail = binary.BigEndian.AppendUint64(tail, uint64(base.UnixMilli()+int64(n-1))) // max timestamp
	tail = binary.BigEndian.AppendUint64(tail, ^uint64(0))                          // producer ID -1
	tail = binary.BigEndian.AppendUint16(tail, ^uint16(0))                          // producer epoch -1
	tail = binary.BigEndian.AppendUint32(tail, ^uint32(0))                          // base sequence -1
	tail = binary.BigEndian.AppendUint32(tail, uint32(n))
	tail = append(tail, recs...)

	var b []byte
	b = binary.BigEndian.AppendUint64(b, uint64(first))
	b = binary.BigEndian.AppendUint32(b, uint32(4+1+4+len(tail))) // epoch, magic, crc, tail
	b = binary.BigEndian.AppendUint32(b, 0)                       // partition leader epoch
	b = append(b, 2)                                              // magic
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(tail, crc32.MakeTable(crc32.Castagnoli)))
	return append(b, tail...)
}

// part is a fake broker's answer for one partition.
type part struct {
	err      int16
	leader   int32 // CurrentLeader.LeaderID; 0 is taken as -1
	batches  []byte
	hw, lso  int64
	leaveOut bool // not in the answer at all
}

// fakeBroker answers as its parts say, by broker, topic and partition.
type fakeBroker struct {
	mu      sync.Mutex
	asked   map[int32][]*kmsg.FetchRequest
	parts   map[int32]map[tp]part
	fail    map[int32]error // the request fails
	topErr  map[int32]int16 // the response's top-level error code
	byID    bool            // answer by topic ID only, as v13+ does
	blockOn int32           // a broker that waits for ctx; 0 none
}

func (f *fakeBroker) send(ctx context.Context, broker int32, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error) {
	f.mu.Lock()
	if f.asked == nil {
		f.asked = map[int32][]*kmsg.FetchRequest{}
	}
	f.asked[broker] = append(f.asked[broker], req)
	f.mu.Unlock()
	if broker == f.blockOn {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err := f.fail[broker]; err != nil {
		return nil, err
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.ErrorCode = f.topErr[broker]
	for _, rt := range req.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		if f.byID {
			t.Topic = ""
		}
		for _, rp := range rt.Partitions {
			a, ok := f.parts[broker][tp{rt.Topic, rp.Partition}]
			if a.leaveOut {
				continue
			}
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			if !ok {
				a.err = kerr.NotLeaderForPartition.Code
			}
			p.ErrorCode = a.err
			if a.leader != 0 {
				p.CurrentLeader.LeaderID = a.leader
			}
			p.HighWatermark, p.LogStartOffset = a.hw, a.lso
			p.RecordBatches = a.batches
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}

// brokers returns the brokers asked, with how many requests each.
func (f *fakeBroker) brokers() map[int32]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int32]int{}
	for b, rs := range f.asked {
		out[b] = len(rs)
	}
	return out
}

// leaders is a Leaders of fixed answers: topic "a" partition p is led by
// broker 1+p%2, topic "b" by broker 3; "gone" has no leader.
func leaders(topic string, partition int32) (int32, [16]byte, bool) {
	switch topic {
	case "a":
		return 1 + partition%2, idA, true
	case "b":
		return 3, idB, true
	case "minus":
		return -1, [16]byte{}, true
	}
	return 0, [16]byte{}, false
}

// outcome is what a test checks of a Result.
type outcome struct {
	Broker     int32
	Err        string
	Offsets    []int64
	NextOffset int64
	HW, LSO    int64
	Batches    bool
}

func outcomes(rs []Result) []outcome {
	out := make([]outcome, len(rs))
	for i, r := range rs {
		o := outcome{Broker: r.Broker, NextOffset: r.NextOffset, HW: r.HighWatermark, LSO: r.LogStartOffset, Batches: len(r.Batches) > 0}
		if r.Err != nil {
			o.Err = r.Err.Error()
		}
		for _, rec := range r.Records {
			o.Offsets = append(o.Offsets, rec.Offset)
		}
		out[i] = o
	}
	return out
}

func TestFetchTable(t *testing.T) {
	data := slices.Concat(batch(10, 5, false), batch(15, 3, false)) // offsets 10..17
	ok := part{batches: data, hw: 18, lso: 2}
	notLeader := func(next int32) part {
		return part{err: kerr.NotLeaderForPartition.Code, leader: next, hw: -1, lso: -1}
	}
	refused := errors.New("connection refused")
	cases := []struct {
		name   string
		broker *fakeBroker
		wants  []Want
		opts   Options
		want   []outcome
		asked  map[int32]int
	}{{
		name:   "records from the offset on, in the middle of a batch",
		broker: &fakeBroker{parts: map[int32]map[tp]part{2: {{"a", 1}: ok}}},
		wants:  []Want{{"a", 1, 12}},
		opts:   Options{Decode: true},
		want:   []outcome{{Broker: 2, Offsets: []int64{12, 13, 14, 15, 16, 17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true}},
		asked:  map[int32]int{2: 1},
	}, {
		name:   "raw batches without Decode",
		broker: &fakeBroker{parts: map[int32]map[tp]part{2: {{"a", 1}: ok}}},
		wants:  []Want{{"a", 1, 12}},
		want:   []outcome{{Broker: 2, NextOffset: 12, HW: 18, LSO: 2, Batches: true}},
		asked:  map[int32]int{2: 1},
	}, {
		name:   "answered by topic ID only",
		broker: &fakeBroker{byID: true, parts: map[int32]map[tp]part{2: {{"a", 1}: ok}, 3: {{"b", 0}: ok}}},
		wants:  []Want{{"a", 1, 16}, {"b", 0, 17}},
		opts:   Options{Decode: true},
		want: []outcome{
			{Broker: 2, Offsets: []int64{16, 17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
			{Broker: 3, Offsets: []int64{17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
		},
		asked: map[int32]int{2: 1, 3: 1},
	}, {
		name: "a trailing transaction marker is skipped",
		broker: &fakeBroker{parts: map[int32]map[tp]part{1: {
			{"a", 0}: {batches: slices.Concat(batch(4, 2, false), batch(6, 0, true)), hw: 7},
			{"a", 2}: {batches: batch(6, 0, true), hw: 7},
		}}},
		wants: []Want{{"a", 0, 4}, {"a", 2, 6}},
		opts:  Options{Decode: true},
		want: []outcome{
			{Broker: 1, Offsets: []int64{4, 5}, NextOffset: 7, HW: 7, Batches: true},
			{Broker: 1, NextOffset: 7, HW: 7, Batches: true},
		},
		asked: map[int32]int{1: 1},
	}, {
		name:   "an empty partition",
		broker: &fakeBroker{parts: map[int32]map[tp]part{1: {{"a", 0}: {hw: 0}}}},
		wants:  []Want{{"a", 0, 0}},
		opts:   Options{Decode: true},
		want:   []outcome{{Broker: 1, NextOffset: 0, HW: 0}},
		asked:  map[int32]int{1: 1},
	}, {
		name: "a batch cut short at the end is dropped",
		broker: &fakeBroker{parts: map[int32]map[tp]part{1: {{"a", 0}: {
			batches: func() []byte { b := slices.Concat(batch(0, 2, false), batch(2, 2, false)); return b[:len(b)-5] }(),
			hw:      4,
		}}}},
		wants: []Want{{"a", 0, 0}},
		opts:  Options{Decode: true},
		want:  []outcome{{Broker: 1, Offsets: []int64{0, 1}, NextOffset: 2, HW: 4, Batches: true}},
		asked: map[int32]int{1: 1},
	}, {
		name: "a corrupt batch is an error",
		broker: &fakeBroker{parts: map[int32]map[tp]part{1: {{"a", 0}: {
			batches: func() []byte { b := batch(0, 2, false); b[len(b)-1] ^= 0xff; return b }(),
			hw:      2,
		}}}},
		wants: []Want{{"a", 0, 0}},
		opts:  Options{Decode: true},
		want:  []outcome{{Broker: 1, NextOffset: 0, HW: 2, LSO: 0, Err: "encoded crc"}},
		asked: map[int32]int{1: 1},
	}, {
		name:   "no leader: not asked",
		broker: &fakeBroker{parts: map[int32]map[tp]part{2: {{"a", 1}: ok}}},
		wants:  []Want{{"gone", 0, 1}, {"minus", 0, 1}, {"a", 1, 17}},
		opts:   Options{Decode: true},
		want: []outcome{
			{Broker: -1, Err: ErrNoLeader.Error(), NextOffset: 1, HW: -1, LSO: -1},
			{Broker: -1, Err: ErrNoLeader.Error(), NextOffset: 1, HW: -1, LSO: -1},
			{Broker: 2, Offsets: []int64{17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
		},
		asked: map[int32]int{2: 1},
	}, {
		name:   "a partition wanted twice is read once",
		broker: &fakeBroker{parts: map[int32]map[tp]part{2: {{"a", 1}: ok}}},
		wants:  []Want{{"a", 1, 17}, {"a", 1, 10}},
		opts:   Options{Decode: true},
		want: []outcome{
			{Broker: 2, Offsets: []int64{17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
			{Broker: -1, Err: ErrDuplicate.Error(), NextOffset: 10, HW: -1, LSO: -1},
		},
		asked: map[int32]int{2: 1},
	}, {
		name: "partition errors are the partition's",
		broker: &fakeBroker{parts: map[int32]map[tp]part{1: {
			{"a", 0}: {err: kerr.OffsetOutOfRange.Code, hw: -1, lso: -1},
			{"a", 2}: {err: kerr.UnknownTopicID.Code, hw: -1, lso: -1},
			{"a", 4}: ok,
		}}},
		wants: []Want{{"a", 0, 1}, {"a", 2, 1}, {"a", 4, 17}},
		opts:  Options{Decode: true},
		want: []outcome{
			{Broker: 1, Err: kerr.OffsetOutOfRange.Error(), NextOffset: 1, HW: -1, LSO: -1},
			{Broker: 1, Err: kerr.UnknownTopicID.Error(), NextOffset: 1, HW: -1, LSO: -1},
			{Broker: 1, Offsets: []int64{17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
		},
		asked: map[int32]int{1: 1},
	}, {
		name:   "a failed request fails its partitions only",
		broker: &fakeBroker{fail: map[int32]error{1: refused}, parts: map[int32]map[tp]part{2: {{"a", 1}: ok}}},
		wants:  []Want{{"a", 0, 1}, {"a", 2, 1}, {"a", 1, 17}},
		opts:   Options{Decode: true},
		want: []outcome{
			{Broker: 1, Err: "kfetch: fetch from broker 1: connection refused", NextOffset: 1, HW: -1, LSO: -1},
			{Broker: 1, Err: "kfetch: fetch from broker 1: connection refused", NextOffset: 1, HW: -1, LSO: -1},
			{Broker: 2, Offsets: []int64{17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
		},
		asked: map[int32]int{1: 1, 2: 1},
	}, {
		name:   "a top-level error fails the request",
		broker: &fakeBroker{topErr: map[int32]int16{3: kerr.UnknownServerError.Code}, parts: map[int32]map[tp]part{3: {{"b", 0}: ok}}},
		wants:  []Want{{"b", 0, 17}},
		opts:   Options{Decode: true},
		want:   []outcome{{Broker: 3, Err: "kfetch: fetch from broker 3: " + kerr.UnknownServerError.Error(), NextOffset: 17, HW: -1, LSO: -1}},
		asked:  map[int32]int{3: 1},
	}, {
		name:   "left out of a full answer: no error, no records",
		broker: &fakeBroker{parts: map[int32]map[tp]part{1: {{"a", 0}: ok, {"a", 2}: {leaveOut: true}}}},
		wants:  []Want{{"a", 0, 17}, {"a", 2, 3}},
		opts:   Options{Decode: true},
		want: []outcome{
			{Broker: 1, Offsets: []int64{17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
			{Broker: 1, NextOffset: 3, HW: -1, LSO: -1},
		},
		asked: map[int32]int{1: 1},
	}, {
		name: "a leader that moved is followed once",
		broker: &fakeBroker{parts: map[int32]map[tp]part{
			1: {{"a", 0}: notLeader(3), {"a", 2}: ok},
			3: {{"a", 0}: ok, {"b", 0}: ok},
		}},
		wants: []Want{{"a", 0, 17}, {"a", 2, 17}, {"b", 0, 16}},
		opts:  Options{Decode: true},
		want: []outcome{
			{Broker: 3, Offsets: []int64{17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
			{Broker: 1, Offsets: []int64{17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
			{Broker: 3, Offsets: []int64{16, 17}, NextOffset: 18, HW: 18, LSO: 2, Batches: true},
		},
		asked: map[int32]int{1: 1, 3: 2},
	}, {
		name: "a leader that moved twice is not followed again",
		broker: &fakeBroker{parts: map[int32]map[tp]part{
			1: {{"a", 0}: notLeader(3)},
			3: {{"a", 0}: notLeader(2)},
			2: {{"a", 0}: ok},
		}},
		wants: []Want{{"a", 0, 17}},
		opts:  Options{Decode: true},
		want:  []outcome{{Broker: 3, Err: kerr.NotLeaderForPartition.Error(), NextOffset: 17, HW: -1, LSO: -1}},
		asked: map[int32]int{1: 1, 3: 1},
	}, {
		name:   "a NOT_LEADER answer that names no other leader is an error",
		broker: &fakeBroker{parts: map[int32]map[tp]part{1: {{"a", 0}: notLeader(0), {"a", 2}: notLeader(1)}}},
		wants:  []Want{{"a", 0, 17}, {"a", 2, 17}},
		opts:   Options{Decode: true},
		want: []outcome{
			{Broker: 1, Err: kerr.NotLeaderForPartition.Error(), NextOffset: 17, HW: -1, LSO: -1},
			{Broker: 1, Err: kerr.NotLeaderForPartition.Error(), NextOffset: 17, HW: -1, LSO: -1},
		},
		asked: map[int32]int{1: 1},
	}, {
		name: "a followed leader with no room for the partition: no error",
		broker: &fakeBroker{parts: map[int32]map[tp]part{
			1: {{"a", 0}: notLeader(3)},
			3: {{"a", 0}: {leaveOut: true}},
		}},
		wants: []Want{{"a", 0, 17}},
		opts:  Options{Decode: true},
		want:  []outcome{{Broker: 3, NextOffset: 17, HW: -1, LSO: -1}},
		asked: map[int32]int{1: 1, 3: 1},
	}, {
		name: "a followed leader that fails is a broker error",
		broker: &fakeBroker{fail: map[int32]error{3: refused}, parts: map[int32]map[tp]part{
			1: {{"a", 0}: notLeader(3)},
		}},
		wants: []Want{{"a", 0, 17}},
		opts:  Options{Decode: true},
		want:  []outcome{{Broker: 3, Err: "kfetch: fetch from broker 3: connection refused", NextOffset: 17, HW: -1, LSO: -1}},
		asked: map[int32]int{1: 1, 3: 1},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := fetch(t.Context(), tc.broker.send, leaders, tc.wants, tc.opts)
			for i := range got {
				if got[i].Want != tc.wants[i] {
					t.Errorf("result %d is of %+v, want %+v", i, got[i].Want, tc.wants[i])
				}
				if got[i].Err != nil && (got[i].Records != nil || got[i].Batches != nil) {
					t.Errorf("result %d has records or batches with its error %v", i, got[i].Err)
				}
			}
			g := outcomes(got)
			for i := range g {
				// Decode errors carry offsets and lengths: match the start.
				if i < len(tc.want) && tc.want[i].Err != "" && len(g[i].Err) > len(tc.want[i].Err) && g[i].Err[:len(tc.want[i].Err)] == tc.want[i].Err {
					g[i].Err = tc.want[i].Err
				}
			}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.asked, tc.broker.brokers()); diff != "" {
				t.Errorf("requests by broker (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFetchRequests checks what each broker is asked: one sessionless,
// read_uncommitted request from no replica, with no wait and no leader
// epoch, bounded as the options say, each partition under its topic's name
// and ID.
func TestFetchRequests(t *testing.T) {
	for _, tc := range []struct {
		name         string
		opts         Options
		max, partMax int32
	}{
		{"defaults", Options{}, DefaultMaxBytes, DefaultPartitionMaxBytes},
		{"bounded", Options{MaxBytes: 1 << 20, PartitionMaxBytes: 256 << 10}, 1 << 20, 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeBroker{}
			fetch(t.Context(), f.send, leaders, []Want{{"a", 0, 5}, {"b", 1, 6}, {"a", 2, 7}, {"a", 1, 8}, {"b", 0, 9}}, tc.opts)
			type reqPart struct {
				Topic     string
				ID        [16]byte
				Partition int32
				Offset    int64
			}
			got := map[int32][]reqPart{}
			for b, rs := range f.asked {
				if len(rs) != 1 {
					t.Fatalf("broker %d asked %d times, want once", b, len(rs))
				}
				r := rs[0]
				if r.ReplicaID != -1 || r.MaxWaitMillis != 0 || r.MinBytes != 1 || r.IsolationLevel != 0 ||
					r.SessionID != 0 || r.SessionEpoch != -1 || r.MaxBytes != tc.max {
					t.Errorf("broker %d request: replica %d, wait %d ms, min %d, isolation %d, session %d/%d, max bytes %d; want -1, 0, 1, 0, 0/-1, %d",
						b, r.ReplicaID, r.MaxWaitMillis, r.MinBytes, r.IsolationLevel, r.SessionID, r.SessionEpoch, r.MaxBytes, tc.max)
				}
				for _, rt := range r.Topics {
					for _, rp := range rt.Partitions {
						if rp.PartitionMaxBytes != tc.partMax || rp.CurrentLeaderEpoch != -1 || rp.LogStartOffset != -1 {
							t.Errorf("broker %d %s/%d: partition max %d, leader epoch %d, log start %d; want %d, -1, -1",
								b, rt.Topic, rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset, tc.partMax)
						}
						got[b] = append(got[b], reqPart{rt.Topic, rt.TopicID, rp.Partition, rp.FetchOffset})
					}
				}
			}
			want := map[int32][]reqPart{
				1: {{"a", idA, 0, 5}, {"a", idA, 2, 7}},
				2: {{"a", idA, 1, 8}},
				3: {{"b", idB, 1, 6}, {"b", idB, 0, 9}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("partitions asked by broker (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFetchContext checks that a fetch ctx ends fails the requests it cut
// short with the context's error, and leaves the others' answers alone.
func TestFetchContext(t *testing.T) {
	f := &fakeBroker{blockOn: 1, parts: map[int32]map[tp]part{2: {{"a", 1}: {batches: batch(0, 1, false), hw: 1}}}}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	got := fetch(ctx, f.send, leaders, []Want{{"a", 0, 0}, {"a", 1, 0}}, Options{Decode: true})
	var be *BrokerError
	if !errors.As(got[0].Err, &be) || be.Broker != 1 || !errors.Is(got[0].Err, context.DeadlineExceeded) {
		t.Errorf("partition of the blocked broker: %v, want a BrokerError of broker 1 that is context.DeadlineExceeded", got[0].Err)
	}
	if got[1].Err != nil || len(got[1].Records) != 1 {
		t.Errorf("partition of the answering broker: %v, %d records; want 1 record", got[1].Err, len(got[1].Records))
	}
}

func TestMetadataLeaders(t *testing.T) {
	md := kadm.TopicDetails{
		"t": {Topic: "t", ID: idA, Partitions: kadm.PartitionDetails{
			0: {Topic: "t", Partition: 0, Leader: 2},
			1: {Topic: "t", Partition: 1, Leader: -1, Err: kerr.LeaderNotAvailable},
			2: {Topic: "t", Partition: 2, Leader: 3, Err: kerr.ReplicaNotAvailable},
			3: {Topic: "t", Partition: 3, Leader: -1},
		}},
		"deleted": {Topic: "deleted", Err: kerr.UnknownTopicOrPartition},
	}
	l := MetadataLeaders(md)
	for _, tc := range []struct {
		topic     string
		partition int32
		leader    int32
		id        [16]byte
		ok        bool
	}{
		{"t", 0, 2, idA, true},
		{"t", 1, -1, [16]byte{}, false}, // leaderless
		{"t", 2, -1, [16]byte{}, false}, // an error: not trusted
		{"t", 3, -1, [16]byte{}, false}, // leader -1 without an error
		{"t", 4, -1, [16]byte{}, false}, // no such partition
		{"deleted", 0, -1, [16]byte{}, false},
		{"unknown", 0, -1, [16]byte{}, false},
	} {
		leader, id, ok := l(tc.topic, tc.partition)
		if leader != tc.leader || id != tc.id || ok != tc.ok {
			t.Errorf("%s/%d: %d, %x, %v; want %d, %x, %v", tc.topic, tc.partition, leader, id, ok, tc.leader, tc.id, tc.ok)
		}
	}
}

// TestBatchFixture checks the fixture batch against franz-go's decoder, so
// that the table tests decode what Kafka would send.
func TestBatchFixture(t *testing.T) {
	var rb kmsg.RecordBatch
	b := batch(7, 3, false)
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if rb.FirstOffset != 7 || rb.LastOffsetDelta != 2 || rb.NumRecords != 3 || int(rb.Length)+12 != len(b) {
		t.Errorf("batch header %+v of %d bytes", rb, len(b))
	}
}
