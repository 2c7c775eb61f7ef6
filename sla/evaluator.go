package sla

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
)

// shutdownFlush bounds the last flush when Run stops.
const shutdownFlush = 5 * time.Second

// Store keeps the SLOs' buckets across restarts; internal/state's Dir and
// Kafka implement it. Get reports whether key exists; SetAside moves a value
// that cannot be decoded out of the way, saying why. A Store that also has
// PutMany(ctx, map[string][]byte) error gets one call per flush.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte) error
	SetAside(ctx context.Context, key, reason string) error
}

type batchStore interface {
	PutMany(ctx context.Context, entries map[string][]byte) error
}

// Options configure an Evaluator. Every field is optional.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics // nil: a private registry
	// Store persists the buckets. Nil makes the evaluator ephemeral:
	// nothing is loaded or flushed (meshwatch check, tests).
	Store Store
	Now   func() time.Time // default time.Now
	// Tick is collector.tick (default 10s): Run evaluates at each Wake, and
	// on its own when no Wake came for a tick and a half.
	Tick time.Duration
	// Flush is how often the buckets of SLOs that changed are written,
	// state.flush (default 30s).
	Flush time.Duration
	// Location is the time zone of window: month for SLOs without a
	// time_zone (default UTC): the budget
	// resets at midnight on the 1st there.
	Location *time.Location
	// OnEvaluated, if set, is called after each evaluation pass, on the
	// evaluating goroutine: it must not block (the agent wakes its alert
	// fan-in with it).
	OnEvaluated func()
}

// Evaluator accounts every SLO of the configuration in time buckets,
// evaluates budgets, burn rates and alert decisions every tick, exports
// them as metrics and under /api/v1/slos, and keeps its buckets in a Store.
// Create it with New and start it with Run.
type Evaluator struct {
	log        *slog.Logger
	m          *Metrics
	store      Store
	now        func() time.Time
	tick       time.Duration
	flushEvery time.Duration
	onEval     func()
	wake       chan struct{} // an evaluation Wake asked for, at most one pending

	trackers []*tracker
	byKey    map[sloKey]*tracker
	buckets  int

	unknown atomic.Int64 // events of SLOs not in the configuration
	snap    atomic.Pointer[snapshot]
}

// snapshot is the outcome of one evaluation pass; scrapes and the API read
// it, never the buckets.
type snapshot struct {
	at       time.Time
	evals    []evaluation // per tracker
	results  []Result     // per tracker, without Why
	trackers []*tracker
	// bucketBytes is the memory of every SLO's buckets.
	bucketBytes int64

	// The alert conditions, computed once per pass on first demand.
	condsOnce sync.Once
	conds     []meshwatch.Condition
}

// status returns the status of tracker i; Why and RemainingDisplay are
// written only if asked for, as they are the parts that allocate.
func (s *snapshot) status(i int, why bool) Status {
	return s.trackers[i].status(s.evals[i], s.results[i], s.at, why)
}

