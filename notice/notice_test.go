package notice

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/doctest"
	istate "github.com/meshwatch/meshwatch/internal/state"
)

const (
	orders        = "checkout.orders.placed"
	ordersV2      = "checkout.orders.v2"
	scored        = "payments.fraud.scored"
	ordersSubject = orders + "-value"
)

// mesh is a small mesh: checkout.orders.placed (avro, owned by
// orders-team) read by fraud-team's fraud-detector (which also owns
// payments.fraud.scored, made from it), analytics-team's analytics-etl,
// quiet-team (unsubscribed), nochan-team (no channel) and orders-team's
// own replayer. edit changes it before it is validated.
func mesh(t *testing.T, edit func(*meshwatch.Config)) *meshwatch.Config {
	t.Helper()
	no := false
	cfg := &meshwatch.Config{
		Products: []meshwatch.Product{
			{
				Name: orders, Domain: "checkout", Owner: "orders-team", Format: meshwatch.FormatAvro,
				Topics: []meshwatch.TopicSelector{{Name: orders}, {Pattern: "^checkout\\.orders\\.shadow.*$"}},
				Consumers: []meshwatch.Consumer{
					{Group: "fraud-detector", Owner: "fraud-team"},
					{Group: "analytics-etl", Owner: "analytics-team"},
					{Group: "quiet-reader", Owner: "quiet-team"},
					{Group: "nochan-reader", Owner: "nochan-team"},
					{Group: "orders-replayer", Owner: "orders-team"},
				},
			},
			{Name: ordersV2, Domain: "checkout", Owner: "orders-team", Format: meshwatch.FormatAvro, Topics: []meshwatch.TopicSelector{{Name: ordersV2}}},
			{Name: scored, Domain: "payments", Owner: "fraud-team", Format: meshwatch.FormatJSON, Topics: []meshwatch.TopicSelector{{Name: scored}}, Inputs: []string{orders}},
		},
		Owners: map[string]meshwatch.Owner{
			"orders-team":    {SlackChannel: "#orders"},
			"fraud-team":     {SlackChannel: "#fraud"},
			"analytics-team": {SlackChannel: "#analytics"},
			"quiet-team":     {SlackChannel: "#quiet", Subscribe: &no},
			"nochan-team":    {},
		},
	}
	if edit != nil {
		edit(cfg)
	}
	cfg.SetDefaults()
	if ps := cfg.Validate().Errors(); len(ps) > 0 {
		t.Fatalf("invalid test config:\n%v", ps)
	}
	return cfg
}

func deprecate(sunset, replacement string) func(*meshwatch.Config) {
	return func(c *meshwatch.Config) {
		c.Products[0].Deprecated = &meshwatch.Deprecation{Sunset: sunset, Replacement: replacement}
	}
}

// audiences is what package lineage answers over cfg as it is at each
// call (its own tests check it; command meshwatch wires it): the teams of
// the declared consumer groups and the owners of the products made from
// it, other than its owner, with a channel, subscribed; none when the
// product does not notify.
func audiences(cfg *meshwatch.Config) func(string) []meshwatch.Audience {
	return func(product string) []meshwatch.Audience {
		var p *meshwatch.Product
		for i := range cfg.Products {
			if cfg.Products[i].Name == product {
				p = &cfg.Products[i]
			}
		}
		if p == nil || !p.Notifies() {
			return nil
		}
		by := map[string]*meshwatch.Audience{}
		add := func(team string) *meshwatch.Audience {
			o, ok := cfg.Owners[team]
			if team == p.Owner || !ok || o.SlackChannel == "" || !o.Subscribed() {
				return nil
			}
			if by[team] == nil {
				by[team] = &meshwatch.Audience{Team: team, Channel: o.SlackChannel}
			}
			return by[team]
		}
		for _, c := range p.Consumers {
			if a := add(c.Owner); a != nil {
				a.Groups = append(a.Groups, c.Group)
			}
		}
		for i := range cfg.Products {
			if q := &cfg.Products[i]; slices.Contains(q.Inputs, product) {
				if a := add(q.Owner); a != nil {
					a.Products = append(a.Products, q.Name)
				}
			}
		}
		var out []meshwatch.Audience
		for _, team := range slices.Sorted(maps.Keys(by)) {
			out = append(out, *by[team])
		}
		return out
	}
}

