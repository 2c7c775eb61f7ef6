package lag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kfetch"
	"github.com/meshwatch/meshwatch/internal/logonce"
)

// Sink receives the lag SLI events of every pass, in one call per pass with
// one SLIEvents per lag SLO. The SLO engine implements it; cmd/meshwatch
// wires it. ObserveSLI must not block for long: it runs on the pass.
type Sink interface {
	ObserveSLI(events []meshwatch.SLIEvents)
}

// Options tune a Monitor. The zero value of every field has a default.
type Options struct {
	Logger *slog.Logger
	// Metrics receive the snapshots; nil registers none anywhere.
	Metrics *Metrics
	Sink    Sink
	// Now is the clock of observations (default time.Now); the passes are
	// paced by real timers.
	Now func() time.Time
	// StuckAfter is how long a lagging partition may go without commit
	// progress before it is STALL or STOP while its commit cadence is not
	// known yet, as after a start (default 6 passes, at least 1m); once
	// known, twice the longest recent gap between its commits, at least two
	// passes (see Rules).
	StuckAfter time.Duration
	// ReadTimeout bounds the exact reads of one pass (default half the
	// interval, from 1s to 10s).
	ReadTimeout time.Duration
	// OnPass, if set, is called after each completed pass (Snapshot and
	// Conditions are then current), on the pass goroutine: it must not
	// block.
	OnPass func()
}

// Monitor measures the consumer lag of every product's groups in background
// passes. Create it with New and start it with Run; Snapshot and the metrics
// are safe for concurrent use and never call Kafka.
//
// The monitor never joins a group, never commits and never produces: it
// lists groups and offsets with admin requests and reads records by direct
// partition assignment.
type Monitor struct {
	cfg         *meshwatch.Config
	exact       int // lag.exact_fetches
	cl          *kgo.Client
	adm         *kadm.Client
	log         *slog.Logger
	m           *Metrics
	sink        Sink
	now         func() time.Time
	interval    time.Duration
	readTimeout time.Duration
	rules       Rules
	products    []*product
	declared    map[string]bool // every product's declared groups
	started     time.Time

	passMu sync.Mutex     // one pass at a time; guards everything below
	topics map[string]int // topic → index of the product that claims it, -1 for none
	hist   map[tp]*history
	parts  map[gtp]*partState
	groups map[pgKey]*groupState
	stamps map[tpo]time.Time // timestamps of records read, reused while the offset stays
	retain map[string]retention
	// retainAt is when the topic configs were last read in full.
	retainAt time.Time
	lastAt   time.Time
	seq      uint64
	scratch  *hdr.Histogram
	logs     logonce.Limiter

	onPass func()
	snap   atomic.Pointer[snapshot]
	passes atomic.Uint64 // passes completed, for tests

	// Every topic of the cluster, as listTopics last listed it, and when;
	// passes only (under passMu).
	topicList   kadm.TopicDetails
	topicListAt time.Time
	topicLists  atomic.Uint64 // fresh lists, for tests
}

// product is a product's static view: its declared groups and lag SLOs.
type product struct {
	p        *meshwatch.Product
	declared []string // consumers, then lag SLO groups not among them
	slos     []*meshwatch.SLO
}

type gtp struct {
	group string
	tp
}

type pgKey struct {
	product int
	group   string
}

type partState struct {
	st   State
	seen uint64
}

type groupState struct {
	win  lagWindow
	seen uint64
}

// retention is what a topic's configs say about how long records stay.
type retention struct {
	ms      int64 // retention.ms; <= 0 for none
	compact bool  // cleanup.policy without delete: records are not expired by age
}

// Kafka's state of a group that does not exist (what DescribeGroups says).
const stateDead = "Dead"

