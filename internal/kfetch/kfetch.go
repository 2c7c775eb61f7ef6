package kfetch

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Want is a partition to read and the offset to read it from.
type Want struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Result is what Fetch read of one Want.
type Result struct {
	Want

	// Broker is the broker that answered, or was asked last: the leader
	// Leaders named, or the one the old leader's NOT_LEADER_OR_FOLLOWER
	// answer pointed to. -1 when the partition had no leader to ask.
	Broker int32

	// Err is why the partition could not be read: ErrNoLeader,
	// ErrDuplicate, a *BrokerError when the request as a whole failed
	// (its Err is the context's error when ctx ended first), the
	// partition's error code as a kerr error (kerr.OffsetOutOfRange,
	// kerr.UnknownTopicID, kerr.NotLeaderForPartition, ...) or, with
	// Options.Decode, the error decoding its batches. Records and Batches
	// are empty when Err is set.
	//
	// A partition the broker answered with no data, or left out of its
	// answer because the response was full, has no error and no records:
	// there was no room for its first batch, or nothing is readable at
	// the offset (the end of the log, or only a transaction marker).
	Err error

	// Records are the partition's records at or after Offset, in offset
	// order, decoded with Options.Decode: transaction markers are left
	// out, records of aborted transactions kept (read_uncommitted), and a
	// batch the response cut short is dropped. nil without Decode.
	Records []*kgo.Record

	// Batches are the raw record batches of the answer, the first
	// starting at or before Offset, the last possibly cut short.
	Batches []byte

	// NextOffset is the offset after the last batch decoded, transaction
	// markers and batches emptied by compaction included: where the next
	// read of the partition starts. It is Offset when nothing was
	// decoded, and always Offset without Decode.
	NextOffset int64

	// HighWatermark and LogStartOffset are the partition's as the broker
	// answered them; -1 when it did not say.
	HighWatermark  int64
	LogStartOffset int64
}

// Leaders says which broker leads a partition and its topic's ID; ok is
// false when the partition has no known leader.
type Leaders func(topic string, partition int32) (broker int32, topicID [16]byte, ok bool)

// MetadataLeaders returns the Leaders of a metadata answer. A partition has
// no leader when its topic or partition is missing or carries an error, or
// its leader is -1.
func MetadataLeaders(topics kadm.TopicDetails) Leaders {
	return func(topic string, partition int32) (int32, [16]byte, bool) {
		td, ok := topics[topic]
		if !ok || td.Err != nil {
			return -1, [16]byte{}, false
		}
		pd, ok := td.Partitions[partition]
		if !ok || pd.Err != nil || pd.Leader < 0 {
			return -1, [16]byte{}, false
		}
		return pd.Leader, td.ID, true
	}
}

// Options bound a Fetch and say what it returns.
type Options struct {
	// MaxBytes bounds the response of each broker (each request); 0
	// means DefaultMaxBytes.
	MaxBytes int32
	// PartitionMaxBytes bounds each partition's share of a response; 0
	// means DefaultPartitionMaxBytes. A partition whose first batch is
	// larger gets it whole only if it is the first partition of the
	// response with data (KIP-74); otherwise it is answered with nothing.
	PartitionMaxBytes int32
	// Decode decodes each partition's batches into Result.Records and
	// sets Result.NextOffset. Without it only Result.Batches are set.
	Decode bool
}

// The defaults of Options: those of the Java consumer's fetch.max.bytes and
// max.partition.fetch.bytes.
const (
	DefaultMaxBytes          = 50 << 20
	DefaultPartitionMaxBytes = 1 << 20
)

var (
	// ErrNoLeader is the Result.Err of a partition Leaders named no
	// leader for: it was not asked for.
	ErrNoLeader = errors.New("kfetch: no leader known for the partition")
	// ErrDuplicate is the Result.Err of a Want whose partition an earlier
	// Want of the same Fetch names: a partition is read once per fetch.
	ErrDuplicate = errors.New("kfetch: partition wanted twice in one fetch")
)

// BrokerError is the Result.Err of every partition of a request that failed
// as a whole: the broker could not be asked (unknown, unreachable, ctx
// ended) or answered the fetch with a top-level error.
type BrokerError struct {
	Broker int32
	Err    error
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("kfetch: fetch from broker %d: %v", e.Broker, e.Err)
}

func (e *BrokerError) Unwrap() error { return e.Err }

// decompressor is shared by every decode: it pools its buffers and is safe
// for concurrent use.
var decompressor = kgo.DefaultDecompressor()

// sender issues one fetch request to one broker.
type sender func(ctx context.Context, broker int32, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error)

// clientSender sends through cl's connection to the broker.
func clientSender(cl *kgo.Client) sender {
	return func(ctx context.Context, broker int32, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error) {
		resp, err := cl.Broker(int(broker)).Request(ctx, req)
		if err != nil {
			return nil, err
		}
		return resp.(*kmsg.FetchResponse), nil
	}
}

// Fetch reads each wanted partition from its offset with direct fetch
// requests to the leaders: one sessionless request per leader, all leaders
// at once, read_uncommitted, without waiting for data (MaxWait 0, MinBytes
// 1). It never joins a group, commits or changes any offset: a fetch by a
// client that is no group member is invisible to the groups.
//
// A partition whose leader answers NOT_LEADER_OR_FOLLOWER and names the
// new leader (KIP-951) is asked once more, there. Fetch retries nothing
// else: a partition that fails has its error in its Result, and reading it
// again, after new metadata, is the caller's next pass.
//
// The results are in the order of wants, one for each. ctx bounds the
// whole fetch; Fetch adds no timeout of its own (the client's request
// timeout still applies).
func Fetch(ctx context.Context, cl *kgo.Client, leaders Leaders, wants []Want, opts Options) []Result {
	return fetch(ctx, clientSender(cl), leaders, wants, opts)
}

