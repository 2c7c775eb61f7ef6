package cost

import (
	"slices"
	"strings"
	"time"
)

// Components of a cost, the component label and column.
const (
	ComponentStorage    = "storage"    // GiB-hours on disk
	ComponentPartitions = "partitions" // partition-hours
	ComponentIngress    = "ingress"    // GiB produced
	ComponentEgress     = "egress"     // GiB read by consumer groups
	ComponentCrossAZ    = "cross_az"   // GiB that crossed zones: replication and clients
	ComponentCluster    = "cluster"    // invoice mode: a bill share no usage explains
)

// Components lists every component, in report order.
var Components = []string{ComponentStorage, ComponentPartitions, ComponentIngress, ComponentEgress, ComponentCrossAZ, ComponentCluster}

// Pool rows: the parts of the whole that no product owns directly.
const (
	Shared      = "__shared__"      // internal topics
	Idle        = "__idle__"        // capacity nobody used
	Unallocated = "__unallocated__" // topics no product claims
)

// Allocation methods (FOCUS AllocatedMethodId of the row).
const (
	MethodDirect         = "direct"               // the product's own topic
	MethodEgressConsumer = "egress-consumer-pays" // read by a group, charged to its owner
	MethodEgressProducer = "egress-producer-pays" // read by a group, charged to the product
	MethodEgressSplit    = "egress-split"         // half to each
	MethodSharedEven     = "shared-even"          // internal topics spread evenly
	MethodSharedWeighted = "shared-weighted"      // internal topics spread by direct cost
	MethodPool           = "pool"                 // a __shared__, __idle__ or __unallocated__ row
	MethodInvoice        = "invoice-share"        // the bill share of an hour nothing used
)

// ClassCorrection is the FOCUS ChargeClass of a row that restates a closed
// hour.
const ClassCorrection = "Correction"

// Units of the quantities kept in the ledger.
const (
	gib          = 1 << 30
	secondsPerHr = 3600
)

// Usage is what the cluster used in one hour, as metered. Quantities are
// integers in base units: byte-hours, partition-seconds and bytes.
type Usage struct {
	// Hour is the start of the hour, UTC.
	Hour time.Time `json:"hour"`
	// Seconds is how much of the hour the samples covered (3600 when the
	// agent ran throughout); capacity is prorated by it.
	Seconds int64 `json:"seconds"`
	// Zones is the number of distinct broker racks seen.
	Zones  int          `json:"zones"`
	Topics []TopicUsage `json:"topics"`
}

// TopicUsage is one topic's usage in an hour.
type TopicUsage struct {
	Topic string `json:"topic"`
	// PartitionSeconds is partitions × seconds they existed in the hour.
	PartitionSeconds int64 `json:"partition_seconds"`
	// StorageByteHours is bytes on disk summed over every replica, times the
	// hours held (DescribeLogDirs: replication included).
	StorageByteHours int64 `json:"storage_byte_hours"`
	// LogicalByteHours is the same for one replica (the leader's).
	LogicalByteHours int64 `json:"logical_byte_hours"`
	// IngressBytes is bytes produced: end-offset deltas × bytes per offset.
	IngressBytes int64 `json:"ingress_bytes"`
	// CrossAZReplicationBytes is what followers in another rack than the
	// leader's copied: ingress × such followers.
	CrossAZReplicationBytes int64        `json:"cross_az_replication_bytes"`
	Groups                  []GroupUsage `json:"groups,omitempty"`
}

// GroupUsage is what one consumer group read of a topic in an hour.
type GroupUsage struct {
	Group string `json:"group"`
	// EgressBytes is committed-offset deltas × bytes per offset.
	EgressBytes int64 `json:"egress_bytes"`
	// ReplayBytes is how far the group's offsets were reset backwards, in
	// bytes: what it will read again. It is reported, not charged twice:
	// reading it again moves the committed offset forward, which is egress.
	ReplayBytes int64 `json:"replay_bytes,omitempty"`
}

// Row is one line of the ledger: an amount charged to one team for one
// component of one product's (or pool's) use in one hour. The rows of an
// hour sum to the hour's total; in invoice mode the rows of a month sum to
// the month's bill.
type Row struct {
	Hour time.Time `json:"hour"`
	// Product is the data product, or __shared__, __idle__, __unallocated__.
	Product string `json:"product"`
	Domain  string `json:"domain,omitempty"`
	// Owner is the team charged: the product's owner, or the consuming
	// group's owner for egress under consumer_pays, or the platform owner
	// for pool rows.
	Owner      string `json:"owner"`
	CostCenter string `json:"cost_center,omitempty"`
	Component  string `json:"component"`
	Topic      string `json:"topic,omitempty"`
	Group      string `json:"group,omitempty"`
	// Pool is the pool the row was spread from (__shared__), if any.
	Pool   string `json:"pool,omitempty"`
	Method string `json:"method"`
	// Ratio is the row's share of the charge it was split from (split
	// egress, shared spread); 0 when it was not split.
	Ratio float64 `json:"ratio,omitempty"`
	// Quantity is in the component's base unit: byte-hours (storage),
	// partition-seconds (partitions), bytes (ingress, egress, cross_az),
	// seconds (cluster).
	Quantity int64 `json:"quantity"`
	// ListCost is the rate-card cost; Cost what is billed (the same unless
	// in invoice mode).
	ListCost Money `json:"list_cost"`
	Cost     Money `json:"cost"`
	// Class is "" or Correction.
	Class string `json:"class,omitempty"`
	// Recorded is when the row was written to the ledger.
	Recorded time.Time `json:"recorded"`
	// Estimate marks a row of the open hour: it will change at the close.
	Estimate bool `json:"estimate,omitempty"`
	// Currency is the billing currency.
	Currency string `json:"currency"`
	// Cluster is the Kafka cluster's name (cluster.name).
	Cluster string `json:"cluster,omitempty"`
	// ProductOwner is the owner of the product whatever team is charged.
	ProductOwner string `json:"product_owner,omitempty"`
	// UnitPrice is the rate-card price per pricing unit (GiB-hour,
	// partition-hour, GiB) that ListCost was computed with.
	UnitPrice Money `json:"unit_price,omitempty"`
}

// key identifies what a row charges, regardless of the amounts: restating
// an hour compares rows by key.
type rowKey struct {
	product, owner, costCenter, component, topic, group, pool, method string
}

func (r *Row) key() rowKey {
	return rowKey{r.Product, r.Owner, r.CostCenter, r.Component, r.Topic, r.Group, r.Pool, r.Method}
}

// compareRows orders rows for reports: by hour, product, component, topic,
// group, owner, then class (corrections after the rows they correct).
func compareRows(a, b *Row) int {
	if c := a.Hour.Compare(b.Hour); c != 0 {
		return c
	}
	for _, p := range [][2]string{
		{a.Product, b.Product}, {a.Component, b.Component}, {a.Topic, b.Topic},
		{a.Group, b.Group}, {a.Owner, b.Owner}, {a.Pool, b.Pool}, {a.Method, b.Method},
		{a.CostCenter, b.CostCenter}, {a.Class, b.Class},
	} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return a.Recorded.Compare(b.Recorded)
}

// SortRows sorts rows in report order.
func SortRows(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int { return compareRows(&a, &b) })
}

// Total returns the sum of the rows' Cost.
func Total(rows []Row) Money {
	var t Money
	for i := range rows {
		t += rows[i].Cost
	}
	return t
}