// New returns a monitor of cfg's products using client, a plain client of
// the cluster (seed brokers, TLS, SASL; no group), with the settings of
// the lag: section lc. cfg must have been validated and have its defaults
// set, and so must lc. New makes no request.
func New(cfg *meshwatch.Config, lc Config, client *kgo.Client, o Options) *Monitor {
	mo := &Monitor{
		cfg:         cfg,
		exact:       max(lc.Exact(), 0),
		cl:          client,
		adm:         kadm.NewClient(client),
		log:         o.Logger,
		m:           o.Metrics,
		sink:        o.Sink,
		now:         o.Now,
		interval:    lc.Interval.Std(),
		readTimeout: o.ReadTimeout,
		onPass:      o.OnPass,
		topics:      map[string]int{},
		hist:        map[tp]*history{},
		parts:       map[gtp]*partState{},
		groups:      map[pgKey]*groupState{},
		stamps:      map[tpo]time.Time{},
		retain:      map[string]retention{},
		scratch:     newHistogram(),
	}
	if mo.log == nil {
		mo.log = slog.New(slog.DiscardHandler)
	}
	mo.log = mo.log.With("component", "lag")
	if mo.now == nil {
		mo.now = time.Now
	}
	if mo.interval <= 0 {
		mo.interval = 10 * time.Second
	}
	if mo.readTimeout <= 0 {
		mo.readTimeout = min(max(mo.interval/2, time.Second), 10*time.Second)
	}
	stuck := o.StuckAfter
	if stuck <= 0 {
		stuck = max(6*mo.interval, time.Minute)
	}
	mo.rules = Rules{
		Passes:     max(lc.Passes, 1),
		StuckAfter: stuck,
		// Once a group's commit cadence is known, it is stuck after twice
		// its longest recent gap between commits: two passes without
		// progress for a group that commits at every pass, longer for a
		// slow committer, never more than ten minutes.
		MinStuck: 2 * mo.interval,
		MaxStuck: max(stuck, 10*time.Minute),
		// Interpolated values are exact to one interval: growth below two
		// is noise of the sampling.
		MinWarnLag: 2 * mo.interval,
		WarnGrowth: 0.1,
	}
	for i := range cfg.Products {
		p := &cfg.Products[i]
		pr := &product{p: p}
		for _, c := range p.Consumers {
			pr.declared = append(pr.declared, c.Group)
		}
		for j := range p.SLOs {
			s := &p.SLOs[j]
			if s.SLI != meshwatch.SLILag || s.ConsumerGroup == "" {
				continue
			}
			pr.slos = append(pr.slos, s)
			if !slices.Contains(pr.declared, s.ConsumerGroup) {
				pr.declared = append(pr.declared, s.ConsumerGroup)
			}
		}
		mo.products = append(mo.products, pr)
	}
	mo.declared = map[string]bool{}
	for _, pr := range mo.products {
		for _, g := range pr.declared {
			mo.declared[g] = true
		}
	}
	mo.started = mo.now()
	mo.lastAt = mo.started
	mo.logs.Interval = time.Minute
	if mo.m != nil {
		mo.m.attach(mo)
	}
	return mo
}

// Run makes a pass at once, the next one and a half lag.interval later and
// then every lag.interval until ctx is done, and returns nil. The half
// interval keeps the passes out of step with the collector's ticks, which
// start with the agent at the same default interval: the two do not ask
// the cluster, nor take the cores, at the same moment. A pass that fails is
// logged (at most once a minute) and counted; the last good snapshot stays.
func (m *Monitor) Run(ctx context.Context) error {
	every(ctx, m.interval+m.interval/2, m.interval, func() { m.runPass(ctx) })
	return nil
}

