package alert

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/logonce"
	statestore "github.com/meshwatch/meshwatch/internal/state"
)

// Store keeps the Manager's state across restarts (package internal/state
// implements it). A Put must be atomic: a reader sees the old value or the
// new one.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// Keys the Manager writes in the Store.
const (
	// StateKey holds the open incidents, the outbox and the threads.
	StateKey = "alert/state"
	// SilencesKey holds the silences.
	SilencesKey = "alert/silences"
)

// Options configure a Manager. Every field is optional.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics
	// Store keeps incidents, the outbox and silences; without one they live
	// in memory only and a restart forgets them.
	Store Store
	// Now is the clock (default time.Now).
	Now       func() time.Time
	Notifiers []Notifier
	Routing   Routing
	// ResendDelay is how often forwarders (Alertmanager) get the firing
	// alerts again when nothing changed (default 1m); a forwarded alert
	// expires 4 ResendDelays after it was sent.
	ResendDelay time.Duration
	// ShutdownTimeout bounds the last delivery pass when Run's context ends
	// (default 5s).
	ShutdownTimeout time.Duration
	// MaxAge drops a notification that could not be delivered for this long
	// (default 24h): an alert that old tells nobody anything useful.
	MaxAge time.Duration
	// Shard, when set, splits incidents, the outbox and threads by shard:
	// each alert's group belongs to the shard Shard names, and each shard's
	// state is kept under StateKey+"/"+shard, so that an agent that takes a
	// shard over from another reads exactly that shard's incidents and
	// continues them (scale-out). Groups of different shards never merge.
	Shard func(a *Alert) string
	// MaxSilences bounds the silences in force or to come (default
	// MaxSilences).
	MaxSilences int
	// Shards are the shards this Manager owns: it loads them at New and
	// writes them on every change (an owned shard without incidents is
	// written empty, so a resolved incident does not come back with the
	// next owner). Used only with Shard.
	Shards []string
	// Audiences returns the teams that depend on a product (package
	// lineage): each gets its own copy of the product's incidents in its
	// channel. Nil: only owners hear of their products.
	Audiences func(product string) []meshwatch.Audience
}

// Manager owns the alerts' lifecycle (pending → firing → resolved), groups
// them into incidents, mutes them with silences and inhibition, and
// delivers the incidents' notifications durably. All its methods are safe
// for concurrent use.
type Manager struct {
	cfg         *meshwatch.Config
	products    map[string]*meshwatch.Product
	routing     Routing
	log         *slog.Logger
	metrics     *Metrics
	store       Store
	now         func() time.Time
	notifiers   []Notifier
	forwarders  []*forwardState
	resendDelay time.Duration
	shutdown    time.Duration
	maxAge      time.Duration
	shardOf     func(a *Alert) string
	shards      []string
	maxSilences int
	audiences   func(product string) []meshwatch.Audience

	wakeDispatch chan struct{}
	wakeDeliver  map[string]chan struct{}

	persistMu  sync.Mutex        // serialises Store writes of the state
	silencesMu sync.Mutex        // serialises Store writes of the silences
	written    map[string][]byte // with shards: what each shard key holds; under persistMu

	mu       sync.Mutex
	alerts   map[string]*tracked            // by fingerprint; change it with setAlert and dropAlert
	byGroup  map[string]map[string]*tracked // alerts by group key, then fingerprint
	groups   map[string]*group              // by key
	st       state
	dirty    bool
	silences map[string]*Silence
	// silencesDirty: silences expired since the Store was last written.
	silencesDirty bool

	logs logonce.Limiter // one warning per key a minute, on m.now
}

// tracked is one alert the Manager knows of.
type tracked struct {
	a        Alert
	activeAt time.Time
	group    string
	t        target
	// held is set while the alert's condition is unknown (UpdateKnown):
	// an incident restored at start until its source has evaluated, or a
	// source that stopped or cannot see the product. A held alert keeps
	// its status and what was last notified of it; it never resolves and
	// is never repeated.
	held bool
}

// group is the set of alerts of one channel, owner and product, with
// Alertmanager's timers.
type group struct {
	key     string
	labels  map[string]string
	channel string
	t       timings
	next    time.Time // next flush
}

