package notice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch"
)

// StateKey is the Store key of what the Notifier told whom: one JSON value.
const StateKey = "notice/state"

// DefaultSunsetWarning is how long before a product's sunset its consumers
// are reminded, unless Options.SunsetWarning says otherwise.
const DefaultSunsetWarning = 7 * 24 * time.Hour

// Kinds of notice, the kind label of meshwatch_notices_total.
const (
	KindDeprecation    = "deprecation"     // a product is deprecated
	KindSunset         = "sunset"          // its sunset is within Options.SunsetWarning
	KindSchemaChange   = "schema_change"   // a new, compatible schema version
	KindSchemaBreaking = "schema_breaking" // a new schema version, incompatible or unchecked (NONE)
)

// Notice is one message for one team's channel. Command meshwatch
// delivers it as an announcement of package alert, through its outbox.
type Notice struct {
	// Kind is AnnounceDeprecation or AnnounceSchemaChange.
	Kind    string
	Channel string
	// Text is plain text: names, versions and dates, never schema text or
	// a record's value.
	Text string
	// Key identifies the notice: a retried one is not queued twice.
	Key string
}

// ErrNowhere is what Options.Announce returns when nothing delivers notices
// (no Slack, no console): they are recorded as sent, and the Notifier says
// so once in its log.
var ErrNowhere = errors.New("notice: no integration posts announcements")

// Announcement kinds (Notice.Kind) of the notices.
const (
	AnnounceDeprecation  = "deprecation"   // KindDeprecation and KindSunset
	AnnounceSchemaChange = "schema_change" // KindSchemaChange and KindSchemaBreaking
)

// Steps that fail, the step label of meshwatch_notice_errors_total.
const (
	StepRegistry = "registry" // a schema registry request
	StepAnnounce = "announce" // Options.Announce
	StepState    = "state"    // the Store: load or save
)

var (
	kinds = []string{KindDeprecation, KindSunset, KindSchemaChange, KindSchemaBreaking}
	steps = []string{StepRegistry, StepAnnounce, StepState}
)

const day = 24 * time.Hour

// Store keeps the Notifier's state; internal/state's stores satisfy it.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte) error
}

// Options configure a Notifier.
type Options struct {
	// Config is the validated configuration: its products, their owners,
	// deprecations, formats and topics. Required.
	Config *meshwatch.Config
	// Audiences returns the teams that hear of a product (meshwatch.Audiences
	// over the current graph). Required.
	Audiences func(product string) []meshwatch.Audience
	// Registry is the schema registry of the products' subjects; nil: no
	// schema-change notices.
	Registry *sr.Client
	// Store keeps what was told whom under StateKey. Required.
	Store Store
	// Announce posts a notice to a channel (command meshwatch: the alert
	// manager's Announce); ErrNowhere when nothing delivers it. Required.
	Announce func(ctx context.Context, a Notice) error
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default: discard.
	Logger *slog.Logger
	// Registerer registers the metrics; nil: not registered.
	Registerer prometheus.Registerer
	// SunsetWarning is how long before the sunset the second notice goes
	// out; default DefaultSunsetWarning (7 days).
	SunsetWarning time.Duration
}

// Notifier tells the teams that depend on a product of its deprecation and
// of its new schema versions, once each. Its methods are safe for
// concurrent use; passes run one at a time.
type Notifier struct {
	cfg       *meshwatch.Config
	audiences func(string) []meshwatch.Audience
	reg       *sr.Client
	store     Store
	announce  func(context.Context, Notice) error
	now       func() time.Time
	log       *slog.Logger
	warning   time.Duration

	notices *prometheus.CounterVec
	errors  *prometheus.CounterVec

	mu         sync.Mutex
	st         *state // nil until loaded
	dirty      bool
	failing    map[string]string // what fails (the state, a channel, a subject) → its last error, logged once
	nowhereLog bool              // ErrNoAnnouncer was logged
}

