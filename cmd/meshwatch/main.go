// Command meshwatch is the observability and SLA agent for streaming data
// products on Kafka. Run `meshwatch help` for its commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/meshwatch/meshwatch/config"
)

// defaultGCPercent is Go's garbage collector's GOGC unless the environment sets
// one: the heap may grow to 1.75 times what is live between collections,
// not twice (Prometheus, since 2.53, goes to 50). At 1,000 products it saves
// about 10 MiB of RSS for no CPU make scale could tell apart.
const defaultGCPercent = 75

// gcPercent returns the GOGC to set: defaultGCPercent, or -1 (leave Go's)
// when GOGC is set.
func gcPercent(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		return -1
	}
	return defaultGCPercent
}

func main() {
	if p := gcPercent(os.Getenv); p >= 0 {
		debug.SetGCPercent(p)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // invalid config, or the agent failed
	exitUsage  = 2
)

const usage = `meshwatch watches streaming data products on Kafka: latency, freshness,
availability, quality and consumer lag per product, error budgets with
burn-rate alerts to the owner in Slack, and what each product costs.

Usage:
  meshwatch <command> [flags]

Commands:
  run        run the agent (the daemon): meshwatch run -config config.yaml
  validate   check a config file (and its contracts) and print every problem
  check      sample products for a while and exit 1 if an SLO is not met (a CI gate)
  rules      write the SLOs as Prometheus recording and alerting rules
  lineage    draw who owns, reads and feeds each product (Graphviz, Mermaid or JSON)
  silence    add, list or remove alert silences of a running agent
  report     write a chargeback report (CSV, FOCUS 1.3 or JSON) from the ledger
  demo       run the agent against an embedded Kafka with synthetic data products
  version    print the version

Run 'meshwatch <command> -h' for a command's flags.
`

// run is main without the process: it parses args, runs a command and
// returns the exit code, so that tests can run every command in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, stdout, stderr)
	case "rules":
		return cmdRules(rest, stdout, stderr)
	case "lineage":
		return cmdLineage(ctx, rest, stdout, stderr)
	case "silence":
		return cmdSilence(ctx, rest, stdout, stderr)
	case "report":
		return cmdReport(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "meshwatch", buildVersion())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "meshwatch: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// newFlags returns a flag set whose -h prints a synopsis and the flags.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("meshwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; ok is false with the exit code when the command must
// stop (help asked for, or bad flags).
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return exitUsage, false
	}
	return 0, true
}

type logFlags struct{ level, format string }

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log.level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&l.format, "log.format", "text", "log format: text or json")
}

// parse parses the flags of fs, which l registered on, and builds the logger
// they ask for; ok is false with the exit code when the command must stop.
func (l *logFlags) parse(fs *flag.FlagSet, args []string, stderr io.Writer) (log *slog.Logger, code int, ok bool) {
	if code, ok := parse(fs, args); !ok {
		return nil, code, false
	}
	log, err := l.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return nil, exitUsage, false
	}
	return log, 0, true
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("-log.level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	default:
		return nil, fmt.Errorf("-log.format: want text or json, got %q", l.format)
	}
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", `meshwatch validate -config FILE

Loads FILE, expands ${ENV} references, reads *_file secrets and checks every
setting. Prints each problem as file:line:col: path: message, warnings
included, then "ok" when there is no error. Exits 1 on any error.

It needs no secret: an unset ${VAR} in a secret field, or a *_file secret
it cannot read, is a warning (meshwatch run makes it an error), so that a CI
pipeline can lint a configuration without the production secrets.

With a policies: section it also evaluates the policies that need no
cluster (naming, metadata, the pii policy's headers, custom policies that
read only the product) and prints their violations; one of severity error
fails it. meshwatch check -policies evaluates all of them against the
cluster.`, stderr)
	path := fs.String("config", "config.yaml", "config file to check")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, problems, err := config.LoadFileWith(*path, config.Options{Offline: true})
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if err != nil {
		if len(problems) == 0 {
			fmt.Fprintf(stdout, "%s: %v\n", *path, err)
		}
		fmt.Fprintf(stdout, "%s: invalid (%d errors)\n", *path, max(len(problems.Errors()), 1))
		return exitFailed
	}
	if cfg.Policies != nil && len(*cfg.Policies) > 0 {
		if code := validatePolicies(cfg, *path, stdout); code != exitOK {
			return code
		}
	}
	if w := len(problems.Warnings()); w > 0 {
		fmt.Fprintf(stdout, "ok (%d products, %d %s)\n", len(cfg.Products), w, plural(w, "warning", "warnings"))
	} else {
		fmt.Fprintf(stdout, "ok (%d products)\n", len(cfg.Products))
	}
	return exitOK
}

func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := newFlags("run", `meshwatch run -config FILE

Runs the agent: samples every product's topics from the tail, measures
latency, freshness, availability and throughput, and serves /metrics,
/healthz, /readyz and the API on http.listen (default :9477). SIGTERM or
SIGINT stops it in order within 5s.

-web.config.file (or web.config_file in the config) is the Prometheus
exporter-toolkit web configuration: TLS, client certificates, basic auth
with bcrypt hashes and response headers, read again for every request.
Writes to the API (silences) need a basic-auth user of that file or a bearer
token of http.api_token_file; without either they are refused.`, stderr)
	path := fs.String("config", "config.yaml", "config file")
	listen := fs.String("http.listen", "", "override http.listen of the config, e.g. 127.0.0.1:9477")
	webConfig := fs.String("web.config.file", "", webConfigUsage)
	pprofOn := fs.Bool("debug.pprof", false, "serve Go's CPU, heap and goroutine profiles under /debug/pprof/ (go tool pprof http://ADDR/debug/pprof/profile); off by default, they are open to whoever may read /metrics")
	var lf logFlags
	lf.register(fs)
	log, code, ok := lf.parse(fs, args, stderr)
	if !ok {
		return code
	}
	set := loadSettings(*path, stderr)
	if set == nil {
		return exitFailed
	}
	set.ForgetPositions() // checked: the agent never reports a place in the file again
	if *listen != "" {
		set.HTTP.Listen = *listen
	}
	if err := set.SetWebConfigFile(*webConfig); err != nil {
		fmt.Fprintf(stderr, "meshwatch run: -web.config.file: %v\n", err)
		return exitFailed
	}
	app, err := NewApp(set, log, AppOptions{Pprof: *pprofOn})
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitFailed
	}
	defer app.Close()
	if err := app.Run(ctx); err != nil {
		log.Error("agent failed", "err", err)
		return exitFailed
	}
	return exitOK
}

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