// state is what the Manager persists under StateKey.
type state struct {
	Version   int                   `json:"version"`
	Seq       uint64                `json:"seq"`
	Incidents map[string]*incident  `json:"incidents"` // by group key
	Outbox    []*entry              `json:"outbox"`    // in Seq order
	Threads   map[string]*threadRec `json:"threads"`   // by incident "/" integration
}

// incident is an open incident: what was last notified of a group.
type incident struct {
	ID           string            `json:"id"`
	GroupKey     string            `json:"group_key"`
	GroupLabels  map[string]string `json:"group_labels"`
	Channel      string            `json:"channel"`
	Opened       time.Time         `json:"opened"`
	LastNotified time.Time         `json:"last_notified"`
	// Notified are the firing alerts of the last notification, by
	// fingerprint.
	Notified map[string]Alert `json:"notified"`
	// Upstream are the incidents of the products that fed this one when
	// it opened.
	Upstream []Upstream `json:"upstream,omitempty"`
	// Consumers are the teams told of the incident, by team.
	Consumers map[string]*consumerCopy `json:"consumers,omitempty"`
}

// entry is one notification waiting for one integration.
type entry struct {
	Seq         uint64        `json:"seq"`
	Integration string        `json:"integration"`
	N           *Notification `json:"notification"`
	Enqueued    time.Time     `json:"enqueued"`
	Attempts    int           `json:"attempts"`
	Next        time.Time     `json:"next"`

	inflight bool
}

type threadRec struct {
	Thread
	// Failed is the reason of a permanent failure: the incident's later
	// notifications to this integration are dropped without a call.
	Failed string `json:"failed,omitempty"`
}

const stateVersion = 1

