package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/internal/shard"
	"github.com/meshwatch/meshwatch/internal/state"
)

// errStoreFenced is what a core's writes get once its partitions were lost:
// another agent may own its products already, and its state is newer.
var errStoreFenced = errors.New("not written: this agent lost its products to another agent (sharding)")

// fencedStore is a core's view of the state store: once fenced it writes
// nothing, so that a core whose partitions were lost (its session expired)
// cannot overwrite the state of the agent that took them over.
type fencedStore struct {
	stateStore
	fenced atomic.Bool
}

func (f *fencedStore) Put(ctx context.Context, key string, value []byte) error {
	if f.fenced.Load() {
		return errStoreFenced
	}
	return f.stateStore.Put(ctx, key, value)
}

func (f *fencedStore) Delete(ctx context.Context, key string) error {
	if f.fenced.Load() {
		return errStoreFenced
	}
	return f.stateStore.Delete(ctx, key)
}

func (f *fencedStore) SetAside(ctx context.Context, key, reason string) error {
	if f.fenced.Load() {
		return errStoreFenced
	}
	return f.stateStore.SetAside(ctx, key, reason)
}

func (f *fencedStore) PutMany(ctx context.Context, entries map[string][]byte) error {
	if f.fenced.Load() {
		return errStoreFenced
	}
	return f.stateStore.PutMany(ctx, entries)
}

// handoverTimeout bounds stopping (and flushing) the products whose
// partitions are revoked: well within franz-go's default rebalance timeout
// (60 s), which bounds how long a member may take to give them up.
const handoverTimeout = 30 * time.Second

// running is the core a sharded agent runs now.
type running struct {
	c      *core
	shards []int32
}

// shardMetrics tell which part of the fleet's products this agent owns.
type shardMetrics struct {
	partitions prometheus.Gauge
	products   prometheus.Gauge
	changes    *prometheus.CounterVec
	handover   prometheus.Gauge
	syncErrors prometheus.Counter
}

func newShardMetrics(reg prometheus.Registerer) *shardMetrics {
	m := &shardMetrics{
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_shard_partitions_owned", Help: "Coordination partitions this agent owns (sharding).",
		}),
		products: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_shard_products_owned", Help: "Data products this agent monitors: those of the partitions it owns.",
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_shard_changes_total", Help: "Changes of the owned partitions, by how: gained, revoked (handed over) or lost (session expired; state not written).",
		}, []string{"change"}),
		handover: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_shard_handover_seconds", Help: "How long the last change took: stopping and flushing the old products, reading the state topic, starting the new ones.",
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshwatch_shard_state_sync_errors_total", Help: "Failed reads of the state topic: before taking products over, and the periodic read of the other agents' silences.",
		}),
	}
	for _, c := range []string{"gained", "revoked", "lost"} {
		m.changes.WithLabelValues(c)
	}
	reg.MustRegister(m.partitions, m.products, m.changes, m.handover, m.syncErrors)
	return m
}

// reshard is the member's OnChange: it stops the current core (which
// flushes its budgets and incidents, unless the partitions were lost), reads
// the state topic to its end, and starts a core for the products of the
// partitions owned now, which loads their state. Only partition 0's owner
// meters cost, which covers the whole cluster.
func (a *App) reshard(ch shard.Change) {
	a.coreMu.Lock()
	defer a.coreMu.Unlock()
	start := time.Now()
	if a.running == nil && len(ch.Owned) == 0 {
		// Joined with nothing to own, or lost nothing: stand by.
		a.shardM.partitions.Set(0)
		a.shardM.products.Set(0)
		return
	}
	before := 0
	if r := a.running; r != nil {
		before = len(r.shards)
		if ch.Lost {
			r.c.fence.fenced.Store(true)
		}
		a.cur.Store(nil)
		// The partitions go to another agent when this returns: give the
		// final flush of budgets and incidents the time the rebalance
		// allows, not only the 5 s of a process shutdown, then fence the
		// store, so that a component that did not stop in time cannot
		// overwrite what the next owner reads and writes.
		err := r.c.stopWithin(handoverTimeout)
		r.c.fence.fenced.Store(true)
		if err != nil {
			a.log.Error("stopping the products handed over; what was not flushed is lost to the next owner", "err", err)
		}
		a.running = nil
	}
	switch {
	case ch.Lost:
		a.shardM.changes.WithLabelValues("lost").Inc()
	case len(ch.Owned) < before:
		a.shardM.changes.WithLabelValues("revoked").Inc()
	default:
		a.shardM.changes.WithLabelValues("gained").Inc()
	}
	cfg := a.ownedConfig(ch.Owned)
	a.shardM.partitions.Set(float64(len(ch.Owned)))
	a.shardM.products.Set(float64(len(cfg.Products)))
	if len(ch.Owned) == 0 {
		a.log.Info("owning no products now")
		return
	}
	if k, ok := a.store.(*state.Kafka); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := k.Sync(ctx)
		cancel()
		if err != nil {
			// Starting on older state beats not monitoring at all.
			a.shardM.syncErrors.Inc()
			a.log.Error("cannot read the state topic to its end: the products taken over start from older state", "err", err)
		}
	}
	c, err := a.newCore(cfg, a.store, slices.Contains(ch.Owned, 0), ch.Owned)
	if err != nil {
		a.log.Error("cannot start monitoring the products taken over", "err", err)
		a.failCore(err)
		return
	}
	// The core's stages are its run group; a component that exits on its
	// own is reported on coreExited, which watchCore turns into the
	// agent's shutdown.
	c.stages.exited = a.coreExited
	c.stages.start()
	a.running = &running{c: c, shards: ch.Owned}
	a.cur.Store(c)
	a.shardM.handover.Set(time.Since(start).Seconds())
	a.log.Info("monitoring the products of the owned partitions", "partitions", ch.Owned, "products", len(cfg.Products), "cost", slices.Contains(ch.Owned, 0), "took", time.Since(start).Round(time.Millisecond).String())
}

