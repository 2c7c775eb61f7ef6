package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Behaviours of the demo consumer groups.
const (
	KeepsUp     = "keeps-up"     // commits the end offsets every tick
	FallsBehind = "falls-behind" // reads at 60 % of the production rate, then catches up
	Stops       = "stops"        // stops committing for a while, then catches up
	Rewinds     = "rewinds"      // goes back in the log and replays, faster than produced
	// Stalls is a real member of its group, assigned its partitions, that
	// commits through its membership and, for a while, re-commits the same
	// offset while records arrive (a poison record, a stuck handler): STALL,
	// which only a group with a live member can show.
	Stalls = "stalls"
)

// Timing of the consumer behaviours: each repeats every period; the second
// part of the period is the falling behind, the stop, or the rewind.
const (
	// 3 minutes: every status shows within the demo's first three
	// minutes (the second half of the first period starts at 1m30s).
	defaultConsumerPeriod = 3 * time.Minute
	defaultConsumerTick   = time.Second
	slowShare             = 0.6 // the rate a falling-behind group reads at
	replaySpeed           = 3   // how much faster than produced a rewound group replays
)

// ErrConsumersRunTwice is returned by a second call to Consumers.Run.
var ErrConsumersRunTwice = errors.New("demo: consumers already ran")

// ConsumerScenario is one demo consumer group: the product it reads and how.
type ConsumerScenario struct {
	Group     string
	Owner     string // the consuming team, declared under the product's consumers
	Product   string
	Topics    []string
	Behaviour string // KeepsUp, FallsBehind, Stops or Rewinds
	Expect    string // what meshwatch should show, for the demo's legend
}

// ConsumerScenarios returns the demo consumer groups. The Catalog declares
// each under its product's consumers.
func ConsumerScenarios() []ConsumerScenario {
	return []ConsumerScenario{
		{
			Group: "fraud-detector", Owner: "fraud-team", Product: OrdersPlaced, Topics: []string{OrdersPlaced},
			Behaviour: KeepsUp, Expect: "OK, time lag about a second; its lag SLO (30s) met",
		},
		{
			Group: "order-analytics", Owner: "analytics-team", Product: OrdersPlaced, Topics: []string{OrdersPlaced},
			Behaviour: FallsBehind, Expect: "WARN while it reads at 60% of the rate (1m30s of every 3m), then OK",
		},
		{
			Group: "ledger-writer", Owner: "finance-team", Product: TransactionsSettled, Topics: []string{TransactionsSettled},
			Behaviour: Stops, Expect: "STOP while it commits nothing (1m30s of every 3m), then OK",
		},
		{
			Group: "invoice-mailer", Owner: "finance-team", Product: TransactionsSettled, Topics: []string{TransactionsSettled},
			Behaviour: Stalls, Expect: "STALL while its live member re-commits the same offset (1m30s of every 3m), then OK",
		},
		{
			Group: "parcel-tracker", Owner: "customer-comms-team", Product: ParcelsScanned, Topics: []string{parcelsScannedEU, parcelsScannedUS},
			Behaviour: Rewinds, Expect: "REWIND every 3m: back a minute of records, replayed at 3x",
		},
	}
}

// ConsumerOption configures Consumers.
type ConsumerOption func(*consumerOptions)

type consumerOptions struct {
	period, tick time.Duration
	clientOpts   []kgo.Opt
}

// WithConsumerTiming sets the period of the behaviours (default 3m) and how
// often the groups commit (default 1s). Values ≤ 0, or a tick not shorter
// than the period, are ignored.
func WithConsumerTiming(period, tick time.Duration) ConsumerOption {
	return func(o *consumerOptions) {
		if period > 0 && tick > 0 && tick < period {
			o.period, o.tick = period, tick
		}
	}
}