// announcer records the announcements; fail, when set, answers for a
// channel instead.
type announcer struct {
	mu   sync.Mutex
	got  []Notice
	fail func(channel string) error
}

func (a *announcer) Announce(_ context.Context, ann Notice) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		if err := a.fail(ann.Channel); err != nil {
			return err
		}
	}
	a.got = append(a.got, ann)
	return nil
}

// take returns the announcements since the last take.
func (a *announcer) take() []Notice {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.got
	a.got = nil
	return out
}

// channels returns the channels of anns, sorted.
func channels(anns []Notice) []string {
	var out []string
	for _, a := range anns {
		out = append(out, a.Channel)
	}
	slices.Sort(out)
	return out
}

// fixture is a Notifier with its clock, store, announcer, log and metrics.
type fixture struct {
	cfg   *meshwatch.Config
	now   time.Time
	store *istate.Mem
	ann   *announcer
	log   *bytes.Buffer
	logMu sync.Mutex
	reg   *prometheus.Registry
	n     *Notifier
	sr    *sr.Client
}

// newFixture makes a fixture at now; registry, when given, is the schema
// registry's client.
func newFixture(t *testing.T, cfg *meshwatch.Config, now time.Time, registry ...*sr.Client) *fixture {
	t.Helper()
	f := &fixture{cfg: cfg, now: now, store: istate.NewMem(), ann: &announcer{}, log: &bytes.Buffer{}, reg: prometheus.NewPedanticRegistry()}
	if len(registry) > 0 {
		f.sr = registry[0]
	}
	f.restart(t)
	return f
}