// failCore tells the agent that its core cannot run: the agent stops, and
// its products move to the others.
func (a *App) failCore(err error) {
	select {
	case a.coreFailed <- err:
	default:
	}
}

// watchCore is the sharded agent's component that stops the agent when its
// core cannot start or one of its components stops on its own: its
// products then move to the other agents.
func (a *App) watchCore(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.coreFailed:
		return err
	case name := <-a.coreExited:
		return fmt.Errorf("%s stopped on its own", name)
	}
}

// standby answers what needs an alert manager while the agent owns no
// products: the silences, which live in the shared state.
func (a *App) standby() (*alert.Manager, error) {
	return alert.New(a.cfg, alert.Options{
		Logger: a.log, Metrics: alert.NewMetrics(prometheus.NewRegistry()), Store: a.store,
		Shard: func(*alert.Alert) string { return "" }, // owns no shard: loads no incident
	})
}

// syncState keeps a sharded agent's view of the shared state current: every
// state.flush it reads what the other agents wrote to the state topic and
// reloads the silences, so that a silence added through any agent mutes
// the alerts of every agent within that time.
func (a *App) syncState(ctx context.Context) error {
	k, ok := a.store.(*state.Kafka)
	if !ok {
		<-ctx.Done()
		return nil
	}
	every(ctx, a.set.State.Flush.Std(), func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := k.Sync(sctx)
		if err == nil {
			if c := a.cur.Load(); c != nil {
				err = c.alerts.ReloadSilences(sctx)
			} else {
				err = a.standbyAlerts.ReloadSilences(sctx)
			}
		}
		if err != nil && ctx.Err() == nil {
			a.shardM.syncErrors.Inc()
			if a.syncLogs.Allow("sync") {
				a.log.Warn("cannot read the other agents' state (silences)", "err", err)
			}
		}
	})
	return nil
}

// ownedConfig is a.cfg with only the products of the owned partitions.
func (a *App) ownedConfig(owned []int32) *meshwatch.Config {
	cp := *a.cfg
	cp.Products = nil
	for _, p := range a.cfg.Products {
		if slices.Contains(owned, shard.Of(p.Name, a.set.Sharding.Partitions)) {
			cp.Products = append(cp.Products, p)
		}
	}
	return &cp
}

// alertShards are the alert manager's shards: a product's alerts belong to
// its coordination partition, cost and policy alerts to the fleet-wide
// duties' own shard "cost" (partition 0's owner runs the meter and the
// policies; a product's cost or policy incident is apart from its other
// incidents).
func (a *App) alertShards(owned []int32, withCost bool) (func(*alert.Alert) string, []string) {
	n := a.set.Sharding.Partitions
	var names []string
	for _, p := range owned {
		names = append(names, "p"+strconv.Itoa(int(p)))
	}
	if withCost {
		names = append(names, "cost")
	}
	return func(al *alert.Alert) string {
		switch al.Labels[alert.LabelAlertname] {
		case alert.NameCostBudget, alert.NamePolicyViolation:
			// Raised by the fleet-wide duties' agent: kept in its
			// shard, never in another agent's.
			return "cost"
		}
		return "p" + strconv.Itoa(int(shard.Of(al.Product, n)))
	}, names
}