// every calls f at once, again at second from now, and then every interval
// (in step with second; a call that overruns is followed by the next at
// once) until ctx is done.
func every(ctx context.Context, second, interval time.Duration, f func()) {
	at := time.NewTimer(second)
	defer at.Stop()
	f()
	select {
	case <-ctx.Done():
		return
	case <-at.C:
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runPass makes one pass bounded in time, and records how it went.
func (m *Monitor) runPass(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(m.interval, 5*time.Second)+m.readTimeout)
	defer cancel()
	start := time.Now()
	err := m.pass(ctx)
	if m.m != nil {
		m.m.passSeconds.Observe(time.Since(start).Seconds())
	}
	if err != nil && ctx.Err() == nil && m.logs.Allow("pass") {
		m.log.Warn("lag pass failed; keeping the last snapshot (repeats are counted in meshwatch_lag_pass_errors_total, logged at most once a minute)", "err", err)
	}
}

// passError counts a failed step and returns err wrapped with it.
func (m *Monitor) passError(step string, err error) error {
	m.countPassError(step)
	return fmt.Errorf("%s: %w", step, err)
}

// countPassError counts a failed step that the pass goes on after: one
// whose partial answer it uses, or one it can do without.
func (m *Monitor) countPassError(step string) {
	if m.m != nil {
		m.m.passErrors.WithLabelValues(step).Inc()
	}
}

// groupData is what one pass learned of one group.
type groupData struct {
	committed map[tp]int64
	// backlog is a share group's count of records not yet acknowledged per
	// partition, as the broker gives it (-1 when it does not).
	backlog map[tp]int64
	failed  bool   // its offsets could not be fetched
	typ     string // TypeClassic, TypeConsumer, TypeShare; "" when not listed
	// described says Kafka described the group: state and members are its.
	described bool
	state     string
	members   int
	assigned  map[tp]*member
}

// pass lists groups and offsets, reads records, computes every product's
// lag and status, and swaps in the new snapshot.
// topicsMaxAge is how long a pass reuses the list of every topic of the
// cluster. At 10,000 topics listing them every pass was about 5 % of the
// agent's CPU and 90 MB of garbage per pass; a topic or partition created
// since shows within a minute (at once when a group commits on it).
const topicsMaxAge = time.Minute

// listTopics returns every topic of the cluster: the list of an earlier
// pass if it is younger than topicsMaxAge and not forced, else a fresh one.
// Only passes call it, under passMu.
func (m *Monitor) listTopics(ctx context.Context, force bool) (kadm.TopicDetails, error) {
	now := m.now()
	if !force && m.topicList != nil && now.Sub(m.topicListAt) < topicsMaxAge {
		return m.topicList, nil
	}
	tds, err := m.adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	m.topicList, m.topicListAt = tds, now
	m.topicLists.Add(1)
	return tds, nil
}

// partitionsOf returns the partitions of topics: those of the topic list,
// and those the relevant groups committed on or were assigned.
func partitionsOf(topics []string, list kadm.TopicDetails, groups map[string]*groupData, relevant []string) map[string][]int32 {
	parts := make(map[string][]int32, len(topics))
	for _, t := range topics {
		for p := range list[t].Partitions {
			parts[t] = append(parts[t], p)
		}
	}
	add := func(p tp) {
		if !slices.Contains(parts[p.topic], p.partition) {
			parts[p.topic] = append(parts[p.topic], p.partition)
		}
	}
	for _, g := range relevant {
		for p := range groups[g].committed {
			add(p)
		}
		for p := range groups[g].assigned {
			add(p)
		}
	}
	return parts
}

func (m *Monitor) pass(ctx context.Context) error {
	m.passMu.Lock()
	defer m.passMu.Unlock()
	m.seq++

	// 1. Every group of the cluster, and the declared ones (which may not
	// exist): any group may have committed on a product's topics. Meanwhile,
	// every topic, to sample the end offsets of the products' topics whether
	// or not a group reads them yet, so that interpolation has a history
	// when one starts.
	var (
		listed     map[string]string // group → type
		fetched    kadm.FetchOffsetsResponses
		allTopics  kadm.TopicDetails
		names      = map[string]bool{}
		share      []string
		shareErr   bool
		topicsErr  error
		listErr    error
		fetchedErr error
	)
	var wg sync.WaitGroup
	wg.Go(func() {
		listed, listErr = m.listGroups(ctx)
		if listErr != nil && len(listed) == 0 {
			return
		}
		for g := range listed {
			names[g] = true
		}
		for _, p := range m.products {
			for _, g := range p.declared {
				names[g] = true
			}
		}
		var fetch []string
		fetch, share = fetchable(names, listed)
		if len(fetch) > 0 {
			fetched = m.adm.FetchManyOffsets(ctx, fetch...)
			fetchedErr = ctx.Err()
		}
	})
	wg.Go(func() {
		allTopics, topicsErr = m.listTopics(ctx, false)
	})
	wg.Wait()
	if listErr != nil {
		if len(listed) == 0 {
			return m.passError("list_groups", listErr)
		}
		m.countPassError("list_groups") // partial: some coordinators answered
	}
	if fetchedErr != nil {
		return m.passError("fetch_offsets", fetchedErr)
	}
	if topicsErr != nil {
		return m.passError("metadata", topicsErr)
	}
	groups := make(map[string]*groupData, len(names))
	failed := 0
	for g, r := range fetched {
		gd := &groupData{committed: map[tp]int64{}, typ: listed[g]}
		// Kafka answers a group without offsets with none; some brokers
		// say the group is not found. Neither is a failure.
		if r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
			gd.failed = true
			failed++
		}
		for topic, ps := range r.Fetched {
			if m.productOf(topic) < 0 {
				continue
			}
			for p, or := range ps {
				if or.Err == nil && or.At >= 0 {
					gd.committed[tp{topic, p}] = or.At
				}
			}
		}
		groups[g] = gd
	}
	// Share groups: the share-partition state stands for the offsets.
	for _, g := range share {
		groups[g] = &groupData{committed: map[tp]int64{}, typ: TypeShare}
	}
	if len(share) > 0 {
		shareErr = m.shareOffsets(ctx, groups, share)
		if shareErr {
			m.countPassError("share_offsets") // partial: the other groups are used
		}
	}
	if failed > 0 {
		m.countPassError("fetch_offsets") // partial: the other groups are used
	}
	// Relevant groups: those with commits on product topics, and declared.
	var relevant []string
	for g, gd := range groups {
		if len(gd.committed) > 0 || m.isDeclared(g) {
			relevant = append(relevant, g)
		}
	}
	for g := range names {
		if groups[g] == nil && m.isDeclared(g) {
			groups[g] = &groupData{committed: map[tp]int64{}, typ: listed[g]}
			relevant = append(relevant, g)
		}
	}
	slices.Sort(relevant)

	// 2. State, members and assignments of the relevant groups, each with
	// the API of its type.
	if len(relevant) > 0 && m.describe(ctx, groups, relevant, topicIDs(allTopics)) {
		m.countPassError("describe_groups") // partial answers are used
	}

	// A group committed on a product's topic the list does not have yet
	// (created since): list again now rather than at the next refresh.
	for _, g := range relevant {
		stale := false
		for p := range groups[g].committed {
			if _, ok := allTopics[p.topic]; !ok && m.productOf(p.topic) >= 0 {
				stale = true
				break
			}
		}
		if stale {
			if fresh, err := m.listTopics(ctx, true); err == nil {
				allTopics = fresh
			}
			break
		}
	}

	// 3. End and start offsets of the products' topics, and their retention.
	topicSet := map[string]bool{}
	for t, td := range allTopics {
		if td.Err == nil && m.productOf(t) >= 0 {
			topicSet[t] = true
		}
	}
	for _, g := range relevant {
		for p := range groups[g].committed {
			topicSet[p.topic] = true
		}
		for p := range groups[g].assigned {
			topicSet[p.topic] = true
		}
	}
	topics := slices.Sorted(maps.Keys(topicSet))
	// Their partitions: the topic list's, and any a group committed on or
	// was assigned (a partition added since the list was read), listed
	// without kadm's metadata request of every topic per listing.
	parts := partitionsOf(topics, allTopics, groups, relevant)
	var ends, starts kadm.ListedOffsets
	var at time.Time
	if len(topics) > 0 {
		eg, ectx := errgroup.WithContext(ctx)
		eg.Go(func() error {
			t1 := m.now()
			var err error
			ends, err = kfetch.ListOffsets(ectx, m.cl, kfetch.MetadataLeaders(allTopics), kfetch.Latest, parts)
			t2 := m.now()
			// The end offsets were read somewhere between t1 and t2.
			at = t1.Add(t2.Sub(t1) / 2)
			if err != nil && len(ends) == 0 {
				return m.passError("end_offsets", err)
			}
			return nil
		})
		eg.Go(func() error {
			var err error
			starts, err = kfetch.ListOffsets(ectx, m.cl, kfetch.MetadataLeaders(allTopics), kfetch.Earliest, parts)
			if err != nil && len(starts) == 0 {
				return m.passError("start_offsets", err)
			}
			return nil
		})
		eg.Go(func() error { m.readRetention(ectx, topics); return nil })
		if err := eg.Wait(); err != nil {
			return err
		}
	} else {
		at = m.now()
	}

	// 4. Sample the end offsets, and build every product's groups.
	for t, ps := range ends {
		for p, lo := range ps {
			if lo.Err != nil || p < 0 {
				continue
			}
			h := m.hist[tp{t, p}]
			if h == nil {
				h = &history{}
				m.hist[tp{t, p}] = h
			}
			h.add(lo.Offset, at)
			h.seen = m.seq
		}
	}
	b := &build{m: m, at: at, groups: groups, ends: ends, starts: starts, topics: allTopics}
	b.entries()
	b.readExact(ctx)
	snap := b.finish()
	m.sweep(groups)
	m.snap.Store(snap)
	m.emitSLIs(snap)
	m.lastAt = at
	m.passes.Add(1)
	if m.onPass != nil {
		m.onPass()
	}
	return nil
}

