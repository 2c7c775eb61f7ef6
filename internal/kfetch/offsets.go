package kfetch

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special timestamps of ListOffsets.
const (
	Latest   int64 = -1 // the end offset (high watermark)
	Earliest int64 = -2 // the start offset
)

// ListOffsets lists the offsets at timestamp (Latest or Earliest) of the
// given partitions, read_uncommitted, as kadm.ListEndOffsets and
// ListStartOffsets answer, but for partitions the caller already knows
// (from its own metadata): kadm asks the cluster for every topic's
// metadata first, a request as large as the cluster at each call. The
// client shards the request to the partitions' leaders from its metadata
// cache.
//
// A partition the answer left out, or whose leader could not be asked,
// has an Err (the broker request's error, or kerr.UnknownServerError);
// the returned error joins the requests that failed, nil when every
// leader answered. When none answered, the list is nil.
func ListOffsets(ctx context.Context, cl *kgo.Client, timestamp int64, partitions map[string][]int32) (kadm.ListedOffsets, error) {
	list := make(kadm.ListedOffsets, len(partitions))
	if len(partitions) == 0 {
		return list, nil
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	for t, ps := range partitions {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = t
		rt.Partitions = make([]kmsg.ListOffsetsRequestTopicPartition, len(ps))
		for i, p := range ps {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, timestamp
			rt.Partitions[i] = rp
		}
		req.Topics = append(req.Topics, rt)
		list[t] = make(map[int32]kadm.ListedOffset, len(ps))
	}
	var errs []error
	answered := false
	for _, shard := range cl.RequestSharded(ctx, req) {
		sreq, _ := shard.Req.(*kmsg.ListOffsetsRequest)
		if shard.Err != nil {
			errs = append(errs, shard.Err)
			if sreq != nil {
				for _, t := range sreq.Topics {
					for _, p := range t.Partitions {
						list[t.Topic][p.Partition] = kadm.ListedOffset{Topic: t.Topic, Partition: p.Partition, Offset: -1, Err: shard.Err}
					}
				}
			}
			continue
		}
		resp := shard.Resp.(*kmsg.ListOffsetsResponse)
		answered = true
		for _, t := range resp.Topics {
			lt := list[t.Topic]
			if lt == nil {
				continue // not asked
			}
			for _, p := range t.Partitions {
				lt[p.Partition] = kadm.ListedOffset{Topic: t.Topic, Partition: p.Partition, Timestamp: p.Timestamp,
					Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Err: kerr.ErrorForCode(p.ErrorCode)}
			}
		}
	}
	if !answered {
		return nil, errors.Join(errs...)
	}
	for t, ps := range partitions {
		for _, p := range ps {
			if _, ok := list[t][p]; !ok {
				list[t][p] = kadm.ListedOffset{Topic: t, Partition: p, Offset: -1, Err: kerr.UnknownServerError}
			}
		}
	}
	return list, errors.Join(errs...)
}
