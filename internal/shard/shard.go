// Package shard shares data products out among meshwatch agents through
// Kafka group membership, with no coordinator of its own: every agent joins
// one consumer group on a small coordination topic of N partitions, and the
// group protocol gives each partition to exactly one member. Product p
// belongs to partition Of(p, N); the member that owns the partition
// monitors the product. When a member leaves or dies, the group rebalances
// and its partitions move to the others: that is the failover.
//
// Nobody writes to the coordination topic; members never read records from
// it and commit nothing. The group's membership is the state.
//
// The package owns the sharding: section (Config: group, topic, partitions,
// session_timeout, instance_id, with SetDefaults and Validate), which
// package config composes; Config.Options gives Join its settings.
package shard

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Of returns the partition product belongs to among n partitions: the
// FNV-1a hash of its name modulo n. Every agent computes the same.
func Of(product string, n int) int32 {
	if n <= 0 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(product))
	return int32(h.Sum32() % uint32(n))
}

// Change is a change of what this member owns.
type Change struct {
	// Owned are the partitions owned from now on, sorted.
	Owned []int32
	// Lost is set when partitions were lost without a handover (the
	// member's session expired, or the group fenced it): another member may
	// own them already, so their state must not be written any more.
	Lost bool
}

// Options configure a Member.
type Options struct {
	Group      string // consumer group of the agents
	Topic      string // coordination topic
	Partitions int    // partitions of the coordination topic
	// SessionTimeout is how long the group waits for a member that stopped
	// heartbeating before it moves its partitions (default 10s).
	SessionTimeout time.Duration
	// InstanceID, when set, makes the member static (KIP-345): a restart
	// within the session timeout gets its partitions back without a
	// rebalance.
	InstanceID string
	Logger     *slog.Logger
	// OnChange is called, one call at a time, each time the owned
	// partitions change, and once at the first assignment even when it is
	// empty. When partitions are revoked it is called before
	// they go to another member, so whatever it flushes is there for the
	// next owner to read. It must return within the rebalance timeout.
	OnChange func(Change)
}

// Member is one agent's membership in the group.
type Member struct {
	o   Options
	cl  *kgo.Client
	log *slog.Logger

	closeOnce sync.Once

	mu     sync.Mutex
	owned  map[int32]bool
	joined bool // the first assignment arrived
}

// Join creates the coordination topic if it does not exist (with
// o.Partitions partitions), checks its partition count, and joins the
// group. kopts are the cluster's connection options. Run keeps the
// membership; Close leaves.
func Join(ctx context.Context, kopts []kgo.Opt, o Options) (*Member, error) {
	if o.Partitions <= 0 {
		return nil, fmt.Errorf("shard: partitions must be positive, got %d", o.Partitions)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Second
	}
	m := &Member{o: o, owned: make(map[int32]bool), log: o.Logger.With("component", "shard", "group", o.Group, "topic", o.Topic)}
	if err := m.ensureTopic(ctx, kopts); err != nil {
		return nil, err
	}
	opts := append(slices.Clone(kopts),
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(o.Topic),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(o.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, o.SessionTimeout/3)),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.OnPartitionsAssigned(m.assigned),
		kgo.OnPartitionsRevoked(m.revoked),
		kgo.OnPartitionsLost(m.lost),
	)
	if o.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(o.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("shard: group client: %w", err)
	}
	m.cl = cl
	return m, nil
}

// ensureTopic creates the coordination topic, or checks that the existing
// one has the partitions every agent hashes products onto.
func (m *Member) ensureTopic(ctx context.Context, kopts []kgo.Opt) error {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("shard: admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, int32(m.o.Partitions), -1, nil, m.o.Topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		m.log.Info("created the coordination topic", "partitions", m.o.Partitions)
		return nil
	case !errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("shard: create the coordination topic %s: %w", m.o.Topic, err)
	}
	tds, err := adm.ListTopics(ctx, m.o.Topic)
	if err != nil {
		return fmt.Errorf("shard: describe the coordination topic %s: %w", m.o.Topic, err)
	}
	td, ok := tds[m.o.Topic]
	if !ok {
		return fmt.Errorf("shard: describe the coordination topic %s: not in the answer", m.o.Topic)
	}
	if td.Err != nil {
		return fmt.Errorf("shard: describe the coordination topic %s: %w", m.o.Topic, td.Err)
	}
	if got := len(td.Partitions); got != m.o.Partitions {
		return fmt.Errorf("shard: the coordination topic %s has %d partitions but sharding.partitions is %d: "+
			"every agent must hash products onto the same count; set sharding.partitions: %d, or delete the topic while no agent runs",
			m.o.Topic, got, m.o.Partitions, got)
	}
	return nil
}

// Run keeps the membership until ctx is done, then leaves the group; the
// leave revokes every partition through OnChange first.
func (m *Member) Run(ctx context.Context) error {
	defer m.Close()
	for ctx.Err() == nil {
		fs := m.cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				m.log.Warn("coordination topic", "partition", p, "err", err)
			}
		})
	}
	return nil
}

// Close leaves the group (revoking every partition through OnChange) and
// closes the client. Safe to call more than once.
func (m *Member) Close() { m.closeOnce.Do(m.cl.Close) }

// Joined reports whether the member has had its first assignment (which
// may be empty: more agents than partitions).
func (m *Member) Joined() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.joined
}

// Owned returns the partitions owned now, sorted.
func (m *Member) Owned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sortedLocked()
}

func (m *Member) sortedLocked() []int32 {
	out := make([]int32, 0, len(m.owned))
	for p := range m.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (m *Member) assigned(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	m.change(parts[m.o.Topic], true, false)
}

func (m *Member) revoked(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	m.change(parts[m.o.Topic], false, false)
}

func (m *Member) lost(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	m.change(parts[m.o.Topic], false, true)
}

// change applies one callback; franz-go never runs two at once. The first
// assignment is reported even when empty, so that the user knows it joined.
func (m *Member) change(parts []int32, add, lost bool) {
	m.mu.Lock()
	changed := add && !m.joined
	if add {
		m.joined = true
	}
	for _, p := range parts {
		if m.owned[p] != add {
			changed = true
			if add {
				m.owned[p] = true
			} else {
				delete(m.owned, p)
			}
		}
	}
	owned := m.sortedLocked()
	m.mu.Unlock()
	if !changed {
		return
	}
	verb := map[bool]string{true: "assigned", false: "revoked"}[add]
	if lost {
		verb = "lost"
	}
	m.log.Info("partitions "+verb, "partitions", parts, "owned", owned)
	if m.o.OnChange != nil {
		m.o.OnChange(Change{Owned: owned, Lost: lost})
	}
}