// readRetention refreshes the retention of topics not known yet, and of all
// every five minutes. A failure keeps what was known.
func (m *Monitor) readRetention(ctx context.Context, topics []string) {
	full := m.now().Sub(m.retainAt) > 5*time.Minute
	var ask []string
	if full {
		ask = topics
	} else {
		for _, t := range topics {
			if _, ok := m.retain[t]; !ok {
				ask = append(ask, t)
			}
		}
	}
	if len(ask) == 0 {
		return
	}
	rcs, err := m.adm.DescribeTopicConfigs(ctx, ask...)
	if err != nil {
		m.countPassError("topic_configs")
		return
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			continue
		}
		r := retention{}
		for _, kv := range rc.Configs {
			if kv.Value == nil {
				continue
			}
			switch kv.Key {
			case "retention.ms":
				r.ms, _ = strconv.ParseInt(*kv.Value, 10, 64)
			case "cleanup.policy":
				r.compact = !strings.Contains(*kv.Value, "delete")
			}
		}
		m.retain[rc.Name] = r
	}
	if full {
		m.retainAt = m.now()
	}
}

// productOf returns the index of the product that claims topic, or -1. A
// topic selected by two products belongs to the first, as in the collector.
func (m *Monitor) productOf(topic string) int {
	if i, ok := m.topics[topic]; ok {
		return i
	}
	i := -1
	for j, p := range m.products {
		if slices.ContainsFunc(p.p.Topics, func(s meshwatch.TopicSelector) bool { return s.Matches(topic) }) {
			i = j
			break
		}
	}
	if len(m.topics) > 100_000 {
		clear(m.topics) // bound the cache on clusters with churning topic names
	}
	m.topics[topic] = i
	return i
}

