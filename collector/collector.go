package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sync/errgroup"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/logonce"
)

// Sink receives the SLI events of every tick, in one call per tick. The SLO
// engine implements it; cmd/meshwatch wires it. ObserveSLI must not block for
// long: it runs on the collector's tick.
type Sink interface {
	ObserveSLI(events []meshwatch.SLIEvents)
}

// RecordSink receives every record the collector measured, for checks of
// record contents (package quality implements it; cmd/meshwatch wires it).
// Its methods are called from the poll loop (DecodeField from the tick's
// freshness probe): they must be cheap, safe for concurrent use, and must
// not keep r after returning.
//
// Each measured record is handed over once, by ObserveRecord, or by
// ObserveRecordField when the product's event time is a field of an Avro
// or Protobuf value: the sink decodes the record once, for its checks and
// for the collector's event time.
type RecordSink interface {
	ObserveRecord(product string, r *kgo.Record)
	// ObserveRecordField checks r as ObserveRecord does and returns the
	// value at path (dotted keys, nested records or messages) in r's
	// decoded value: found says whether the path is there, err (no payload
	// value in it) why r could not be decoded. A tombstone is not found.
	ObserveRecordField(product string, r *kgo.Record, path []string) (v any, found bool, err error)
	// DecodeField is ObserveRecordField without the checks, for records
	// that are not samples (the freshness probe's).
	DecodeField(product string, r *kgo.Record, path []string) (v any, found bool, err error)
	// Skipped says that records of the partition were not measured
	// (the product's budget was spent, or the partition was held back after
	// errors): a gap in a sequence across it is the sampler's, not the
	// producer's.
	Skipped(product, topic string, partition int32)
}

// Options tune a Collector. The zero value of every field has a default.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics   // required
	Sink    Sink       // optional
	Records RecordSink // optional
	// Now is the clock of ticks and observations (default time.Now).
	Now func() time.Time
	// ProbeTimeout bounds one freshness probe pass (default 2s).
	ProbeTimeout time.Duration
	// MaxProbes bounds the partitions probed for their last record per tick
	// (default 64), so the agent's own load stays bounded.
	MaxProbes int
	// OnTick, if set, is called after each tick has evaluated every
	// product (Conditions is then current), on the tick goroutine: it must
	// not block.
	OnTick func()

	// startAt replaces the tail as the offset partitions are added at; the
	// pipeline benchmark reads a prefilled topic from the start with it.
	startAt *kgo.Offset
	// meta overrides the metadata view's sizes (metaView); tests shrink them.
	meta metaSizes
}

// Collector samples every product's topics from the tail and measures
// latency, freshness, availability and throughput. Create it with New and
// start it with Run; its read methods are safe for concurrent use.
type Collector struct {
	cfg      *meshwatch.Config
	cc       Config // the collector: section
	kopts    []kgo.Opt
	log      *slog.Logger
	m        *Metrics
	sink     Sink
	records  RecordSink
	now      func() time.Time
	probeTO  time.Duration
	maxProbe int
	startAt  kgo.Offset

	products []*productState
	byName   map[string]*productState
	started  time.Time

	cl    *kgo.Client // sampling client: direct assignment, never a group
	probe *kgo.Client // freshness probes: direct assignment, short fetches
	adm   *kadm.Client

	routes     atomic.Pointer[routes]
	ready      atomic.Bool
	assignMu   sync.Mutex                   // serialises changes to the sampling client's partitions
	held       map[*partState]*productState // partitions held back after fetch errors; assignMu
	rediscover chan struct{}
	nextBroker atomic.Uint32 // round robin of brokerRequest
	logs       logonce.Limiter
	flushMu    sync.Mutex                            // serialises SLI flushes: the tick's and the final one
	lastFlush  time.Time                             // end of the last SLI flush; flushMu
	lastListAt int64                                 // Unix ns of the last tick's end-offset listing; tick loop
	meta       metaView                              // the topics' metadata, refreshed a slice per tick; tick loop
	blind      atomic.Pointer[map[string]string]     // product → why it is blind, at the last tick
	conds      atomic.Pointer[[]meshwatch.Condition] // alert conditions at the last tick
	onTick     func()
}