// restart makes a new Notifier over the same store, announcer and
// registry: the agent restarted.
func (f *fixture) restart(t *testing.T) {
	t.Helper()
	n, err := New(Options{
		Config:     f.cfg,
		Audiences:  audiences(f.cfg),
		Registry:   f.sr,
		Store:      f.store,
		Announce:   f.ann.Announce,
		Now:        func() time.Time { return f.now },
		Logger:     slog.New(slog.NewTextHandler(lockedWriter{f}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: f.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.n = n
}

type lockedWriter struct{ f *fixture }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.f.logMu.Lock()
	defer w.f.logMu.Unlock()
	return w.f.log.Write(p)
}

func (f *fixture) logs() string {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	return f.log.String()
}

// check runs a pass that must succeed and returns what it announced.
func (f *fixture) check(t *testing.T) []Notice {
	t.Helper()
	if err := f.n.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	return f.ann.take()
}

func (f *fixture) notices(kind string) float64 {
	return testutil.ToFloat64(f.n.notices.WithLabelValues(kind))
}

func (f *fixture) errs(step string) float64 {
	return testutil.ToFloat64(f.n.errors.WithLabelValues(step))
}

func day0(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDocListsMetrics(t *testing.T) {
	doctest.Metrics(t, "doc.go", func(reg prometheus.Registerer) { newMetrics(reg) })
}

func TestNewRequires(t *testing.T) {
	cfg := mesh(t, nil)
	ok := Options{Config: cfg, Audiences: audiences(cfg), Store: istate.NewMem(), Announce: (&announcer{}).Announce}
	for name, edit := range map[string]func(*Options){
		"config":    func(o *Options) { o.Config = nil },
		"audiences": func(o *Options) { o.Audiences = nil },
		"store":     func(o *Options) { o.Store = nil },
		"announce":  func(o *Options) { o.Announce = nil },
		"warning":   func(o *Options) { o.SunsetWarning = -time.Hour },
	} {
		o := ok
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("without %s: no error", name)
		}
	}
	if _, err := New(ok); err != nil {
		t.Errorf("complete options: %v", err)
	}
}

// TestDeprecationLifecycle follows one deprecation from the first pass to
// after the sunset, through a restart.
func TestDeprecationLifecycle(t *testing.T) {
	cfg := mesh(t, deprecate("2027-01-31", ordersV2))
	f := newFixture(t, cfg, day0("2026-12-05T10:00:00Z"))

	got := f.check(t)
	if want := []string{"#analytics", "#fraud"}; !slices.Equal(channels(got), want) {
		t.Fatalf("first pass told %v, want %v (not the owner, the unsubscribed or the channel-less team)", channels(got), want)
	}
	texts := map[string]string{}
	for _, a := range got {
		if a.Kind != AnnounceDeprecation || a.Key == "" {
			t.Errorf("announcement kind %q key %q", a.Kind, a.Key)
		}
		texts[a.Channel] = a.Text
	}
	if want := "Deprecated: checkout.orders.placed (owner orders-team) stops on 2027-01-31, in 57 days. Move to checkout.orders.v2. Affected: group fraud-detector; product payments.fraud.scored."; texts["#fraud"] != want {
		t.Errorf("fraud-team was told\n%q, want\n%q", texts["#fraud"], want)
	}
	if want := "Deprecated: checkout.orders.placed (owner orders-team) stops on 2027-01-31, in 57 days. Move to checkout.orders.v2. Affected: group analytics-etl."; texts["#analytics"] != want {
		t.Errorf("analytics-team was told\n%q, want\n%q", texts["#analytics"], want)
	}

	steps := []struct {
		at      string
		restart bool
		want    []string // channels told
	}{
		{"2026-12-05T10:00:00Z", false, nil},                              // the same pass again
		{"2026-12-20T00:00:00Z", true, nil},                               // a restart: told already
		{"2027-01-23T23:59:59Z", false, nil},                              // just before the warning
		{"2027-01-24T00:00:00Z", false, []string{"#analytics", "#fraud"}}, // 7 days before: the reminder
		{"2027-01-24T00:00:00Z", false, nil},
		{"2027-01-25T08:00:00Z", true, nil},
		{"2027-01-31T12:00:00Z", false, nil}, // the sunset day
		{"2027-02-03T00:00:00Z", true, nil},  // after it
	}
	for i, s := range steps {
		f.now = day0(s.at)
		if s.restart {
			f.restart(t)
		}
		got := f.check(t)
		if !slices.Equal(channels(got), s.want) {
			t.Fatalf("step %d (%s): told %v, want %v", i, s.at, channels(got), s.want)
		}
		for _, a := range got {
			if !strings.HasPrefix(a.Text, "Reminder: checkout.orders.placed stops in 7 days, on 2027-01-31. Move to checkout.orders.v2. Affected: ") {
				t.Errorf("reminder %q", a.Text)
			}
		}
	}
	if d, s := f.notices(KindDeprecation), f.notices(KindSunset); d != 2 || s != 2 {
		t.Errorf("notices: deprecation %v, sunset %v; want 2 and 2", d, s)
	}
	// After the sunset day the records went: the state is bounded.
	raw, _, _ := f.store.Get(context.Background(), StateKey)
	if strings.Contains(string(raw), orders) {
		t.Errorf("state after the sunset still holds the product: %s", raw)
	}
}

func TestDeprecationRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*meshwatch.Config)
		at    string
		want  []string // channels told at the first pass
		text  string   // what fraud-team reads, when set
		again string   // a second pass at this time...
		then  []string // ...tells these
	}{
		{
			name: "first seen inside the warning: one notice",
			edit: deprecate("2027-01-31", ordersV2), at: "2027-01-28T09:00:00Z",
			want:  []string{"#analytics", "#fraud"},
			text:  "Deprecated: checkout.orders.placed (owner orders-team) stops in 3 days, on 2027-01-31. Move to checkout.orders.v2. Affected: group fraud-detector; product payments.fraud.scored.",
			again: "2027-01-30T09:00:00Z",
		},
		{
			name: "on the sunset day",
			edit: deprecate("2027-01-31", ""), at: "2027-01-31T23:00:00Z",
			want: []string{"#analytics", "#fraud"},
			text: "Deprecated: checkout.orders.placed (owner orders-team) stops today, on 2027-01-31. No replacement is named. Affected: group fraud-detector; product payments.fraud.scored.",
		},
		{
			name: "after the sunset day: nothing",
			edit: deprecate("2027-01-31", ordersV2), at: "2027-02-01T00:00:00Z",
		},
		{
			name: "notify_consumers false: nothing",
			edit: func(c *meshwatch.Config) {
				deprecate("2027-01-31", ordersV2)(c)
				no := false
				c.Products[0].NotifyConsumers = &no
			},
			at: "2026-12-05T10:00:00Z",
		},
		{
			name: "a longer warning",
			edit: deprecate("2027-01-31", ordersV2), at: "2027-01-10T00:00:00Z",
			want:  []string{"#analytics", "#fraud"},
			again: "2027-01-17T00:00:00Z", then: []string{"#analytics", "#fraud"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mesh(t, tc.edit)
			f := newFixture(t, cfg, day0(tc.at))
			if tc.name == "a longer warning" {
				f.n.warning = 14 * day
			}
			got := f.check(t)
			if !slices.Equal(channels(got), tc.want) {
				t.Fatalf("told %v, want %v", channels(got), tc.want)
			}
			for _, a := range got {
				if a.Channel == "#fraud" && tc.text != "" && a.Text != tc.text {
					t.Errorf("fraud-team was told\n%q, want\n%q", a.Text, tc.text)
				}
			}
			if tc.again != "" {
				f.now = day0(tc.again)
				if got := f.check(t); !slices.Equal(channels(got), tc.then) {
					t.Errorf("at %s: told %v, want %v", tc.again, channels(got), tc.then)
				}
			}
		})
	}
}