// WithConsumerClientOpts adds options to the consumers' franz-go client,
// after kgo.SeedBrokers and kgo.ClientID("meshwatch-demo-consumers").
func WithConsumerClientOpts(opts ...kgo.Opt) ConsumerOption {
	return func(o *consumerOptions) { o.clientOpts = append(o.clientOpts, opts...) }
}

// Consumers simulates the demo consumer groups: each tick it lists the
// topics' end offsets and commits, for each group, the offsets its
// behaviour has reached, with kadm, except the Stalls groups, which are real
// members of their groups (joined, assigned their partitions, never
// polling) and commit through their membership. Create it with NewConsumers
// and Run it once, after the topics exist.
type Consumers struct {
	cl     *kgo.Client
	adm    *kadm.Client
	logger *slog.Logger
	opts   consumerOptions
	groups []*consumerGroup

	ran       atomic.Bool
	closeOnce sync.Once
}

// consumerGroup is one group's simulated position.
type consumerGroup struct {
	ConsumerScenario
	pos     map[string]map[int32]float64 // committed offset, with the fraction read so far
	lastEnd map[string]map[int32]int64
	period  int // the period of the last rewind

	commits atomic.Int64
	failed  atomic.Int64
	lastLog time.Time

	// member is the group's member client (Stalls), nil for the others.
	member *kgo.Client
}

// NewConsumers returns consumers committing on the cluster at brokers
// through a client of their own, logging to logger (nil discards). It makes
// no request yet.
func NewConsumers(brokers []string, logger *slog.Logger, opts ...ConsumerOption) (*Consumers, error) {
	if len(brokers) == 0 {
		return nil, errors.New("demo: no brokers")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := consumerOptions{period: defaultConsumerPeriod, tick: defaultConsumerTick}
	for _, opt := range opts {
		opt(&o)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("meshwatch-demo-consumers"),
	}, o.clientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: new client: %w", err)
	}
	c := &Consumers{cl: cl, adm: kadm.NewClient(cl), logger: logger.With("component", "demo-consumers"), opts: o}
	for _, s := range ConsumerScenarios() {
		g := &consumerGroup{ConsumerScenario: s, pos: map[string]map[int32]float64{}, lastEnd: map[string]map[int32]int64{}, period: -1}
		if s.Behaviour == Stalls {
			// A member that joins, is assigned, heartbeats and never
			// polls: it commits what its behaviour says.
			g.member, err = kgo.NewClient(append([]kgo.Opt{
				kgo.SeedBrokers(brokers...),
				kgo.ClientID("meshwatch-demo-" + s.Group),
				kgo.ConsumerGroup(s.Group),
				kgo.ConsumeTopics(s.Topics...),
				kgo.DisableAutoCommit(),
			}, o.clientOpts...)...)
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("demo: new member client of %s: %w", s.Group, err)
			}
		}
		c.groups = append(c.groups, g)
	}
	return c, nil
}