// routes maps topics to the product that claimed them; a new value is built
// by each discovery pass and swapped in whole.
type routes struct {
	topics map[string]*topicRoute
	names  []string // sorted
	// byProduct are each product's topics, sorted: the tick and Status
	// read a product's own topics, not every route.
	byProduct map[*productState][]string
}

type topicRoute struct {
	ps     *productState
	minISR int
	parts  map[int32]*partState
	// id is the topic's ID and epochs its partitions' leader epochs at the
	// discovery that built the route: a new ID, or an epoch that went
	// backwards, is a topic deleted and created again.
	id     [16]byte
	epochs map[int32]int32
}

// partState is what the collector remembers of one partition across
// discovery passes and ticks.
type partState struct {
	topic     string
	partition int32
	sampledAt atomic.Int64 // Unix ns of the last batch measured; set by the poll loop

	// Guarded by Collector.assignMu: a partition whose fetches fail is held
	// back (not fetched) until heldUntil, with exponential backoff, so that a
	// failing partition costs one error per backoff rather than a tight loop.
	heldUntil int64 // Unix ns; 0 when fetched normally
	fatal     bool  // held after a non-retryable error: the product is unavailable meanwhile
	backoff   time.Duration
	lastErr   int64

	// What the sampler read, for blind-spot detection: set by the poll loop
	// (fetched*) and wherever the partition is added at the tail (tailAt),
	// read by the tick loop.
	fetchedNext atomic.Int64 // offset after the last record fetched (measured or skipped)
	tailAt      atomic.Int64 // Unix ns the partition was last added at the tail
	errs        atomic.Int64 // fetch errors since the last tick, of any kind
	retryErrs   atomic.Int64 // retryable fetch errors since the last tick

	// Owned by the tick loop.
	// retried holds a bit for each of the last ticks (the latest lowest)
	// that saw retryable errors.
	retried uint8
	end     int64 // end offset at the last tick; -1 before the first
	probe   int64 // end offset at the last probe
	// floor is an offset the sampler is known to be past without having
	// fetched up to it: what a re-add at the tail skipped on purpose.
	floor int64
	// unreadSince is when records the sampler should have fetched were
	// first listed unread (0 while it keeps up); errSince when the run of
	// ticks with fetch errors began (0 without errors).
	unreadSince, errSince int64
	// Of the run of fetch errors: the end offset and the fetch cursor when
	// it began, and the tick of its last error.
	errFrom, errFetched, lastErrTick int64
}

// Backoff of a partition whose fetches fail: from minHold doubling up to the
// tick (so that every tick during an outage sees the partition fail again),
// reset after a minute without errors.
const (
	minHold   = 200 * time.Millisecond
	holdReset = time.Minute
)

