package cost

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kfetch"
	"github.com/meshwatch/meshwatch/internal/logonce"
)

// Options are the dependencies of a Meter.
type Options struct {
	Logger  *slog.Logger // default: discard
	Metrics *Metrics     // default: unregistered metrics
	// Store keeps the ledger. Required.
	Store Store
	// Now is the clock (default time.Now); tests drive Sample and the
	// closes with their own.
	Now func() time.Time
	// Kafka is the client the meter asks for metadata, log dirs, offsets
	// and groups, and reads a few tail records with (direct fetch
	// requests). It never joins a group, commits or produces. Required for
	// Run and Sample.
	Kafka *kgo.Client
	// Notify receives the daily and monthly summaries, one per owner and
	// one for the finance team; nil drops them.
	Notify func(Summary)
	// Budget receives each budget alert when it first fires; nil leaves
	// them to BudgetAlerts.
	Budget func(BudgetAlert)
	// CostCenter returns a product's cost center (its cost.cost_center);
	// nil or "" falls back to cost.cost_centers.
	CostCenter func(*meshwatch.Product) string
}

// bpoMaxAge is how long a measured bytes-per-offset is trusted before the
// tail is read again.
const bpoMaxAge = 10 * time.Minute

// tailBytes bounds what one tail read fetches per partition.
const tailBytes = 64 << 10

// tailFetch bounds the tail reads: tailBytes per partition, and at most 64
// partitions' worth per broker. The batches are measured, not decoded.
var tailFetch = kfetch.Options{
	MaxBytes:          64 * tailBytes,
	PartitionMaxBytes: tailBytes,
}

// Meter meters the cluster's usage, closes hours into the ledger, runs the
// daily and monthly closes and checks budgets. Create it with New and run
// it with Run. Its methods are safe for concurrent use.
type Meter struct {
	cfg     *meshwatch.Config
	cc      Config
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	pricer  *Pricer
	ledger  *Ledger
	adm     *kadm.Client
	daily   cron.Schedule
	monthly cron.Schedule

	mu      sync.Mutex // guards what follows and serialises samples and closes
	prev    *sample
	open    map[time.Time]*accum
	loaded  bool
	mtd     map[mtdKey]Money // month-to-date of the month mtdOf, closed hours
	mtdOf   time.Time
	est     map[mtdKey]Money // the open hour's estimate
	estSecs int64
	alerts  []BudgetAlert
	fired   map[string]map[int]bool // budget name → thresholds fired this month

	logs logonce.Limiter // one warning per step a minute
}

type mtdKey struct{ product, domain, owner, costCenter, component string }

// New returns a Meter of the products of cfg priced by cc. cc gets its
// defaults and is validated; an invalid cc is an error listing every
// problem.
func New(cfg *meshwatch.Config, cc Config, opts Options) (*Meter, error) {
	if opts.Store == nil {
		return nil, errors.New("cost: a Store is required")
	}
	cc.SetDefaults()
	names := make([]string, len(cfg.Products))
	for i, p := range cfg.Products {
		names[i] = p.Name
	}
	if ps := cc.Validate(names).Errors(); len(ps) > 0 {
		return nil, fmt.Errorf("cost: invalid config:\n%w", ps)
	}
	pricer, err := NewPricer(cfg.Cluster.Name, cc, cfg.Products, opts.CostCenter)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	daily, _ := cronParser.Parse(cc.Reports.Daily)
	monthly, _ := cronParser.Parse(cc.Reports.Monthly)
	m := &Meter{
		cfg: cfg, cc: cc, opts: opts, pricer: pricer,
		log:     opts.Logger.With("component", "cost"),
		metrics: opts.Metrics,
		ledger:  NewLedger(opts.Store),
		daily:   daily, monthly: monthly,
		open: map[time.Time]*accum{},
		mtd:  map[mtdKey]Money{}, est: map[mtdKey]Money{},
		fired: map[string]map[int]bool{},
	}
	m.logs = logonce.Limiter{Interval: time.Minute, Now: m.now}
	m.ledger.corrupt = m.setAside
	if opts.Kafka != nil {
		m.adm = kadm.NewClient(opts.Kafka)
	}
	m.metrics.init(m)
	return m, nil
}

