package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/sla"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", `meshwatch check -config FILE [-product NAME] [-for 60s]

Samples the products (all, or one) for the given time, exactly as the agent
does, then prints every SLO as a table — product, SLO, SLI, value, objective,
good/valid, met — and exits 1 when any is not met: a CI gate for data
contracts, and a quick "is my product healthy now". An SLO without events in
the period (a silent product) is not met. Nothing is written to the state
directory, no alert is sent, and the consumer groups are only read.`, stderr)
	path := fs.String("config", "config.yaml", "config file")
	product := fs.String("product", "", "check only this product")
	dur := fs.Duration("for", time.Minute, "how long to sample; at least two collector ticks")
	var lf logFlags
	lf.register(fs)
	fs.Lookup("log.level").DefValue, lf.level = "warn", "warn"
	log, code, ok := lf.parse(fs, args, stderr)
	if !ok {
		return code
	}
	set := loadSettings(*path, stderr)
	if set == nil {
		return exitFailed
	}
	if *product != "" {
		i := slices.IndexFunc(set.Products, func(p meshwatch.Product) bool { return p.Name == *product })
		if i < 0 {
			names := make([]string, len(set.Products))
			for j, p := range set.Products {
				names[j] = p.Name
			}
			fmt.Fprintf(stderr, "meshwatch check: no product %q in %s; products: %s\n", *product, *path, strings.Join(names, ", "))
			return exitUsage
		}
		set.Products = set.Products[i : i+1]
	}
	if tick := set.Collector.Tick.Std(); *dur < 2*tick {
		fmt.Fprintf(stderr, "meshwatch check: -for %s is shorter than two collector ticks (%s): freshness and availability would have no events\n", *dur, 2*tick)
		return exitUsage
	}
	// A check is a bystander: its own scratch state, no alerts, no cost, no
	// push, never a member of the agents' group (it would take products
	// from them), and an HTTP port nobody needs to know.
	scratch, err := os.MkdirTemp("", "meshwatch-check-")
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch check: %v\n", err)
		return exitFailed
	}
	defer func() { _ = os.RemoveAll(scratch) }() // a scratch directory under the system temp
	set.State = state.Config{Backend: state.BackendDir, Dir: scratch, Flush: set.State.Flush}
	set.Alerting, set.Cost, set.Push, set.Sharding = nil, nil, nil, nil
	set.HTTP.Listen = "127.0.0.1:0"

	tally := &sla.Tally{}
	app, err := NewApp(set, log, AppOptions{Sink: tally})
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch check: %v\n", err)
		return exitFailed
	}
	defer app.Close()
	runCtx, stop := context.WithTimeout(ctx, *dur)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	fmt.Fprintf(stderr, "checking %d product(s) for %s …\n", len(set.Products), *dur)
	start := time.Now()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	var runErr error
wait:
	for {
		select {
		case runErr = <-done:
			break wait
		case <-progress.C:
			fmt.Fprintf(stderr, "  %s of %s\n", time.Since(start).Round(time.Second), *dur)
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "meshwatch check: interrupted")
		return exitFailed
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "meshwatch check: the agent failed: %v\n", runErr)
		return exitFailed
	}
	var results []sla.CheckResult
	for _, p := range set.Products {
		results = append(results, tally.Results(set.Config, p.Name)...)
	}
	if err := sla.WriteTable(stdout, results); err != nil {
		fmt.Fprintf(stderr, "meshwatch check: %v\n", err)
		return exitFailed
	}
	if !sla.AllMet(results) {
		return exitFailed
	}
	return exitOK
}