// New creates a collector for cfg's products with the settings of the
// collector: section cc (its settings left at zero take their defaults).
// cfg must have been validated; kopts are the cluster connection options
// (seeds, TLS, SASL, client id).
func New(cfg *meshwatch.Config, cc Config, kopts []kgo.Opt, o Options) (*Collector, error) {
	if o.Metrics == nil {
		return nil, errors.New("collector: Options.Metrics is required")
	}
	cc.SetDefaults()
	c := &Collector{
		cfg:        cfg,
		cc:         cc,
		kopts:      kopts,
		log:        o.Logger,
		m:          o.Metrics,
		sink:       o.Sink,
		records:    o.Records,
		now:        o.Now,
		probeTO:    o.ProbeTimeout,
		maxProbe:   o.MaxProbes,
		onTick:     o.OnTick,
		byName:     make(map[string]*productState, len(cfg.Products)),
		rediscover: make(chan struct{}, 1),
		held:       map[*partState]*productState{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "collector")
	if c.now == nil {
		c.now = time.Now
	}
	if c.probeTO <= 0 {
		c.probeTO = 2 * time.Second
	}
	if c.maxProbe <= 0 {
		c.maxProbe = 64
	}
	c.started = c.now()
	c.lastFlush = c.started
	c.meta = newMetaView(o.meta)
	c.startAt = kgo.NewOffset().AtEnd()
	if o.startAt != nil {
		c.startAt = *o.startAt
	}
	for i := range cfg.Products {
		ps := newProductState(&cfg.Products[i], c.m)
		if ps.x.Decoded() && c.records == nil {
			c.log.Warn("event_time.field of an avro or protobuf product is read from the record sink's decoded values, and there is none: every record counts as undecodable and falls back (meshwatch_event_time_errors_total)",
				"product", ps.p.Name, "field", ps.p.EventTime.Field)
		}
		c.products = append(c.products, ps)
		c.byName[ps.p.Name] = ps
	}
	c.routes.Store(&routes{topics: map[string]*topicRoute{}})
	c.logs.Interval = time.Minute
	return c, nil
}

// Ready reports whether every product's topics have been resolved once.
func (c *Collector) Ready() bool { return c.ready.Load() }

// Blind returns the products the agent could not read at the last tick,
// with why (BlindFetchErrors, BlindStalled); nil when it reads them all.
// The map is the caller's. Safe for concurrent use.
func (c *Collector) Blind() map[string]string {
	if b := c.blind.Load(); b != nil {
		return maps.Clone(*b)
	}
	return nil
}

// Run samples until ctx is done, then makes a final evaluation of the SLI
// counters and closes its Kafka clients. It returns an error only if the
// clients cannot be created.
func (c *Collector) Run(ctx context.Context) error {
	var err error
	base := slices.Clone(c.kopts)
	c.cl, err = kgo.NewClient(append(base,
		kgo.KeepRetryableFetchErrors(),
		// Transaction markers take offsets too: without them a
		// transactional topic would always look a record behind.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.FetchMaxPartitionBytes(256<<10),
	)...)
	if err != nil {
		return fmt.Errorf("collector: kafka client: %w", err)
	}
	defer c.cl.Close()
	c.probe, err = kgo.NewClient(append(slices.Clone(c.kopts),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxPartitionBytes(64<<10),
	)...)
	if err != nil {
		return fmt.Errorf("collector: kafka probe client: %w", err)
	}
	defer c.probe.Close()
	c.adm = kadm.NewClient(c.cl)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { c.pollLoop(gctx); return nil })
	g.Go(func() error { c.discoveryLoop(gctx); return nil })
	g.Go(func() error { c.tickLoop(gctx); return nil })
	g.Go(func() error { c.resumeLoop(gctx); return nil })
	g.Go(func() error { c.windowLoop(gctx); return nil })
	err = g.Wait()
	// Final evaluation: hand over the latency SLI events measured since the
	// last tick, so that nothing measured is lost on shutdown.
	c.flushSLIs(c.now(), nil)
	return err
}

// pollLoop reads fetched records and measures them until ctx is done.
func (c *Collector) pollLoop(ctx context.Context) {
	var scratch []decodedTime // event times of a decoded batch, reused
	for {
		fetches := c.cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		now := c.now().UnixNano()
		r := c.routes.Load()
		fetches.EachError(func(topic string, partition int32, err error) {
			c.fetchError(r, topic, partition, err)
		})
		var throttle []*productState
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			tr := r.topics[p.Topic]
			if tr == nil || len(p.Records) == 0 {
				return
			}
			part := tr.parts[p.Partition]
			if part != nil {
				// The sampler got this far, whatever the budget measures:
				// a partition whose end moves past this is unread.
				if next := p.Records[len(p.Records)-1].Offset + 1; next > part.fetchedNext.Load() {
					part.fetchedNext.Store(next)
				}
			}
			// Control records (transaction markers) are fetched only so
			// that the cursor above passes them; nobody measures them.
			p.Records = dropControl(p.Records)
			if len(p.Records) == 0 {
				return
			}
			var n int
			name := tr.ps.p.Name
			switch {
			case tr.ps.x.Decoded() && c.records != nil:
				// The sink decodes each record once, for its checks and
				// for the event time.
				n, scratch = tr.ps.observeDecoded(c.records, p.Records, now, scratch)
			default:
				n = tr.ps.observeBatch(p.Records, now)
				if c.records != nil {
					for _, rec := range p.Records[:n] {
						c.records.ObserveRecord(name, rec)
					}
				}
			}
			if part != nil && n > 0 {
				part.sampledAt.Store(now)
			}
			if c.records != nil && n < len(p.Records) {
				c.records.Skipped(name, p.Topic, p.Partition)
			}
			if tr.ps.unlogged.Load() != 0 {
				c.logEventTime(tr.ps)
			}
			if n < len(p.Records) && !slices.Contains(throttle, tr.ps) {
				throttle = append(throttle, tr.ps)
			}
		})
		for _, ps := range throttle {
			c.pause(ps)
		}
	}
}

