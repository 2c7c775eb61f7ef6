package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/collector"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/demo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/policy"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", `meshwatch demo [-for 10m] [-config-out demo.yaml]

Starts an embedded 3-broker Kafka (franz-go's kfake) on 127.0.0.1, five
synthetic data products in four domains — one healthy, one whose events
arrive 2–5 s late, one that falls silent for a minute every few minutes, one
bursty, one made from the late one — and the agent against them. Ctrl-C
stops it.`, stderr)
	ports := fs.String("ports", "19092,19093,19094", "the three broker ports of the embedded Kafka (0 for random)")
	var o demoOptions
	fs.StringVar(&o.listen, "http.listen", demo.Listen, "address of the agent's HTTP server")
	fs.DurationVar(&o.runFor, "for", 0, "stop after this long (0: until interrupted)")
	fs.StringVar(&o.configOut, "config-out", "", "write the config the demo uses to this file, so other commands (check, report, silence) can point at the demo")
	fs.StringVar(&o.stateDir, "state", "meshwatch-demo-state", "state directory: SLO budgets, alert outbox and the cost ledger")
	fs.StringVar(&o.slackURL, "slack-api-url", "", "send the demo's alerts to this Slack Web API (with a bot token in SLACK_BOT_TOKEN) instead of the console")
	fs.StringVar(&o.webConfig, "web.config.file", "", webConfigUsage)
	var lf logFlags
	lf.register(fs)
	log, code, ok := lf.parse(fs, args, stderr)
	if !ok {
		return code
	}
	for _, p := range strings.Split(*ports, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 || n > 65535 {
			fmt.Fprintf(stderr, "meshwatch demo: -ports: want three port numbers separated by commas, got %q\n", *ports)
			return exitUsage
		}
		o.ports = append(o.ports, n)
	}
	if len(o.ports) != 3 {
		fmt.Fprintf(stderr, "meshwatch demo: -ports: want three ports, got %d\n", len(o.ports))
		return exitUsage
	}
	return runDemo(ctx, o, log, stdout, stderr)
}

// demoOptions are the settings of a demo run, from the demo's flags.
type demoOptions struct {
	ports     []int // the three broker ports, 0 for random
	listen    string
	runFor    time.Duration // 0: until ctx is done
	configOut string
	stateDir  string
	slackURL  string
	webConfig string
	// listening, when set, is called with the agent's HTTP address once it
	// listens and before it runs, so that a test can run the demo in-process
	// with -http.listen 127.0.0.1:0 and find it.
	listening func(addr string)
}

// runDemo runs the demo until ctx is done or o.runFor has passed and
// returns the exit code.
func runDemo(ctx context.Context, o demoOptions, log *slog.Logger, stdout, stderr io.Writer) int {
	if o.runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.runFor)
		defer cancel()
	}

	fmt.Fprintf(stdout, "Starting an embedded Kafka on 127.0.0.1:%d,%d,%d …\n", o.ports[0], o.ports[1], o.ports[2])
	kc, err := kafkatest.Start(kfake.Ports(o.ports...))
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: cannot start the embedded Kafka: %v\n(are the ports taken? choose others with -ports)\n", err)
		return exitFailed
	}
	defer kc.Close()

	set := &config.Config{
		Config:    demo.Catalog(),
		Kafka:     config.Kafka{Brokers: kc.Addrs()},
		HTTP:      config.HTTP{Listen: o.listen},
		Collector: collector.Config{Tick: meshwatch.Duration(demo.Tick)},
		State:     state.Config{Dir: o.stateDir},
		Cost:      demoCost(),
		Policies:  demoPolicies(),
		// Short grouping, so that an incident's whole life (fire, an
		// update in place with its thread reply, resolve) shows within
		// the demo's first minutes rather than after the production
		// group_interval of 5 minutes.
		Alerting: &alert.Config{Console: true, GroupWait: meshwatch.Duration(5 * time.Second), GroupInterval: meshwatch.Duration(30 * time.Second)},
	}
	if o.slackURL != "" {
		token, ok := os.LookupEnv("SLACK_BOT_TOKEN")
		if !ok || token == "" {
			fmt.Fprintln(stderr, "meshwatch demo: -slack-api-url needs a bot token in the environment variable SLACK_BOT_TOKEN")
			return exitUsage
		}
		set.Alerting = &alert.Config{Slack: &alert.SlackConfig{Token: meshwatch.Secret(token), APIURL: o.slackURL}, GroupWait: set.Alerting.GroupWait, GroupInterval: set.Alerting.GroupInterval}
	}
	if err := set.SetWebConfigFile(o.webConfig); err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: -web.config.file: %v\n", err)
		return exitUsage
	}
	tokenFile, err := writeDemoToken(o.stateDir)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: the API token: %v\n", err)
		return exitFailed
	}
	set.HTTP.APITokenFile = tokenFile
	set.SetDefaults()
	if err := set.Validate().Err(); err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: the demo catalog is invalid (a bug):\n%v\n", err)
		return exitFailed
	}
	if o.configOut != "" {
		refs := map[string]string{}
		if o.slackURL != "" {
			refs["alerting.slack.token"] = "${SLACK_BOT_TOKEN}"
		}
		if err := writeSettings(o.configOut, set, refs); err != nil {
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
	err = prod.CreateTopics(setup) // with demo.ScratchTopic, which no product claims
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: creating topics: %v\n", err)
		return exitFailed
	}
	cons, err := demo.NewConsumers(kc.Addrs(), log)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: %v\n", err)
		return exitFailed
	}
	defer cons.Close()
	app, err := NewApp(set, log, AppOptions{Stdout: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch demo: %v\n", err)
		return exitFailed
	}
	defer app.Close()
	printLegend(stdout, legend{url: app.URL(), brokers: kc.Addrs(), configOut: o.configOut, tokenFile: tokenFile, runFor: o.runFor})
	if o.listening != nil {
		o.listening(app.Addr())
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return prod.Run(gctx) })
	g.Go(func() error { return cons.Run(gctx) })
	g.Go(func() error { return app.Run(gctx) })
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "meshwatch demo: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, "demo stopped")
	return exitOK
}

// legend is what the demo prints once it runs.
type legend struct {
	url       string // the agent's base URL
	brokers   []string
	configOut string
	tokenFile string
	runFor    time.Duration
}

func printLegend(w io.Writer, l legend) {
	u := l.url
	curl := "curl -s"
	if strings.HasPrefix(u, "https:") {
		curl = "curl -sk" // the demo's certificate is the user's own, likely self-signed
	}
	fmt.Fprintf(w, "\nmeshwatch demo is running.\n\n")
	fmt.Fprintf(w, "  Kafka brokers   %s\n", strings.Join(l.brokers, ","))
	fmt.Fprintf(w, "  Metrics         %s/metrics\n", u)
	fmt.Fprintf(w, "  Health          %s/healthz   %s/readyz\n", u, u)
	fmt.Fprintf(w, "  API token       %s (writes such as silences need it)\n", l.tokenFile)
	if l.configOut != "" {
		fmt.Fprintf(w, "  Config          %s (point other meshwatch commands at it)\n", l.configOut)
	}
	fmt.Fprintf(w, "\nData products:\n")
	for _, s := range demo.Scenarios() {
		fmt.Fprintf(w, "  %-32s %-9s %s\n", s.Product, s.Behaviour, s.Expect)
	}
	fmt.Fprintf(w, "\nConsumer groups (lag):\n")
	for _, s := range demo.ConsumerScenarios() {
		fmt.Fprintf(w, "  %-32s %-14s %s\n", s.Group, s.Behaviour, s.Product)
	}
	fmt.Fprintf(w, "\nWhere to look (give it a minute; alerts print here):\n")
	fmt.Fprintf(w, "  %s %s/metrics | grep -E 'meshwatch_(latency_hdr_seconds|freshness_seconds|available|sample_ratio)\\{'\n", curl, u)
	fmt.Fprintf(w, "  %s %s/api/v1/slos            budgets, burn rates, decisions and why\n", curl, u)
	fmt.Fprintf(w, "  %s %s/api/v1/products/%s/lag\n", curl, u, demo.OrdersPlaced)
	fmt.Fprintf(w, "  %s %s/api/v1/products/%s/quality\n", curl, u, demo.OrdersPlaced)
	fmt.Fprintf(w, "  %s '%s/api/v1/chargeback?format=csv'   (%s is a topic no product claims: __unallocated__)\n", curl, u, demo.ScratchTopic)
	fmt.Fprintf(w, "  %s %s/api/v1/policies        the governance policies' violations (%s, and the ledger's unreplicated topic)\n", curl, u, demo.ScratchTopic)
	fmt.Fprintf(w, "  %s %s/api/v1/lineage         who owns, reads and feeds each product; %s/api/v1/incidents: upstream causes, teams told\n", curl, u, u)
	fmt.Fprintf(w, "  %s '%s/api/v1/chargeback?format=summary&decimals=6'   what finance reads (the monthly Slack summary; the demo's prices are fractions of a cent)\n", curl, u)
	fmt.Fprintf(w, "\nSilence an alert (writes need the API token; without it they are refused):\n")
	if l.configOut != "" {
		fmt.Fprintf(w, "  meshwatch silence add -config %s -match product=%s -for 1h -comment \"trying the demo\"\n", l.configOut, demo.TransactionsSettled)
		fmt.Fprintf(w, "  meshwatch silence ls -config %s\n", l.configOut)
		fmt.Fprintf(w, "  meshwatch report chargeback -config %s -format focus\n", l.configOut)
		fmt.Fprintf(w, "  meshwatch report chargeback -config %s -format summary -decimals 6\n", l.configOut)
		fmt.Fprintf(w, "  meshwatch check -config %s -product %s -for 30s\n", l.configOut, demo.CartsUpdated)
		fmt.Fprintf(w, "  meshwatch check -config %s -policies        exits 1: two violations of severity error\n", l.configOut)
	} else {
		fmt.Fprintf(w, "  MESHWATCH_API_TOKEN=$(cat %s) meshwatch silence add -url %s -match product=%s -for 1h -comment \"trying the demo\"\n", l.tokenFile, u, demo.TransactionsSettled)
	}
	fmt.Fprintf(w, "  %s -H \"Authorization: Bearer $(cat %s)\" %s/api/v1/silences -d '{\"matchers\":[{\"name\":\"product\",\"value\":\"%s\"}],\"duration\":\"1h\",\"comment\":\"trying the demo\"}'\n", curl, l.tokenFile, u, demo.TransactionsSettled)
	if l.runFor > 0 {
		fmt.Fprintf(w, "\nStopping after %v; Ctrl-C stops it sooner.\n\n", l.runFor)
	} else {
		fmt.Fprintf(w, "\nCtrl-C stops it.\n\n")
	}
}

// writeDemoToken writes a new random API token to stateDir/api-token (mode
// 0600), for the demo's writes, and returns the file's absolute path.
func writeDemoToken(stateDir string) (string, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", err
	}
	path, err := filepath.Abs(filepath.Join(stateDir, "api-token"))
	if err != nil {
		return "", err
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	_, err = fmt.Fprintln(f, hex.EncodeToString(b[:]))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(path, 0o600) // an older file may have had wider rights
	}
	return path, err
}

// demoCost is the demo's chargeback: a list-price rate card, sampled every
// 10 s so that a one-minute demo already has ledger rows. Cost centers,
// a capacity (what products leave of it is __idle__) and two budgets give
// the Chargeback dashboard what a real cluster would show.
func demoCost() *cost.Config {
	m := func(s string) cost.Money {
		v, err := cost.ParseMoney(s)
		if err != nil {
			panic(err) // constants below
		}
		return v
	}
	return &cost.Config{
		Currency: "USD",
		RateCard: []cost.Rate{{
			From:           cost.Date{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			StorageGiBHour: m("0.000137"), PartitionHour: m("0.0015"),
			IngressGiB: m("0.01"), EgressGiB: m("0.02"), CrossAZGiB: m("0.01"),
		}},
		Capacity: cost.Capacity{StorageGiB: 1, Partitions: 24},
		CostCenters: map[string]string{
			"orders-team": "CC-1042", "payments-team": "CC-2001", "logistics-team": "CC-3007",
			"fraud-team": "CC-2001", "finance-team": "CC-2001", "analytics-team": "CC-1042",
			"customer-comms-team": "CC-3007", cost.DefaultPlatformOwner: "CC-9000",
		},
		Budgets: []cost.Budget{
			{Product: demo.OrdersPlaced, Monthly: m("25")},
			{CostCenter: "CC-2001", Monthly: m("40")},
		},
		Sample: meshwatch.Duration(10 * time.Second),
	}
}

// writeSettings writes set as a config file that loads back to it. A
// secret is never written: each one set must have a reference in refs, by
// its path ("alerting.slack.token": "${SLACK_BOT_TOKEN}"), written in its
// place; one without is an error rather than a "<secret>" placeholder that
// would load as if it were the value.
func writeSettings(path string, set *config.Config, refs map[string]string) error {
	b, err := config.YAML(set)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	root := doc.Content[0]
	if err := replaceSecrets(root, "", refs); err != nil {
		return err
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// replaceSecrets replaces every "<secret>" scalar under n (at path) by its
// reference in refs.
func replaceSecrets(n *yaml.Node, path string, refs map[string]string) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			if err := replaceSecrets(n.Content[i+1], p, refs); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := replaceSecrets(c, fmt.Sprintf("%s[%d]", path, i), refs); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if n.Value == meshwatch.Secret("x").String() {
			ref, ok := refs[path]
			if !ok {
				return fmt.Errorf("%s is a secret with no ${ENV} reference to write in its place", path)
			}
			n.Value, n.Style, n.Tag = ref, yaml.DoubleQuotedStyle, "!!str"
		}
	}
	return nil
}

// demoPolicies are the demo's governance policies. They find two real
// violations on its cluster: finance.ledger.entries, tier 1, on a topic
// of replication factor 1, and sandbox.scratch, a topic no product claims.
// Fixed in the config: the ledger declared tier 2 until its topic is
// replicated, and ^sandbox\. allowed (see TestDemoPolicies).
func demoPolicies() *policy.Config {
	return &policy.Config{
		{Policy: policy.Naming, Severity: policy.SeverityWarning},
		{Policy: policy.Metadata, Severity: policy.SeverityWarning, Require: []string{policy.RequireOwnerChannel, policy.RequireDescription, policy.RequireSLO}},
		{Policy: policy.TopicConfig, Name: "tier1-replication", Scope: policy.Scope{Tiers: []int{1}}, MinReplicationFactor: 3},
		{Policy: policy.UnownedTopics, Allow: []string{"^_"}},
		{
			Name: "tier1-has-description", Severity: policy.SeverityWarning,
			Expr:    "product.tier != 1 || product.description != ''",
			Message: "tier-1 product {{product.name}} has no description",
		},
	}
}
