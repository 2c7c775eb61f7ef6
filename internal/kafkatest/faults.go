package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// FailFetches makes every Fetch of topic's partitions answer
// UNKNOWN_SERVER_ERROR until remove is called; other requests, ListOffsets
// included, are untouched. A franz-go consumer reports the error per
// partition in Fetches.Errors and keeps fetching. UNKNOWN_SERVER_ERROR is
// chosen because franz-go retries retriable errors such as
// NOT_LEADER_OR_FOLLOWER internally (and refreshes metadata) without ever
// returning them, unless the consumer sets kgo.KeepRetryableFetchErrors.
//
// remove may be called more than once and from any goroutine.
func (c *Cluster) FailFetches(topic string) (remove func()) {
	h := c.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Fetch},
		Topic: topic,
		Err:   kerr.UnknownServerError,
		Count: -1,
	})
	return sync.OnceFunc(h.Remove)
}

// Leaderless makes the cluster behave as if the partition had lost its leader
// until remove is called:
//
//   - every Metadata response that carries the partition reports it with
//     leader -1 and LEADER_NOT_AVAILABLE; its replicas, ISR and every other
//     field are the cluster's real answer;
//   - Fetch and Produce for the partition answer NOT_LEADER_OR_FOLLOWER, as
//     its last leader would, so clients that already knew the leader
//     refresh their metadata and find none;
//   - ListOffsets for the partition answers LEADER_NOT_AVAILABLE, which is
//     also what a franz-go client that knows there is no leader reports
//     without asking. Not NOT_LEADER_OR_FOLLOWER: on that answer franz-go
//     (v1.22) evicts the topic from the client's metadata cache but keeps
//     the cached all-topics answer fresh, and refetches only after its
//     retry backoff (about 250 ms); in between, every all-topics
//     RequestCachedMetadata of the client (kadm.ListTopics, kadm.Metadata
//     with no topics) answers without the topic, as if it had been deleted.
//
// Metadata responses are rewritten by a kfake control that reissues the
// request, marked with a private tagged field, through a client of its own
// and edits the answer; the mark needs Metadata v9 or later, which every
// franz-go client negotiates with kfake unless kfake.MaxVersions says
// otherwise. Below v9 the reissue is refused and the partition is reported
// as it is.
//
// Clients cache metadata: a client created by Client sees the change within
// about 50 ms (its MetadataMinAge), a franz-go client with default options
// as soon as a Fetch or Produce of the partition fails, or else after up to
// 5 s.
//
// Leaderless may be called for several partitions, and for the same one
// more than once: a partition stays leaderless until every remove of it has
// been called. remove may be called more than once and from any goroutine.
func (c *Cluster) Leaderless(topic string, partition int32) (remove func()) {
	tp := topicPartition{topic, partition}
	c.mu.Lock()
	c.noLeaders[tp]++
	install := !c.metaCtl
	c.metaCtl = true
	c.mu.Unlock()
	if install {
		c.ControlKey(int16(kmsg.Metadata), c.controlMetadata)
	}

	h := c.Fault(kfake.Fault{
		Keys:       []kmsg.Key{kmsg.Fetch, kmsg.Produce},
		Topic:      topic,
		Partitions: []int32{partition},
		Err:        kerr.NotLeaderForPartition,
		Count:      -1,
	}, kfake.Fault{
		Keys:       []kmsg.Key{kmsg.ListOffsets},
		Topic:      topic,
		Partitions: []int32{partition},
		Err:        kerr.LeaderNotAvailable,
		Count:      -1,
	})
	return sync.OnceFunc(func() {
		h.Remove()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.noLeaders[tp]--; c.noLeaders[tp] <= 0 {
			delete(c.noLeaders, tp)
		}
	})
}

// shadowTag is the tagged field that marks the Metadata requests Leaderless
// reissues, so that its control lets them through to the cluster. Kafka's
// own tags are small numbers; this one is far from them.
const shadowTag = 0x6b_61_74 // "kat"

var shadowMark = []byte("kafkatest")

// shadowTimeout bounds one reissued Metadata request.
const shadowTimeout = 5 * time.Second

