package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/collector"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/lag"
	"github.com/meshwatch/meshwatch/quality"
	"github.com/meshwatch/meshwatch/sla"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Shutdown stages, stopped in this order.
const (
	stageSources = iota // collector, lag, quality, cost: stop measuring, hand over
	stageEval           // SLO evaluation and the alert bridge: final pass, flush
	stageDeliver        // the alert manager: last delivery, outbox saved
	stagePush           // the final metrics push
)

// shutdownTimeout bounds an orderly shutdown, as Alertmanager's does.
const shutdownTimeout = 5 * time.Second

// App is the meshwatch agent: the collector, lag monitor, quality engine,
// SLO evaluator, alert manager and cost meter, wired on one Prometheus
// registry and one state store behind one HTTP server. Create it with
// NewApp, start it with Run (or release it with Close if it never runs);
// tests run it in-process.
type App struct {
	cfg    *meshwatch.Config
	set    *settings
	log    *slog.Logger
	reg    *prometheus.Registry
	kc     *kgo.Client // admin requests and direct reads: never a group member
	store  stateStore
	col    *collector.Collector
	lag    *lag.Monitor
	qual   *quality.Engine
	slo    *sla.Evaluator
	alerts *alert.Manager
	bridge *bridge
	meter  *cost.Meter
	srv    *http.Server
	ln     net.Listener

	stages    stages
	closeOnce sync.Once
}

// stateStore is what every stateful package needs of the state backend.
type stateStore interface {
	sla.Store
	alert.Store
	cost.Store
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
}

// NewApp builds the agent for a validated config and binds its HTTP listener,
// so that Addr is known before Run. It opens the state store: a directory,
// or the state topic, which it reads to its end.
func NewApp(set *settings, log *slog.Logger, o AppOptions) (_ *App, err error) {
	cfg := set.Config
	kopts, err := kafkaOpts(cfg.Cluster)
	if err != nil {
		return nil, err
	}
	kopts = append(kopts, o.KafkaOpts...)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)
	a := &App{cfg: cfg, set: set, log: log, reg: reg}
	a.stages.log = log
	defer func() {
		if err != nil {
			a.release()
		}
	}()
	if a.kc, err = kgo.NewClient(kopts...); err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	if a.store, err = openStore(cfg, a.kc, log); err != nil {
		return nil, err
	}

	a.slo, err = sla.New(cfg, sla.Options{Logger: log, Metrics: sla.NewMetrics(reg), Store: a.store})
	if err != nil {
		return nil, err
	}
	sink := fanout{a.slo}
	if o.Sink != nil {
		sink = append(sink, o.Sink)
	}
	a.qual, err = quality.New(cfg, quality.Options{Logger: log, Metrics: quality.NewMetrics(reg), Sink: sink, Kafka: a.kc})
	if err != nil {
		return nil, err
	}
	a.col, err = collector.New(cfg, kopts, collector.Options{
		Logger:  log,
		Metrics: collector.NewMetrics(reg),
		Sink:    sink,
		Records: a.qual,
	})
	if err != nil {
		return nil, err
	}
	a.lag = lag.New(cfg, a.kc, lag.Options{Logger: log, Metrics: lag.NewMetrics(reg, cfg.Lag.LagExporterMetrics()), Sink: sink})

	am := alert.NewMetrics(reg)
	a.alerts, err = alert.New(cfg, alert.Options{
		Logger: log, Metrics: am, Store: a.store, Now: o.Now,
		Notifiers: a.notifiers(o, am), Routing: set.Alerting.routing(),
	})
	if err != nil {
		return nil, err
	}
	if set.Cost != nil {
		a.meter, err = cost.New(cfg, *set.Cost, cost.Options{
			Logger: log, Metrics: cost.NewMetrics(reg), Store: a.store, Kafka: a.kc,
			Notify:     a.summary,
			CostCenter: func(p *meshwatch.Product) string { return p.Cost.CostCenter },
		})
		if err != nil {
			return nil, err
		}
	}
	a.bridge = newBridge(a, o.Now)

	a.stages.add(stageSources,
		component{"collector", a.col.Run},
		component{"lag", a.lag.Run},
		component{"quality", a.qual.Run},
	)
	if a.meter != nil {
		a.stages.add(stageSources, component{"cost", a.meter.Run})
	}
	a.stages.add(stageEval, component{"sla", a.slo.Run}, component{"alert-bridge", a.bridge.Run})
	a.stages.add(stageDeliver, component{"alert", a.alerts.Run})
	if cfg.Push != nil {
		a.stages.add(stagePush, component{"push", newPusher(*cfg.Push, reg, log).Run})
	}

	a.ln, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	a.srv = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	return a, nil
}