// New returns a Manager for the products of cfg. It reads the state and the
// silences from opts.Store; an unreadable state is reported and set aside
// (with the Store's SetAside, or under StateKey+".corrupt"), so that a bad
// write never stops alerting.
// It fails on a Store error and on two notifiers with one name.
func New(cfg *meshwatch.Config, opts Options) (*Manager, error) {
	m := &Manager{
		cfg:          cfg,
		products:     make(map[string]*meshwatch.Product),
		routing:      opts.Routing,
		log:          opts.Logger,
		metrics:      opts.Metrics,
		store:        opts.Store,
		now:          opts.Now,
		resendDelay:  cmp.Or(opts.ResendDelay, time.Minute),
		shutdown:     cmp.Or(opts.ShutdownTimeout, 5*time.Second),
		maxAge:       cmp.Or(opts.MaxAge, 24*time.Hour),
		shardOf:      opts.Shard,
		maxSilences:  cmp.Or(opts.MaxSilences, MaxSilences),
		shards:       opts.Shards,
		audiences:    opts.Audiences,
		written:      make(map[string][]byte),
		wakeDispatch: make(chan struct{}, 1),
		wakeDeliver:  make(map[string]chan struct{}),
		alerts:       make(map[string]*tracked),
		byGroup:      make(map[string]map[string]*tracked),
		groups:       make(map[string]*group),
		silences:     make(map[string]*Silence),
		st:           state{Version: stateVersion, Incidents: map[string]*incident{}, Threads: map[string]*threadRec{}},
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("component", "alert")
	if m.metrics == nil {
		m.metrics = NewMetrics(prometheus.NewRegistry())
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.logs.Interval, m.logs.Now = time.Minute, m.now
	if m.store == nil {
		m.log.Warn("no state store: incidents, the outbox and silences are kept in memory and lost on restart")
		m.store = statestore.NewMem()
	}
	if cfg == nil {
		cfg = &meshwatch.Config{}
		m.cfg = cfg
	}
	for i := range cfg.Products {
		m.products[cfg.Products[i].Name] = &cfg.Products[i]
	}
	names := map[string]bool{}
	for _, n := range opts.Notifiers {
		if n == nil {
			continue
		}
		if names[n.Name()] {
			return nil, fmt.Errorf("alert: two notifiers named %q", n.Name())
		}
		names[n.Name()] = true
		m.metrics.initIntegration(n.Name())
		if f, ok := n.(Forwarder); ok {
			m.forwarders = append(m.forwarders, &forwardState{f: f, wake: make(chan struct{}, 1)})
			continue
		}
		m.notifiers = append(m.notifiers, n)
		m.wakeDeliver[n.Name()] = make(chan struct{}, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.load(ctx); err != nil {
		return nil, err
	}
	m.updateMetrics(m.now())
	return m, nil
}

// load reads the state and the silences from the Store: the state under
// StateKey, or with shards that of each owned shard.
func (m *Manager) load(ctx context.Context) error {
	if m.shardOf == nil {
		st, ok, err := m.loadState(ctx, StateKey)
		if err != nil {
			return err
		}
		if ok {
			m.st = st
		}
	} else {
		for _, sh := range m.shards {
			st, ok, err := m.loadState(ctx, shardKey(sh))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			m.st.Seq = max(m.st.Seq, st.Seq)
			maps.Copy(m.st.Incidents, st.Incidents)
			maps.Copy(m.st.Threads, st.Threads)
			m.st.Outbox = append(m.st.Outbox, st.Outbox...)
		}
		// Each shard numbered its entries on its own: keep their order,
		// number them anew after every sequence number already used.
		slices.SortStableFunc(m.st.Outbox, func(a, b *entry) int {
			return cmp.Or(a.Enqueued.Compare(b.Enqueued), cmp.Compare(a.Seq, b.Seq))
		})
		for _, e := range m.st.Outbox {
			m.st.Seq++
			e.Seq = m.st.Seq
		}
	}
	// An open incident needs a group even when none of its alerts comes
	// back, or it would never resolve. Its alerts are firing as they were
	// last notified, and held: nothing is known of them yet in this
	// process, and "nothing known" must not read as "nothing firing" (a
	// restart would resolve every incident and open it again).
	now := m.now()
	for key, inc := range m.st.Incidents {
		t := m.routing.defaults()
		for _, a := range inc.Notified {
			t = m.routing.route(&a, m.cfg.Owners).timings
			break
		}
		m.groups[key] = &group{key: key, labels: inc.GroupLabels, channel: inc.Channel, t: t, next: now.Add(t.Wait)}
		for fp, a := range inc.Notified {
			a = a.clone()
			a.Status, a.Fingerprint = StatusFiring, fp
			m.setAlert(fp, &tracked{a: a, activeAt: a.StartsAt, group: key, t: m.routing.route(&a, m.cfg.Owners), held: true})
		}
	}

	return m.ReloadSilences(ctx)
}

// ReloadSilences reads the silences from the Store again, replacing those
// in memory: agents that share a Store (scale-out) call it after syncing
// it, so that a silence added through any agent mutes every agent's
// alerts. An unreadable value is set aside and leaves the silences as they
// are.
func (m *Manager) ReloadSilences(ctx context.Context) error {
	b, ok, err := m.store.Get(ctx, SilencesKey)
	if errors.Is(err, statestore.ErrCorrupt) {
		// Set aside and logged by the store; the silences known stay.
		m.metrics.stateErrors.WithLabelValues("load").Inc()
		return nil
	}
	if err != nil {
		m.metrics.stateErrors.WithLabelValues("load").Inc()
		return fmt.Errorf("alert: read silences: %w", err)
	}
	silences := make(map[string]*Silence)
	if ok {
		var ss []*Silence
		if err := json.Unmarshal(b, &ss); err != nil {
			m.metrics.stateErrors.WithLabelValues("load").Inc()
			m.log.Error("silences are unreadable: set aside", "key", SilencesKey, "err", err)
			if perr := m.setAside(ctx, SilencesKey, b, err); perr != nil {
				return fmt.Errorf("alert: set aside the unreadable silences: %w", perr)
			}
			return nil
		}
		for _, s := range ss {
			ok := true
			for i := range s.Matchers {
				if s.Matchers[i].compile() != nil {
					ok = false
				}
			}
			if ok {
				silences[s.ID] = s
			}
		}
	}
	m.mu.Lock()
	changed := !maps.EqualFunc(m.silences, silences, func(a, b *Silence) bool { return a.ID == b.ID && a.EndsAt.Equal(b.EndsAt) })
	m.silences = silences
	m.mu.Unlock()
	if changed {
		m.updateMetrics(m.now())
		wake(m.wakeDispatch)
	}
	return nil
}

// loadState reads one state key; an unreadable one is set aside and
// reported as absent.
func (m *Manager) loadState(ctx context.Context, key string) (state, bool, error) {
	b, ok, err := m.store.Get(ctx, key)
	if errors.Is(err, statestore.ErrCorrupt) {
		// Set aside by the store: start without it rather than not at all.
		m.metrics.stateErrors.WithLabelValues("load").Inc()
		m.log.Error("alert state is unreadable: set aside, starting without its open incidents", "key", key, "err", err)
		return state{}, false, nil
	}
	if err != nil {
		m.metrics.stateErrors.WithLabelValues("load").Inc()
		return state{}, false, fmt.Errorf("alert: read state %s: %w", key, err)
	}
	if !ok {
		return state{}, false, nil
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil || st.Version != stateVersion {
		if err == nil {
			err = fmt.Errorf("version %d, want %d", st.Version, stateVersion)
		}
		m.metrics.stateErrors.WithLabelValues("load").Inc()
		m.log.Error("alert state is unreadable: set aside, starting without its open incidents", "key", key, "err", err)
		if perr := m.setAside(ctx, key, b, err); perr != nil {
			return state{}, false, fmt.Errorf("alert: set aside the unreadable state %s: %w", key, perr)
		}
		return state{}, false, nil
	}
	if st.Incidents == nil {
		st.Incidents = map[string]*incident{}
	}
	if st.Threads == nil {
		st.Threads = map[string]*threadRec{}
	}
	// Drop the entries of integrations that are gone: nobody can deliver
	// them.
	st.Outbox = slices.DeleteFunc(st.Outbox, func(e *entry) bool {
		_, ok := m.wakeDeliver[e.Integration]
		return !ok || e.N == nil
	})
	return st, true, nil
}

// shardKey is the Store key of one shard's state.
func shardKey(shard string) string { return StateKey + "/" + shard }

// setAside keeps an unreadable value out of the way: with the Store's
// SetAside when it has one (internal/state does), else under key+".corrupt".
func (m *Manager) setAside(ctx context.Context, key string, value []byte, reason error) error {
	if sa, ok := m.store.(interface {
		SetAside(ctx context.Context, key, reason string) error
	}); ok {
		return sa.SetAside(ctx, key, reason.Error())
	}
	if err := m.store.Put(ctx, key+".corrupt", value); err != nil {
		return err
	}
	return m.store.Delete(ctx, key)
}

// Update sets the complete set of active conditions at now, every one of
// them known: it is UpdateKnown without unknown conditions.
func (m *Manager) Update(now time.Time, alerts []Alert) { m.UpdateKnown(now, alerts, nil) }

// UpdateKnown sets the set of active conditions at now. An alert new to
// the Manager is pending until it has been active for its For, then
// firing; a firing alert absent from alerts (or passed with Active false)
// resolves; a pending one is forgotten — unless unknown reports that its
// condition could not be evaluated now (its source has not evaluated since
// the agent started or took the product over, stopped, or cannot see the
// product). Such an alert is held as it is: a firing one stays firing, its
// incident open and silent, until an Update knows it again. The alerts of
// the incidents loaded at New are held until then. unknown may be nil.
// UpdateKnown does no I/O: Run notifies.
func (m *Manager) UpdateKnown(now time.Time, alerts []Alert, unknown func(a *Alert) bool) {
	m.mu.Lock()
	seen := make(map[string]bool, len(alerts))
	for i := range alerts {
		if !alerts[i].Active {
			continue
		}
		a := m.fill(alerts[i])
		if len(a.Labels) == 0 {
			m.logOnce("no_labels", "alert without labels ignored")
			continue
		}
		fp := Fingerprint(a.Labels)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		t := m.alerts[fp]
		if t == nil || t.a.Status == StatusResolved {
			// A resolved alert that comes back is a new occurrence.
			t = &tracked{activeAt: now, t: m.routing.route(&a, m.cfg.Owners)}
			t.group = t.t.Channel + "/" + a.Owner + "/" + a.Product
			if m.shardOf != nil {
				// The key ends with the shard: see groupShard.
				t.group += "#" + m.shardOf(&a)
			}
			m.setAlert(fp, t)
			a.Status = StatusPending
		} else {
			a.Status, a.StartsAt = t.a.Status, t.a.StartsAt
		}
		t.held = false
		a.Fingerprint = fp
		if a.Status == StatusPending && now.Sub(t.activeAt) >= a.For {
			// Like Alertmanager, which hears of an alert when it fires, a
			// group starts with its first firing alert, not a pending one.
			a.Status, a.StartsAt = StatusFiring, t.activeAt
			m.ensureGroup(t.group, &a, t.t, now)
		}
		t.a = a
	}
	for fp, t := range m.alerts {
		if seen[fp] {
			continue
		}
		if unknown != nil && t.a.Status != StatusResolved && unknown(&t.a) {
			t.held = true
			continue
		}
		t.held = false
		switch t.a.Status {
		case StatusPending:
			m.dropAlert(fp)
		case StatusFiring:
			t.a.Status, t.a.EndsAt = StatusResolved, now
			for _, f := range m.forwarders {
				f.resolved = append(f.resolved, t.a.clone())
				if len(f.resolved) > maxForwardResolved {
					f.resolved = f.resolved[len(f.resolved)-maxForwardResolved:]
				}
			}
		}
	}
	m.updateMetricsLocked(now)
	m.mu.Unlock()
	wake(m.wakeDispatch)
	for _, f := range m.forwarders {
		wake(f.wake)
	}
}

// fill completes a copy of a from the configuration.
func (m *Manager) fill(a Alert) Alert {
	a = a.clone()
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if a.Product == "" {
		a.Product = a.Labels[LabelProduct]
	}
	if a.Product != "" && a.Labels[LabelProduct] == "" {
		a.Labels[LabelProduct] = a.Product
	}
	if a.SLO == "" {
		a.SLO = a.Labels[LabelSLO]
	}
	if p := m.products[a.Product]; p != nil {
		a.Domain = cmp.Or(a.Domain, p.Domain)
		a.Owner = cmp.Or(a.Owner, p.Owner)
		a.Tier = cmp.Or(a.Tier, p.Tier)
		if len(a.Topics) == 0 {
			for _, t := range p.Topics {
				a.Topics = append(a.Topics, cmp.Or(t.Name, t.Pattern))
			}
		}
		if i := slices.IndexFunc(p.SLOs, func(s meshwatch.SLO) bool { return s.Name == a.SLO }); a.SLO != "" && i >= 0 {
			// The promise the owner made, shown with every SLO alert.
			s := &p.SLOs[i]
			a.Objective = cmp.Or(a.Objective, float64(s.Objective))
			a.Window = cmp.Or(a.Window, s.Window)
			if th, ok := s.TimeThreshold(); ok && a.ThresholdSeconds == 0 {
				a.ThresholdSeconds = th.Seconds()
			}
			a.Promise = cmp.Or(a.Promise, s.Promise(p))
		}
	}
	a.Cluster = cmp.Or(a.Cluster, m.cfg.Cluster.Name)
	a.RunbookURL = cmp.Or(a.RunbookURL, link(m.routing.RunbookURL, &a))
	a.DashboardURL = cmp.Or(a.DashboardURL, link(m.routing.DashboardURL, &a))
	if sev, ok := a.Labels[LabelSeverity]; ok {
		// The one place where the tier meets the severity: only tier 1
		// pages, so a tier-2 alert is a ticket in every output.
		a.Labels[LabelSeverity] = meshwatch.TierSeverity(a.Tier, sev)
	}
	a.Status, a.StartsAt, a.EndsAt, a.Change, a.Fingerprint = "", time.Time{}, time.Time{}, "", ""
	return a
}

// ensureGroup creates a's group, key, at now unless it exists: its first
// flush is group_wait later.
func (m *Manager) ensureGroup(key string, a *Alert, t target, now time.Time) {
	if _, ok := m.groups[key]; !ok {
		labels := map[string]string{"owner": a.Owner, LabelProduct: a.Product}
		m.groups[key] = &group{key: key, labels: labels, channel: t.Channel, t: t.timings, next: now.Add(t.Wait)}
	}
}

// dispatch flushes the groups that are due at now, Alertmanager's way: a
// new group after group_wait, then every group_interval, notifying a change
// at once and an unchanged firing incident after repeat_interval. It
// reports whether it enqueued anything.
func (m *Manager) dispatch(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireSilences(now)
	unavailable, causes := m.unavailable(), m.newCauses(now)
	before := m.st.Seq
	for _, key := range slices.Sorted(maps.Keys(m.groups)) {
		g := m.groups[key]
		if now.Before(g.next) {
			continue
		}
		m.flush(g, now, unavailable, causes)
		g.next = now.Add(g.t.Interval)
		if _, open := m.st.Incidents[key]; !open && !m.hasAlerts(key) {
			delete(m.groups, key)
		}
	}
	m.updateMetricsLocked(now)
	return m.st.Seq != before
}

func (m *Manager) hasAlerts(groupKey string) bool {
	for _, t := range m.alerts {
		if t.group == groupKey {
			return true
		}
	}
	return false
}

// unavailable returns the products whose ProductUnavailable alert fires.
func (m *Manager) unavailable() map[string]bool {
	out := map[string]bool{}
	for _, t := range m.alerts {
		if t.a.Status == StatusFiring && t.a.Name() == NameProductUnavailable {
			out[t.a.Labels[LabelProduct]] = true
		}
	}
	return out
}

// inhibitedSLIs are the indicators a product's unavailability explains.
var inhibitedSLIs = map[string]bool{meshwatch.SLIFreshness: true, meshwatch.SLILatency: true, meshwatch.SLILag: true}

// Reasons an alert is muted.
const (
	MutedSilenced  = "silenced"
	MutedInhibited = "inhibited"
)

// muted returns why a is muted at now, or "".
func (m *Manager) muted(a *Alert, now time.Time, unavailable map[string]bool) (string, []string) {
	if a.Name() != NameProductUnavailable && unavailable[a.Labels[LabelProduct]] && inhibitedSLIs[a.Labels[LabelSLI]] {
		return MutedInhibited, nil
	}
	var ids []string
	for _, s := range m.silences {
		if s.activeAt(now) && s.matches(a.Labels) {
			ids = append(ids, s.ID)
		}
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		return MutedSilenced, ids
	}
	return "", nil
}

// setAlert tracks t under fp, in m.alerts and in its group's index, so
// that flushing a group reads its own alerts, not every alert (at 10,000
// products a walk of every alert per group made flushes quadratic).
func (m *Manager) setAlert(fp string, t *tracked) {
	m.dropAlert(fp)
	m.alerts[fp] = t
	g := m.byGroup[t.group]
	if g == nil {
		g = map[string]*tracked{}
		m.byGroup[t.group] = g
	}
	g[fp] = t
}

// dropAlert stops tracking fp.
func (m *Manager) dropAlert(fp string) {
	t := m.alerts[fp]
	if t == nil {
		return
	}
	delete(m.alerts, fp)
	if g := m.byGroup[t.group]; g != nil {
		delete(g, fp)
		if len(g) == 0 {
			delete(m.byGroup, t.group)
		}
	}
}

// flush notifies what changed in g since its incident's last notification.
func (m *Manager) flush(g *group, now time.Time, unavailable map[string]bool, causes *causes) {
	inc := m.st.Incidents[g.key]
	cur := map[string]*tracked{}
	anyUnmuted := false
	for fp, t := range m.byGroup[g.key] {
		notified := false
		if inc != nil {
			_, notified = inc.Notified[fp]
		}
		switch t.a.Status {
		case StatusFiring:
			muted, _ := m.muted(&t.a, now, unavailable)
			t.a.CausedBy = causes.causedBy(&t.a)
			if muted == "" || notified {
				cur[fp] = t
				// A held alert is not known to fire now: it keeps its
				// place in the incident but is no reason to repeat it;
				// nor is one an upstream incident explains.
				anyUnmuted = anyUnmuted || (muted == "" && !t.held && t.a.CausedBy == "")
			}
		case StatusResolved:
			if !notified {
				m.dropAlert(fp) // resolved before anybody heard of it
			}
		}
	}
	var kind string
	switch {
	case inc == nil && len(cur) == 0:
		return
	case inc == nil:
		kind = KindFire
		m.st.Seq++
		inc = &incident{
			ID:       fmt.Sprintf("%s-%d", Fingerprint(map[string]string{"group": g.key}), m.st.Seq),
			GroupKey: g.key, GroupLabels: g.labels, Channel: g.channel, Opened: now,
		}
	case len(cur) == 0:
		kind = KindResolve
	case changed(inc.Notified, cur):
		kind = KindChange
	case anyUnmuted && now.Sub(inc.LastNotified) >= g.t.Repeat:
		kind = KindRepeat
	default:
		return
	}

	setUpstream(inc, cur, causes.of(g.labels[LabelProduct]))
	n := &Notification{
		Kind: kind, Incident: inc.ID, GroupKey: g.key, GroupLabels: maps.Clone(g.labels),
		Status: StatusFiring, Channel: g.channel, Opened: inc.Opened, Time: now,
		Upstream: slices.Clone(inc.Upstream),
	}
	var firing, resolved []Alert
	for fp, t := range cur {
		a := t.a.clone()
		if prev, ok := inc.Notified[fp]; !ok {
			a.Change = ChangeNew
		} else if prev.State != a.State || prev.CausedBy != a.CausedBy {
			a.Change = ChangeState
		}
		if t.t.Page && !n.Page && a.CausedBy == "" {
			n.Page, n.Mention = true, t.t.Mention
		}
		firing = append(firing, a)
	}
	for fp, prev := range inc.Notified {
		if _, ok := cur[fp]; ok {
			continue
		}
		a := prev.clone()
		a.EndsAt = now
		if t := m.alerts[fp]; t != nil && t.a.Status == StatusResolved {
			a = t.a.clone()
			m.dropAlert(fp)
		}
		a.Status, a.Change = StatusResolved, ChangeResolved
		resolved = append(resolved, a)
	}
	sortAlerts(firing)
	sortAlerts(resolved)
	n.Alerts = append(firing, resolved...)
	if len(firing) == 0 {
		n.Status, n.Page, n.Mention = StatusResolved, false, ""
	}

	inc.LastNotified = now
	inc.Notified = make(map[string]Alert, len(cur))
	for fp, t := range cur {
		inc.Notified[fp] = t.a.clone()
	}
	if kind == KindResolve {
		delete(m.st.Incidents, g.key)
	} else {
		m.st.Incidents[g.key] = inc
	}
	copies := m.consumerCopies(inc, n)
	for _, c := range append([]*Notification{n}, copies...) {
		for _, nt := range m.notifiers {
			m.st.Seq++
			m.st.Outbox = append(m.st.Outbox, &entry{Seq: m.st.Seq, Integration: nt.Name(), N: c, Enqueued: now, Next: now})
		}
	}
	for _, c := range copies {
		m.log.Info("incident told to a consuming team", "kind", c.Kind, "incident", inc.ID, "team", c.Audience.Team,
			"channel", c.Channel, "product", g.labels[LabelProduct])
	}
	m.dirty = true
	m.log.Info("incident notified", "kind", kind, "incident", inc.ID, "channel", g.channel,
		"owner", g.labels["owner"], "product", g.labels[LabelProduct], "alerts", len(n.Alerts))
}

func changed(prev map[string]Alert, cur map[string]*tracked) bool {
	if len(prev) != len(cur) {
		return true
	}
	for fp, t := range cur {
		p, ok := prev[fp]
		if !ok || p.State != t.a.State || p.CausedBy != t.a.CausedBy {
			return true
		}
	}
	return false
}

// sortAlerts orders pages first, then by title and fingerprint.
func sortAlerts(as []Alert) {
	slices.SortFunc(as, func(a, b Alert) int {
		pa, pb := a.Severity() == SeverityPage, b.Severity() == SeverityPage
		if pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.title(), b.title()), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
}

// nextFlush returns when the next group is due, zero without groups.
func (m *Manager) nextFlush() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var next time.Time
	for _, g := range m.groups {
		if next.IsZero() || g.next.Before(next) {
			next = g.next
		}
	}
	return next
}

// persist writes the state to the Store when it changed: under StateKey,
// or with shards one key per shard, only those whose content changed. A
// failure is counted and logged (once a minute); the next persist tries
// again.
func (m *Manager) persist(ctx context.Context) {
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	m.mu.Lock()
	if !m.dirty {
		m.mu.Unlock()
		return
	}
	var (
		entries map[string][]byte
		err     error
	)
	if m.shardOf == nil {
		var b []byte
		if b, err = json.Marshal(&m.st); err == nil {
			entries = map[string][]byte{StateKey: b}
		}
	} else {
		entries, err = m.splitState()
	}
	m.dirty = false
	m.mu.Unlock()
	for key, b := range entries {
		if err != nil {
			break
		}
		if m.shardOf != nil && bytes.Equal(m.written[key], b) {
			continue
		}
		if err = m.store.Put(ctx, key, b); err == nil && m.shardOf != nil {
			m.written[key] = b
		}
	}
	if err != nil {
		m.metrics.stateErrors.WithLabelValues("save").Inc()
		m.mu.Lock()
		m.dirty = true
		m.logOnce("persist", "alert state not saved", "err", err)
		m.mu.Unlock()
	}
}

// splitState marshals the state of every owned shard, and of any other
// shard that has incidents here, by Store key. A thread goes with its
// incident, or with the outbox entry that still needs it; one that neither
// needs is dropped. The caller holds m.mu.
func (m *Manager) splitState() (map[string][]byte, error) {
	parts := make(map[string]*state)
	part := func(shard string) *state {
		p := parts[shard]
		if p == nil {
			p = &state{Version: stateVersion, Seq: m.st.Seq, Incidents: map[string]*incident{}, Threads: map[string]*threadRec{}}
			parts[shard] = p
		}
		return p
	}
	for _, sh := range m.shards {
		part(sh)
	}
	shardOfIncident := make(map[string]string)
	for key, inc := range m.st.Incidents {
		sh := groupShard(key)
		part(sh).Incidents[key] = inc
		shardOfIncident[inc.ID] = sh
		for _, cc := range inc.Consumers {
			shardOfIncident[cc.ID] = sh
		}
	}
	for _, e := range m.st.Outbox {
		sh := groupShard(e.N.GroupKey)
		part(sh).Outbox = append(part(sh).Outbox, e)
		shardOfIncident[e.N.Incident] = sh
	}
	for key, th := range m.st.Threads {
		id, _, _ := strings.Cut(key, "/")
		if sh, ok := shardOfIncident[id]; ok {
			part(sh).Threads[key] = th
		}
	}
	out := make(map[string][]byte, len(parts))
	for sh, p := range parts {
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		out[shardKey(sh)] = b
	}
	return out, nil
}

// groupShard is the shard a group key ends with (Options.Shard).
func groupShard(key string) string {
	if i := strings.LastIndexByte(key, '#'); i >= 0 {
		return key[i+1:]
	}
	return ""
}

// logOnce logs msg at most once a minute per key.
func (m *Manager) logOnce(key, msg string, args ...any) {
	if m.logs.Allow(key) {
		m.log.Warn(msg, args...)
	}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (m *Manager) updateMetrics(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.updateMetricsLocked(now)
}

func (m *Manager) updateMetricsLocked(now time.Time) {
	firing := map[string]float64{SeverityPage: 0, SeverityTicket: 0}
	muted := map[string]float64{MutedSilenced: 0, MutedInhibited: 0}
	pending, unknown := 0.0, 0.0
	unavailable, causes := m.unavailable(), m.newCauses(now)
	for _, t := range m.alerts {
		if t.held {
			unknown++
		}
		switch t.a.Status {
		case StatusFiring:
			firing[t.a.Severity()]++
			if r, _ := m.muted(&t.a, now, unavailable); r != "" {
				muted[r]++
			} else if causes.causedBy(&t.a) != "" {
				muted[MutedInhibited]++
			}
		case StatusPending:
			pending++
		}
	}
	for sev, v := range firing {
		m.metrics.firing.WithLabelValues(sev).Set(v)
	}
	for r, v := range muted {
		m.metrics.muted.WithLabelValues(r).Set(v)
	}
	m.metrics.pending.Set(pending)
	m.metrics.unknown.Set(unknown)
	m.metrics.incidents.Set(float64(len(m.st.Incidents)))
	depth := map[string]float64{}
	for name := range m.wakeDeliver {
		depth[name] = 0
	}
	for _, e := range m.st.Outbox {
		depth[e.Integration]++
	}
	for name, v := range depth {
		m.metrics.outbox.WithLabelValues(name).Set(v)
	}
	active := 0.0
	for _, s := range m.silences {
		if s.activeAt(now) {
			active++
		}
	}
	m.metrics.silences.Set(active)
}