// controlMetadata is the kfake control of Metadata requests installed by
// Leaderless. It lets through every request whose answer cannot carry a
// leaderless partition, and drops itself at the first request after the
// last fault is lifted.
//
// A control can only answer a request in place of the cluster, not edit the
// cluster's answer, so it sleeps (letting the cluster serve other
// connections), reissues the request through the shadow client, and answers
// with the edited response.
//
//nolint:revive // error-return: the result order is kfake's (ControlKey), not ours
func (c *Cluster) controlMetadata(kreq kmsg.Request) (kmsg.Response, error, bool) {
	c.KeepControl()
	req, ok := kreq.(*kmsg.MetadataRequest)
	if !ok || isShadow(req) {
		return nil, nil, false
	}
	c.mu.Lock()
	if len(c.noLeaders) == 0 {
		// Every fault was lifted: leave the cluster as it was. The
		// next Leaderless installs the control again.
		c.metaCtl = false
		c.DropControl()
		c.mu.Unlock()
		return nil, nil, false
	}
	leaderless := make(map[topicPartition]bool, len(c.noLeaders))
	for tp := range c.noLeaders {
		leaderless[tp] = true
	}
	c.mu.Unlock()
	if !mentions(req, leaderless) {
		return nil, nil, false
	}

	var (
		resp *kmsg.MetadataResponse
		err  error
		done = make(chan struct{})
	)
	c.SleepControl(func() {
		defer close(done)
		resp, err = c.reissueMetadata(req)
	})
	select {
	case <-done:
	default:
		// SleepControl returns early when the cluster closes; the
		// reissue may still be running.
		return nil, nil, false
	}
	if err != nil {
		return nil, nil, false
	}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.Topic == nil {
			continue
		}
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if leaderless[topicPartition{*t.Topic, p.Partition}] {
				p.Leader = -1
				p.ErrorCode = kerr.LeaderNotAvailable.Code
			}
		}
	}
	resp.SetVersion(req.Version)
	return resp, nil, true
}

func isShadow(req *kmsg.MetadataRequest) bool {
	shadow := false
	req.UnknownTags.Each(func(key uint32, val []byte) {
		if key == shadowTag && string(val) == string(shadowMark) {
			shadow = true
		}
	})
	return shadow
}

// mentions reports whether the answer to req can carry a leaderless
// partition: req asks for all topics, names a leaderless topic, or names a
// topic by ID (which we resolve only in the answer).
func mentions(req *kmsg.MetadataRequest, leaderless map[topicPartition]bool) bool {
	if req.Topics == nil {
		return true
	}
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			if rt.TopicID != [16]byte{} {
				return true
			}
			continue
		}
		for tp := range leaderless {
			if tp.topic == *rt.Topic {
				return true
			}
		}
	}
	return false
}

// reissueMetadata sends a marked copy of req through the shadow client.
func (c *Cluster) reissueMetadata(req *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error) {
	cl, err := c.shadowClient()
	if err != nil {
		return nil, err
	}
	dup := kmsg.NewPtrMetadataRequest()
	dup.Topics = slices.Clone(req.Topics) // nil stays nil: all topics
	dup.AllowAutoTopicCreation = req.AllowAutoTopicCreation
	dup.IncludeClusterAuthorizedOperations = req.IncludeClusterAuthorizedOperations
	dup.IncludeTopicAuthorizedOperations = req.IncludeTopicAuthorizedOperations
	dup.UnknownTags.Set(shadowTag, shadowMark)

	ctx, cancel := context.WithTimeout(context.Background(), shadowTimeout)
	defer cancel()
	resp, err := dup.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: reissue metadata: %w", err)
	}
	return resp, nil
}

func (c *Cluster) shadowClient() (*kgo.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.shadow == nil {
		// Tagged fields exist from Metadata v9; refusing older versions
		// keeps an unmarked reissue from looping through the control.
		minVersions := new(kversion.Versions)
		minVersions.SetMaxKeyVersion(int16(kmsg.Metadata), 9)
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(c.addrs...),
			kgo.MinVersions(minVersions),
		)
		if err != nil {
			return nil, fmt.Errorf("kafkatest: new client: %w", err)
		}
		c.shadow = cl
	}
	return c.shadow, nil
}