// openStore opens the configured state backend.
func openStore(cfg *meshwatch.Config, kc *kgo.Client, log *slog.Logger) (stateStore, error) {
	switch cfg.State.Backend {
	case meshwatch.StateKafka:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := state.NewKafka(ctx, kc, cfg.State.Topic, log)
		if err != nil {
			return nil, fmt.Errorf("state topic %s: %w", cfg.State.Topic, err)
		}
		return st, nil
	default:
		st, err := state.NewDir(cfg.State.Dir, log)
		if err != nil {
			return nil, fmt.Errorf("state.dir %s: %w", cfg.State.Dir, err)
		}
		return st, nil
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

// Collector returns the agent's collector.
func (a *App) Collector() *collector.Collector { return a.col }

// release frees what NewApp acquired; Run does it on return.
func (a *App) release() {
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
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.col.Ready() {
			http.Error(w, "not ready: product topics not resolved yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /api/v1/slos", a.slo.Handler())
	mux.Handle("GET /api/v1/products/{name}/quality", a.qual.Handler())
	mux.HandleFunc("GET /api/v1/products/{name}/lag", func(w http.ResponseWriter, r *http.Request) {
		pl, ok := a.lag.Snapshot(r.PathValue("name"))
		if !ok {
			http.Error(w, "no such product, or no lag pass yet", http.StatusNotFound)
			return
		}
		writeJSON(w, pl)
	})
	mux.Handle("GET /api/v1/alerts", a.alerts.AlertsHandler())
	mux.Handle("/api/v1/silences", a.alerts.SilencesHandler())
	mux.Handle("/api/v1/silences/", a.alerts.SilencesHandler())
	if a.meter != nil {
		mux.Handle("GET /api/v1/chargeback", a.meter.Handler())
	} else {
		mux.HandleFunc("GET /api/v1/chargeback", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "chargeback is off: add a cost: section with a rate card to the config", http.StatusNotFound)
		})
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><head><title>meshwatch</title></head><body><h1>meshwatch %s</h1>
<p>Watching %d data products.</p>
<ul>
<li><a href="/metrics">/metrics</a> Prometheus metrics</li>
<li><a href="/api/v1/slos">/api/v1/slos</a> every SLO: budget, burn rates, decision and why</li>
<li><a href="/api/v1/alerts">/api/v1/alerts</a> alerts, and <a href="/api/v1/silences">/api/v1/silences</a></li>
<li>/api/v1/products/{name}/lag and /api/v1/products/{name}/quality</li>
<li><a href="/api/v1/chargeback">/api/v1/chargeback</a> cost per product and team</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li>
</ul>
</body></html>`, version, len(a.cfg.Products))
	})
	return mux
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
		err := a.srv.Serve(a.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		httpErr <- err
	}()
	a.stages.start()
	a.log.Info("meshwatch running", "addr", a.Addr(), "products", len(a.cfg.Products), "version", version)

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
// App whose Run was never called. After Run it does nothing.
func (a *App) Close() error {
	a.closeOnce.Do(a.release)
	return nil
}