// New returns a Notifier. It reads nothing yet: the first Check loads the
// state.
func New(opts Options) (*Notifier, error) {
	switch {
	case opts.Config == nil:
		return nil, errors.New("notice: a Config is required")
	case opts.Audiences == nil:
		return nil, errors.New("notice: an Audiences function is required")
	case opts.Store == nil:
		return nil, errors.New("notice: a Store is required")
	case opts.Announce == nil:
		return nil, errors.New("notice: an Announce function is required")
	case opts.SunsetWarning < 0:
		return nil, errors.New("notice: SunsetWarning must not be negative")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SunsetWarning == 0 {
		opts.SunsetWarning = DefaultSunsetWarning
	}
	n := &Notifier{
		cfg: opts.Config, audiences: opts.Audiences, reg: opts.Registry,
		store: opts.Store, announce: opts.Announce, now: opts.Now,
		log:     opts.Logger.With("component", "notice"),
		warning: opts.SunsetWarning,
		failing: map[string]string{},
	}
	n.notices, n.errors = newMetrics(opts.Registerer)
	return n, nil
}

// newMetrics creates the metrics and registers them with reg (when not
// nil); a Notifier made again with the same reg shares the first one's.
func newMetrics(reg prometheus.Registerer) (notices, errs *prometheus.CounterVec) {
	notices = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshwatch_notices_total",
		Help: "Notices announced to consuming teams, by kind: deprecation, sunset, schema_change, schema_breaking.",
	}, []string{"kind"})
	errs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshwatch_notice_errors_total",
		Help: "Failures of the notices, by step: registry (a schema registry request), announce, state (the Store). Retried at the next pass.",
	}, []string{"step"})
	notices = register(reg, notices)
	errs = register(reg, errs)
	for _, k := range kinds {
		notices.WithLabelValues(k)
	}
	for _, s := range steps {
		errs.WithLabelValues(s)
	}
	return notices, errs
}

func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// state is what the Store keeps under StateKey.
type state struct {
	// Told lists the deprecation notices sent, one per product, sunset,
	// replacement, team and notice (KindDeprecation or KindSunset).
	Told []told `json:"told,omitempty"`
	// Subjects holds, per subject, the version its consumers know of and
	// the change being told.
	Subjects map[string]*subject `json:"subjects,omitempty"`

	index map[toldKey]bool
}

type toldKey struct {
	Product     string `json:"product"`
	Sunset      string `json:"sunset"`
	Replacement string `json:"replacement,omitempty"`
	Team        string `json:"team"`
	Notice      string `json:"notice"` // KindDeprecation or KindSunset
}

type told struct {
	toldKey
	At time.Time `json:"at"`
}

type subject struct {
	Product string `json:"product"`
	// Version is the version every consumer was told of, or the first seen
	// (the baseline).
	Version int `json:"version"`
	// Pending is the change of a newer version, until every team heard of
	// it.
	Pending *change `json:"pending,omitempty"`
}

// change is a new version of a subject, compared with the baseline.
type change struct {
	Version int `json:"version"`
	Was     int `json:"was"`
	// Level is the subject's compatibility level when compared.
	Level string `json:"level,omitempty"`
	// Verdict is verdictCompatible, verdictIncompatible, verdictNone or
	// verdictGone.
	Verdict string   `json:"verdict"`
	Told    []string `json:"told,omitempty"` // the teams told
}

const (
	verdictCompatible   = "compatible"
	verdictIncompatible = "incompatible"
	verdictNone         = "none" // compatibility NONE: nothing was checked
	verdictGone         = "gone" // the previous version is no longer in the registry
)

func (c *change) breaking() bool {
	return c.Verdict == verdictIncompatible || c.Verdict == verdictNone
}