func TestDeprecationChangedAndLateTeam(t *testing.T) {
	cfg := mesh(t, deprecate("2027-01-31", ordersV2))
	f := newFixture(t, cfg, day0("2026-12-05T10:00:00Z"))
	if got := f.check(t); len(got) != 2 {
		t.Fatalf("first pass told %d, want 2", len(got))
	}

	// The sunset moves: a new deprecation, told anew.
	cfg.Products[0].Deprecated.Sunset = "2027-03-31"
	got := f.check(t)
	if !slices.Equal(channels(got), []string{"#analytics", "#fraud"}) || !strings.Contains(got[0].Text, "stops on 2027-03-31, in 116 days") {
		t.Fatalf("moved sunset: told %v %q", channels(got), got)
	}
	// So does another replacement.
	cfg.Products[0].Deprecated.Replacement = "checkout.orders.v3"
	got = f.check(t)
	if len(got) != 2 || !strings.Contains(got[0].Text, "Move to checkout.orders.v3.") {
		t.Fatalf("new replacement: told %v", got)
	}
	if got := f.check(t); len(got) != 0 {
		t.Fatalf("again: told %v", channels(got))
	}

	// A team that starts reading it later hears of it at its first pass,
	// alone.
	cfg.Owners["billing-team"] = meshwatch.Owner{SlackChannel: "#billing"}
	cfg.Products[0].Consumers = append(cfg.Products[0].Consumers, meshwatch.Consumer{Group: "billing-svc", Owner: "billing-team"})
	got = f.check(t)
	if !slices.Equal(channels(got), []string{"#billing"}) || !strings.Contains(got[0].Text, "Affected: group billing-svc.") {
		t.Fatalf("late team: told %v", got)
	}
	// Unsubscribing stops it from hearing more.
	cfg.Owners["billing-team"] = meshwatch.Owner{SlackChannel: "#billing", Subscribe: new(bool)}
	f.now = day0("2027-03-25T00:00:00Z")
	if got := f.check(t); !slices.Equal(channels(got), []string{"#analytics", "#fraud"}) {
		t.Fatalf("reminder after billing unsubscribed: told %v", channels(got))
	}
}

func TestAnnounceFailureRetried(t *testing.T) {
	cfg := mesh(t, deprecate("2027-01-31", ordersV2))
	f := newFixture(t, cfg, day0("2026-12-05T10:00:00Z"))
	down := errors.New("outbox full")
	f.ann.fail = func(ch string) error {
		if ch == "#fraud" {
			return down
		}
		return nil
	}
	err := f.n.Check(context.Background())
	if !errors.Is(err, down) {
		t.Fatalf("Check = %v, want the announce error", err)
	}
	if got := channels(f.ann.take()); !slices.Equal(got, []string{"#analytics"}) {
		t.Fatalf("told %v, want #analytics only", got)
	}
	if e := f.errs(StepAnnounce); e != 1 {
		t.Errorf("announce errors = %v, want 1", e)
	}
	// Still failing: logged once.
	if err := f.n.Check(context.Background()); !errors.Is(err, down) {
		t.Fatalf("second Check = %v", err)
	}
	if c := strings.Count(f.logs(), "announce to #fraud failed"); c != 1 {
		t.Errorf("the announce failure was logged %d times, want once:\n%s", c, f.logs())
	}
	f.ann.fail = nil
	if got := channels(f.check(t)); !slices.Equal(got, []string{"#fraud"}) {
		t.Fatalf("after the failure: told %v, want #fraud only", got)
	}
	if got := f.check(t); len(got) != 0 {
		t.Fatalf("then: told %v", channels(got))
	}
}

