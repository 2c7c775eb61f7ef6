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
	"golang.org/x/sync/errgroup"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/collector"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

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
// shutdownTimeout: sampling stops and the collector makes its final
// evaluation, then the HTTP server stops (so a last scrape can still read the
// final numbers while the collector winds down).
func (a *App) Run(ctx context.Context) error {
	colCtx, stopCol := context.WithCancel(context.Background())
	defer stopCol()
	g := new(errgroup.Group)
	colDone := make(chan struct{})
	g.Go(func() error {
		defer close(colDone)
		return a.col.Run(colCtx)
	})
	httpErr := make(chan error, 1)
	g.Go(func() error {
		err := a.srv.Serve(a.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		httpErr <- err
		return err
	})
	a.log.Info("meshwatch running", "addr", a.Addr(), "products", len(a.cfg.Products), "version", version)

	var runErr error
	select {
	case <-ctx.Done():
	case <-colDone:
	case runErr = <-httpErr:
	}
	a.log.Info("shutting down")
	deadline, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	stopCol()
	colStopped := true
	select {
	case <-colDone:
	case <-deadline.Done():
		// Bounded means bounded: the process exits without it rather than
		// hang a rollout; its final SLI counts are lost.
		colStopped = false
		a.log.Warn("collector did not stop within the shutdown timeout; exiting without it", "timeout", shutdownTimeout)
	}
	if err := a.srv.Shutdown(deadline); err != nil {
		a.log.Warn("http shutdown", "err", err)
		_ = a.srv.Close()
	}
	if colStopped {
		if err := g.Wait(); err != nil && runErr == nil {
			runErr = err
		}
	} else if runErr == nil {
		runErr = errors.New("collector did not stop within the shutdown timeout")
	}
	a.log.Info("stopped")
	return runErr
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
