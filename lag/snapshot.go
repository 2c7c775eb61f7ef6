package lag

import (
	"slices"
	"sync"
	"time"

	"github.com/meshwatch/meshwatch"
)

// ProductLag is the consumer lag of one product's groups at the last pass.
type ProductLag struct {
	Product string     `json:"product"`
	At      time.Time  `json:"at"` // when the pass sampled the offsets
	Groups  []GroupLag `json:"groups"`
}

// GroupLag is one consumer group of a product: every group with committed
// offsets on the product's topics, and every declared consumer.
type GroupLag struct {
	Group string `json:"group"`
	// Owner is the team that owns the group as declared under the product's
	// consumers, or meshwatch.UnknownOwner.
	Owner    string `json:"owner"`
	Declared bool   `json:"declared"`
	// Type is Kafka's type of the group: TypeClassic, TypeConsumer
	// (KIP-848) or TypeShare (KIP-932); "" when Kafka does not list it (a
	// declared group that does not exist).
	Type string `json:"type"`
	// State is Kafka's group state (Stable, Empty, PreparingRebalance, …);
	// Kafka describes a group that does not exist as Dead.
	State   string `json:"state"`
	Members int    `json:"members"`
	// NoData is true when the group has no committed offset on the
	// product's topics (a declared consumer that never consumed, say): it
	// then has no lag and no Status, and its lag SLO events are not valid.
	NoData bool `json:"no_data,omitempty"`
	// Status is the worst status of its committed partitions; "" with NoData.
	Status string `json:"status,omitempty"`
	// Settled says Status is final: every committed partition has been
	// watched long enough to tell STALL and STOP (lag's StuckAfter) and no
	// status change is waiting out lag.passes. After a start or a takeover a
	// group that stopped long ago reads OK, unsettled, for that long.
	Settled bool `json:"settled"`
	// LagRecords is the sum of the partitions' offset lags.
	LagRecords int64 `json:"lag_records"`
	// LagSeconds is the largest time lag of its partitions, and Method the
	// method of that partition's value.
	LagSeconds float64 `json:"lag_seconds"`
	Method     string  `json:"method,omitempty"`
	// LowerBound says a partition's time lag is a lower bound (its
	// committed offset predates the sampled history and was not read, as
	// after a start): LagSeconds is the least the group's lag can be.
	LowerBound bool `json:"lower_bound,omitempty"`
	// Quantiles are the 0.5 and 0.99 quantiles of LagSeconds over the last
	// five minutes (Window), from Samples passes. They are not exported to
	// Prometheus, where quantile_over_time of
	// meshwatch_consumer_group_lag_seconds computes them.
	P50Seconds float64 `json:"p50_seconds"`
	P99Seconds float64 `json:"p99_seconds"`
	Samples    int     `json:"samples"`
	// RetentionRisk is the largest time lag of a partition as a share of its
	// topic's retention.ms: at 1, records expire before the group reads them.
	// It is 1 (at least) once records are lost (LostRecords > 0), whether
	// they expired or were deleted.
	RetentionRisk float64 `json:"retention_risk_ratio"`
	// LostRecords is how many records expired below the committed offsets.
	LostRecords int64 `json:"lost_records"`
	// DataLoss is LostRecords > 0.
	DataLoss bool `json:"data_loss"`
	// Uncommitted counts the partitions of the group's topics it never
	// committed.
	Uncommitted int `json:"uncommitted_partitions"`
	// Partitions are ordered by topic, then partition.
	Partitions []PartitionLag `json:"partitions"`
}

// PartitionLag is one partition of a topic a group consumes.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is the committed offset; nil when the group never
	// committed the partition, which then has no lag and no status.
	Committed  *int64  `json:"committed"`
	End        int64   `json:"end"`
	LogStart   int64   `json:"log_start"`
	LagRecords int64   `json:"lag_records"`
	LagSeconds float64 `json:"lag_seconds"`
	Method     string  `json:"method,omitempty"`
	// LowerBound says the committed offset is older than the sampled end
	// offsets and was not read: LagSeconds is the least it can be.
	LowerBound  bool   `json:"lower_bound,omitempty"`
	LostRecords int64  `json:"lost_records,omitempty"`
	Status      string `json:"status,omitempty"`
	// The member assigned the partition, if any.
	MemberID   string `json:"member_id,omitempty"`
	ClientID   string `json:"client_id,omitempty"`
	MemberHost string `json:"member_host,omitempty"`
}

// snapshot is the result of a pass, swapped in whole; readers never see a
// pass half done.
type snapshot struct {
	at       time.Time
	products map[string]*ProductLag
	order    []string // product names in config order
	// exporter holds kafka-lag-exporter's per-group aggregates, over the
	// partitions of every product the group consumes.
	exporter []exporterGroup

	// The alert conditions, computed once per pass on first demand.
	condsOnce sync.Once
	conds     []meshwatch.Condition

	// What the metrics derive from the pass, computed once on first
	// scrape (see metricsView and topicSums).
	viewOnce      sync.Once
	view          *metricsView
	topicSumsOnce sync.Once
	sums          []topicSum
}

type exporterGroup struct {
	group          string
	maxLag, sumLag int64
	maxLagSeconds  float64
	hasData        bool
}

// Snapshot returns the lag of the named product's groups as of the last
// pass, and false if there is no such product or no pass has completed. The
// result is a copy. Safe for concurrent use.
func (m *Monitor) Snapshot(product string) (ProductLag, bool) {
	s := m.snap.Load()
	if s == nil {
		return ProductLag{}, false
	}
	p := s.products[product]
	if p == nil {
		return ProductLag{}, false
	}
	out := *p
	out.Groups = slices.Clone(p.Groups)
	for i := range out.Groups {
		out.Groups[i].Partitions = slices.Clone(out.Groups[i].Partitions)
	}
	return out, true
}
