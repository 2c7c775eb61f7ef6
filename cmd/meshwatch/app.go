package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/collector"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/expo"
	"github.com/meshwatch/meshwatch/internal/logonce"
	"github.com/meshwatch/meshwatch/internal/push"
	"github.com/meshwatch/meshwatch/internal/shard"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/internal/webauth"
	"github.com/meshwatch/meshwatch/lag"
	"github.com/meshwatch/meshwatch/lineage"
	"github.com/meshwatch/meshwatch/notice"
	"github.com/meshwatch/meshwatch/policy"
	"github.com/meshwatch/meshwatch/quality"
	"github.com/meshwatch/meshwatch/sla"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Shutdown stages, stopped in this order.
const (
	stageSources    = iota // collector, lag, quality, cost: stop measuring, hand over
	stageEval              // SLO evaluation: final pass, flush
	stageConditions        // the alert conditions' fan-in: the final evaluation's conditions
	stageDeliver           // the alert manager: last delivery, outbox saved
	stagePush              // the final metrics push
)

// shutdownTimeout bounds an orderly shutdown, as Alertmanager's does.
const shutdownTimeout = 5 * time.Second

// App is the meshwatch agent: the collector, lag monitor, quality engine,
// SLO evaluator, alert manager and cost meter, wired on one Prometheus
// registry and one state store behind one HTTP server. Create it with
// NewApp, start it with Run (or release it with Close if it never runs);
// tests run it in-process.
//
// The measuring parts form a core, built for the products the agent
// monitors. Without sharding that is every product, for the agent's whole
// life. With sharding the agent joins the agents' group and monitors the
// products of the coordination partitions it owns: each time they change it
// stops the core (which flushes budgets and incidents to the state topic),
// reads the state topic to its end, and builds a core for its new products,
// which continues their budgets and incidents from there.
type App struct {
	cfg   *meshwatch.Config
	set   *config.Config
	log   *slog.Logger
	opts  AppOptions
	kopts []kgo.Opt
	reg   *expo.Registry // the agent's own metrics: runtime, build, shards
	kc    *kgo.Client    // admin requests and direct reads: never a group member
	store stateStore
	// lineage is the mesh's graph, and audienceIndex who depends on each
	// product: rebuilt at most once a lag interval.
	lineage       func() lineage.Graph
	audienceIndex func() lineage.AudienceIndex
	inferredTeams func() map[string]string // group → team, when inferred
	srv           *http.Server
	guard         *webauth.Guard // in front of every handler: who may write
	ln            net.Listener

	member     *shard.Member // with sharding
	shardM     *shardMetrics // with sharding
	running    *running      // with sharding: the current core; under coreMu
	coreFailed chan error    // with sharding: the core cannot run
	coreExited chan string   // with sharding: a component of the core stopped on its own
	// standbyAlerts serves the silences while a sharded agent owns no
	// products.
	standbyAlerts *alert.Manager
	syncLogs      logonce.Limiter
	scrapeLogs    logonce.Limiter

	coreMu sync.Mutex // serialises core changes
	cur    atomic.Pointer[core]
	// stateErr is why the state store could not be written at its last
	// check (statecheck.go); it makes the agent not ready.
	stateErr atomic.Pointer[error]

	stages    stages
	closeOnce sync.Once
}

// core is what measures a set of products: built by newCore, started with
// start, stopped (and its state flushed) with stop.
type core struct {
	cfg    *meshwatch.Config // the products it monitors
	reg    *expo.Registry
	fence  *fencedStore
	col    *collector.Collector
	lag    *lag.Monitor
	qual   *quality.Engine
	slo    *sla.Evaluator
	alerts *alert.Manager
	fan    *fanIn
	meter  *cost.Meter
	notes  *notice.Notifier // the fleet-wide duties' core only
	rules  *policyRunner    // likewise, with policies:
	stages stages
}

// stateStore is what every stateful package needs of the state backend.
type stateStore interface {
	sla.Store
	alert.Store
	cost.Store
	PutMany(ctx context.Context, entries map[string][]byte) error
}

