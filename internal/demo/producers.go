package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// Rates and shapes of the behaviours.
const (
	steadyRate = 50.0   // records/s of healthy, late and flapping products
	quietRate  = 5.0    // records/s of the bursty product between bursts
	burstRate  = 2000.0 // records/s of the bursty product in a burst

	defaultFlapEvery   = 3 * time.Minute
	defaultFlapSilence = 60 * time.Second
	defaultBurstEvery  = 30 * time.Second
	defaultBurstFor    = 3 * time.Second

	// tickInterval paces the producer loops; each tick produces what the
	// rate owes since the last one.
	tickInterval = 20 * time.Millisecond

	// errorLogInterval is how often a product's produce errors are logged
	// at most; the rest are counted.
	errorLogInterval = 10 * time.Second

	// flushTimeout bounds how long Run waits for buffered records when ctx
	// is done.
	flushTimeout = 5 * time.Second

	// Topics of the demo products.
	topicPartitions  = 3
	topicReplication = 3
)

// ErrRunTwice is returned by a second call to Producers.Run.
var ErrRunTwice = errors.New("demo: producers already ran")

// Option configures Producers.
type Option func(*options)

type options struct {
	flapEvery, flapSilence time.Duration
	burstEvery, burstFor   time.Duration
	clientOpts             []kgo.Opt

	// The clock of the producers: now stamps the start and rate-limits the
	// error log; ticker paces the loops, and each tick's time stamps the
	// records it produces. Tests replace them to run in virtual time.
	now          func() time.Time
	ticker       func(d time.Duration) (ticks <-chan time.Time, stop func())
	flushTimeout time.Duration
}

// realTicker is the default ticker of options.
func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// WithFlapping sets how often the flapping product falls silent and for how
// long, overriding every 3m for 60s. The silence closes each period, so the
// product starts healthy. Values with silence ≥ period, or ≤ 0, are ignored.
func WithFlapping(every, silence time.Duration) Option {
	return func(o *options) {
		if every > 0 && silence > 0 && silence < every {
			o.flapEvery, o.flapSilence = every, silence
		}
	}
}

// WithBursts sets how often the bursty product bursts and for how long,
// overriding every 30s for 3s. The burst closes each period. Values with
// length ≥ period, or ≤ 0, are ignored.
func WithBursts(every, length time.Duration) Option {
	return func(o *options) {
		if every > 0 && length > 0 && length < every {
			o.burstEvery, o.burstFor = every, length
		}
	}
}

// WithClientOpts adds options to the producers' franz-go client, after
// kgo.SeedBrokers and kgo.ClientID("meshwatch-demo"), e.g. TLS or SASL.
func WithClientOpts(opts ...kgo.Opt) Option {
	return func(o *options) { o.clientOpts = append(o.clientOpts, opts...) }
}

// Producers writes the demo products' records to their topics, each product
// with its behaviour (see Scenarios). Create it with NewProducers, create the
// topics with CreateTopics, then Run it once.
type Producers struct {
	cl     *kgo.Client
	logger *slog.Logger
	opts   options
	gens   []*generator

	ran       atomic.Bool
	closeOnce sync.Once
}

// generator produces one product's records.
type generator struct {
	Scenario
	record func(rng *rand.Rand, now time.Time) *kgo.Record

	produced atomic.Int64
	failed   atomic.Int64
	lastLog  atomic.Int64 // Unix ns of the last logged produce error
}

// NewProducers returns producers writing to the cluster at brokers through a
// client of their own, logging to logger (nil discards). It makes no request
// yet.
func NewProducers(brokers []string, logger *slog.Logger, opts ...Option) (*Producers, error) {
	if len(brokers) == 0 {
		return nil, errors.New("demo: no brokers")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{
		flapEvery: defaultFlapEvery, flapSilence: defaultFlapSilence,
		burstEvery: defaultBurstEvery, burstFor: defaultBurstFor,
		now: time.Now, ticker: realTicker, flushTimeout: flushTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("meshwatch-demo"),
	}, o.clientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: new client: %w", err)
	}
	records := map[string]func(*rand.Rand, time.Time) *kgo.Record{
		OrdersPlaced:        func(rng *rand.Rand, now time.Time) *kgo.Record { return OrderWithInvalid(rng, now, OrdersPlaced) },
		TransactionsSettled: transactionSettled,
		ParcelsScanned:      parcelScanned,
		CartsUpdated:        cartUpdated,
		LedgerEntries:       ledgerEntry,
	}
	p := &Producers{cl: cl, logger: logger.With("component", "demo"), opts: o}
	for _, s := range Scenarios() {
		p.gens = append(p.gens, &generator{Scenario: s, record: records[s.Product]})
	}
	return p, nil
}