// logEventTime logs, once per product and reason since start, that the
// product's records have an event time the collector cannot use, and what
// it does with them. It never logs a record's value.
func (c *Collector) logEventTime(ps *productState) {
	bits := ps.unlogged.Swap(0)
	for r := ReasonOK + 1; r < numReasons; r++ {
		if bits&(1<<r) == 0 {
			continue
		}
		var what string
		switch {
		case r == ReasonFuture:
			what = "lies further in the future than event_time.max_clock_skew: the record gives no latency, and freshness counts it at its record timestamp"
		case r == ReasonSkew:
			what = "lies further in the past than event_time.max_clock_skew: the record stays out of the latency histograms, and is still a latency SLO event"
		case ps.skip:
			what = "cannot be read: the record gives no latency (event_time.fallback skip), and freshness counts it at its record timestamp"
		default:
			what = "cannot be read: the record timestamp stands in for it (event_time.fallback record_timestamp)"
		}
		attrs := []any{"product", ps.p.Name, "event_time", ps.x.at(), "reason", r.String()}
		if r == ReasonUndecodable {
			attrs = append(attrs, "why", "the avro or protobuf value was not decoded (meshwatch_quality_undecodable_total says why), or no record sink decodes")
		}
		c.log.Warn("the event time of a product's records "+what+"; such records are counted in meshwatch_event_time_errors_total{reason}, and this is logged once per product and reason", attrs...)
	}
}

// dropControl removes control records from recs, in place; it allocates
// nothing and returns recs itself when there are none.
func dropControl(recs []*kgo.Record) []*kgo.Record {
	for i, r := range recs {
		if !r.Attrs.IsControl() {
			continue
		}
		out := recs[:i]
		for _, r := range recs[i+1:] {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		}
		return out
	}
	return recs
}

func (c *Collector) fetchError(r *routes, topic string, partition int32, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		return
	}
	tr := r.topics[topic]
	if tr == nil {
		return // a topic that was dropped; its last fetches may still arrive
	}
	part := tr.parts[partition]
	if part == nil {
		return
	}
	part.errs.Add(1)
	gone := errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID)
	// Retryable errors (a leader that moved, a broker restarting) are what
	// every leader election produces; they count against availability only
	// when one partition's persist into a later tick (retriedAgain). A
	// vanished topic is discovery's business, not an outage of the product.
	fatal := !gone && !kerr.IsRetriable(err)
	if !c.hold(tr.ps, part, fatal) {
		return // already held back: a fetch that was in flight
	}
	if tr.ps.fetchErrTotal.Add(1) == 1 {
		tr.ps.fetchErrFirst.Store(c.now().UnixNano())
	}
	switch {
	case gone:
		// Resolve again now rather than within a minute, so that a deleted
		// topic is dropped after one error, not a stream of them, and one
		// created again under the same name is read under its new ID.
		c.requestDiscovery()
		return
	case fatal:
		tr.ps.fetchErrs.Add(1)
	default:
		part.retryErrs.Add(1)
	}
	if c.logs.Allow("fetch:" + tr.ps.p.Name) {
		c.log.Warn("fetch error; partition retried with backoff (repeats are counted in meshwatch_fetch_errors_total, logged at most once a minute)",
			"product", tr.ps.p.Name, "topic", topic, "partition", partition, "err", err)
	}
}

// requestDiscovery asks the discovery loop for a pass soon.
func (c *Collector) requestDiscovery() {
	select {
	case c.rediscover <- struct{}{}:
	default:
	}
}