// AppOptions tune NewApp; the zero value is the production setting.
type AppOptions struct {
	// KafkaOpts are added after the options the config implies (tests).
	KafkaOpts []kgo.Opt
	// Sink also receives every SLI event (tests, meshwatch check).
	Sink collector.Sink
	// Notifiers are added to those the alerting section configures (tests).
	Notifiers []alert.Notifier
	// Stdout receives console notifications (alerting.console).
	Stdout io.Writer
	// Now is the clock of the alert manager (tests).
	Now func() time.Time
	// NoticeEvery replaces noticeEvery, how often consuming teams'
	// notices (deprecations, schema changes) are checked (tests).
	NoticeEvery time.Duration
	// PolicyEvery replaces collector.discovery as how often the policies
	// are evaluated against the cluster (tests).
	PolicyEvery time.Duration
	// HTTPReadTimeout replaces httpReadTimeout (tests of slow clients).
	HTTPReadTimeout time.Duration
	// Pprof serves Go's profiles under /debug/pprof/ (meshwatch run
	// -debug.pprof): off by default, for an SRE profiling a busy agent.
	Pprof bool
}

// NewApp builds the agent for a validated config and binds its HTTP listener,
// so that Addr is known before Run. It opens the state store: a directory,
// or the state topic, which it reads to its end. With sharding it joins the
// agents' group; the products come with the first assignment.
func NewApp(set *config.Config, log *slog.Logger, o AppOptions) (_ *App, err error) {
	cfg := set.Config
	if f := set.WebConfigFile(); f != "" {
		// Checked before anything starts: the toolkit would only fail
		// at the first connection.
		if err := webauth.ValidateWebConfig(f); err != nil {
			return nil, fmt.Errorf("web.config_file: %w", err)
		}
	}
	kopts, err := kafkaOpts(set.Kafka)
	if err != nil {
		return nil, err
	}
	kopts = append(kopts, o.KafkaOpts...)
	reg := expo.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)
	a := &App{cfg: cfg, set: set, log: log, reg: reg, opts: o, kopts: kopts}
	// The mesh as a graph, on the agent's own registry: the whole config,
	// with the groups the current core's lag monitor saw.
	// Rebuilt at most once a lag interval, not at every scrape.
	a.lineage = lineage.Cached(func() lineage.Graph { return lineage.Build(cfg, a.lineageObserved) }, set.Lag.Interval.Std(), time.Now)
	a.audienceIndex = lineage.Cached(func() lineage.AudienceIndex { return lineage.NewAudienceIndex(cfg, a.lineage()) }, set.Lag.Interval.Std(), time.Now)
	a.inferredTeams = lineage.Cached(func() map[string]string { return lineage.InferredTeams(a.lineage()) }, set.Lag.Interval.Std(), time.Now)
	reg.MustRegister(lineage.NewCollector(a.lineage))
	a.scrapeLogs.Interval = time.Minute
	a.stages.log = log
	defer func() {
		if err != nil {
			a.release()
		}
	}()
	if a.kc, err = kgo.NewClient(kopts...); err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	if a.store, err = openStore(set.State, a.kc, log); err != nil {
		return nil, err
	}
	if sc, ok := a.store.(stateChecker); ok {
		a.checkStateOnce(context.Background(), sc)
		a.stages.add(stageSources, component{"state-check", a.checkState})
	}

	if sh := set.Sharding; sh != nil {
		// Everything reshard uses is set before joining: the first
		// assignment may arrive before Join returns.
		a.shardM = newShardMetrics(reg)
		a.coreFailed = make(chan error, 1)
		a.coreExited = make(chan string, 64)
		a.syncLogs.Interval = time.Minute
		if a.standbyAlerts, err = a.standby(); err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		so := sh.Options()
		so.Logger, so.OnChange = log, a.reshard
		a.member, err = shard.Join(ctx, kopts, so)
		if err != nil {
			return nil, err
		}
		a.stages.add(stageSources, component{"shard", a.member.Run}, component{"shard-core", a.watchCore}, component{"state-sync", a.syncState})
	} else {
		c, err := a.newCore(cfg, a.store, true, nil)
		if err != nil {
			return nil, err
		}
		a.cur.Store(c)
		a.stages.add(stageSources, component{"core", c.run})
	}
	if set.Push != nil {
		a.stages.add(stagePush, component{"push", push.New(*set.Push, func(w io.Writer) error { return expo.WriteText(w, a.registries()) }, log).Run})
	}

	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "meshwatch_ready", Help: "1 when the agent is ready, as /readyz answers 200: its products' topics are resolved, it reads every one of them (none blind) and its state can be written; with sharding, joined (a standby agent is ready).",
	}, func() float64 {
		if ok, _ := a.readiness(); ok {
			return 1
		}
		return 0
	}))

	a.ln, err = net.Listen("tcp", set.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", set.HTTP.Listen, err)
	}
	a.guard = webauth.NewGuard(a.routes(), webauth.Options{
		WebConfigFile: set.WebConfigFile(), TokenFile: set.Path(set.HTTP.APITokenFile), Logger: log,
	})
	a.srv = newHTTPServer(a.guard)
	// The server's own errors (a TLS handshake refused: no client
	// certificate, plain HTTP on the TLS port) go to the agent's log.
	a.srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	if o.HTTPReadTimeout > 0 {
		a.srv.ReadTimeout = o.HTTPReadTimeout
	}
	return a, nil
}