func (m *Monitor) isDeclared(group string) bool {
	return m.declared[group]
}

// sweep forgets the partitions and groups the pass did not see, except
// those of groups whose offsets could not be fetched this time.
func (m *Monitor) sweep(groups map[string]*groupData) {
	failed := func(g string) bool { gd := groups[g]; return gd != nil && gd.failed }
	for k, s := range m.parts {
		if s.seen != m.seq && !failed(k.group) {
			delete(m.parts, k)
		}
	}
	for k, g := range m.groups {
		if g.seen != m.seq && !failed(k.group) {
			delete(m.groups, k)
		}
	}
	for k, h := range m.hist {
		if h.seen != m.seq {
			delete(m.hist, k)
		}
	}
}

// emitSLIs hands the pass's lag SLI events to the sink: per lag SLO, good
// when the group's time lag is within the threshold, not valid when the
// group has no data.
func (m *Monitor) emitSLIs(s *snapshot) {
	if m.sink == nil {
		return
	}
	var evs []meshwatch.SLIEvents
	for _, p := range m.products {
		pl := s.products[p.p.Name]
		for _, slo := range p.slos {
			ev := meshwatch.SLIEvents{Product: p.p.Name, SLO: slo.Name, SLI: slo.SLI, From: m.lastAt, To: s.at}
			for i := range pl.Groups {
				g := &pl.Groups[i]
				if g.Group != slo.ConsumerGroup || g.NoData {
					continue
				}
				ev.Valid = 1
				if g.LagSeconds <= slo.Threshold.Std().Seconds() {
					ev.Good = 1
				}
			}
			evs = append(evs, ev)
		}
	}
	if len(evs) > 0 {
		m.sink.ObserveSLI(evs)
	}
}