func TestNoAnnouncer(t *testing.T) {
	cfg := mesh(t, deprecate("2027-01-31", ordersV2))
	f := newFixture(t, cfg, day0("2026-12-05T10:00:00Z"))
	f.ann.fail = func(string) error { return ErrNowhere }
	for range 2 {
		f.check(t) // not an error
	}
	f.now = day0("2027-01-25T00:00:00Z")
	f.check(t)
	if c := strings.Count(f.logs(), "notices go nowhere"); c != 1 {
		t.Errorf("logged %d times that notices go nowhere, want once:\n%s", c, f.logs())
	}
	if n := f.notices(KindDeprecation) + f.notices(KindSunset); n != 0 {
		t.Errorf("counted %v notices announced, want 0", n)
	}
	// Recorded as sent: an announcer configured later is not flooded.
	f.ann.fail = nil
	if got := f.check(t); len(got) != 0 {
		t.Errorf("told %v after ErrNoAnnouncer, want nothing", channels(got))
	}
}

func TestState(t *testing.T) {
	ctx := context.Background()
	cfg := mesh(t, deprecate("2027-01-31", ordersV2))

	t.Run("unreadable: start empty", func(t *testing.T) {
		f := newFixture(t, cfg, day0("2026-12-05T10:00:00Z"))
		if err := f.store.Put(ctx, StateKey, []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		if got := f.check(t); len(got) != 2 {
			t.Fatalf("told %d, want 2", len(got))
		}
		if !strings.Contains(f.logs(), "level=ERROR") || f.errs(StepState) != 1 {
			t.Errorf("unreadable state not logged as an error or counted (%v):\n%s", f.errs(StepState), f.logs())
		}
		f.restart(t)
		if got := f.check(t); len(got) != 0 {
			t.Errorf("after a restart over the rewritten state: told %d", len(got))
		}
	})

	t.Run("store down", func(t *testing.T) {
		f := newFixture(t, cfg, day0("2026-12-05T10:00:00Z"))
		fs := &failingStore{Mem: f.store}
		f.n.store = fs
		fs.failGet.Store(true)
		if err := f.n.Check(ctx); err == nil {
			t.Fatal("Check without a readable store: no error")
		}
		if got := f.ann.take(); len(got) != 0 {
			t.Fatalf("told %d without knowing what was told before", len(got))
		}
		fs.failGet.Store(false)
		fs.failPut.Store(true)
		if err := f.n.Check(ctx); err == nil {
			t.Fatal("Check with a failing Put: no error")
		}
		if got := f.ann.take(); len(got) != 2 {
			t.Fatalf("told %d, want 2", len(got))
		}
		fs.failPut.Store(false)
		if got := f.check(t); len(got) != 0 {
			t.Fatalf("told again after a failed save: %d", len(got))
		}
		if e := f.errs(StepState); e != 2 {
			t.Errorf("state errors = %v, want 2", e)
		}
		f.restart(t)
		if got := f.check(t); len(got) != 0 {
			t.Fatalf("a restart after the save recovered: told %d", len(got))
		}
	})
}

type failingStore struct {
	*istate.Mem
	failGet, failPut atomic.Bool
}

func (s *failingStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if s.failGet.Load() {
		return nil, false, errors.New("store down")
	}
	return s.Mem.Get(ctx, key)
}

func (s *failingStore) Put(ctx context.Context, key string, value []byte) error {
	if s.failPut.Load() {
		return errors.New("store down")
	}
	return s.Mem.Put(ctx, key, value)
}