func (m *Meter) now() time.Time { return m.opts.Now().UTC() }

// Pricer returns the meter's pricer.
func (m *Meter) Pricer() *Pricer { return m.pricer }

// Ledger returns the meter's ledger.
func (m *Meter) Ledger() *Ledger { return m.ledger }

// Run samples usage every cost.sample, closes each hour when it ends, and
// runs the daily and monthly closes on their cron schedules (UTC), until
// ctx is done. A failed sample or close is logged and counted, not fatal.
// It returns nil when ctx is done.
func (m *Meter) Run(ctx context.Context) error {
	if m.adm == nil {
		return errors.New("cost: Run needs Options.Kafka")
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.sampleLoop(ctx) })
	g.Go(func() error { return m.cronLoop(ctx) })
	return g.Wait()
}

func (m *Meter) sampleLoop(ctx context.Context) error {
	tick := time.NewTicker(m.cc.Sample.Std())
	defer tick.Stop()
	for {
		if err := m.Sample(ctx); err != nil && ctx.Err() == nil {
			m.logError("sample", err)
		}
		select {
		case <-ctx.Done():
			// A last sample on the way out, bounded, so that the open
			// hour's estimate in the ledger covers the agent's whole run
			// (a report right after a short demo has rows).
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalSampleTimeout)
			defer cancel()
			if err := m.Sample(fctx); err != nil {
				m.logError("sample", err)
			}
			return nil
		case <-tick.C:
		}
	}
}

// finalSampleTimeout bounds the sample Run takes when it stops.
const finalSampleTimeout = 5 * time.Second

// cronLoop waits for the next daily or monthly close and runs it. The
// schedules are evaluated on the meter's clock; the waits are real timers.
func (m *Meter) cronLoop(ctx context.Context) error {
	for {
		now := m.now()
		nextDay, nextMonth := m.daily.Next(now), m.monthly.Next(now)
		next := minTime(nextDay, nextMonth)
		if nextDay.IsZero() || nextMonth.IsZero() {
			// A schedule that never fires (robfig/cron gives up after five
			// years, e.g. "0 0 30 2 *") must not spin.
			next = maxTime(nextDay, nextMonth)
		}
		if next.IsZero() {
			<-ctx.Done()
			return nil
		}
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		if !nextDay.IsZero() && !nextDay.After(next) {
			if err := m.CloseDay(ctx, dayStart(next).AddDate(0, 0, -1)); err != nil && ctx.Err() == nil {
				m.logError("daily_close", err)
			}
		}
		if !nextMonth.IsZero() && !nextMonth.After(next) {
			if err := m.CloseMonth(ctx, monthStart(next).AddDate(0, -1, 0)); err != nil && ctx.Err() == nil {
				m.logError("monthly_close", err)
			}
		}
	}
}

// logError counts err and logs it at most once a minute per step.
func (m *Meter) logError(step string, err error) {
	m.metrics.errors.WithLabelValues(step).Inc()
	if m.logs.Allow(step) {
		m.log.Warn("cost step failed", "step", step, "err", err)
	}
}

// stepState is the step that counts stored values the meter could not
// use: corrupt ones (set aside, or failing to be) and failed reads of the
// month's budget state, which no other step reports (a failed read of the
// meter's position fails the sample, of a ledger hour the close).
const stepState = "state"

// setAside handles a stored value of the meter that is corrupt (the
// ledger's hours and open estimate, the meter's position, the budgets'
// fired thresholds): the store found it damaged and set it aside already
// (decodeErr nil), or it does not decode and is set aside here with a
// reason that says what (what) and what going on without it means
// (effect). Either way the store logs the one Error line, the "state"
// step counts it, and the caller goes on without the value. A value that
// cannot be set aside is logged at Error and returned as an error: it is
// still in place, and going on without it would overwrite it.
func (m *Meter) setAside(ctx context.Context, key, what, effect string, decodeErr error) error {
	m.metrics.errors.WithLabelValues(stepState).Inc()
	if decodeErr == nil {
		return nil
	}
	reason := fmt.Sprintf("the cost %s cannot be decoded (%v); %s", what, decodeErr, effect)
	if err := m.opts.Store.SetAside(ctx, key, reason); err != nil {
		m.log.Error("cost state is corrupt and could not be set aside; it is left in place and the step that read it fails until it is fixed",
			"key", key, "reason", reason, "err", err)
		return fmt.Errorf("cost: the %s (%s) cannot be decoded and could not be set aside: %w", what, key, err)
	}
	return nil
}