// build is the work of one pass after the offsets are listed.
type build struct {
	m      *Monitor
	at     time.Time
	groups map[string]*groupData
	ends   kadm.ListedOffsets
	starts kadm.ListedOffsets
	topics kadm.TopicDetails // leaders and topic IDs for exact reads

	laid   []*entry // the entries, laid out by entries
	stamps map[tpo]time.Time
}

// entry is one group of one product in the making.
type entry struct {
	pi    int
	gl    GroupLag
	gd    *groupData
	parts []partIn
	slo   bool // a lag SLO watches the group: its reads come first
}

type partIn struct {
	p        tp
	off      Offsets
	assigned *member
}

// entries lays out each product's groups and their partitions.
func (b *build) entries() {
	m := b.m
	for _, g := range slices.Sorted(maps.Keys(b.groups)) {
		gd := b.groups[g]
		// The product topics of the group, per product.
		byProduct := map[int]map[string]bool{}
		for p := range gd.committed {
			add(byProduct, m.productOf(p.topic), p.topic)
		}
		for p := range gd.assigned {
			add(byProduct, m.productOf(p.topic), p.topic)
		}
		for pi, pr := range m.products {
			if byProduct[pi] == nil && !slices.Contains(pr.declared, g) {
				continue
			}
			e := &entry{pi: pi, gd: gd, gl: GroupLag{
				Group:    g,
				Owner:    pr.p.ConsumerOwner(g),
				Declared: slices.ContainsFunc(pr.p.Consumers, func(c meshwatch.Consumer) bool { return c.Group == g }),
				Type:     gd.typ,
				State:    stateDead,
			}}
			e.slo = slices.ContainsFunc(pr.slos, func(s *meshwatch.SLO) bool { return s.ConsumerGroup == g })
			if gd.described {
				e.gl.State = cmp.Or(gd.state, stateDead)
				e.gl.Members = gd.members
			}
			for _, t := range slices.Sorted(maps.Keys(byProduct[pi])) {
				ends := b.ends[t]
				for _, p := range slices.Sorted(maps.Keys(ends)) {
					lo := ends[p]
					if p < 0 || lo.Err != nil {
						continue
					}
					key := tp{t, p}
					in := partIn{p: key, off: Offsets{Committed: NoOffset, End: lo.Offset}, assigned: gd.assigned[key]}
					if c, ok := gd.committed[key]; ok {
						in.off.Committed = c
					}
					if so, ok := b.starts.Lookup(t, p); ok && so.Err == nil {
						in.off.LogStart = so.Offset
					}
					e.parts = append(e.parts, in)
				}
			}
			b.laid = append(b.laid, e)
		}
	}
}

func add(m map[int]map[string]bool, i int, topic string) {
	if i < 0 {
		return
	}
	if m[i] == nil {
		m[i] = map[string]bool{}
	}
	m[i][topic] = true
}