// Run commits every group's offsets each tick until ctx is done, then
// closes the client and returns nil. Request errors are not fatal: each
// group counts them and logs one at most every 10 s. Run may be called once;
// a second call returns ErrConsumersRunTwice.
func (c *Consumers) Run(ctx context.Context) error {
	if c.ran.Swap(true) {
		return ErrConsumersRunTwice
	}
	defer c.Close()
	var topics []string
	for _, g := range c.groups {
		for _, t := range g.Topics {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	c.logger.Info("demo consumers started", "groups", len(c.groups))
	start := time.Now()
	tick := time.NewTicker(c.opts.tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, g := range c.groups {
				c.logger.Info("demo consumer stopped", "group", g.Group, "commits", g.commits.Load(), "failed", g.failed.Load())
			}
			return nil
		case <-tick.C:
		}
		ends, err := c.adm.ListEndOffsets(ctx, topics...)
		if err != nil && len(ends) == 0 {
			for _, g := range c.groups {
				c.fail(g, err)
			}
			continue
		}
		elapsed := time.Since(start)
		for _, g := range c.groups {
			c.step(ctx, g, ends, elapsed)
		}
	}
}

// Close closes the client. Run closes it on return; call Close only when
// Run is not called. It is safe to call more than once.
func (c *Consumers) Close() {
	c.closeOnce.Do(func() {
		for _, g := range c.groups {
			if g.member != nil {
				g.member.Close() // leaves the group
			}
		}
		c.cl.Close()
	})
}

// step moves one group's position by its behaviour and commits it.
func (c *Consumers) step(ctx context.Context, g *consumerGroup, ends kadm.ListedOffsets, elapsed time.Duration) {
	period := int(elapsed / c.opts.period)
	second := elapsed%c.opts.period >= c.opts.period/2 // the second half: behind, stopped, or rewound
	offsets := kadm.Offsets{}
	for _, t := range g.Topics {
		for p, lo := range ends[t] {
			if lo.Err != nil || p < 0 {
				continue
			}
			if g.pos[t] == nil {
				g.pos[t], g.lastEnd[t] = map[int32]float64{}, map[int32]int64{}
			}
			end := lo.Offset
			pos, seen := g.pos[t][p]
			if !seen {
				pos = float64(end) // every group starts caught up
			}
			delta := float64(end - g.lastEnd[t][p])
			if !seen {
				delta = 0
			}
			g.lastEnd[t][p] = end
			switch g.Behaviour {
			case FallsBehind:
				if second {
					pos += slowShare * delta
				} else {
					pos = float64(end)
				}
			case Stops, Stalls:
				if !second {
					pos = float64(end)
				}
			case Rewinds:
				switch {
				case second && g.period != period:
					// Back about a minute of this partition's records.
					pos = max(pos-max(delta*60*float64(time.Second)/float64(c.opts.tick), 50), 0)
				default:
					pos += max(replaySpeed*delta, 1)
				}
				pos = min(pos, float64(end))
			default: // KeepsUp
				pos = float64(end)
			}
			g.pos[t][p] = pos
			offsets.AddOffset(t, p, int64(pos), -1)
		}
	}
	if g.Behaviour == Rewinds && second {
		g.period = period
	}
	if g.Behaviour == Stops && second {
		return // nobody commits
	}
	if len(offsets) == 0 {
		return
	}
	if g.member != nil {
		// Through the membership; in the second half the same offset again.
		if err := memberCommit(ctx, g.member, offsets); err != nil {
			if ctx.Err() == nil {
				c.fail(g, err)
			}
			return
		}
		g.commits.Add(1)
		return
	}
	if err := c.adm.CommitAllOffsets(ctx, g.Group, offsets); err != nil {
		if ctx.Err() == nil {
			c.fail(g, err)
		}
		return
	}
	g.commits.Add(1)
}

// fail counts a failed request of g and logs one at most every 10 s.
func (c *Consumers) fail(g *consumerGroup, err error) {
	n := g.failed.Add(1)
	if time.Since(g.lastLog) < errorLogInterval {
		return
	}
	g.lastLog = time.Now()
	c.logger.Warn("demo consumer commit failed", "group", g.Group, "err", err, "failed", n)
}

// memberCommit commits offsets as the member cl, and returns the first
// error, of the request or of a partition (a member not yet assigned its
// partitions is refused until it is).
func memberCommit(ctx context.Context, cl *kgo.Client, offsets kadm.Offsets) error {
	eo := map[string]map[int32]kgo.EpochOffset{}
	offsets.Each(func(o kadm.Offset) {
		if eo[o.Topic] == nil {
			eo[o.Topic] = map[int32]kgo.EpochOffset{}
		}
		eo[o.Topic][o.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o.At}
	})
	var err error
	cl.CommitOffsetsSync(ctx, eo, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, cerr error) {
		err = cerr
		if resp == nil {
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil && err == nil {
					err = perr
				}
			}
		}
	})
	return err
}