// Check runs one pass: the deprecations, then, with a registry, the
// subjects of every avro and protobuf product. It saves what it told whom
// before it returns. A failure of one subject or one announcement does not
// stop the others: each is counted, logged once and joined in the returned
// error, and retried at the next pass. Without its state (the Store
// failed) it tells nothing.
func (n *Notifier) Check(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.load(ctx); err != nil {
		return err
	}
	now := n.now().UTC()
	errs := n.deprecations(ctx, now)
	if n.reg != nil {
		errs = append(errs, n.schemas(ctx)...)
	}
	n.prune(now)
	if err := n.save(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// load reads the state at the first pass, or after a Store failure.
func (n *Notifier) load(ctx context.Context) error {
	if n.st != nil {
		return nil
	}
	raw, ok, err := n.store.Get(ctx, StateKey)
	if err != nil {
		n.errors.WithLabelValues(StepState).Inc()
		err = fmt.Errorf("notice: load state: %w", err)
		n.failed("state", err)
		return err
	}
	st := &state{}
	if ok {
		if err := json.Unmarshal(raw, st); err != nil {
			n.errors.WithLabelValues(StepState).Inc()
			n.log.Error("the notice state is unreadable: starting empty, so notices already sent may be sent again", "key", StateKey, "err", err)
			st = &state{}
			n.dirty = true
		}
	}
	st.index = map[toldKey]bool{}
	for _, t := range st.Told {
		st.index[t.toldKey] = true
	}
	if st.Subjects == nil {
		st.Subjects = map[string]*subject{}
	}
	for name, s := range st.Subjects {
		if s == nil {
			delete(st.Subjects, name)
		}
	}
	n.st = st
	return nil
}

// save writes the state when it changed, even after ctx ended: what was
// told must not be told again.
func (n *Notifier) save(ctx context.Context) error {
	if !n.dirty {
		return nil
	}
	raw, err := json.Marshal(n.st)
	if err != nil {
		return fmt.Errorf("notice: encode state: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := n.store.Put(ctx, StateKey, raw); err != nil {
		n.errors.WithLabelValues(StepState).Inc()
		err = fmt.Errorf("notice: save state: %w", err)
		n.failed("state", err)
		return err
	}
	n.recovered("state")
	n.dirty = false
	return nil
}

// prune forgets the deprecation notices of a sunset day that has passed:
// nothing is sent about it any more.
func (n *Notifier) prune(now time.Time) {
	kept := n.st.Told[:0]
	for _, t := range n.st.Told {
		if d, ok := (&meshwatch.Deprecation{Sunset: t.Sunset}).SunsetDate(); ok && !now.Before(d.Add(day)) {
			delete(n.st.index, t.toldKey)
			n.dirty = true
			continue
		}
		kept = append(kept, t)
	}
	clear(n.st.Told[len(kept):])
	n.st.Told = kept
}

// deprecations tells each audience of each deprecated product, once when it
// is first seen and once when the sunset is within the warning.
func (n *Notifier) deprecations(ctx context.Context, now time.Time) []error {
	var errs []error
	today := now.Truncate(day)
	for i := range n.cfg.Products {
		p := &n.cfg.Products[i]
		d := p.Deprecated
		if d == nil {
			continue
		}
		sunset, ok := d.SunsetDate()
		if !ok || !now.Before(sunset.Add(day)) {
			continue // invalid (Validate says so), or the sunset day has passed
		}
		inWindow := !now.Before(sunset.Add(-n.warning))
		days := int(sunset.Sub(today) / day)
		for _, a := range n.audiences(p.Name) {
			if ctx.Err() != nil {
				return append(errs, ctx.Err())
			}
			first := toldKey{Product: p.Name, Sunset: d.Sunset, Replacement: d.Replacement, Team: a.Team, Notice: KindDeprecation}
			second := first
			second.Notice = KindSunset
			var (
				key  toldKey
				text string
			)
			switch {
			case inWindow && !n.st.index[second]:
				key, text = second, sunsetText(p, a, days, n.st.index[first])
			case !inWindow && !n.st.index[first]:
				key, text = first, deprecationText(p, a, days)
			default:
				continue
			}
			ann := Notice{
				Kind: AnnounceDeprecation, Channel: a.Channel, Text: text,
				Key: strings.Join([]string{"notice", key.Notice, key.Product, key.Sunset, key.Replacement, key.Team}, "/"),
			}
			ok, err := n.tell(ctx, ann, key.Notice, "product", p.Name, "team", a.Team, "notice", key.Notice)
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				n.st.Told = append(n.st.Told, told{toldKey: key, At: now})
				n.st.index[key] = true
				n.dirty = true
			}
		}
	}
	return errs
}

// tell announces a, a notice of kind, and reports whether it counts as
// told: announced, or nowhere to announce it. attrs name it in the log.
func (n *Notifier) tell(ctx context.Context, a Notice, kind string, attrs ...any) (bool, error) {
	err := n.announce(ctx, a)
	switch {
	case err == nil:
		n.notices.WithLabelValues(kind).Inc()
		n.log.Info("notice announced", append([]any{"kind", kind, "channel", a.Channel}, attrs...)...)
		n.recovered("announce to " + a.Channel)
		return true, nil
	case errors.Is(err, ErrNowhere):
		if !n.nowhereLog {
			n.nowhereLog = true
			n.log.Warn("notices go nowhere: no integration posts announcements (configure alerting.slack or alerting.console); they are recorded as sent", attrs...)
		}
		return true, nil
	default:
		n.errors.WithLabelValues(StepAnnounce).Inc()
		err = fmt.Errorf("notice: announce %s to %s: %w", kind, a.Channel, err)
		n.failed("announce to "+a.Channel, err)
		return false, err
	}
}

// failed logs err, unless what failed already with the same error.
func (n *Notifier) failed(what string, err error) {
	if n.failing[what] == err.Error() {
		return
	}
	n.failing[what] = err.Error()
	n.log.Warn("notices: "+what+" failed; retried at the next pass", "err", err)
}

// recovered logs that what works again, if it failed.
func (n *Notifier) recovered(what string) {
	if _, ok := n.failing[what]; ok {
		delete(n.failing, what)
		n.log.Info("notices: " + what + " works again")
	}
}

func deprecationText(p *meshwatch.Product, a meshwatch.Audience, days int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Deprecated: %s%s stops on %s, %s.", p.Name, ownedBy(p), p.Deprecated.Sunset, inDays(days))
	b.WriteString(moveTo(p))
	b.WriteString(affected(a))
	return b.String()
}

// sunsetText is the notice of a sunset within the warning: a reminder to a
// team told of the deprecation before, else the whole story.
func sunsetText(p *meshwatch.Product, a meshwatch.Audience, days int, reminder bool) string {
	var b strings.Builder
	if reminder {
		fmt.Fprintf(&b, "Reminder: %s stops %s, on %s.", p.Name, inDays(days), p.Deprecated.Sunset)
	} else {
		fmt.Fprintf(&b, "Deprecated: %s%s stops %s, on %s.", p.Name, ownedBy(p), inDays(days), p.Deprecated.Sunset)
	}
	b.WriteString(moveTo(p))
	b.WriteString(affected(a))
	return b.String()
}

func ownedBy(p *meshwatch.Product) string {
	if p.Owner == "" {
		return ""
	}
	return " (owner " + p.Owner + ")"
}

func inDays(days int) string {
	switch days {
	case 0:
		return "today"
	case 1:
		return "in 1 day"
	}
	return fmt.Sprintf("in %d days", days)
}

func moveTo(p *meshwatch.Product) string {
	if p.Deprecated.Replacement == "" {
		return " No replacement is named."
	}
	return " Move to " + p.Deprecated.Replacement + "."
}

func affected(a meshwatch.Audience) string {
	if s := a.Affected(); s != "" {
		return " Affected: " + s + "."
	}
	return ""
}

// subjectRef is a subject to watch and the product it belongs to.
type subjectRef struct{ product, subject string }

// subjects lists the value subjects (TopicNameStrategy) of the avro and
// protobuf products' named topics, in configuration order, each once.
func (n *Notifier) subjects() []subjectRef {
	var out []subjectRef
	seen := map[string]bool{}
	for i := range n.cfg.Products {
		p := &n.cfg.Products[i]
		if !p.UsesRegistry() {
			continue
		}
		for _, t := range p.Topics {
			if t.Name == "" || t.Pattern != "" {
				continue
			}
			s := meshwatch.ValueSubject(t.Name)
			if !seen[s] {
				seen[s] = true
				out = append(out, subjectRef{product: p.Name, subject: s})
			}
		}
	}
	return out
}

// schemas checks every subject for a new version and tells its product's
// audiences.
func (n *Notifier) schemas(ctx context.Context) []error {
	var errs []error
	refs := n.subjects()
	latest := n.latest(ctx, refs)
	for _, ref := range refs {
		if ctx.Err() != nil {
			return append(errs, ctx.Err())
		}
		if err := n.schema(ctx, ref, latest[ref.subject]); err != nil {
			errs = append(errs, err)
		}
	}
	// Forget the subjects no product names any more: named again, they
	// start from a new baseline.
	for name := range n.st.Subjects {
		if !slices.ContainsFunc(refs, func(r subjectRef) bool { return r.subject == name }) {
			delete(n.st.Subjects, name)
			n.dirty = true
		}
	}
	return errs
}

// latestRead is a subject's latest version as the registry answered.
type latestRead struct {
	schema sr.SubjectSchema
	err    error
}

// registryReaders bounds the registry requests in flight: a pass over
// 10,000 subjects takes a fraction of its interval, without flooding the
// registry.
const registryReaders = 8

// latest reads every subject's latest version, registryReaders at a time.
func (n *Notifier) latest(ctx context.Context, refs []subjectRef) map[string]latestRead {
	out := make(map[string]latestRead, len(refs))
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(registryReaders, len(refs)) {
		wg.Go(func() {
			for subject := range work {
				s, err := n.reg.SchemaByVersion(ctx, subject, -1)
				mu.Lock()
				out[subject] = latestRead{s, err}
				mu.Unlock()
			}
		})
	}
	for _, ref := range refs {
		if ctx.Err() != nil {
			break
		}
		work <- ref.subject
	}
	close(work)
	wg.Wait()
	return out
}

// schema handles one subject, given its latest version as read: a first
// version is the baseline, a later one is compared with it and told of,
// once per team.
func (n *Notifier) schema(ctx context.Context, ref subjectRef, read latestRead) error {
	latest, err := read.schema, read.err
	if ctx.Err() != nil && err == nil && latest.Version == 0 {
		return ctx.Err() // not read: the pass was cut short
	}
	if err != nil {
		if notFound(err) {
			n.recovered("registry " + ref.subject)
			return nil // the registry does not have the subject (yet)
		}
		return n.registryFailed(ref.subject, "latest version", err)
	}
	n.recovered("registry " + ref.subject)
	s := n.st.Subjects[ref.subject]
	switch {
	case s == nil:
		n.st.Subjects[ref.subject] = &subject{Product: ref.product, Version: latest.Version}
		n.dirty = true
		return nil
	case latest.Version < s.Version || (s.Pending != nil && latest.Version < s.Pending.Version):
		// Versions went back: deleted and registered anew. Start over.
		n.log.Info("schema versions went back: a new baseline", "subject", ref.subject, "version", latest.Version, "was", s.Version)
		*s = subject{Product: ref.product, Version: latest.Version}
		n.dirty = true
		return nil
	case latest.Version == s.Version:
		return nil
	}
	if s.Product != ref.product {
		s.Product = ref.product
		n.dirty = true
	}
	if s.Pending == nil || s.Pending.Version != latest.Version {
		c, err := n.compare(ctx, ref.subject, s.Version, latest)
		if err != nil {
			return err
		}
		s.Pending = c
		n.dirty = true
	}
	c := s.Pending
	kind := KindSchemaChange
	if c.breaking() {
		kind = KindSchemaBreaking
	}
	var errs []error
	for _, a := range n.audiences(ref.product) {
		if slices.Contains(c.Told, a.Team) {
			continue
		}
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		ann := Notice{
			Kind: AnnounceSchemaChange, Channel: a.Channel,
			Text: schemaText(ref, c, a),
			Key:  fmt.Sprintf("notice/schema/%s/%d/%s", ref.subject, c.Version, a.Team),
		}
		ok, err := n.tell(ctx, ann, kind, "product", ref.product, "subject", ref.subject, "version", c.Version, "team", a.Team)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			c.Told = append(c.Told, a.Team)
			n.dirty = true
		}
	}
	if len(errs) == 0 {
		// Every team heard of it: the new version is the baseline.
		s.Version, s.Pending = c.Version, nil
		n.dirty = true
	}
	return errors.Join(errs...)
}

// compare asks the registry whether latest breaks the consumers of version
// was: it does when the subject's compatibility is NONE or the check fails.
func (n *Notifier) compare(ctx context.Context, subject string, was int, latest sr.SubjectSchema) (*change, error) {
	c := &change{Version: latest.Version, Was: was}
	res := n.reg.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), subject)
	if len(res) == 1 && isCode(res[0].Err, 40408) {
		// A registry that ignores defaultToGlobal: the subject has no
		// level of its own, so the global one applies.
		res = n.reg.Compatibility(ctx, sr.GlobalSubject)
	}
	if len(res) != 1 {
		return nil, n.registryFailed(subject, "compatibility level", errors.New("no answer"))
	}
	if res[0].Err != nil {
		return nil, n.registryFailed(subject, "compatibility level", res[0].Err)
	}
	c.Level = res[0].Level.String()
	if res[0].Level == sr.CompatNone {
		c.Verdict = verdictNone
		return c, nil
	}
	check, err := n.reg.CheckCompatibility(ctx, subject, was, latest.Schema)
	switch {
	case isCode(err, 40402):
		c.Verdict = verdictGone
	case err != nil:
		return nil, n.registryFailed(subject, "compatibility check", err)
	case check.Is:
		c.Verdict = verdictCompatible
	default:
		c.Verdict = verdictIncompatible
	}
	return c, nil
}

