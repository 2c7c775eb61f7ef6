package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/sync/errgroup"

	"github.com/meshwatch/meshwatch/internal/demo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", `meshwatch demo [-for 10m] [-config-out demo.yaml]

Starts an embedded 3-broker Kafka (franz-go's kfake) on 127.0.0.1, four
synthetic data products in three domains — one healthy, one whose events
arrive 2–5 s late, one that falls silent for a minute every few minutes, one
bursty — and the agent against them. Ctrl-C stops it.`, stderr)
	ports := fs.String("ports", "19092,19093,19094", "the three broker ports of the embedded Kafka (0 for random)")
	listen := fs.String("http.listen", "127.0.0.1:9477", "address of the agent's HTTP server")
	runFor := fs.Duration("for", 0, "stop after this long (0: until interrupted)")
	configOut := fs.String("config-out", "", "write the config the demo uses to this file, so other commands can point at the demo's cluster")
	var lf logFlags
	lf.register(fs)
	log, code, ok := lf.parse(fs, args, stderr)
	if !ok {
		return code
	}
	var portList []int
	for _, p := range strings.Split(*ports, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 || n > 65535 {
			fmt.Fprintf(stderr, "meshwatch demo: -ports: want three port numbers separated by commas, got %q\n", *ports)
			return exitUsage
		}
		portList = append(portList, n)
	}
	if len(portList) != 3 {
		fmt.Fprintf(stderr, "meshwatch demo: -ports: want three ports, got %d\n", len(portList))
		return exitUsage
	}
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}

	fmt.Fprintf(stdout, "Starting an embedded Kafka on 127.0.0.1:%d,%d,%d …\n", portList[0], portList[1], portList[2])
	kc, err := kafkatest.Start(kfake.Ports(portList...))
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: cannot start the embedded Kafka: %v\n(are the ports taken? choose others with -ports)\n", err)
		return exitFailed
	}
	defer kc.Close()

	cfg := demo.Catalog(kc.Addrs())
	cfg.HTTP.Listen = *listen
	cfg.SetDefaults()
	if errs := cfg.Validate().Errors(); len(errs) > 0 {
		fmt.Fprintf(stderr, "meshwatch demo: the demo catalog is invalid (a bug):\n%v\n", errs)
		return exitFailed
	}
	if *configOut != "" {
		b, err := cfg.YAML()
		if err == nil {
			err = os.WriteFile(*configOut, b, 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "meshwatch demo: -config-out: %v\n", err)
			return exitFailed
		}
	}

	prod, err := demo.NewProducers(kc.Addrs(), log)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: %v\n", err)
		return exitFailed
	}
	defer prod.Close()
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = prod.CreateTopics(setup)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: creating topics: %v\n", err)
		return exitFailed
	}
	app, err := NewApp(cfg, log, AppOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: %v\n", err)
		return exitFailed
	}
	defer app.Close()
	printLegend(stdout, app.Addr(), kc.Addrs(), *configOut, *runFor)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return prod.Run(gctx) })
	g.Go(func() error { return app.Run(gctx) })
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "meshwatch demo: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, "demo stopped")
	return exitOK
}

func printLegend(w io.Writer, addr string, brokers []string, configOut string, runFor time.Duration) {
	fmt.Fprintf(w, "\nmeshwatch demo is running.\n\n")
	fmt.Fprintf(w, "  Kafka brokers   %s\n", strings.Join(brokers, ","))
	fmt.Fprintf(w, "  Metrics         http://%s/metrics\n", addr)
	fmt.Fprintf(w, "  Health          http://%s/healthz   http://%s/readyz\n", addr, addr)
	if configOut != "" {
		fmt.Fprintf(w, "  Config          %s (point other meshwatch commands at it)\n", configOut)
	}
	fmt.Fprintf(w, "\nData products:\n")
	for _, s := range demo.Scenarios() {
		fmt.Fprintf(w, "  %-32s %-9s %s\n", s.Product, s.Behaviour, s.Expect)
	}
	fmt.Fprintf(w, "\nWhere to look (give it a minute):\n")
	fmt.Fprintf(w, "  curl -s http://%s/metrics | grep -E 'meshwatch_(latency_hdr_seconds|freshness_seconds|available|sample_ratio)\\{'\n", addr)
	if runFor > 0 {
		fmt.Fprintf(w, "\nStopping after %v; Ctrl-C stops it sooner.\n\n", runFor)
	} else {
		fmt.Fprintf(w, "\nCtrl-C stops it.\n\n")
	}
}
