package lag

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sync/errgroup"
)

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// tpo is the record at an offset of a partition.
type tpo struct {
	tp
	offset int64
}

// readStats counts what one pass of exact reads did.
type readStats struct {
	ok, errors, timeouts int
}

// leaderOf says which broker leads a partition, and the topic's ID.
type leaderOf func(p tp) (leader int32, topicID [16]byte, ok bool)

// partitionMaxBytes is the room a fetch gives each partition.
const partitionMaxBytes = 16 << 10

// decompressor is shared by every read: it pools its buffers.
var decompressor = kgo.DefaultDecompressor()

// readRecords reads the timestamp of the record at each wanted offset with
// direct fetch requests to the partitions' leaders: one sessionless request
// per broker and round, at most one batch per partition, without waiting
// for data. It never joins a group, commits or changes any offset: a fetch
// by a client that is no group member is invisible to the groups.
//
// Several offsets of one partition are read in rounds from the lowest;
// usually one batch answers them all. The record at an offset that
// compaction removed (or a transaction marker's) is the next record in the
// log: the one the group reads next. Offsets that fell out of range, and
// partitions whose leader is unknown or fails, are left out: their time lag
// is interpolated.
func readRecords(ctx context.Context, cl *kgo.Client, leaders leaderOf, wants []tpo) (map[tpo]time.Time, readStats) {
	out := make(map[tpo]time.Time, len(wants))
	var st readStats
	pending := make(map[tp][]int64)
	for _, w := range wants {
		pending[w.tp] = append(pending[w.tp], w.offset)
	}
	for p, offs := range pending {
		slices.Sort(offs)
		pending[p] = slices.Compact(offs)
	}
	var mu sync.Mutex // guards out, st and pending during a round
	for len(pending) > 0 && ctx.Err() == nil {
		// One round: every pending partition at its lowest pending offset,
		// grouped by leader.
		reqs := map[int32]*kmsg.FetchRequest{}
		topicIdx := map[int32]map[string]int{} // leader → topic → index in its request's Topics
		names := map[[16]byte]string{}
		for p, offs := range pending {
			leader, id, ok := leaders(p)
			if !ok || leader < 0 {
				st.errors += len(offs)
				delete(pending, p)
				continue
			}
			req := reqs[leader]
			if req == nil {
				req = kmsg.NewPtrFetchRequest()
				req.ReplicaID = -1
				req.MaxWaitMillis = 0
				req.MinBytes = 1
				req.MaxBytes = 64 << 20
				req.SessionID = 0
				req.SessionEpoch = -1 // a full fetch without a session
				reqs[leader] = req
				topicIdx[leader] = map[string]int{}
			}
			i, ok := topicIdx[leader][p.topic]
			if !ok {
				t := kmsg.NewFetchRequestTopic()
				t.Topic, t.TopicID = p.topic, id
				names[id] = p.topic
				req.Topics = append(req.Topics, t)
				i = len(req.Topics) - 1
				topicIdx[leader][p.topic] = i
			}
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = p.partition
			rp.FetchOffset = offs[0]
			rp.CurrentLeaderEpoch = -1
			rp.LogStartOffset = -1
			// Room for a typical batch; a larger one comes when its
			// partition is the first of a response (KIP-74).
			rp.PartitionMaxBytes = partitionMaxBytes
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
		before := st.ok + st.errors
		var eg errgroup.Group
		for leader, req := range reqs {
			eg.Go(func() error {
				resp, err := cl.Broker(int(leader)).Request(ctx, req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					for _, t := range req.Topics {
						for _, rp := range t.Partitions {
							p := tp{t.Topic, rp.Partition}
							st.errors += len(pending[p])
							delete(pending, p)
						}
					}
					return nil
				}
				for _, rt := range resp.(*kmsg.FetchResponse).Topics {
					topic := rt.Topic
					if topic == "" {
						topic = names[rt.TopicID]
					}
					for i := range rt.Partitions {
						answer(&st, out, pending, topic, &rt.Partitions[i])
					}
				}
				return nil
			})
		}
		_ = eg.Wait()
		if st.ok+st.errors == before {
			break // a round that answered nothing: the rest are not readable now
		}
	}
	for _, offs := range pending {
		if ctx.Err() != nil {
			st.timeouts += len(offs)
		} else {
			st.errors += len(offs)
		}
	}
	return out, st
}

// answer resolves the pending offsets of a partition that one fetch
// response covers.
func answer(st *readStats, out map[tpo]time.Time, pending map[tp][]int64, topic string, rp *kmsg.FetchResponseTopicPartition) {
	p := tp{topic, rp.Partition}
	offs, ok := pending[p]
	if !ok {
		return
	}
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		// Out of range (expired since it was listed), a leader that moved:
		// interpolate.
		st.errors += len(offs)
		delete(pending, p)
		return
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset: offs[0], Topic: topic, Partition: rp.Partition,
	}, rp, decompressor, nil)
	recs := fp.Records
	switch {
	case fp.Err != nil:
		st.errors += len(offs)
		delete(pending, p)
		return
	case len(recs) == 0:
		// The response had no room left for the partition's batch, or
		// nothing is readable at the offset (a trailing transaction
		// marker): ask again next round, if that round makes progress.
		return
	}
	last := recs[len(recs)-1].Offset
	rest := offs[:0]
	for _, o := range offs {
		if o > last {
			rest = append(rest, o)
			continue
		}
		// The fetch started at offs[0], so the first record at or after o
		// is the record at o or the next one the log still has.
		i, _ := slices.BinarySearchFunc(recs, o, func(r *kgo.Record, o int64) int {
			switch {
			case r.Offset < o:
				return -1
			case r.Offset > o:
				return 1
			}
			return 0
		})
		out[tpo{p, o}] = recs[i].Timestamp
		st.ok++
	}
	if len(rest) == 0 {
		delete(pending, p)
	} else {
		pending[p] = rest
	}
}
