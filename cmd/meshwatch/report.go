package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/state"
)

// reportSynopsis is the help of `meshwatch report` and `meshwatch report
// chargeback`; the flags follow it.
const reportSynopsis = `meshwatch report chargeback -config FILE [-month 2026-11 | -from 2026-11-01 -to 2026-12-01]
                   [-format summary|csv|focus|json] [-owner TEAM] [-decimals 2] [-out FILE]

Writes the chargeback of a period from the cost ledger in the config's
state store (state.dir or the state topic; the agent need not run). Every
hour the agent prices what each data product used — storage, partitions,
ingress, egress, cross_az (and cluster, the bill's share of idle hours, in
invoice mode) — and charges it to the team that owns or reads it. The
__shared__ (internal topics), __idle__ (unused capacity) and
__unallocated__ (topics no product claims) rows are the platform's, so the
charges add up to the whole cluster.

Formats:
  summary  for people: a table per team (owner and cost center), product
           and component, a subtotal per product and per team and a grand
           total, in the report's currency rounded to the cent; the lines
           add up to every subtotal and total exactly, and the total is the
           exact ledger total rounded to the cent. The monthly Slack
           summary is this table (with -owner, a team's own summary).
  csv      one row per charge (hour, product, team, component, topic,
           consumer group, quantity, unit price, cost), exact amounts; then
           a subtotal row per team and a total row. The row_type column says
           which (charge, subtotal, total): filter on charge before you sum.
  focus    FOCUS 1.3 cost and usage CSV, one row per charge. FOCUS has no
           totals rows: the totals are in the summary (the daily and
           monthly closes write chargeback-*.summary.txt beside the
           .focus.csv in reports.dir).
  json     {from, to, currency, total, teams, rows}: teams are the exact
           subtotals per team, product and component; amounts and
           quantities are JSON numbers.

The current, still-open hour is included as an estimate (estimate,
x_IsEstimate; the summary says how much). A correction to a closed hour is
reported with the hour it corrects. Times are UTC.

A finance analyst's month:
  meshwatch report chargeback -config config.yaml -month 2026-11 -format summary
  meshwatch report chargeback -config config.yaml -month 2026-11 -format focus -out chargeback-2026-11.focus.csv`

func reportFlags(stderr io.Writer) (*flag.FlagSet, *reportArgs) {
	fs := newFlags("report chargeback", reportSynopsis, stderr)
	a := &reportArgs{}
	fs.StringVar(&a.config, "config", "config.yaml", "config file: its state: section says where the ledger is, cost.currency names the currency")
	fs.StringVar(&a.month, "month", "", "a calendar month, UTC, such as 2026-11: short for -from 2026-11-01 -to 2026-12-01")
	fs.StringVar(&a.from, "from", "", "start, a date (2026-11-01) or RFC 3339 time, UTC; default the start of this month")
	fs.StringVar(&a.to, "to", "", "end, not included, a date or RFC 3339 time; default now")
	fs.StringVar(&a.format, "format", cost.FormatCSV, "summary (a table with subtotals and a total, for people), csv (charges, team subtotals, total; column row_type), focus (FOCUS 1.3, a row per charge) or json")
	fs.StringVar(&a.owner, "owner", "", "only the charges to this team (an owner: the producing or the consuming team); its summary is the one its Slack channel gets")
	fs.IntVar(&a.decimals, "decimals", 2, "decimals of the summary's amounts: 2 rounds to the cent; up to 9 for a rate card in fractions of a cent, such as the demo's")
	fs.StringVar(&a.out, "out", "-", "file to write; - for standard output")
	return fs, a
}