// hold stops fetching a failing partition for its backoff. It returns false
// if the partition is held already.
func (c *Collector) hold(ps *productState, part *partState, fatal bool) bool {
	c.assignMu.Lock()
	defer c.assignMu.Unlock()
	if part.heldUntil != 0 {
		return false
	}
	part.fatal = fatal
	now := c.now().UnixNano()
	maxHold := max(c.cc.Tick.Std(), minHold)
	switch {
	case part.backoff == 0 || now-part.lastErr > int64(holdReset):
		part.backoff = minHold
	default:
		part.backoff = min(2*part.backoff, maxHold)
	}
	part.lastErr = now
	part.heldUntil = now + int64(part.backoff)
	c.held[part] = ps
	c.cl.RemoveConsumePartitions(map[string][]int32{part.topic: {part.partition}})
	return true
}

// pause stops fetching a product whose budget is spent; resumeLoop starts it
// again, at the tail, once the budget has refilled.
func (c *Collector) pause(ps *productState) {
	c.assignMu.Lock()
	defer c.assignMu.Unlock()
	ps.mu.Lock()
	already := ps.throttled
	ps.throttled = true
	if !already {
		if ps.throttles == 0 {
			ps.firstThrottle = c.now().UnixNano()
		}
		ps.throttles++
	}
	ps.mu.Unlock()
	if already {
		return
	}
	c.cl.RemoveConsumePartitions(partitionsOf(ps.assigned, false))
}

// resumeLoop resumes paused products whose budget has refilled and releases
// held partitions whose backoff is over.
func (c *Collector) resumeLoop(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := c.now().UnixNano()
		for _, ps := range c.products {
			ps.mu.Lock()
			resume := false
			if ps.throttled {
				ps.rec.refill(now)
				ps.byt.refill(now)
				resume = ps.rec.full() && ps.byt.full()
			}
			ps.mu.Unlock()
			if resume {
				c.resume(ps)
			}
		}
		c.release(now)
	}
}

func (c *Collector) resume(ps *productState) {
	c.assignMu.Lock()
	defer c.assignMu.Unlock()
	ps.mu.Lock()
	ps.throttled = false
	ps.mu.Unlock()
	// Re-adding at the end skips what was produced while paused: the samples
	// stay fresh from the tail, so latency is measured on records as they
	// become readable, not on a backlog.
	parts := partitionsOf(ps.assigned, true)
	c.cl.AddConsumePartitions(c.at(parts))
	markTail(ps.assigned, c.now().UnixNano(), true)
	c.skipped(ps, parts)
}

// markTail records that parts (those fetched, with fetchable) were added at
// the tail at now: what was there before is skipped on purpose, not unread.
func markTail(parts []*partState, now int64, fetchable bool) {
	for _, p := range parts {
		if !fetchable || p.heldUntil == 0 {
			p.tailAt.Store(now)
		}
	}
}

// skipped tells the record sink that the product's parts are read again
// from the tail, past records that were not measured.
func (c *Collector) skipped(ps *productState, parts map[string][]int32) {
	if c.records == nil {
		return
	}
	for t, ps2 := range parts {
		for _, p := range ps2 {
			c.records.Skipped(ps.p.Name, t, p)
		}
	}
}

// release fetches again, from the tail, the held partitions whose backoff is
// over.
func (c *Collector) release(now int64) {
	c.assignMu.Lock()
	defer c.assignMu.Unlock()
	add := map[string][]int32{}
	for part, ps := range c.held {
		if now < part.heldUntil {
			continue
		}
		part.heldUntil = 0
		delete(c.held, part)
		ps.mu.Lock()
		throttled := ps.throttled
		ps.mu.Unlock()
		if !throttled {
			add[part.topic] = append(add[part.topic], part.partition)
			part.tailAt.Store(now)
			c.skipped(ps, map[string][]int32{part.topic: {part.partition}})
		}
	}
	if len(add) > 0 {
		c.cl.AddConsumePartitions(c.at(add))
	}
}

// partitionsOf lists parts by topic; with fetchable, only those not held
// back. c.assignMu must be held.
func partitionsOf(parts []*partState, fetchable bool) map[string][]int32 {
	out := map[string][]int32{}
	for _, p := range parts {
		if fetchable && p.heldUntil != 0 {
			continue
		}
		out[p.topic] = append(out[p.topic], p.partition)
	}
	return out
}