// meterState is what the meter persists after every sample.
type meterState struct {
	Prev *sample   `json:"prev"`
	Open []*accum  `json:"open"`
	Hour time.Time `json:"hour"`
}

// loadLocked reads the meter's position (last sample, open hours) once,
// before the first sample. A corrupt one is set aside and metering starts
// afresh; an error of the store is returned and the load is tried again at
// the next sample, so that a position that could not be read is not
// overwritten by the first save.
func (m *Meter) loadLocked(ctx context.Context) error {
	if m.loaded {
		return nil
	}
	var st meterState
	ok, err := m.ledger.get(ctx, keyMeter, &st, "meter state",
		"metering starts afresh, and the usage between the last sample before the restart and the first after it is not metered")
	if err != nil {
		return fmt.Errorf("%w (metering waits until it can be read)", err)
	}
	m.loaded = true
	if !ok {
		return nil
	}
	m.prev = st.Prev
	for _, a := range st.Open {
		if a != nil && a.Topics != nil {
			m.open[a.Hour] = a
		}
	}
	return nil
}

func (m *Meter) saveLocked(ctx context.Context) error {
	st := meterState{Prev: m.prev}
	for _, a := range sortedTimes(m.open) {
		st.Open = append(st.Open, m.open[a])
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return m.opts.Store.Put(ctx, keyMeter, b)
}

// Sample reads the cluster once, integrates the usage since the last
// sample into the open hours, closes every hour that has ended, and
// stores the open hour's estimate.
func (m *Meter) Sample(ctx context.Context) error {
	if m.adm == nil {
		return errors.New("cost: Sample needs Options.Kafka")
	}
	m.mu.Lock()
	err := m.loadLocked(ctx)
	prev := m.prev
	m.mu.Unlock()
	if err != nil {
		m.metrics.samples.WithLabelValues("error").Inc()
		return err
	}

	cur, err := m.read(ctx, prev)
	if err != nil {
		m.metrics.samples.WithLabelValues("error").Inc()
		return err
	}
	m.metrics.samples.WithLabelValues("ok").Inc()
	return m.advance(ctx, cur)
}

// advance integrates cur and closes what ended before it.
func (m *Meter) advance(ctx context.Context, cur *sample) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := integrate(m.open, m.prev, cur)
	m.prev = cur
	m.metrics.observeUsage(m.pricer, cur, d)

	var errs []error
	now := m.now()
	for _, h := range sortedTimes(m.open) {
		if h.Add(time.Hour).After(cur.At) {
			continue
		}
		if err := m.closeHourLocked(ctx, m.open[h].usage(), now); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(m.open, h)
	}
	curHour := cur.At.UTC().Truncate(time.Hour)
	if a := m.open[curHour]; a != nil {
		u := a.usage()
		rows := m.pricer.Allocate(u, now)
		if err := m.ledger.PutOpen(ctx, curHour, rows, m.cc.Currency); err != nil {
			errs = append(errs, err)
		}
		m.setEstimateLocked(rows, u.Seconds)
	}
	if err := m.saveLocked(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cost: save meter state: %w", err))
	}
	m.checkBudgetsLocked(ctx, now)
	return errors.Join(errs...)
}

// CloseHour prices usage and writes it to the ledger as the hour's close
// (or, if the hour was closed before, as corrections). It is what the
// meter does when an hour ends; call it directly to restate an hour.
func (m *Meter) CloseHour(ctx context.Context, usage Usage) ([]Row, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := m.pricer.Allocate(usage, m.now())
	written, err := m.ledger.Close(ctx, usage, rows, m.cc.Currency, m.now())
	if err == nil {
		m.afterCloseLocked(ctx, written)
	}
	return written, err
}

