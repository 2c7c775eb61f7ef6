// Command scale measures the meshwatch agent at growing numbers of data
// products: `make scale`, or
//
//	go run ./cmd/scale -sizes 100,1000,3000,10000 -measure 2m
//
// For each size it starts a kfake cluster (franz-go's in-process Kafka, in
// this program's process) on 127.0.0.1 with one topic per product, produces
// a few JSON records per second to every product at an even pace and
// commits offsets for a few consumer groups (both from a child process at
// a lower CPU priority, -producer-nice: they are the load, and take the
// cores the agent and the cluster leave), and runs the real agent binary
// (`meshwatch run`, built from ./cmd/meshwatch) as a child process on a
// generated config. It measures the time to /readyz 200, then over the
// measure window the agent's RSS and CPU from /proc, /metrics as
// Prometheus scrapes it (gzip), the series count, the tick, lag pass and
// SLO evaluation durations from the agent's own histograms and the lowest
// sample ratio, and finally the time the agent takes to exit on SIGTERM. It
// prints a Markdown table with a growth row between consecutive sizes.
//
// With -sharded N it also runs -sharded-products products (default: the
// largest size) on N sharded agents (state.backend kafka) and prints the
// same per agent.
//
// Progress goes to stderr, the tables to stdout. Every child process and
// temporary directory is removed on exit and on Ctrl-C. Linux only (/proc).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type options struct {
	sizes           []int
	measure         time.Duration
	settle          time.Duration
	tick            time.Duration
	scrapeEvery     time.Duration
	commit          time.Duration
	readyTimeout    time.Duration
	scrapeTimeout   time.Duration
	stopTimeout     time.Duration
	partitions      int
	rate            float64
	large           int
	largePartitions int
	largeRate       float64
	groups          int
	owners          int
	sharded         int
	shardedProducts int
	bin             string
	keep            bool
	profile         bool
	growthLimit     float64
	producerNice    int
	span            [2]int
}