// at returns the offsets to add partitions at: the end (or the benchmark's
// start offset).
func (c *Collector) at(m map[string][]int32) map[string]map[int32]kgo.Offset {
	out := make(map[string]map[int32]kgo.Offset, len(m))
	for t, ps := range m {
		o := make(map[int32]kgo.Offset, len(ps))
		for _, p := range ps {
			o[p] = c.startAt
		}
		out[t] = o
	}
	return out
}

// discoveryLoop resolves the products' topics at start, every
// collector.discovery, and soon after a fetch says a topic is unknown.
func (c *Collector) discoveryLoop(ctx context.Context) {
	interval := c.cc.Discovery.Std()
	if interval <= 0 {
		interval = time.Minute
	}
	retry := time.Second
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-c.rediscover:
			// At most one extra pass a second, however many errors asked.
			if wait := time.Second - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		next := interval
		if err := c.discover(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.m.discoveries.WithLabelValues("error").Inc()
			if c.logs.Allow("discover") {
				c.log.Warn("topic discovery failed; retrying", "err", err)
			}
			next = min(retry, interval)
			retry = min(2*retry, interval)
		} else {
			c.m.discoveries.WithLabelValues("ok").Inc()
			retry = time.Second
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// discover resolves every product's topics and brings the sampling client's
// partitions in line with them.
func (c *Collector) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tds, err := c.metadata(ctx, nil)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	all := slices.Sorted(maps.Keys(tds))
	old := c.routes.Load()
	next := &routes{topics: make(map[string]*topicRoute)}
	conflicts := 0
	var recreated []string
	for _, ps := range c.products {
		for _, sel := range ps.p.Topics {
			if sel.Pattern == "" {
				if _, ok := tds[sel.Name]; !ok && c.logs.Allow("missing:"+ps.p.Name+"/"+sel.Name) {
					c.log.Warn("topic of product does not exist", "product", ps.p.Name, "topic", sel.Name)
				}
			}
		}
		for _, t := range candidates(ps.p, all, tds) {
			td := tds[t]
			if !selects(ps.p, t) || errors.Is(td.err, kerr.UnknownTopicOrPartition) {
				continue
			}
			if owner, ok := next.topics[t]; ok {
				if owner.ps != ps {
					conflicts++
					if c.logs.Allow("conflict:" + t) {
						c.log.Warn("topic claimed by two products; the first keeps it", "topic", t, "product", owner.ps.p.Name, "other", ps.p.Name)
					}
				}
				continue
			}
			tr := &topicRoute{ps: ps, minISR: 1, id: td.id, parts: make(map[int32]*partState, len(td.parts)), epochs: make(map[int32]int32, len(td.parts))}
			for p, pm := range td.parts {
				tr.epochs[p] = pm.epoch
			}
			var prev *topicRoute
			if old != nil {
				prev = old.topics[t]
			}
			if prev != nil && prev.ps == ps && recreatedTopic(prev, tr) {
				// Deleted and created again (or the cluster was rebuilt
				// without its data): the old partitions' offsets and the
				// client's topic ID mean nothing now. Start afresh.
				recreated = append(recreated, t)
				c.log.Warn("topic was deleted and created again (new topic ID or leader epochs went backwards); sampling it again from the tail",
					"product", ps.p.Name, "topic", t)
				tr.minISR = prev.minISR
				prev = nil
			}
			if prev != nil {
				tr.minISR = prev.minISR // until the configs say otherwise
				if tr.id == ([16]byte{}) {
					tr.id = prev.id // an answer without IDs says nothing of them
				}
			}
			partitions := slices.Collect(maps.Keys(td.parts))
			if len(partitions) == 0 && prev != nil {
				// A transient topic error (no leader, say) hides the
				// partitions; keep the ones we knew.
				partitions = slices.Collect(maps.Keys(prev.parts))
			}
			for _, p := range partitions {
				if prev != nil && prev.ps == ps && prev.parts[p] != nil {
					tr.parts[p] = prev.parts[p]
				} else {
					tr.parts[p] = &partState{topic: t, partition: p, end: -1, probe: -1}
				}
			}
			next.topics[t] = tr
			next.names = append(next.names, t)
		}
	}
	slices.Sort(next.names)
	next.byProduct = make(map[*productState][]string, len(c.products))
	for _, t := range next.names {
		ps := next.topics[t].ps
		next.byProduct[ps] = append(next.byProduct[ps], t)
	}
	if len(next.names) > 0 {
		rcs, err := c.adm.DescribeTopicConfigs(ctx, next.names...)
		if err == nil {
			for _, rc := range rcs {
				tr := next.topics[rc.Name]
				for _, kv := range rc.Configs {
					if kv.Key != "min.insync.replicas" || kv.Value == nil || tr == nil {
						continue
					}
					if n, err := strconv.Atoi(*kv.Value); err == nil && n > 0 {
						tr.minISR = n
					}
				}
			}
		} else {
			c.m.tickErrors.WithLabelValues("topic_configs").Inc()
			if c.logs.Allow("configs") {
				c.log.Warn("cannot read topic configs; keeping the min.insync.replicas known so far (1 for new topics)", "err", err)
			}
		}
	}
	c.m.topicConflicts.Set(float64(conflicts))
	c.apply(old, next, recreated)
	c.routes.Store(next)
	if !c.ready.Swap(true) {
		c.log.Info("topics resolved", "products", len(c.products), "topics", len(next.names))
	}
	return nil
}

// recreatedTopic reports whether next, a new route of the topic of prev,
// is another topic under the same name: its ID changed, or a partition's
// leader epoch went backwards (epochs only grow while a topic lives).
func recreatedTopic(prev, next *topicRoute) bool {
	var zero [16]byte
	if prev.id != zero && next.id != zero && prev.id != next.id {
		return true
	}
	for p, e := range next.epochs {
		if pe, ok := prev.epochs[p]; ok && pe >= 0 && e >= 0 && e < pe {
			return true
		}
	}
	return false
}

// candidates returns the topics of all, sorted, that p may select: the
// topics its names name when it has no pattern, every topic otherwise.
// Discovery is then linear in products and topics for products declared
// by name, not their product.
func candidates(p *meshwatch.Product, all []string, tds map[string]topicMeta) []string {
	var named []string
	for _, s := range p.Topics {
		if s.Pattern != "" {
			return all
		}
		if _, ok := tds[s.Name]; ok {
			named = append(named, s.Name)
		}
	}
	slices.Sort(named)
	return slices.Compact(named)
}

func selects(p *meshwatch.Product, topic string) bool {
	for _, s := range p.Topics {
		if s.Matches(topic) {
			return true
		}
	}
	return false
}

// apply adds the partitions next has and old had not, and removes the topics
// old had and next has not. The recreated topics are purged from the
// clients (which keep the old topic ID and fail on it) and added afresh.
func (c *Collector) apply(old, next *routes, recreated []string) {
	c.assignMu.Lock()
	defer c.assignMu.Unlock()
	if len(recreated) > 0 {
		for _, t := range recreated {
			for _, part := range old.topics[t].parts {
				delete(c.held, part)
			}
		}
		c.cl.PurgeTopicsFromClient(recreated...)
		c.probe.PurgeTopicsFromClient(recreated...)
	}
	var gone []string
	removeParts := map[string][]int32{}
	for t, tr := range old.topics {
		ntr := next.topics[t]
		if slices.Contains(recreated, t) {
			continue
		}
		if ntr == nil || ntr.ps != tr.ps {
			gone = append(gone, t)
		}
		for p, part := range tr.parts {
			if ntr == nil || ntr.ps != tr.ps || ntr.parts[p] == nil {
				delete(c.held, part)
				if ntr != nil {
					removeParts[t] = append(removeParts[t], p)
				}
			}
		}
	}
	if len(removeParts) > 0 {
		c.cl.RemoveConsumePartitions(removeParts)
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		c.cl.PurgeTopicsFromConsuming(gone...)
		c.probe.PurgeTopicsFromClient(gone...)
		c.log.Info("topics dropped", "topics", gone)
	}
	// Rebuild every product's assignment and add what is new.
	for _, ps := range c.products {
		ps.assigned = ps.assigned[:0]
	}
	add := map[string][]int32{}
	now := c.now().UnixNano()
	for _, t := range next.names {
		tr := next.topics[t]
		otr := old.topics[t]
		ps := tr.ps
		for _, p := range slices.Sorted(maps.Keys(tr.parts)) {
			part := tr.parts[p]
			ps.assigned = append(ps.assigned, part)
			if otr != nil && otr.parts[p] == part {
				continue
			}
			ps.mu.Lock()
			throttled := ps.throttled
			ps.mu.Unlock()
			if !throttled { // else resume adds it with the rest
				add[t] = append(add[t], p)
				part.tailAt.Store(now)
			}
		}
	}
	if len(add) > 0 {
		c.cl.AddConsumePartitions(c.at(add))
	}
	for _, ps := range c.products {
		ps.partitions.Store(int64(len(ps.assigned)))
	}
}

// heldFatal returns how many of the product's partitions are held back after
// non-retryable fetch errors.
func (c *Collector) heldFatal(ps *productState) int {
	c.assignMu.Lock()
	defer c.assignMu.Unlock()
	n := 0
	for _, p := range ps.assigned {
		if p.heldUntil != 0 && p.fatal {
			n++
		}
	}
	return n
}

// windowLoop closes a latency slot every SlotLength.
func (c *Collector) windowLoop(ctx context.Context) {
	t := time.NewTicker(SlotLength)
	defer t.Stop()
	scratch := hdr.New(histLowestMs, histHighestMs, histDigits)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ps := range c.products {
			ps.mu.Lock()
			ps.win.rotate()
			ps.mu.Unlock()
		}
		c.updateQuantiles(scratch)
	}
}