// readExact reads the records at the committed offsets of lagging
// partitions, within the lag.exact_fetches budget: records read at the same
// offset by an earlier pass are reused (a stopped group costs one read),
// groups with a lag SLO come first, then the largest offset lags.
func (b *build) readExact(ctx context.Context) {
	m := b.m
	b.stamps = make(map[tpo]time.Time)
	type cand struct {
		k   tpo
		slo bool
		lag int64
	}
	var cands []cand
	seen := map[tpo]int{}
	for _, e := range b.laid {
		for _, in := range e.parts {
			o := in.off
			if o.Committed < 0 || o.Committed >= o.End || o.Committed < o.LogStart {
				continue
			}
			k := tpo{in.p, o.Committed}
			if ts, ok := m.stamps[k]; ok {
				b.stamps[k] = ts
				continue
			}
			if i, ok := seen[k]; ok {
				cands[i].slo = cands[i].slo || e.slo
				continue
			}
			seen[k] = len(cands)
			cands = append(cands, cand{k, e.slo, o.End - o.Committed})
		}
	}
	budget := m.exact
	slices.SortFunc(cands, func(a, c cand) int {
		if a.slo != c.slo {
			if a.slo {
				return -1
			}
			return 1
		}
		return cmp.Compare(c.lag, a.lag)
	})
	over := max(len(cands)-budget, 0)
	cands = cands[:len(cands)-over]
	var st readStats
	if len(cands) > 0 {
		wants := make([]tpo, len(cands))
		for i, c := range cands {
			wants[i] = c.k
		}
		rctx, cancel := context.WithTimeout(ctx, m.readTimeout)
		var got map[tpo]time.Time
		got, st = readRecords(rctx, m.cl, b.leader, wants)
		cancel()
		maps.Copy(b.stamps, got)
	}
	m.stamps = b.stamps
	if m.m != nil {
		m.m.reads.WithLabelValues("ok").Add(float64(st.ok))
		m.m.reads.WithLabelValues("error").Add(float64(st.errors))
		m.m.reads.WithLabelValues("timeout").Add(float64(st.timeouts))
		m.m.reads.WithLabelValues("over_budget").Add(float64(over))
	}
	if st.timeouts > 0 && m.logs.Allow("read-timeout") {
		m.log.Warn("exact reads timed out; those time lags are interpolated", "timeouts", st.timeouts, "timeout", m.readTimeout)
	}
}

// leader returns the leader of a partition and its topic's ID as of the
// pass's metadata.
func (b *build) leader(p tp) (int32, [16]byte, bool) {
	td, ok := b.topics[p.topic]
	if !ok {
		return 0, [16]byte{}, false
	}
	pd, ok := td.Partitions[p.partition]
	if !ok || pd.Err != nil {
		return 0, [16]byte{}, false
	}
	return pd.Leader, td.ID, true
}