const usage = `scale [flags]

Measures the meshwatch agent (the real binary, a child process) against a
kfake cluster on 127.0.0.1 at each of -sizes products, one size after the
other, each on a fresh cluster:

  every product: 1 topic of -partitions partitions, JSON records with an
  event time (ts), -rate records per second, 2 SLOs (latency, freshness),
  2 CEL rules, 1 declared consumer group of -groups that commit offsets
  every -commit, a few records behind.

For each size it prints: the time from start to /readyz 200; over the
-measure window (after -settle) the highest RSS, CPU seconds per minute,
the mean /metrics time and its size (gzip / raw), the series count, the
mean and largest (bucket bound) tick, lag pass and SLO evaluation; the
lowest meshwatch_sample_ratio; the time to exit on SIGTERM. Between sizes a
growth row gives each figure's factor; below the table, whether the
per-tick figures grew at most -growth-limit times the product ratio.

-sharded N then runs -sharded-products products on N agents sharing them
(sharding:, state.backend: kafka) and prints the same per agent.

A size takes about -settle + -measure plus setup (topics, readiness): the
default run (100, 1,000, 3,000, 10,000 at 2m) takes about 15 minutes.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	sizes := fs.String("sizes", "100,1000,3000,10000", "product counts to measure, one agent each, comma-separated (empty: none, e.g. to run -sharded alone)")
	fs.DurationVar(&o.measure, "measure", 2*time.Minute, "measure window per size, after -settle")
	fs.DurationVar(&o.settle, "settle", 20*time.Second, "wait after /readyz 200 before the window opens (first ticks, lag passes, discovery)")
	fs.DurationVar(&o.tick, "tick", 10*time.Second, "collector.tick of the agent (lag passes follow it)")
	fs.DurationVar(&o.scrapeEvery, "scrape-every", 15*time.Second, "scrape /metrics this often during the window, as Prometheus would (plus once at each end)")
	fs.DurationVar(&o.commit, "commit", 5*time.Second, "how often the consumer groups commit offsets (each stays one period behind)")
	fs.DurationVar(&o.scrapeTimeout, "scrape-timeout", 5*time.Minute, "give up on a /metrics scrape after this long (the agent's own HTTP write timeout may cut it first)")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 5*time.Minute, "give up when an agent is not ready (or sharding not settled) after this long")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", 30*time.Second, "kill an agent that has not exited this long after SIGTERM")
	fs.IntVar(&o.partitions, "partitions", 4, "partitions of each product's topic")
	fs.Float64Var(&o.rate, "rate", 2, "records per second produced to each product")
	fs.IntVar(&o.large, "large", 10000, "from this many products on, use -large-partitions and -large-rate instead")
	fs.IntVar(&o.largePartitions, "large-partitions", 2, "partitions per topic at -large products and more")
	fs.Float64Var(&o.largeRate, "large-rate", 1, "records per second per product at -large products and more")
	fs.IntVar(&o.groups, "groups", 3, "consumer groups committing offsets; product i is read by group i mod -groups")
	fs.IntVar(&o.owners, "owners", 20, "owner teams the products are spread over")
	fs.IntVar(&o.sharded, "sharded", 0, "after the sizes, run -sharded-products products on this many sharded agents (0: skip)")
	fs.IntVar(&o.shardedProducts, "sharded-products", 0, "products of the sharded run (0: the largest of -sizes)")
	fs.StringVar(&o.bin, "bin", "", "a meshwatch binary to run instead of building ./cmd/meshwatch")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, agent logs, state, each agent's last /metrics scrape) and print where it is")
	fs.BoolVar(&o.profile, "profile", false, "run the agents with -debug.pprof and save a CPU profile of each measure window and a heap profile at its end (agentN-cpu.pprof, agentN-heap.pprof), and a CPU profile of this process — the kfake cluster; the producer runs in a child process — over the same window (kfake-cpu.pprof); implies -keep")
	fs.Float64Var(&o.growthLimit, "growth-limit", 1.2, "per-tick figures may grow by this many times the product ratio and still count as linear")
	fs.IntVar(&o.producerNice, "producer-nice", 10, "CPU priority (nice) of the producer's process: it is the load, and takes the cores the agent and kfake leave; 0 runs it at their priority")
	span := fs.String("span", "1000,10000", "two sizes also compared directly when both ran with others between them (issue 16's acceptance compares 1,000 with 10,000 products)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.profile {
		o.keep = true
	}
	spanSizes, err := productCounts("-span", *span)
	if err == nil && len(spanSizes) != 2 {
		err = fmt.Errorf("-span: want two product counts, as 1000,10000, got %q", *span)
	}
	if err != nil {
		return o, err
	}
	o.span = [2]int(spanSizes)
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.sizes, err = productCounts("-sizes", *sizes); err != nil {
		return o, err
	}
	if o.shardedProducts == 0 {
		for _, n := range o.sizes {
			o.shardedProducts = max(o.shardedProducts, n)
		}
	}
	switch {
	case len(o.sizes) == 0 && o.sharded == 0:
		return o, errors.New("nothing to do: -sizes is empty and -sharded is 0")
	case o.sharded < 0 || o.sharded == 1:
		return o, fmt.Errorf("-sharded: want 0 (skip) or at least 2 agents, got %d", o.sharded)
	case o.sharded > 0 && o.shardedProducts < 1:
		return o, errors.New("-sharded needs -sharded-products (or -sizes)")
	case o.measure <= 0 || o.scrapeEvery <= 0 || o.commit <= 0 || o.tick <= 0 || o.readyTimeout <= 0 || o.stopTimeout <= 0 || o.scrapeTimeout <= 0:
		return o, errors.New("-measure, -scrape-every, -commit, -tick, -ready-timeout, -scrape-timeout and -stop-timeout must be positive")
	case o.settle < 0:
		return o, errors.New("-settle must not be negative")
	case o.partitions < 1 || o.largePartitions < 1 || o.rate <= 0 || o.largeRate <= 0:
		return o, errors.New("-partitions, -large-partitions, -rate and -large-rate must be positive")
	case o.groups < 1 || o.owners < 1:
		return o, errors.New("-groups and -owners must be at least 1")
	}
	return o, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == producerChildFlag {
		os.Exit(producerChild(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "scale: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "scale: "+format+"\n", args...)
	}

	dir, err := os.MkdirTemp("", "meshwatch-scale-")
	if err != nil {
		fmt.Fprintf(stderr, "scale: %v\n", err)
		return 1
	}
	if o.keep {
		defer progress("kept %s (configs, agent logs, state, last /metrics scrapes, profiles)", dir)
	} else {
		defer func() {
			if err := os.RemoveAll(dir); err != nil {
				fmt.Fprintf(stderr, "scale: removing %s: %v\n", dir, err)
			}
		}()
	}

	bin := o.bin
	if bin == "" {
		progress("building ./cmd/meshwatch…")
		if bin, err = buildAgent(ctx, dir); err != nil {
			fmt.Fprintf(stderr, "scale: %v\n", err)
			return 1
		}
	}

	failed := false
	var rows []Row
	for _, n := range o.sizes {
		rs, err := runSize(ctx, o, bin, dir, n, 1, progress)
		if ctx.Err() != nil {
			err = errors.New("interrupted: the agent stopped, the cluster closed")
		}
		if err != nil {
			fmt.Fprintf(stderr, "scale: %s products: %v\n", thousands(n), err)
			failed = true
			break
		}
		rows = append(rows, rs...)
	}
	if len(rows) > 0 {
		fmt.Fprintf(stdout, "meshwatch scale: one agent, tick %v, %d CPUs (GOARCH %s), measured over %v after %v settling.\n\n",
			o.tick, runtime.NumCPU(), runtime.GOARCH, o.measure, o.settle)
		fmt.Fprint(stdout, formatTable(rows))
		fmt.Fprintln(stdout)
		for _, v := range verdicts(rows, o.growthLimit, o.span) {
			fmt.Fprintf(stdout, "- %s\n", v)
		}
		fmt.Fprintln(stdout)
	}
	if o.sharded > 0 && !failed && ctx.Err() == nil {
		rs, err := runSize(ctx, o, bin, dir, o.shardedProducts, o.sharded, progress)
		if ctx.Err() != nil {
			err = errors.New("interrupted: the agents stopped, the cluster closed")
		}
		if err != nil {
			fmt.Fprintf(stderr, "scale: %s products on %d agents: %v\n", thousands(o.shardedProducts), o.sharded, err)
			failed = true
		}
		if len(rs) > 0 {
			fmt.Fprintf(stdout, "meshwatch scale: %s products on %d sharded agents (state.backend kafka), tick %v, measured over %v.\n\n",
				thousands(o.shardedProducts), o.sharded, o.tick, o.measure)
			fmt.Fprint(stdout, formatTable(rs))
			fmt.Fprintln(stdout)
		}
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

// runSize measures n products on agents agents (1: a lone agent; more:
// sharded) and returns one row per agent.
func runSize(ctx context.Context, o options, bin, dir string, n, agents int, progress func(string, ...any)) ([]Row, error) {
	label := thousands(n) + " products"
	if agents > 1 {
		label += fmt.Sprintf(" on %d agents", agents)
	}
	partitions, rate := o.partitions, o.rate
	if n >= o.large {
		partitions, rate = o.largePartitions, o.largeRate
	}
	sub := filepath.Join(dir, fmt.Sprintf("p%d-a%d", n, agents))
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return nil, err
	}

	progress("%s: starting kfake, creating %s topics × %d partitions…", label, thousands(n), partitions)
	setup := time.Now()
	w := &workload{products: n, partitions: int32(partitions), rate: rate, groups: o.groups, commit: o.commit}
	defer w.close()
	if err := startWorkload(ctx, w); err != nil {
		return nil, err
	}
	_, stopProducer, err := startProducer(w, w.kc.Addrs(), o.producerNice)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := stopProducer(); err != nil {
			progress("%s: %v", label, err)
		}
	}()
	progress("%s: topics created in %s; producing %s rec/s (%s per product)…",
		label, fmtDuration(time.Since(setup).Seconds()), thousands(int(math.Round(float64(n)*rate))), trimFloat(rate))

	cfg := agentConfig{
		brokers: w.kc.Addrs(), products: n, groups: o.groups, tick: o.tick,
		stateDir: filepath.Join(sub, "state"), sharded: agents > 1, owners: o.owners,
		configPath: filepath.Join(sub, "config.yaml"),
	}
	if err := writeConfig(cfg); err != nil {
		return nil, err
	}

	var as []*agent
	defer func() { // on an error: stop whatever still runs
		for _, a := range as {
			a.stop(o.stopTimeout)
		}
	}()
	for i := range agents {
		name := "agent"
		if agents > 1 {
			name = fmt.Sprintf("agent %d/%d", i+1, agents)
		}
		a, err := startAgent(bin, cfg.configPath, filepath.Join(sub, fmt.Sprintf("agent%d.log", i+1)), name, o.scrapeTimeout, o.profile)
		if err != nil {
			return nil, err
		}
		a.metricsPath = filepath.Join(sub, fmt.Sprintf("agent%d-metrics.txt", i+1))
		as = append(as, a)
	}
	rows := make([]Row, agents)
	urls := make([]string, agents)
	for i, a := range as {
		url, ready, err := a.waitReady(ctx, o.readyTimeout)
		if err != nil {
			return nil, err
		}
		urls[i] = url
		rows[i] = Row{Products: n, Partitions: partitions, Rate: rate, Ready: ready}
		if agents > 1 {
			rows[i].Agent = fmt.Sprintf("%d/%d", i+1, agents)
		}
		progress("%s: %s ready in %s", label, a.name, fmtDuration(ready.Seconds()))
	}
	if agents > 1 {
		if err := waitSpread(ctx, as, urls, n, o.readyTimeout); err != nil {
			return nil, err
		}
	}
	if o.settle > 0 {
		progress("%s: settling %v…", label, o.settle)
		t := time.NewTimer(o.settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}

	progress("%s: measuring %v…", label, o.measure)
	reqFrom, measureAt := w.requestCounts(), time.Now()
	stopProfile := func() error { return nil }
	if o.profile {
		var err error
		if stopProfile, err = profileSelf(filepath.Join(sub, "kfake-cpu.pprof")); err != nil {
			return nil, err
		}
	}
	errs := make([]error, agents)
	var mg sync.WaitGroup
	for i, a := range as {
		mg.Go(func() {
			var pg sync.WaitGroup
			var perr error
			if o.profile {
				pg.Go(func() {
					secs := max(1, int(o.measure.Seconds()))
					perr = a.save(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", urls[i], secs), filepath.Join(sub, fmt.Sprintf("agent%d-cpu.pprof", i+1)))
				})
			}
			m, err := a.measure(ctx, urls[i], o.measure, o.scrapeEvery)
			pg.Wait()
			if err == nil && o.profile {
				err = errors.Join(perr, a.save(ctx, urls[i]+"/debug/pprof/heap", filepath.Join(sub, fmt.Sprintf("agent%d-heap.pprof", i+1))))
			}
			if err != nil {
				errs[i] = err
				return
			}
			m.Products, m.Agent, m.Partitions, m.Rate, m.Ready = n, rows[i].Agent, partitions, rate, rows[i].Ready
			rows[i] = m
		})
	}
	mg.Wait()
	progress("%s: kfake received %s", label, requestRates(reqFrom, w.requestCounts(), time.Since(measureAt)))
	if err := errors.Join(append(errs, stopProfile())...); err != nil {
		return nil, err
	}
	for i, a := range as {
		rows[i].Stop, rows[i].StopNote = a.stop(o.stopTimeout)
		progress("%s: %s stopped in %s %s", label, a.name, fmtDuration(rows[i].Stop.Seconds()), rows[i].StopNote)
		if agents == 1 && rows[i].Owned != n {
			progress("%s: warning: the agent exported %d products, not %d", label, rows[i].Owned, n)
		}
	}
	progress("%s: done; %s", label, w.status())
	return rows, nil
}

// waitSpread waits until the sharded agents together export every one of
// the n products.
func waitSpread(ctx context.Context, as []*agent, urls []string, n int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	last := "no scrape yet"
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("sharding did not settle after %v: %s", timeout, last)
		case <-tk.C:
		}
		total := 0
		var each []string
		var scrapeErr error
		for i, a := range as {
			k, err := a.owned(ctx, urls[i])
			if err != nil {
				scrapeErr = err
				break
			}
			total += k
			each = append(each, thousands(k))
		}
		if scrapeErr != nil {
			last = scrapeErr.Error()
			continue
		}
		last = fmt.Sprintf("the agents export %s of %s products (%s)", thousands(total), thousands(n), strings.Join(each, " + "))
		if total == n {
			return nil
		}
	}
}

// profileSelf starts a CPU profile of this process (the kfake cluster)
// into path; stop ends it and closes the file.
func profileSelf(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close() // the profile could not start: nothing was written
		return nil, fmt.Errorf("profiling the cluster: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// productCounts reads a flag's comma-separated product counts (10_000 is
// 10000; empty items are skipped).
func productCounts(flag, list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(strings.ReplaceAll(s, "_", ""))
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: want positive product counts separated by commas, got %q", flag, s)
		}
		out = append(out, n)
	}
	return out, nil
}