// HTTP server timeouts. A scrape of a large agent or a long chargeback
// report may take a while to write; nothing may hold a connection forever:
// a slow body, a reader that does not read, an idle keep-alive.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 30 * time.Second
	httpWriteTimeout      = 2 * time.Minute
	httpIdleTimeout       = 2 * time.Minute
)

// newHTTPServer is the agent's HTTP server for h, with its timeouts.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// readiness says whether the agent is ready, and what it is waiting for or
// what is wrong, for /readyz and meshwatch_ready alike.
func (a *App) readiness() (bool, string) {
	if err := a.stateError(); err != nil {
		return false, "not ready: " + err.Error()
	}
	c := a.cur.Load()
	switch {
	case c == nil && a.member != nil && !a.member.Joined():
		return false, "not ready: joining the agents' group"
	case c == nil && a.member != nil:
		return true, "ready: standby, this agent owns no products right now"
	case c == nil:
		return false, "not ready: starting"
	case !c.col.Ready():
		return false, "not ready: product topics not resolved yet"
	}
	if blind := c.col.Blind(); len(blind) > 0 {
		names := slices.Sorted(maps.Keys(blind))
		more := ""
		if len(names) > 5 {
			names, more = names[:5], fmt.Sprintf(" and %d more", len(blind)-5)
		}
		for i, n := range names {
			names[i] = n + " (" + blind[n] + ")"
		}
		return false, fmt.Sprintf("not ready: blind on %d of %d products, whose records it cannot read: %s%s; see meshwatch_product_blind and the log",
			len(blind), len(c.cfg.Products), strings.Join(names, ", "), more)
	}
	return true, "ready"
}

