package lag

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group types, as Kafka's ListGroups names them (GroupType, Kafka 3.8+).
const (
	// TypeClassic is a group of the classic protocol (JoinGroup/SyncGroup,
	// client-side assignment), described with DescribeGroups. A broker
	// older than 3.8 does not say a group's type: its groups are classic.
	TypeClassic = "classic"
	// TypeConsumer is a group of the KIP-848 consumer protocol
	// (group.protocol=consumer, server-side assignment, the default path in
	// Kafka 4), described with ConsumerGroupDescribe: DescribeGroups
	// answers "no members" for it.
	TypeConsumer = "consumer"
	// TypeShare is a share group (KIP-932, queues for Kafka), described with
	// ShareGroupDescribe; it has no committed offsets, and its backlog is
	// the share-partition state (DescribeShareGroupOffsets).
	TypeShare = "share"
)

// member is the member of a group assigned a partition.
type member struct {
	id, client, host string
}

// listGroups returns every group of the cluster with its type (Kafka's
// GroupType; TypeClassic when the broker does not say, as before 3.8), from
// every broker that answered; the error says some did not.
func (m *Monitor) listGroups(ctx context.Context) (map[string]string, error) {
	req := kmsg.NewPtrListGroupsRequest()
	out := map[string]string{}
	var errs []error
	for _, sh := range m.cl.RequestSharded(ctx, req) {
		if sh.Err != nil {
			errs = append(errs, sh.Err)
			continue
		}
		resp := sh.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, g := range resp.Groups {
			typ := g.GroupType
			if typ == "" {
				typ = TypeClassic
			}
			out[g.Group] = typ
		}
	}
	return out, errors.Join(errs...)
}

// describe fills the state, members and assignments of the relevant
// groups, each with the API of its type; a group of unknown type (declared,
// not listed) is described as classic, and Kafka calls it Dead if it does
// not exist. The KIP-848 and share describes name assigned topics by ID:
// ids (every topic of the cluster by ID) names them. It returns whether a
// request failed: partial answers are used.
func (m *Monitor) describe(ctx context.Context, groups map[string]*groupData, relevant []string, ids map[[16]byte]string) bool {
	var classic, consumer, share []string
	for _, g := range relevant {
		switch groups[g].typ {
		case TypeConsumer:
			consumer = append(consumer, g)
		case TypeShare:
			share = append(share, g)
		default:
			classic = append(classic, g)
		}
	}
	failed := false
	if len(classic) > 0 {
		described, err := m.adm.DescribeGroups(ctx, classic...)
		failed = failed || err != nil
		for g, d := range described {
			gd := groups[g]
			if gd == nil {
				continue
			}
			gd.described, gd.state, gd.members = true, d.State, len(d.Members)
			for i := range d.Members {
				mem := &d.Members[i]
				c, ok := mem.Assigned.AsConsumer()
				if !ok {
					continue
				}
				who := &member{mem.MemberID, mem.ClientID, mem.ClientHost}
				for _, t := range c.Topics {
					for _, p := range t.Partitions {
						m.assign(gd, t.Topic, p, who)
					}
				}
			}
		}
	}
	if len(consumer) > 0 {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = consumer
		for _, sh := range m.cl.RequestSharded(ctx, req) {
			if sh.Err != nil {
				failed = true
				continue
			}
			for _, d := range sh.Resp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
				gd := groups[d.Group]
				if gd == nil || d.ErrorCode != 0 {
					failed = failed || d.ErrorCode != 0
					continue
				}
				gd.described, gd.state, gd.members = true, d.State, len(d.Members)
				for i := range d.Members {
					mem := &d.Members[i]
					who := &member{mem.MemberID, mem.ClientID, mem.ClientHost}
					for _, t := range mem.Assignment.TopicPartitions {
						for _, p := range t.Partitions {
							m.assign(gd, topicName(t.Topic, t.TopicID, ids), p, who)
						}
					}
				}
			}
		}
	}
	if len(share) > 0 {
		req := kmsg.NewPtrShareGroupDescribeRequest()
		req.GroupIDs = share
		for _, sh := range m.cl.RequestSharded(ctx, req) {
			if sh.Err != nil {
				failed = true
				continue
			}
			for _, d := range sh.Resp.(*kmsg.ShareGroupDescribeResponse).Groups {
				gd := groups[d.GroupID]
				if gd == nil || d.ErrorCode != 0 {
					failed = failed || d.ErrorCode != 0
					continue
				}
				gd.described, gd.state, gd.members = true, d.GroupState, len(d.Members)
				for i := range d.Members {
					mem := &d.Members[i]
					who := &member{mem.MemberID, mem.ClientID, mem.ClientHost}
					for _, t := range mem.Assignment.TopicPartitions {
						for _, p := range t.Partitions {
							m.assign(gd, topicName(t.Topic, t.TopicID, ids), p, who)
						}
					}
				}
			}
		}
	}
	return failed
}

// topicName returns name, or the name of the topic with the ID id when
// name is empty (Kafka names the topics of a KIP-848 or share assignment by
// ID).
func topicName(name string, id [16]byte, ids map[[16]byte]string) string {
	if name != "" {
		return name
	}
	return ids[id]
}

// topicIDs maps every listed topic's ID to its name.
func topicIDs(tds kadm.TopicDetails) map[[16]byte]string {
	out := make(map[[16]byte]string, len(tds))
	for name, td := range tds {
		out[td.ID] = name
	}
	return out
}

// assign records that who consumes a partition of a product's topic (a
// share group's partitions are shared: the first member listed is kept).
func (m *Monitor) assign(gd *groupData, topic string, p int32, who *member) {
	if topic == "" || m.productOf(topic) < 0 {
		return
	}
	if gd.assigned == nil {
		gd.assigned = map[tp]*member{}
	}
	k := tp{topic, p}
	if gd.assigned[k] == nil {
		gd.assigned[k] = who
	}
}

// shareOffsets reads the share-partition state of share groups: the
// share-partition start offset (SPSO: every record below it is
// acknowledged or archived) stands for the committed offset, and the
// broker's count of records not yet acknowledged for the offset lag (-1
// when the broker does not give it). A group that could not be read is
// failed. It returns whether a request failed.
func (m *Monitor) shareOffsets(ctx context.Context, groups map[string]*groupData, names []string) bool {
	if len(names) == 0 {
		return false
	}
	described, err := m.adm.DescribeShareGroupOffsets(ctx, names...)
	for _, g := range names {
		gd := groups[g]
		d, ok := described[g]
		if !ok {
			gd.failed = err != nil
			continue
		}
		if d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
			gd.failed = true
			continue
		}
		d.Offsets.Each(func(o kadm.ShareOffset) {
			if o.Err != nil || o.StartOffset < 0 || m.productOf(o.Topic) < 0 {
				return
			}
			k := tp{o.Topic, o.Partition}
			gd.committed[k] = o.StartOffset
			if gd.backlog == nil {
				gd.backlog = map[tp]int64{}
			}
			gd.backlog[k] = o.Lag
		})
	}
	return err != nil
}

// fetchable returns the groups whose committed offsets OffsetFetch reads:
// all but share groups, which have none.
func fetchable(names map[string]bool, types map[string]string) (fetch, share []string) {
	for g := range names {
		if types[g] == TypeShare {
			share = append(share, g)
		} else {
			fetch = append(fetch, g)
		}
	}
	slices.Sort(fetch)
	slices.Sort(share)
	return fetch, share
}
