package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/collector"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Shutdown stages, stopped in this order.
const (
	stageSources = iota // collector, lag, quality: stop measuring, hand over
	stageEval           // SLO evaluation and alerting: final pass, flush
)

// shutdownTimeout bounds an orderly shutdown, as Alertmanager's does.
const shutdownTimeout = 5 * time.Second

// App is the meshwatch agent: the collector and the HTTP server, wired on
// one Prometheus registry. Create it with NewApp, start it with Run (or
// release it with Close if it never runs); tests run it in-process.
type App struct {
	cfg *meshwatch.Config
	log *slog.Logger
	reg *prometheus.Registry
	col *collector.Collector
	srv *http.Server
	ln  net.Listener

	stages stages
}

// AppOptions tune NewApp; the zero value is the production setting.
type AppOptions struct {
	// KafkaOpts are added after the options the config implies (tests).
	KafkaOpts []kgo.Opt
	// Sink receives the collector's SLI events (tests; later the SLO engine).
	Sink collector.Sink
}

// NewApp builds the agent for a validated config and binds its HTTP listener,
// so that Addr is known before Run.
func NewApp(cfg *meshwatch.Config, log *slog.Logger, o AppOptions) (*App, error) {
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
	col, err := collector.New(cfg, kopts, collector.Options{
		Logger:  log,
		Metrics: collector.NewMetrics(reg),
		Sink:    o.Sink,
	})
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, reg: reg, col: col}
	a.stages.log = log
	a.stages.add(stageSources, component{"collector", col.Run})
	a.ln, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	a.srv = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	return a, nil
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
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><head><title>meshwatch</title></head><body><h1>meshwatch %s</h1>
<p>Watching %d data products.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li><li><a href="/readyz">/readyz</a></li></ul>
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
	a.log.Info("stopped")
	return errors.Join(runErr, stopErr)
}

// Close releases the HTTP listener of an App whose Run was never called.
// After Run it does nothing.
func (a *App) Close() error {
	err := a.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