// CreateTopics creates the demo products' topics with 3 partitions and a
// replication factor of 3, or the number of brokers if smaller — except
// LedgerEntries, created with a replication factor of 1, and ScratchTopic,
// which no product claims: the two governance violations the demo's
// policies find. Topics that exist already are left as they are, so
// CreateTopics may run against a cluster that has them. It returns every
// other failure.
func (p *Producers) CreateTopics(ctx context.Context) error {
	adm := kadm.NewClient(p.cl)
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("demo: create topics: %w", err)
	}
	rf := int16(min(topicReplication, len(meta.Brokers)))
	var topics, single []string
	for _, g := range p.gens {
		if g.Product == LedgerEntries {
			single = append(single, g.Topics...)
			continue
		}
		topics = append(topics, g.Topics...)
	}
	var errs []error
	for _, c := range []struct {
		topics     []string
		partitions int32
		rf         int16
	}{{topics, topicPartitions, rf}, {single, topicPartitions, 1}, {[]string{ScratchTopic}, topicPartitions, 1}} {
		resps, err := adm.CreateTopics(ctx, c.partitions, c.rf, nil, c.topics...)
		if err != nil {
			return fmt.Errorf("demo: create topics: %w", err)
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				errs = append(errs, fmt.Errorf("demo: create topic %s: %w", r.Topic, r.Err))
			}
		}
	}
	return errors.Join(errs...)
}

// Run produces every product's records, one goroutine per product, until ctx
// is done. Then it waits up to 5 s for the records still buffered, closes
// the client and returns nil. Produce errors are not fatal: each product
// counts them and logs one at most every 10 s. Run may be called once; a
// second call returns ErrRunTwice.
func (p *Producers) Run(ctx context.Context) error {
	if p.ran.Swap(true) {
		return ErrRunTwice
	}
	defer p.Close()

	// Records outlive ctx by up to flushTimeout, so that what was produced
	// before the end is delivered rather than aborted.
	recCtx, cancelRecs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRecs()

	p.logger.Info("demo producers started", "products", len(p.gens))
	g, gctx := errgroup.WithContext(ctx)
	for _, gen := range p.gens {
		g.Go(func() error { return p.produce(gctx, recCtx, gen) })
	}
	err := g.Wait()

	flushCtx, cancelFlush := context.WithTimeout(recCtx, p.opts.flushTimeout)
	defer cancelFlush()
	if ferr := p.cl.Flush(flushCtx); ferr != nil {
		p.logger.Warn("demo producers stopped before every record was delivered", "err", ferr)
	}
	for _, gen := range p.gens {
		p.logger.Info("demo producer stopped", "product", gen.Product,
			"produced", gen.produced.Load(), "failed", gen.failed.Load())
	}
	return err
}

// Close closes the client. Run closes it on return; call Close only when
// Run is not called. It is safe to call more than once.
func (p *Producers) Close() { p.closeOnce.Do(p.cl.Close) }

// produce runs gen until ctx is done. Each tick produces the records its
// rate owes since the previous tick, so a late tick catches up; they are
// stamped with the tick's time, so that what a product promises about its
// timestamps and its rate holds in the clock's time, however late the loop
// runs.
func (p *Producers) produce(ctx, recCtx context.Context, gen *generator) error {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	promise := func(r *kgo.Record, err error) { p.delivered(gen, r, err) }
	start := p.opts.now()
	last := start
	var owed float64
	ticks, stop := p.opts.ticker(tickInterval)
	defer stop()
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return nil
		case now = <-ticks:
		}
		rate := p.opts.rate(gen.Behaviour, now.Sub(start))
		// Catch up at most a second after a stall, not the whole stall.
		owed = min(owed+rate*now.Sub(last).Seconds(), max(rate, 1))
		last = now
		for ; owed >= 1; owed-- {
			p.cl.TryProduce(recCtx, gen.record(rng, now), promise)
		}
	}
}

// delivered counts the outcome of one record and logs a failure at most
// every errorLogInterval per product. The record's value is never logged.
func (p *Producers) delivered(gen *generator, r *kgo.Record, err error) {
	if err == nil {
		gen.produced.Add(1)
		return
	}
	n := gen.failed.Add(1)
	now := p.opts.now().UnixNano()
	last := gen.lastLog.Load()
	if now-last < int64(errorLogInterval) || !gen.lastLog.CompareAndSwap(last, now) {
		return
	}
	p.logger.Warn("demo produce failed", "product", gen.Product, "topic", r.Topic, "err", err, "failed", n)
}

// rate returns the records per second behaviour b produces elapsed after
// the start.
func (o options) rate(b string, elapsed time.Duration) float64 {
	switch b {
	case Flapping:
		if elapsed%o.flapEvery >= o.flapEvery-o.flapSilence {
			return 0
		}
		return steadyRate
	case Bursty:
		if elapsed%o.burstEvery >= o.burstEvery-o.burstFor {
			return burstRate
		}
		return quietRate
	default:
		return steadyRate
	}
}