// Restate prices the stored usage of every closed hour in [from, to) again
// with the current rate card and products, and writes the differences as
// corrections. It returns the correction rows.
func (m *Meter) Restate(ctx context.Context, from, to time.Time) ([]Row, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Row
	for h := from.UTC().Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
		rec, ok, err := m.ledger.Hour(ctx, h)
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		rows := m.pricer.Allocate(rec.Usage, m.now())
		written, err := m.ledger.Close(ctx, rec.Usage, rows, m.cc.Currency, m.now())
		if err != nil {
			return out, err
		}
		m.afterCloseLocked(ctx, written)
		out = append(out, written...)
	}
	return out, nil
}

func (m *Meter) closeHourLocked(ctx context.Context, u Usage, now time.Time) error {
	rows := m.pricer.Allocate(u, now)
	written, err := m.ledger.Close(ctx, u, rows, m.cc.Currency, now)
	if err != nil {
		return err
	}
	m.afterCloseLocked(ctx, written)
	m.metrics.observeClose(rows)
	return nil
}

// afterCloseLocked accounts rows just written to the ledger.
func (m *Meter) afterCloseLocked(ctx context.Context, written []Row) {
	for _, r := range written {
		if r.Class == ClassCorrection {
			m.metrics.corrections.Inc()
		}
		m.metrics.addCost(&r)
	}
	if len(written) > 0 && written[0].Class == "" {
		m.metrics.hoursClosed.Inc()
	}
	if m.refreshMTDLocked(ctx, false) {
		return // read back from the ledger, written rows included
	}
	// Rows of this month go into the month-to-date as they are written;
	// reading the month back after every hour would make a month close
	// quadratic.
	for _, r := range written {
		if monthStart(r.Hour).Equal(m.mtdOf) {
			m.mtd[mtdKey{r.Product, r.Domain, r.Owner, r.CostCenter, r.Component}] += r.Cost
		}
	}
}

// readPartitions reads the cluster: metadata with racks, log dir sizes,
// start and end offsets, groups and their committed offsets, and the
// bytes per offset of partitions that moved.
func (m *Meter) read(ctx context.Context, prev *sample) (*sample, error) {
	meta, err := m.adm.Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("cost: metadata: %w", err)
	}
	cur := &sample{At: m.now(), Topics: map[string]map[int32]*partSample{},
		Groups: map[string]map[string]map[int32]int64{}, Racks: map[int32]string{}, IDs: map[string][16]byte{}}
	zones := map[string]bool{}
	for _, b := range meta.Brokers {
		if b.Rack != nil && *b.Rack != "" {
			cur.Racks[b.NodeID] = *b.Rack
			zones[*b.Rack] = true
		}
	}
	cur.Zones = len(zones)
	for _, t := range meta.Topics {
		if t.Err != nil {
			continue
		}
		cur.IDs[t.Topic] = t.ID
		parts := map[int32]*partSample{}
		for _, p := range t.Partitions {
			ps := &partSample{Leader: p.Leader, Replicas: slices.Clone(p.Replicas)}
			lr := cur.Racks[p.Leader]
			for _, r := range p.Replicas {
				if rr := cur.Racks[r]; r != p.Leader && lr != "" && rr != "" && rr != lr {
					ps.CrossRack++
				}
			}
			parts[p.Partition] = ps
		}
		cur.Topics[t.Topic] = parts
	}

	// Log dirs of every broker. A broker reports the partitions it hosts;
	// only replicas the metadata names count, so a stray or future copy
	// (or a test cluster that reports every partition everywhere) is not
	// billed twice.
	dirs, err := m.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cost: describe log dirs: %w", err)
	}
	for broker, ds := range dirs {
		for _, d := range ds {
			if d.Err != nil {
				continue
			}
			for topic, parts := range d.Topics {
				for p, dp := range parts {
					ps := cur.Topics[topic][p]
					if ps == nil || !slices.Contains(ps.Replicas, broker) || dp.IsFuture {
						continue
					}
					ps.Bytes += dp.Size
					if broker == ps.Leader {
						ps.LeaderBytes = dp.Size
					}
				}
			}
		}
	}

	starts, err := m.adm.ListStartOffsets(ctx)
	if err != nil {
		return nil, fmt.Errorf("cost: list start offsets: %w", err)
	}
	ends, err := m.adm.ListEndOffsets(ctx)
	if err != nil {
		return nil, fmt.Errorf("cost: list end offsets: %w", err)
	}
	for topic, parts := range cur.Topics {
		for p, ps := range parts {
			if o, ok := starts.Lookup(topic, p); ok && o.Err == nil {
				ps.Start = o.Offset
			}
			if o, ok := ends.Lookup(topic, p); ok && o.Err == nil {
				ps.End = o.Offset
			}
		}
	}

	m.measureBPO(ctx, kfetch.MetadataLeaders(meta.Topics), prev, cur)

	groups, err := m.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("cost: list groups: %w", err)
	}
	if names := groups.Groups(); len(names) > 0 {
		fetched := m.adm.FetchManyOffsets(ctx, names...)
		for g, r := range fetched {
			if r.Err != nil {
				continue
			}
			for topic, parts := range r.Fetched {
				for p, o := range parts {
					if o.Err != nil || o.At < 0 {
						continue
					}
					if cur.Groups[g] == nil {
						cur.Groups[g] = map[string]map[int32]int64{}
					}
					if cur.Groups[g][topic] == nil {
						cur.Groups[g][topic] = map[int32]int64{}
					}
					cur.Groups[g][topic][p] = o.At
				}
			}
		}
	}
	return cur, nil
}