// newCore builds the measuring parts for the products of cfg on store.
// withCost runs the cost meter, which meters the whole cluster (a.cfg's
// products), so exactly one core in the fleet may have it. shards, with
// sharding, are the coordination partitions cfg's products come from.
func (a *App) newCore(cfg *meshwatch.Config, store stateStore, withCost bool, shards []int32) (*core, error) {
	log, o := a.log, a.opts
	c := &core{cfg: cfg, reg: expo.NewRegistry(), fence: &fencedStore{stateStore: store}}
	c.stages.log = log
	// Every evaluation of a source wakes the fan-in of alert conditions.
	c.fan = newFanIn(o.Now)
	var err error
	c.slo, err = sla.New(cfg, sla.Options{
		Logger: log, Metrics: sla.NewMetrics(c.reg), Store: c.fence, OnEvaluated: c.fan.evaluated,
		Tick: a.set.Collector.Tick.Std(), Flush: a.set.State.Flush.Std(),
	})
	if err != nil {
		return nil, err
	}
	sink := fanout{c.slo}
	if o.Sink != nil {
		sink = append(sink, o.Sink)
	}
	c.qual, err = quality.New(cfg, quality.Options{
		Logger: log, Metrics: quality.NewMetrics(c.reg), Sink: sink, Kafka: a.kc,
		Tick: a.set.Collector.Tick.Std(), SchemaRegistry: a.set.SchemaRegistry,
	})
	if err != nil {
		return nil, err
	}
	c.col, err = collector.New(cfg, a.set.Collector, a.kopts, collector.Options{
		Logger:  log,
		Metrics: collector.NewMetricsWith(c.reg, a.set.Metrics.CollectorOptions()),
		Sink:    sink,
		Records: c.qual,
		// A tick's events are evaluated as soon as it has handed them
		// over, and the SLO pass does not run beside the tick.
		OnTick: func() { c.slo.Wake(); c.fan.evaluated() },
	})
	if err != nil {
		return nil, err
	}
	c.lag = lag.New(cfg, a.set.Lag, a.kc, lag.Options{Logger: log, Metrics: lag.NewMetrics(c.reg, a.set.LagOptions()), Sink: sink, OnPass: c.fan.evaluated})

	am := alert.NewMetrics(c.reg)
	ao := alert.Options{
		Logger: log, Metrics: am, Store: c.fence, Now: o.Now,
		Notifiers: a.notifiers(o, am), Routing: a.set.Alerting.Routing(),
		// Consuming teams hear of the incidents of what they read.
		Audiences: a.audiences,
	}
	if a.set.Sharding != nil {
		ao.Shard, ao.Shards = a.alertShards(shards, withCost)
	}
	// The alert manager knows every product, for routing: a cost alert
	// may name a product another agent monitors.
	c.alerts, err = alert.New(a.cfg, ao)
	if err != nil {
		return nil, err
	}
	if withCost && a.set.Cost != nil {
		c.meter, err = cost.New(a.cfg, *a.set.Cost, cost.Options{
			Logger: log, Metrics: cost.NewMetrics(c.reg), Store: c.fence, Kafka: a.kc,
			Notify:     func(s cost.Summary) { a.summary(c.alerts, s) },
			CostCenter: func(p *meshwatch.Product) string { return p.Cost.CostCenter },
		})
		if err != nil {
			return nil, err
		}
	}
	if withCost {
		// One agent of the fleet tells consuming teams of deprecations
		// and schema changes: the one with the fleet-wide duties.
		if c.notes, err = a.newNotices(c); err != nil {
			return nil, err
		}
		if c.rules, err = a.newPolicies(c); err != nil {
			return nil, err
		}
	}
	c.fan.sources, c.fan.sink = []conditionSource{c.col, c.slo, newLagToInferredTeams(c.lag, a.cfg, a.inferredTeams)}, c.alerts
	switch {
	case c.meter != nil:
		c.fan.sources = append(c.fan.sources, c.meter)
	case a.set.Cost != nil && a.set.Sharding != nil:
		// Another agent of the fleet runs the meter: its budget alerts
		// are not this core's to resolve.
		c.fan.sources = append(c.fan.sources, costElsewhere)
	}
	switch {
	case c.rules != nil:
		c.fan.sources = append(c.fan.sources, c.rules)
		c.reg.MustRegister(policy.NewCollector(c.rules.Violations))
	case a.set.Policies != nil:
		// Another agent evaluates the policies: their tickets are held.
		c.fan.sources = append(c.fan.sources, policyElsewhere)
	}
	c.stages.add(stageSources,
		component{"collector", c.col.Run},
		component{"lag", c.lag.Run},
		component{"quality", c.qual.Run},
	)
	if c.meter != nil {
		c.stages.add(stageSources, component{"cost", c.meter.Run})
	}
	if c.notes != nil {
		c.stages.add(stageSources, component{"notices", a.runNotices(c.notes)})
	}
	if c.rules != nil {
		c.stages.add(stageSources, component{"policies", c.rules.Run})
	}
	c.stages.add(stageEval, component{"sla", c.slo.Run})
	c.stages.add(stageConditions, component{"alert-conditions", c.fan.Run})
	c.stages.add(stageDeliver, component{"alert", c.alerts.Run})
	return c, nil
}

// run runs the core until ctx is done, then stops it in order (the final
// evaluation flushes the state).
func (c *core) run(ctx context.Context) error {
	c.stages.start()
	select {
	case <-ctx.Done():
	case name := <-c.stages.exited:
		c.stages.log.Error("component stopped on its own; shutting down", "component", name)
	}
	return c.stop()
}

// stop stops the core's stages within shutdownTimeout.
func (c *core) stop() error { return c.stopWithin(shutdownTimeout) }

// stopWithin stops the core's stages within d.
func (c *core) stopWithin(d time.Duration) error {
	deadline, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.stages.stop(deadline)
}

// openStore opens the configured state backend.
func openStore(st state.Config, kc *kgo.Client, log *slog.Logger) (stateStore, error) {
	switch st.Backend {
	case state.BackendKafka:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := state.NewKafka(ctx, kc, st.Topic, log)
		if err != nil {
			return nil, fmt.Errorf("state topic %s: %w", st.Topic, err)
		}
		return s, nil
	default:
		s, err := state.NewDir(st.Dir, log)
		if err != nil {
			return nil, fmt.Errorf("state.dir %s: %w", st.Dir, err)
		}
		return s, nil
	}
}

// fanout hands SLI events to several sinks.
type fanout []collector.Sink

func (f fanout) ObserveSLI(ev []meshwatch.SLIEvents) {
	for _, s := range f {
		s.ObserveSLI(ev)
	}
}