// New creates an Evaluator for every SLO of cfg, which must be defaulted and
// valid; it fails on a window it cannot read.
func New(cfg *meshwatch.Config, o Options) (*Evaluator, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	e := &Evaluator{
		log:        o.Logger.With("component", "sla"),
		m:          o.Metrics,
		store:      o.Store,
		now:        o.Now,
		tick:       o.Tick,
		flushEvery: o.Flush,
		onEval:     o.OnEvaluated,
		wake:       make(chan struct{}, 1),
		byKey:      make(map[sloKey]*tracker),
	}
	if e.tick <= 0 {
		e.tick = 10 * time.Second
	}
	if e.flushEvery <= 0 {
		e.flushEvery = 30 * time.Second
	}
	now := e.now()
	var errs []error
	for i := range cfg.Products {
		p := &cfg.Products[i]
		for j := range p.SLOs {
			loc := o.Location
			if tz := p.SLOs[j].TimeZone; tz != "" {
				// Validated at load; a zone the system lacks falls back to
				// Options.Location rather than losing the SLO.
				if l, err := time.LoadLocation(tz); err == nil {
					loc = l
				}
			}
			t, err := newTracker(p, &p.SLOs[j], loc, now)
			if err != nil {
				errs = append(errs, fmt.Errorf("products[%d].slos[%d]: %w", i, j, err))
				continue
			}
			if _, dup := e.byKey[t.key]; dup {
				errs = append(errs, fmt.Errorf("products[%d].slos[%d]: duplicate SLO %s of product %s", i, j, t.key.slo, t.key.product))
				continue
			}
			e.byKey[t.key] = t
			e.trackers = append(e.trackers, t)
			e.buckets += t.buckets()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sla: %w", err)
	}
	e.m.attach(e)
	return e, nil
}

// ObserveSLI adds SLI events to their SLOs' buckets, in the bucket that
// holds the end of (From, To] (now, if To is zero or in the future). Events of SLOs not in the
// configuration are counted and dropped; Good is clamped to [0, Valid]. It
// takes each SLO's lock briefly, never blocks on I/O and is safe for
// concurrent use.
func (e *Evaluator) ObserveSLI(events []meshwatch.SLIEvents) {
	if len(events) == 0 {
		return
	}
	now := e.now()
	for i := range events {
		ev := &events[i]
		t := e.byKey[sloKey{ev.Product, ev.SLO}]
		if t == nil {
			e.unknown.Add(1)
			continue
		}
		if ev.Valid <= 0 {
			continue
		}
		at := ev.To
		if !ev.From.IsZero() && ev.From.Before(at) {
			// The events happened in (From, To]: a tick that ends on a
			// bucket boundary belongs to the bucket before it.
			at = at.Add(-time.Nanosecond)
		}
		if at.IsZero() || at.After(now) {
			at = now
		}
		c := Counts{Good: min(max(ev.Good, 0), ev.Valid), Valid: ev.Valid}
		t.mu.Lock()
		t.observe(at, c)
		t.mu.Unlock()
	}
}

// Run loads the SLOs' state, evaluates at once and then at each Wake,
// flushes state every state.flush, and on cancellation evaluates and
// flushes a last time (bounded by 5 s) before it returns. When no Wake came
// for a tick and a half (the agent is not ready yet) it evaluates on its
// own. It returns an error only when the state cannot be read at all or the
// last flush fails.
func (e *Evaluator) Run(ctx context.Context) error {
	if err := e.load(ctx); err != nil {
		return err
	}
	e.Evaluate()
	late := e.tick + e.tick/2
	own := time.NewTimer(late)
	defer own.Stop()
	var flushC <-chan time.Time
	if e.store != nil {
		f := time.NewTicker(e.flushEvery)
		defer f.Stop()
		flushC = f.C
	}
	for {
		select {
		case <-ctx.Done():
			e.Evaluate()
			if e.store == nil {
				return nil
			}
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownFlush)
			defer cancel()
			if err := e.flush(fctx); err != nil {
				return fmt.Errorf("sla: last state flush: %w", err)
			}
			return nil
		case <-e.wake:
			e.Evaluate()
			own.Reset(late)
		case <-own.C:
			e.Evaluate()
			own.Reset(late)
		case <-flushC:
			if err := e.flush(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("state flush failed; will retry at the next flush", "err", err)
			}
		}
	}
}

// Wake asks Run for an evaluation pass now. The agent calls it when a
// collector tick has handed its events over: the decisions see them at
// once, and the pass does not compete with the tick for the cores. It never
// blocks; wakes that come while one is pending make one pass.
func (e *Evaluator) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Evaluate runs one evaluation pass over every SLO as of now and publishes
// its statuses and metrics. Run calls it every tick; it is exported for
// ephemeral evaluators and tests. Safe for concurrent use.
func (e *Evaluator) Evaluate() {
	start := time.Now()
	now := e.now()
	s := &snapshot{
		at:       now,
		evals:    make([]evaluation, len(e.trackers)),
		results:  make([]Result, len(e.trackers)),
		trackers: e.trackers,
	}
	for i, t := range e.trackers {
		s.evals[i] = t.read(now)
		s.results[i] = decide(s.evals[i].in)
		s.bucketBytes += s.evals[i].bucketBytes
	}
	e.snap.Store(s)
	e.m.evalSeconds.Observe(time.Since(start).Seconds())
	if e.onEval != nil {
		e.onEval()
	}
}

// Statuses returns every SLO's status as of the last evaluation, in
// configuration order; nil before the first. The slice is the caller's.
// Safe for concurrent use.
func (e *Evaluator) Statuses() []Status {
	s := e.snap.Load()
	if s == nil {
		return nil
	}
	out := make([]Status, len(s.trackers))
	for i := range s.trackers {
		out[i] = s.status(i, true)
	}
	return out
}

// Buckets returns how many buckets the evaluator holds over all SLOs; each
// is 8 bytes, or 16 in a ring whose span holds 2^32 events or more (see
// ring). It is fixed by the configuration.
func (e *Evaluator) Buckets() int { return e.buckets }