// registryFailed counts and logs (once) a registry failure of a subject, and
// returns it as an error that holds no schema: only the request, the status
// and the registry's error code.
func (n *Notifier) registryFailed(subject, what string, err error) error {
	n.errors.WithLabelValues(StepRegistry).Inc()
	err = fmt.Errorf("notice: schema registry, subject %s, %s: %w", subject, what, cleanRegistryError(err))
	n.failed("registry "+subject, err)
	return err
}

// cleanRegistryError keeps the status and code of a registry response, and
// drops its message, which may quote a schema; of a transport error it
// drops the URL.
func cleanRegistryError(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		msg := fmt.Sprintf("HTTP %d", re.StatusCode)
		if re.ErrorCode != 0 {
			msg += fmt.Sprintf(", error code %d", re.ErrorCode)
			if e := re.SchemaError(); e != nil && e.Name != "" {
				msg += " (" + e.Name + ")"
			}
		}
		return errors.New(msg)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

func isCode(err error, code int) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.ErrorCode == code
}

func schemaText(ref subjectRef, c *change, a meshwatch.Audience) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Schema change: %s (subject %s) is at version %d, was %d.", ref.product, ref.subject, c.Version, c.Was)
	switch c.Verdict {
	case verdictNone:
		b.WriteString(" BREAKING (compatibility NONE: the registry checks nothing).")
	case verdictIncompatible:
		fmt.Fprintf(&b, " BREAKING: the registry finds it incompatible with version %d (%s).", c.Was, c.Level)
	case verdictGone:
		fmt.Fprintf(&b, " Version %d is no longer in the registry, so the two could not be compared.", c.Was)
	default:
		fmt.Fprintf(&b, " It is compatible with version %d (%s).", c.Was, c.Level)
	}
	b.WriteString(affected(a))
	return b.String()
}