func (c *Collector) updateQuantiles(scratch *hdr.Histogram) {
	for _, ps := range c.products {
		ps.updateQuantiles(scratch)
	}
}

// topicMeta is one topic of a metadata answer.
type topicMeta struct {
	err   error
	id    [16]byte // zero when the broker does not send topic IDs
	parts map[int32]partMeta
}

type partMeta struct {
	leader int32
	epoch  int32 // leader epoch; -1 when the broker does not send it
	isr    int
	err    error
}

// brokerRequest sends req to one broker, the next in turn, trying the others
// if it fails. Unlike Client.Request it does not retry for half a minute: a
// cluster that rejects the agent (bad credentials, say) shows as an error in
// a second, and the callers retry on their own schedule.
func (c *Collector) brokerRequest(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	brokers := c.cl.DiscoveredBrokers()
	if len(brokers) == 0 {
		brokers = c.cl.SeedBrokers()
	}
	if len(brokers) == 0 {
		return nil, errors.New("no broker to ask")
	}
	first := int(c.nextBroker.Add(1))
	var err error
	for i := range brokers {
		var resp kmsg.Response
		resp, err = brokers[(first+i)%len(brokers)].Request(ctx, req)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// metadata asks a broker for the metadata of topics, or of every non-internal
// topic when topics is nil. It bypasses the client's metadata cache on
// purpose: after a NOT_LEADER answer kgo can serve a cached all-topics answer
// that lacks the topic, and discovery must not drop a live topic, nor
// availability miss a leader change, on such an answer.
func (c *Collector) metadata(ctx context.Context, topics []string) (map[string]topicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = make([]kmsg.MetadataRequestTopic, 0, len(topics))
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	kresp, err := c.brokerRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.MetadataResponse)
	out := make(map[string]topicMeta, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil || (topics == nil && t.IsInternal) {
			continue
		}
		tm := topicMeta{err: kerr.ErrorForCode(t.ErrorCode), id: t.TopicID, parts: make(map[int32]partMeta, len(t.Partitions))}
		for _, p := range t.Partitions {
			tm.parts[p.Partition] = partMeta{leader: p.Leader, epoch: p.LeaderEpoch, isr: len(p.ISR), err: kerr.ErrorForCode(p.ErrorCode)}
		}
		out[*t.Topic] = tm
	}
	return out, nil
}