// measureBPO sets every partition's bytes per offset: carried over from
// the last sample while it is fresh, measured on the tail when the
// partition moved (read from the leaders that leaders names), or the log size
// over its offsets as a fallback.
func (m *Meter) measureBPO(ctx context.Context, leaders kfetch.Leaders, prev *sample, cur *sample) {
	var wants []kfetch.Want
	for topic, parts := range cur.Topics {
		for p, ps := range parts {
			var pp *partSample
			if prev != nil && prev.Topics[topic] != nil {
				pp = prev.Topics[topic][p]
			}
			if pp != nil {
				ps.BPO, ps.BPOAt = pp.BPO, pp.BPOAt
			}
			fresh := pp != nil && pp.BPO > 0 && cur.At.Sub(pp.BPOAt) < bpoMaxAge
			moved := pp == nil || ps.End != pp.End
			if ps.End > ps.Start && ps.Leader >= 0 && (!fresh && moved || ps.BPO == 0) {
				wants = append(wants, kfetch.Want{Topic: topic, Partition: p, Offset: max(ps.Start, ps.End-tailRecords)})
			}
		}
	}
	if len(wants) == 0 {
		return
	}
	for _, r := range kfetch.Fetch(ctx, m.opts.Kafka, leaders, wants, tailFetch) {
		ps := cur.Topics[r.Topic][r.Partition]
		if r.Err == nil {
			if bpo := batchBytesPerOffset(r.Batches); bpo > 0 {
				ps.BPO, ps.BPOAt = bpo, cur.At
				m.metrics.tailReads.WithLabelValues("ok").Inc()
				continue
			}
		}
		m.metrics.tailReads.WithLabelValues("fallback").Inc()
		if ps.End > ps.Start && ps.LeaderBytes > 0 {
			ps.BPO, ps.BPOAt = float64(ps.LeaderBytes)/float64(ps.End-ps.Start), cur.At
		}
	}
}

// tailRecords is how many offsets before the end a tail read starts.
const tailRecords = 50

// batchBytesPerOffset returns the wire bytes per offset of the complete v2
// record batches in b (a fetch response's records), 0 if there are none.
// Batch overhead and compression are included: it is what the log holds
// and what a consumer fetches.
func batchBytesPerOffset(b []byte) float64 {
	var bytes, offsets int64
	for len(b) >= 61 {
		length := int64(int32(binary.BigEndian.Uint32(b[8:12])))
		size := 12 + length
		if length <= 0 || size > int64(len(b)) {
			break // a partial batch at the end of the fetch
		}
		if b[16] == 2 { // magic
			lastDelta := int64(int32(binary.BigEndian.Uint32(b[23:27])))
			bytes += size
			offsets += lastDelta + 1
		}
		b = b[size:]
	}
	if offsets <= 0 {
		return 0
	}
	return float64(bytes) / float64(offsets)
}

func sortedKeys[V any](m map[string]V) iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

func sortedTimes[V any](m map[time.Time]V) []time.Time {
	return slices.SortedFunc(maps.Keys(m), func(a, b time.Time) int { return a.Compare(b) })
}