func cmdRules(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("rules", `meshwatch rules -config FILE [-out rules.yaml]

Writes every SLO of the config as Prometheus recording rules (error ratios
per burn window) and multiwindow, multi-burn-rate alerting rules (page and
ticket, factors derived from each SLO's window), built on the counters the
agent exports (meshwatch_slo_good_total, meshwatch_slo_valid_total). Load
them into Prometheus for teams that evaluate there; promtool check rules
accepts them.`, stderr)
	path := fs.String("config", "config.yaml", "config file")
	out := fs.String("out", "-", "file to write; - for standard output")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	set := loadSettings(*path, stderr)
	if set == nil {
		return exitFailed
	}
	b, err := sla.Rules(set.Config)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch rules: %v\n", err)
		return exitFailed
	}
	if *out == "-" {
		_, err = stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
		if err == nil {
			fmt.Fprintf(stderr, "wrote the rules of %d products to %s; check them with: promtool check rules %s\n", len(set.Products), *out, *out)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch rules: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func cmdSilence(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = `meshwatch silence add|ls|rm [flags]

Mutes alerts of a running agent by label matchers, until the silence expires:

  meshwatch silence add -config config.yaml -match product=checkout.orders.placed -match slo=latency -for 2h -comment "load test"
  meshwatch silence ls -config config.yaml
  meshwatch silence rm -config config.yaml ID

Matchers are name=value, name!=value, name=~regex or name!~regex over the
alert labels (alertname, product, slo, sli, group, rule, severity). A set
that matches every alert (alertname=~".+", product!="") is refused: name
what to mute. Each silence lasts at most 90 days, and is posted into the
threads of the incidents it mutes.

Where the agent is: -url, or -config (its http.listen, https when its web
configuration has TLS), else http://127.0.0.1:9477.

Adding and removing need credentials (listing does not, unless the web
configuration asks every request for them):
  MESHWATCH_API_TOKEN   a bearer token of the agent's http.api_token_file;
                        with -config and no MESHWATCH_API_TOKEN, the first
                        token of that file is used
  -user NAME            a basic_auth_users user of the web configuration,
                        with the password in MESHWATCH_API_PASSWORD`
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, synopsis)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return exitOK
		}
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("silence "+sub, synopsis, stderr)
	var cf clientFlags
	cf.register(fs)
	var matchers multiFlag
	var dur time.Duration
	var comment, by string
	if sub == "add" {
		fs.Var(&matchers, "match", "a label matcher (repeatable), e.g. product=checkout.orders.placed")
		fs.DurationVar(&dur, "for", 2*time.Hour, "how long the silence lasts (at most 90 days: 2160h)")
		fs.StringVar(&comment, "comment", "", "why (required; shown with the silence and in the incident's thread)")
		who := "unknown"
		if u, err := user.Current(); err == nil {
			who = u.Username
		}
		fs.StringVar(&by, "by", who, "who silences")
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	c, err := cf.client()
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch silence %s: %v\n", sub, err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	switch sub {
	case "add":
		if len(matchers) == 0 {
			fmt.Fprintln(stderr, "meshwatch silence add: at least one -match is required, e.g. -match product=checkout.orders.placed")
			return exitUsage
		}
		if strings.TrimSpace(comment) == "" {
			fmt.Fprintln(stderr, "meshwatch silence add: -comment is required: say why, e.g. -comment \"load test until 16:00\"")
			return exitUsage
		}
		req := alert.SilenceRequest{Duration: dur.String(), CreatedBy: by, Comment: comment}
		for _, m := range matchers {
			pm, err := alert.ParseMatcher(m)
			if err != nil {
				fmt.Fprintf(stderr, "meshwatch silence add: -match %q: %v\n", m, err)
				return exitUsage
			}
			req.Matchers = append(req.Matchers, pm)
		}
		s, err := c.Add(ctx, req)
		if err != nil {
			fmt.Fprintf(stderr, "meshwatch silence add: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s (until %s)\n", s.ID, s.EndsAt.Local().Format(time.DateTime))
	case "ls":
		ss, err := c.List(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "meshwatch silence ls: %v\n", err)
			return exitFailed
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tMATCHERS\tENDS\tBY\tCOMMENT")
		for _, s := range ss {
			var ms []string
			for _, m := range s.Matchers {
				ms = append(ms, m.String())
			}
			who := s.CreatedBy
			if s.AuthenticatedAs != "" {
				who += " (" + s.AuthenticatedAs + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, strings.Join(ms, ","), s.EndsAt.Local().Format(time.DateTime), who, s.Comment)
		}
		_ = tw.Flush()
	case "rm":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "meshwatch silence rm: give one silence ID (meshwatch silence ls lists them)")
			return exitUsage
		}
		if err := c.Remove(ctx, fs.Arg(0)); err != nil {
			fmt.Fprintf(stderr, "meshwatch silence rm: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "removed %s\n", fs.Arg(0))
	default:
		fmt.Fprintf(stderr, "meshwatch silence: unknown subcommand %q\n\n%s\n", sub, synopsis)
		return exitUsage
	}
	return exitOK
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = `meshwatch report chargeback -config FILE [-from 2026-11-01] [-to 2026-12-01] [-format csv|focus|json] [-out FILE]

Writes the chargeback rows of [from, to) from the cost ledger in the
config's state store (the agent need not run): cost per product, consuming
team and component, with __shared__, __idle__ and __unallocated__ rows, so
that the rows sum to the total. -format focus writes FOCUS 1.3 CSV. The
current, still-open hour is included as an estimate (x_IsEstimate).`
	if len(args) == 0 || args[0] != "chargeback" {
		fmt.Fprintln(stderr, synopsis)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return exitOK
		}
		return exitUsage
	}
	fs := newFlags("report chargeback", synopsis, stderr)
	path := fs.String("config", "config.yaml", "config file (its state: section says where the ledger is)")
	fromS := fs.String("from", "", "start, a date (2026-11-01) or RFC 3339 time; default the start of this month (UTC)")
	toS := fs.String("to", "", "end (exclusive); default now")
	format := fs.String("format", "csv", "csv, focus or json")
	out := fs.String("out", "-", "file to write; - for standard output")
	if code, ok := parse(fs, args[1:]); !ok {
		return code
	}
	now := time.Now().UTC()
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	to := now
	for _, f := range []struct {
		flag, v string
		dst     *time.Time
	}{{"-from", *fromS, &from}, {"-to", *toS, &to}} {
		if f.v == "" {
			continue
		}
		t, err := parseWhen(f.v)
		if err != nil {
			fmt.Fprintf(stderr, "meshwatch report: %s: %v\n", f.flag, err)
			return exitUsage
		}
		*f.dst = t
	}
	if !to.After(from) {
		fmt.Fprintf(stderr, "meshwatch report: -to (%s) must be after -from (%s)\n", to.Format(time.RFC3339), from.Format(time.RFC3339))
		return exitUsage
	}
	set := loadSettings(*path, stderr)
	if set == nil {
		return exitFailed
	}
	var kc *kgo.Client
	if set.State.Backend == state.BackendKafka {
		kopts, err := kafkaOpts(set.Kafka)
		if err == nil {
			kc, err = kgo.NewClient(kopts...)
		}
		if err != nil {
			fmt.Fprintf(stderr, "meshwatch report: %v\n", err)
			return exitFailed
		}
		defer kc.Close()
	}
	store, err := openReadStore(ctx, set.State, kc)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch report: %v\n", err)
		return exitFailed
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "meshwatch report: %v\n", err)
			return exitFailed
		}
		// Closed explicitly below: a failed close of a written report
		// (a full disk) is a report that was not written.
		defer func() { _ = f.Close() }()
		w = f
	}
	if err := cost.Report(ctx, store, from, to, *format, w); err != nil {
		fmt.Fprintf(stderr, "meshwatch report: %v\n", err)
		if errors.Is(err, cost.ErrFormat) || errors.Is(err, cost.ErrRange) {
			return exitUsage
		}
		return exitFailed
	}
	if f, ok := w.(*os.File); ok && f != stdout {
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "meshwatch report: writing %s: %v\n", *out, err)
			return exitFailed
		}
	}
	if *out != "-" {
		fmt.Fprintf(stderr, "wrote the chargeback of [%s, %s) to %s\n", from.Format(time.RFC3339), to.Format(time.RFC3339), *out)
	}
	return exitOK
}

// openReadStore opens the state store to read the ledger. A directory that
// does not exist is an error here (a report of nothing would mislead).
func openReadStore(ctx context.Context, st state.Config, kc *kgo.Client) (cost.Store, error) {
	if st.Backend == state.BackendKafka {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return state.NewKafka(ctx, kc, st.Topic, nil)
	}
	if _, err := os.Stat(st.Dir); err != nil {
		return nil, fmt.Errorf("state.dir %s: %w (has the agent run with a cost: section?)", st.Dir, err)
	}
	return state.NewDir(st.Dir, nil)
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want a date like 2026-11-01 or an RFC 3339 time, got %q", s)
}