type reportArgs struct {
	config, month, from, to, format, owner, out string
	decimals                                    int
}

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, a := reportFlags(stderr)
	if len(args) == 0 || args[0] != "chargeback" {
		switch {
		case len(args) == 0:
		case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
			fs.Usage()
			return exitOK
		default:
			fmt.Fprintf(stderr, "meshwatch report: unknown report %q (the one report is chargeback)\n\n", args[0])
		}
		fs.Usage()
		return exitUsage
	}
	if code, ok := parse(fs, args[1:]); !ok {
		return code
	}
	if !slices.Contains(cost.Formats, a.format) {
		fmt.Fprintf(stderr, "meshwatch report: -format %q: want summary, csv, focus or json\n", a.format)
		return exitUsage
	}
	quantum, ok := cost.DecimalsQuantum(a.decimals)
	if !ok || a.decimals < 2 {
		fmt.Fprintf(stderr, "meshwatch report: -decimals %d: want 2 (cents) to 9\n", a.decimals)
		return exitUsage
	}
	if a.decimals != 2 && a.format != cost.FormatSummary {
		fmt.Fprintf(stderr, "meshwatch report: -decimals is for -format summary; %s has exact amounts\n", a.format)
		return exitUsage
	}
	from, to, ok := reportPeriod(a, time.Now().UTC(), stderr)
	if !ok {
		return exitUsage
	}
	set := loadSettings(a.config, stderr)
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
		fmt.Fprintf(stderr, "reading the ledger from the state topic %s…\n", set.State.Topic)
	}
	store, err := openReadStore(ctx, set.State, kc)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch report: %v\n", err)
		return exitFailed
	}
	w := stdout
	var f *os.File
	if a.out != "-" {
		if f, err = os.Create(a.out); err != nil {
			fmt.Fprintf(stderr, "meshwatch report: %v\n", err)
			return exitFailed
		}
		// Closed explicitly below: a failed close of a written report
		// (a full disk) is a report that was not written.
		defer func() { _ = f.Close() }()
		w = f
	}
	o := cost.ReportOptions{From: from, To: to, Format: a.format, Owner: a.owner, Quantum: quantum}
	if set.Cost != nil {
		o.Currency = set.Cost.Currency
	}
	res, err := cost.WriteReport(ctx, store, o, w)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch report: %v\n", err)
		if errors.Is(err, cost.ErrFormat) || errors.Is(err, cost.ErrRange) {
			return exitUsage
		}
		return exitFailed
	}
	if f != nil {
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "meshwatch report: writing %s: %v\n", a.out, err)
			return exitFailed
		}
	}
	switch {
	case res.Charges == 0 && (a.format != cost.FormatSummary || f != nil):
		fmt.Fprintf(stderr, "meshwatch report: %s\n", cost.NoCharges(from, to, a.owner))
		if f != nil {
			fmt.Fprintf(stderr, "wrote the empty %s report to %s\n", a.format, a.out)
		}
	case f != nil:
		fmt.Fprintf(stderr, "wrote the %s chargeback of [%s, %s) to %s: %d charges, %s %s in all\n",
			a.format, from.Format(time.RFC3339), to.Format(time.RFC3339), a.out, res.Charges, res.Total, res.Currency)
	}
	return exitOK
}

// reportPeriod returns the period the flags ask for: -month, or -from and
// -to (default the start of this month and now).
func reportPeriod(a *reportArgs, now time.Time, stderr io.Writer) (from, to time.Time, ok bool) {
	if a.month != "" {
		if a.from != "" || a.to != "" {
			fmt.Fprintln(stderr, "meshwatch report: give -month, or -from and -to, not both")
			return from, to, false
		}
		m, err := cost.ParseMonth(a.month)
		if err != nil {
			fmt.Fprintf(stderr, "meshwatch report: -month: %v\n", err)
			return from, to, false
		}
		return m, m.AddDate(0, 1, 0), true
	}
	from = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	to = now
	for _, f := range []struct {
		flag, v string
		dst     *time.Time
	}{{"-from", a.from, &from}, {"-to", a.to, &to}} {
		if f.v == "" {
			continue
		}
		t, err := parseWhen(f.v)
		if err != nil {
			fmt.Fprintf(stderr, "meshwatch report: %s: %v\n", f.flag, err)
			return from, to, false
		}
		*f.dst = t
	}
	if !to.After(from) {
		fmt.Fprintf(stderr, "meshwatch report: -to (%s) must be after -from (%s)\n", to.Format(time.RFC3339), from.Format(time.RFC3339))
		return from, to, false
	}
	return from, to, true
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
