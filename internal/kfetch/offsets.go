package kfetch

import (
	"context"
	"errors"
	"sync"

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
// ListStartOffsets answer, but for partitions the caller already knows,
// from its own metadata: kadm asks the cluster for every topic's metadata
// first, a request as large as the cluster at each call.
//
// A partition leaders names a leader for is asked of that broker directly,
// one request per broker, all at once. The others, and those whose broker
// failed or answered that it no longer leads them (the metadata was
// stale), are asked again through the client, which shards by its own
// metadata (refreshing it as it must). leaders may be nil: everything goes
// through the client.
//
// A partition the answer left out, or whose leader could not be asked,
// has an Err (the request's error, or kerr.UnknownServerError); the
// returned error joins the requests that failed, nil when every leader
// answered. When none answered, the list is nil.
func ListOffsets(ctx context.Context, cl *kgo.Client, leaders Leaders, timestamp int64, partitions map[string][]int32) (kadm.ListedOffsets, error) {
	list, _, err := ListOffsetsStale(ctx, cl, leaders, timestamp, partitions)
	return list, err
}

// ListOffsetsStale is ListOffsets that also says which topics had a
// partition that leaders named no leader for, or a leader that failed or
// no longer leads it: the topics whose metadata the caller should read
// again.
func ListOffsetsStale(ctx context.Context, cl *kgo.Client, leaders Leaders, timestamp int64, partitions map[string][]int32) (list kadm.ListedOffsets, stale map[string]bool, err error) {
	list = make(kadm.ListedOffsets, len(partitions))
	if len(partitions) == 0 {
		return list, nil, nil
	}
	for t, ps := range partitions {
		list[t] = make(map[int32]kadm.ListedOffset, len(ps))
	}
	answered := false // some broker answered
	// Direct: by leader.
	rest := partitions
	if leaders != nil {
		byBroker := map[int32]map[string][]int32{}
		rest = map[string][]int32{}
		for t, ps := range partitions {
			for _, p := range ps {
				b, _, ok := leaders(t, p)
				if !ok {
					rest[t] = append(rest[t], p)
					continue
				}
				if byBroker[b] == nil {
					byBroker[b] = map[string][]int32{}
				}
				byBroker[b][t] = append(byBroker[b][t], p)
			}
		}
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for b, bps := range byBroker {
			wg.Go(func() {
				kresp, err := cl.Broker(int(b)).Request(ctx, offsetsRequest(timestamp, bps))
				mu.Lock()
				defer mu.Unlock()
				if err != nil { // asked again through the client
					for t, ps := range bps {
						rest[t] = append(rest[t], ps...)
					}
					return
				}
				answered = true
				for _, t := range kresp.(*kmsg.ListOffsetsResponse).Topics {
					for _, p := range t.Partitions {
						if retriable(p.ErrorCode) {
							rest[t.Topic] = append(rest[t.Topic], p.Partition)
							continue
						}
						record(list, t.Topic, p)
					}
				}
			})
		}
		wg.Wait()
	}
	var errs []error
	if len(rest) > 0 {
		stale = make(map[string]bool, len(rest))
		for t := range rest {
			stale[t] = true
		}
		for _, shard := range cl.RequestSharded(ctx, offsetsRequest(timestamp, rest)) {
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
			answered = true
			for _, t := range shard.Resp.(*kmsg.ListOffsetsResponse).Topics {
				for _, p := range t.Partitions {
					record(list, t.Topic, p)
				}
			}
		}
	}
	if !answered {
		return nil, stale, errors.Join(errs...)
	}
	for t, ps := range partitions {
		for _, p := range ps {
			if _, ok := list[t][p]; !ok {
				list[t][p] = kadm.ListedOffset{Topic: t, Partition: p, Offset: -1, Err: kerr.UnknownServerError}
			}
		}
	}
	return list, stale, errors.Join(errs...)
}

// offsetsRequest asks for the offsets at timestamp of partitions.
func offsetsRequest(timestamp int64, partitions map[string][]int32) *kmsg.ListOffsetsRequest {
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
	}
	return req
}

// retriable are the answers of a broker that the metadata named as
// leader wrongly: the partition is asked again through the client.
func retriable(code int16) bool {
	switch code {
	case kerr.NotLeaderForPartition.Code, kerr.UnknownTopicOrPartition.Code, kerr.LeaderNotAvailable.Code,
		kerr.FencedLeaderEpoch.Code, kerr.UnknownLeaderEpoch.Code, kerr.ReplicaNotAvailable.Code:
		return true
	}
	return false
}

// record puts one partition's answer in list, if it was asked.
func record(list kadm.ListedOffsets, topic string, p kmsg.ListOffsetsResponseTopicPartition) {
	lt := list[topic]
	if lt == nil {
		return
	}
	lt[p.Partition] = kadm.ListedOffset{Topic: topic, Partition: p.Partition, Timestamp: p.Timestamp,
		Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Err: kerr.ErrorForCode(p.ErrorCode)}
}
