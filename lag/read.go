package lag

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kfetch"
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

// readOptions bound the fetches of exact reads: room for a typical batch
// per partition (a larger one comes when its partition is the first of a
// response, KIP-74), and for thousands of partitions per broker.
var readOptions = kfetch.Options{
	MaxBytes:          64 << 20,
	PartitionMaxBytes: 16 << 10,
	Decode:            true,
}

// readRecords reads the timestamp of the record at each wanted offset with
// direct fetch requests to the partitions' leaders (kfetch): one
// sessionless request per broker and round, at most one batch per
// partition, without waiting for data. It never joins a group, commits or
// changes any offset: a fetch by a client that is no group member is
// invisible to the groups.
//
// Several offsets of one partition are read in rounds from the lowest;
// usually one batch answers them all. The record at an offset that
// compaction removed (or a transaction marker's) is the next record in the
// log: the one the group reads next. Offsets that fell out of range, and
// partitions whose leader is unknown or fails, are left out: their time lag
// is interpolated. Reads that ctx ended count as timeouts.
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
	lookup := func(topic string, partition int32) (int32, [16]byte, bool) {
		return leaders(tp{topic, partition})
	}
	for len(pending) > 0 && ctx.Err() == nil {
		// One round: every pending partition at its lowest pending
		// offset.
		round := make([]kfetch.Want, 0, len(pending))
		for p, offs := range pending {
			round = append(round, kfetch.Want{Topic: p.topic, Partition: p.partition, Offset: offs[0]})
		}
		before := st.ok + st.errors
		for _, r := range kfetch.Fetch(ctx, cl, lookup, round, readOptions) {
			answer(&st, out, pending, &r)
		}
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
// result covers.
func answer(st *readStats, out map[tpo]time.Time, pending map[tp][]int64, r *kfetch.Result) {
	p := tp{r.Topic, r.Partition}
	offs, ok := pending[p]
	if !ok {
		return
	}
	recs := r.Records
	var be *kfetch.BrokerError
	switch {
	case errors.As(r.Err, &be) && (errors.Is(be.Err, context.DeadlineExceeded) || errors.Is(be.Err, context.Canceled)):
		// A request that ctx cut short: left pending, counted as a
		// timeout.
		return
	case r.Err != nil:
		// No leader, out of range (expired since it was listed), a
		// leader that moved and failed, a broker that failed:
		// interpolate.
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
