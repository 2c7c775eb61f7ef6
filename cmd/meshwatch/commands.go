package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/sla"
)

func cmdRules(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("rules", `meshwatch rules -config FILE [-out rules.yaml]

Writes every SLO of the config as Prometheus recording rules (error ratios
per burn window) and multiwindow, multi-burn-rate alerting rules (page and
ticket, factors derived from each SLO's window), built on the counters the
agent exports (meshwatch_slo_good_total, meshwatch_slo_valid_total). Load
them into Prometheus for teams that evaluate there; promtool check rules
accepts them. It never talks to Kafka, so it needs none of the config's
secrets: an unset ${VAR} in a secret is a warning here.`, stderr)
	path := fs.String("config", "config.yaml", "config file")
	out := fs.String("out", "-", "file to write; - for standard output")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	set := loadSettingsWith(*path, config.Options{Offline: true}, stderr)
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
			// The flags, as add takes them (ls and rm take the agent's).
			fs := flag.NewFlagSet("silence add", flag.ContinueOnError)
			fs.SetOutput(stderr)
			dur := durationFlag(2 * time.Hour)
			silenceFlags(fs, "add", new(clientFlags), new(multiFlag), &dur, new(string), new(string))
			fmt.Fprintln(stderr, "\nFlags of add (ls and rm take -url, -config, -user and the -tls.* flags):")
			fs.PrintDefaults()
			return exitOK
		}
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("silence "+sub, synopsis, stderr)
	var cf clientFlags
	var matchers multiFlag
	dur := durationFlag(2 * time.Hour)
	var comment, by string
	silenceFlags(fs, sub, &cf, &matchers, &dur, &comment, &by)
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
		req := alert.SilenceRequest{Duration: time.Duration(dur).String(), CreatedBy: by, Comment: comment}
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

// silenceFlags registers the flags of silence sub on fs: the agent's
// client flags, and for add the matchers, duration, comment and author.
func silenceFlags(fs *flag.FlagSet, sub string, cf *clientFlags, matchers *multiFlag, dur *durationFlag, comment, by *string) {
	cf.register(fs)
	if sub != "add" {
		return
	}
	fs.Var(matchers, "match", "a label matcher (repeatable, required), e.g. product=checkout.orders.placed")
	fs.Var(dur, "for", "how long the silence lasts: Go units or days, e.g. 90m, 2h, 3d (at most 90d)")
	fs.StringVar(comment, "comment", "", "why (required; shown with the silence and in the incident's thread)")
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	fs.StringVar(by, "by", who, "who silences")
}