type tp struct {
	topic     string
	partition int32
}

func fetch(ctx context.Context, send sender, leaders Leaders, wants []Want, opts Options) []Result {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.PartitionMaxBytes <= 0 {
		opts.PartitionMaxBytes = DefaultPartitionMaxBytes
	}
	res := make([]Result, len(wants))
	ids := make([][16]byte, len(wants))
	seen := make(map[tp]bool, len(wants))
	todo := make([]int, 0, len(wants))
	for i, w := range wants {
		res[i] = Result{Want: w, Broker: -1, NextOffset: w.Offset, HighWatermark: -1, LogStartOffset: -1}
		k := tp{w.Topic, w.Partition}
		if seen[k] {
			res[i].Err = ErrDuplicate
			continue
		}
		seen[k] = true
		b, id, ok := leaders(w.Topic, w.Partition)
		if !ok || b < 0 {
			res[i].Err = ErrNoLeader
			continue
		}
		res[i].Broker, ids[i] = b, id
		todo = append(todo, i)
	}
	moved := round(ctx, send, res, ids, todo, opts, true)
	round(ctx, send, res, ids, moved, opts, false)
	return res
}

// round sends one request to each broker of the results todo indexes (at
// their Broker) and fills them in. With follow, it returns the results whose
// leader moved to a broker the old one named, their Broker set to it.
func round(ctx context.Context, send sender, res []Result, ids [][16]byte, todo []int, opts Options, follow bool) []int {
	if len(todo) == 0 {
		return nil
	}
	byBroker := map[int32][]int{}
	for _, i := range todo {
		byBroker[res[i].Broker] = append(byBroker[res[i].Broker], i)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		moved []int
	)
	for broker, idx := range byBroker {
		wg.Go(func() {
			// Each result is written by the one request that asks for
			// it: no lock is needed but for moved.
			m := ask(ctx, send, broker, res, ids, idx, opts, follow)
			mu.Lock()
			moved = append(moved, m...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return moved
}

// ask sends the request for the results idx to broker and fills them in.
func ask(ctx context.Context, send sender, broker int32, res []Result, ids [][16]byte, idx []int, opts Options, follow bool) (moved []int) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = opts.MaxBytes
	req.IsolationLevel = 0 // read_uncommitted
	req.SessionID = 0
	req.SessionEpoch = -1 // a full fetch without a session

	byName := map[string]int{}          // topic → index in req.Topics
	byID := map[[16]byte]string{}       // topic ID → topic, for v13+ answers
	asked := make(map[tp]int, len(idx)) // partition → index in res
	for _, i := range idx {
		w := res[i].Want
		ti, ok := byName[w.Topic]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = w.Topic, ids[i]
			req.Topics = append(req.Topics, t)
			ti = len(req.Topics) - 1
			byName[w.Topic] = ti
			byID[ids[i]] = w.Topic
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = w.Partition
		rp.FetchOffset = w.Offset
		rp.CurrentLeaderEpoch = -1 // no fencing: any leader will do
		rp.LogStartOffset = -1
		rp.PartitionMaxBytes = opts.PartitionMaxBytes
		req.Topics[ti].Partitions = append(req.Topics[ti].Partitions, rp)
		asked[tp{w.Topic, w.Partition}] = i
		// What an earlier round said of the partition is replaced by
		// this answer, or by nothing if the answer leaves it out.
		res[i].Broker, res[i].Err = broker, nil
		res[i].HighWatermark, res[i].LogStartOffset = -1, -1
	}

	resp, err := send(ctx, broker, req)
	if err == nil && resp.ErrorCode != 0 {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		for _, i := range idx {
			res[i].Err = &BrokerError{Broker: broker, Err: err}
		}
		return nil
	}
	for ti := range resp.Topics {
		rt := &resp.Topics[ti]
		topic := rt.Topic
		if topic == "" {
			topic = byID[rt.TopicID]
		}
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			i, ok := asked[tp{topic, rp.Partition}]
			if !ok {
				continue // not asked for, or answered twice
			}
			delete(asked, tp{topic, rp.Partition})
			if fill(&res[i], broker, rp, opts, follow) {
				moved = append(moved, i)
			}
		}
	}
	// Partitions left out of the answer (a full response) stay as they
	// were made: no error, no records.
	return moved
}

// fill sets r from its partition's answer by broker. It returns true when
// the partition's leader moved to another broker the answer names, and
// follow is set: r.Broker is then that broker, and r.Err the answer's error
// until it is asked.
func fill(r *Result, broker int32, rp *kmsg.FetchResponseTopicPartition, opts Options, follow bool) bool {
	r.HighWatermark, r.LogStartOffset = rp.HighWatermark, rp.LogStartOffset
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		r.Err = err
		if next := rp.CurrentLeader.LeaderID; follow && errors.Is(err, kerr.NotLeaderForPartition) && next >= 0 && next != broker {
			r.Broker = next
			return true
		}
		return false
	}
	r.Err = nil
	if !opts.Decode {
		r.Batches = rp.RecordBatches
		return false
	}
	fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset: r.Offset, Topic: r.Topic, Partition: r.Partition,
	}, rp, decompressor, nil)
	if fp.Err != nil {
		r.Err = fp.Err
		return false
	}
	r.Batches, r.Records, r.NextOffset = rp.RecordBatches, fp.Records, next
	return false
}
