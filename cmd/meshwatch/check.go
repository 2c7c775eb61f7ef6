package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/sla"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", `meshwatch check -config FILE [-product NAME] [-for 60s]
       meshwatch check -config FILE -policies [-product NAME] [-format table|json]

Samples the products (all, or one) for the given time, exactly as the agent
does, then prints every SLO as a table — product, SLO, SLI, value, promise
(objective and threshold: "99.9% of records within 1s"), good/valid, met —
and exits 1 when any is not met: a CI gate for data contracts, and a quick
"is my product healthy now". An SLO without events in the period (a silent
product) is not met, nor is one with fewer valid events than its min_events
("not enough data (n of m events)": sample longer). Nothing is written to
the state directory, no alert is sent, and the consumer groups are only
read.

With -policies it samples nothing: it reads the cluster once (topics and
their configuration, ACLs, and with schema_registry: the products'
subjects), evaluates the policies: section against it, prints every
violation — severity, policy, product or topic, why — and exits 1 when one
has severity error: the CI gate before a product is published.`, stderr)
	path := fs.String("config", "config.yaml", "config file")
	product := fs.String("product", "", "check only this product")
	dur := fs.Duration("for", time.Minute, "how long to sample; at least two collector ticks")
	policies := fs.Bool("policies", false, "evaluate the governance policies against the live cluster once instead of sampling")
	format := fs.String("format", "table", "with -policies: table or json")
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
		if !*policies {
			set.Products = set.Products[i : i+1]
		}
	}
	if *policies {
		return checkPolicies(ctx, set, *product, *format, stdout, stderr)
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