func buildInfo() prometheus.Collector {
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshwatch_build_info", Help: "Build of the running agent (always 1).",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(version, revision, runtime.Version()).Set(1)
	return g
}

// Addr is the address the HTTP server listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// URL is the base URL of the HTTP server: https when the web configuration
// enables TLS.
func (a *App) URL() string { return agentURL(a.Addr(), a.set.WebConfigFile()) }

// agentURL is the base URL of an agent listening on addr with the web
// configuration file webConfig: an unspecified host (":9477",
// "0.0.0.0:9477") is reached on the loopback address.
func agentURL(addr, webConfig string) string {
	scheme := "http"
	if webConfig != "" {
		if wc, err := webauth.ReadWebConfig(webConfig); err == nil && wc.HasTLS() {
			scheme = "https"
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Collector returns the collector of the agent's current core, nil while a
// sharded agent owns no products.
func (a *App) Collector() *collector.Collector {
	if c := a.cur.Load(); c != nil {
		return c.col
	}
	return nil
}

// registries are the agent's own registry and its current core's: a core
// that stopped takes its series with it, so no two agents ever export the
// same product.
func (a *App) registries() []*expo.Registry {
	if c := a.cur.Load(); c != nil {
		return []*expo.Registry{a.reg, c.reg}
	}
	return []*expo.Registry{a.reg}
}

// release frees what NewApp acquired; Run does it on return.
func (a *App) release() {
	if a.member != nil {
		a.member.Close() // leaves the group: the core stops and flushes first
	}
	if a.ln != nil {
		_ = a.ln.Close()
	}
	if c, ok := a.store.(interface{ Close() error }); ok {
		_ = c.Close()
	}
	if a.kc != nil {
		a.kc.Close()
	}
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	// A collector that fails (a duplicate series, an inconsistent label
	// set) costs its own series, never the whole scrape: the rest is
	// served, the error logged (once a minute) and counted in
	// promhttp_metric_handler_errors_total{cause="gathering"}. The
	// per-product series are streamed (internal/expo).
	scrapeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_errors_total",
		Help: "Errors of /metrics scrapes: gathering (a collector failed; the rest was served) or encoding (the response could not be written, e.g. the scraper went away).",
	}, []string{"cause"})
	a.reg.MustRegister(scrapeErrors)
	mux.Handle("GET /metrics", gzipScrape(expo.Handler(a.registries, expo.HandlerOpts{
		OnGatherError: func(err error) {
			scrapeErrors.WithLabelValues("gathering").Inc()
			if a.scrapeLogs.Allow("scrape") {
				a.log.Warn("a scrape of /metrics could not gather every series; served the rest (counted in promhttp_metric_handler_errors_total, logged at most once a minute)", "err", err)
			}
		},
		OnWriteError: func(error) { scrapeErrors.WithLabelValues("encoding").Inc() },
	})))
	scrapeErrors.WithLabelValues("gathering")
	scrapeErrors.WithLabelValues("encoding")
	if a.opts.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, msg := a.readiness()
		if !ok {
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, msg)
	})
	mux.Handle("GET /api/v1/slos", a.onCore(func(c *core) http.Handler { return c.slo.Handler() }))
	mux.Handle("GET /api/v1/products/{name}/quality", a.onCore(func(c *core) http.Handler { return c.qual.Handler() }))
	// Not behind onCore: a standby agent still serves the declared graph.
	mux.Handle("GET /api/v1/lineage", lineage.Handler(a.cfg, a.lineageObserved))
	mux.Handle("GET /api/v1/products/{name}/lag", a.onCore(func(c *core) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pl, ok := c.lag.Snapshot(r.PathValue("name"))
			if !ok {
				writeAPIError(w, http.StatusNotFound, "no such product here, or no lag pass yet")
				return
			}
			writeJSON(w, pl)
		})
	}))
	mux.Handle("GET /api/v1/alerts", a.onCore(func(c *core) http.Handler { return c.alerts.AlertsHandler() }))
	mux.Handle("GET /api/v1/incidents", a.onCore(func(c *core) http.Handler { return c.alerts.IncidentsHandler() }))
	mux.Handle("GET /api/v1/policies", a.onCore(func(c *core) http.Handler {
		if c.rules == nil {
			return noPolicies(a.set.Policies != nil)
		}
		return c.rules.Handler()
	}))
	silences := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := a.cur.Load(); c != nil {
			c.alerts.SilencesHandler().ServeHTTP(w, r)
		} else if a.standbyAlerts != nil {
			a.standbyAlerts.SilencesHandler().ServeHTTP(w, r)
		} else {
			writeAPIError(w, http.StatusServiceUnavailable, "not ready: starting")
		}
	})
	mux.Handle("/api/v1/silences", silences)
	mux.Handle("/api/v1/silences/", silences)
	mux.Handle("GET /api/v1/chargeback", a.onCore(func(c *core) http.Handler {
		if c.meter != nil {
			return c.meter.Handler()
		}
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if a.set.Cost == nil {
				writeAPIError(w, http.StatusNotFound, "chargeback is off: add a cost: section with a rate card to the config")
				return
			}
			writeAPIError(w, http.StatusNotFound, "chargeback is served by the agent that owns coordination partition 0 (sharding); ask that one")
		})
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		n := 0
		if c := a.cur.Load(); c != nil {
			n = len(c.cfg.Products)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><head><title>meshwatch</title></head><body><h1>meshwatch %s</h1>
<p>Watching %d of %d data products.</p>
<ul>
<li><a href="/metrics">/metrics</a> Prometheus metrics</li>
<li><a href="/api/v1/slos">/api/v1/slos</a> every SLO: budget, burn rates, decision and why</li>
<li><a href="/api/v1/policies">/api/v1/policies</a> governance policy violations (?product=P&amp;severity=error)</li>
<li><a href="/api/v1/alerts">/api/v1/alerts</a> alerts, <a href="/api/v1/incidents">/api/v1/incidents</a> open incidents (upstream cause, teams told), and <a href="/api/v1/silences">/api/v1/silences</a></li>
<li>/api/v1/products/{name}/lag and /api/v1/products/{name}/quality</li>
<li><a href="/api/v1/chargeback">/api/v1/chargeback</a> cost per product and team</li>
<li><a href="/api/v1/lineage">/api/v1/lineage</a> who owns, reads and feeds each product (?product=P&amp;depth=N)</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li>
</ul>
</body></html>`, buildVersion(), n, len(a.cfg.Products))
	})
	return mux
}

// onCore serves a request with the current core's handler, or says that
// this agent monitors nothing right now.
func (a *App) onCore(h func(c *core) http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := a.cur.Load()
		if c == nil {
			writeAPIError(w, http.StatusServiceUnavailable, "this agent owns no products right now (sharding: another agent monitors them); ask another agent")
			return
		}
		h(c).ServeHTTP(w, r)
	})
}

// Run runs the agent until ctx is done, then shuts down in order within
// shutdownTimeout: the sources stop first (sampling, lag, quality) and hand
// over what they measured, then the evaluation makes its final pass and
// flushes state and the alert outbox, and the HTTP server stops last (so a
// last scrape can still read the final numbers while the rest winds down).
func (a *App) Run(ctx context.Context) error {
	httpErr := make(chan error, 1)
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		// The exporter-toolkit serves TLS, client certificates, basic
		// auth and headers from the web configuration file, which it
		// reads again for every connection and request.
		wcf := a.set.WebConfigFile()
		err := web.Serve(a.ln, a.srv, &web.FlagConfig{WebConfigFile: &wcf}, a.log)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		httpErr <- err
	}()
	a.stages.start()
	a.log.Info("meshwatch running", "addr", a.Addr(), "url", a.URL(), "products", len(a.cfg.Products), "version", buildVersion())
	if !a.guard.WritesEnabled() {
		a.log.Info("the API is read-only: silences cannot be added or removed until http.api_token_file or basic_auth_users in the web configuration file says who may")
	}

	var runErr error
	select {
	case <-ctx.Done():
	case name := <-a.stages.exited:
		a.log.Error("component stopped on its own; shutting down", "component", name)
	case runErr = <-httpErr:
	}
	a.log.Info("shutting down")
	deadline, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	stopErr := a.stages.stop(deadline)
	if err := a.srv.Shutdown(deadline); err != nil {
		a.log.Warn("http shutdown", "err", err)
		_ = a.srv.Close()
	}
	<-httpDone
	a.closeOnce.Do(a.release)
	a.log.Info("stopped")
	return errors.Join(runErr, stopErr)
}

// Close releases the listener, the Kafka client and the state store of an
// App whose Run was never called. After Run it does nothing. Releasing
// cannot fail in a way anyone could act on: it returns nothing.
func (a *App) Close() {
	a.closeOnce.Do(a.release)
}