// finish computes every partition's lag and status and every group's
// aggregates, and returns the snapshot.
func (b *build) finish() *snapshot {
	m := b.m
	s := &snapshot{at: b.at, products: make(map[string]*ProductLag, len(m.products))}
	for _, p := range m.products {
		s.products[p.p.Name] = &ProductLag{Product: p.p.Name, At: b.at, Groups: []GroupLag{}}
		s.order = append(s.order, p.p.Name)
	}
	old := m.snap.Load()
	exp := map[string]*exporterGroup{}
	for _, e := range b.laid {
		pl := s.products[m.products[e.pi].p.Name]
		if e.gd.failed {
			// Its offsets could not be fetched this pass: keep what the
			// last pass said rather than make its series flap.
			if g, ok := old.group(pl.Product, e.gl.Group); ok {
				pl.Groups = append(pl.Groups, g)
			}
			continue
		}
		g := e.gl
		g.Partitions = make([]PartitionLag, 0, len(e.parts))
		g.Settled = true
		var maxTime time.Duration
		data, lowerBound := false, false
		x := exp[g.Group] // created with the group's first partition with data
		for _, in := range e.parts {
			pp := PartitionLag{Topic: in.p.topic, Partition: in.p.partition, End: in.off.End, LogStart: in.off.LogStart}
			if mem := in.assigned; mem != nil {
				pp.MemberID, pp.ClientID, pp.MemberHost = mem.id, mem.client, mem.host
			}
			if in.off.Committed < 0 {
				g.Uncommitted++
				g.Partitions = append(g.Partitions, pp)
				continue
			}
			c := in.off.Committed
			pp.Committed = &c
			var h []Point
			if hh := m.hist[in.p]; hh != nil {
				h = hh.points
			}
			l := Compute(in.off, h, b.stamps[tpo{in.p, c}], b.at)
			if n, ok := e.gd.backlog[in.p]; ok && n >= 0 && n < l.Records {
				// A share group: records above the start offset already
				// acknowledged are not waiting; the broker counts them out.
				l.Records = n
				if n == 0 {
					l.Time, l.Method, l.LowerBound = 0, MethodExact, false
				}
			}
			key := gtp{g.Group, in.p}
			ps := m.parts[key]
			if ps == nil {
				ps = &partState{}
				m.parts[key] = ps
			}
			ps.seen = m.seq
			consuming := in.assigned != nil || (e.gd.assigned == nil && g.Members > 0)
			ps.st = Evaluate(ps.st, Observation{
				Time: b.at, Committed: c, End: in.off.End, LogStart: in.off.LogStart,
				TimeLag: l.Time, Consuming: consuming,
			}, m.rules)
			pp.LagRecords, pp.LagSeconds, pp.Method = l.Records, l.Time.Seconds(), l.Method
			pp.LowerBound, pp.LostRecords, pp.Status = l.LowerBound, l.Lost, ps.st.Status
			g.Partitions = append(g.Partitions, pp)

			data = true
			g.LagRecords += l.Records
			if l.Time > maxTime || g.Method == "" {
				maxTime = max(maxTime, l.Time)
				g.Method = l.Method
			}
			lowerBound = lowerBound || l.LowerBound
			g.LostRecords += l.Lost
			g.Status = worse(g.Status, ps.st.Status)
			g.Settled = g.Settled && ps.st.Settled(m.rules)
			switch r := m.retain[in.p.topic]; {
			case l.Lost > 0:
				// Records are already gone (expired, or deleted by
				// DeleteRecords): the risk came true.
				g.RetentionRisk = max(g.RetentionRisk, 1)
			case r.ms > 0 && !r.compact:
				g.RetentionRisk = max(g.RetentionRisk, float64(l.Time.Milliseconds())/float64(r.ms))
			}
			if x == nil {
				x = &exporterGroup{group: g.Group}
				exp[g.Group] = x
			}
			x.hasData = true
			x.maxLag = max(x.maxLag, l.Records)
			x.sumLag += l.Records
			x.maxLagSeconds = max(x.maxLagSeconds, l.Time.Seconds())
		}
		g.LagSeconds = maxTime.Seconds()
		g.LowerBound = lowerBound
		g.NoData = !data
		g.DataLoss = g.LostRecords > 0
		gs := m.groups[pgKey{e.pi, g.Group}]
		if gs == nil {
			gs = &groupState{}
			m.groups[pgKey{e.pi, g.Group}] = gs
		}
		gs.seen = m.seq
		if data {
			gs.win.add(b.at, maxTime)
		}
		qs, n := gs.win.quantiles(m.scratch)
		g.P50Seconds, g.P99Seconds, g.Samples = qs[0], qs[1], n
		pl.Groups = append(pl.Groups, g)
	}
	for _, name := range slices.Sorted(maps.Keys(exp)) {
		s.exporter = append(s.exporter, *exp[name])
	}
	return s
}

// group returns the named group of a product in s, if any.
func (s *snapshot) group(product, group string) (GroupLag, bool) {
	if s == nil || s.products[product] == nil {
		return GroupLag{}, false
	}
	for _, g := range s.products[product].Groups {
		if g.Group == group {
			return g, true
		}
	}
	return GroupLag{}, false
}
