package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/state"
)

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
