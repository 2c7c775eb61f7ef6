package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/webauth"
	"github.com/meshwatch/meshwatch/quality"
	"github.com/meshwatch/meshwatch/sla"
)

// settings is the whole configuration: the model, and the sections that
// leaf packages own (cost:, alerting:), decoded by the same strict loader.
type settings struct {
	*meshwatch.Config
	Cost     *cost.Config // nil: no chargeback
	Alerting *alerting    // nil: alerts only on /api/v1/alerts
	Web      *webSettings // nil: plain HTTP, no basic auth

	// dir is the directory of the configuration file, that relative
	// paths of web: and http.api_token_file are relative to ("" for a
	// configuration built in code: the working directory).
	dir string
}

// webSettings is the web: section: the Prometheus exporter-toolkit web
// configuration file (TLS, client certificates, basic auth, headers), as
// exporters read it with --web.config.file.
type webSettings struct {
	ConfigFile string `yaml:"config_file"`
}

// path returns p relative to the configuration file's directory.
func (s *settings) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, p)
}

// webConfigFile is the web configuration file to serve with, "" for none.
func (s *settings) webConfigFile() string {
	if s.Web == nil {
		return ""
	}
	return s.path(s.Web.ConfigFile)
}

// webConfigUsage is the help of the -web.config.file flags.
const webConfigUsage = "the Prometheus exporter-toolkit web configuration file (TLS, client certificates, basic_auth_users, headers); overrides web.config_file of the config"

// setWebConfigFile sets the web configuration file from a flag (relative
// to the working directory) and checks it; "" keeps the config's.
func (s *settings) setWebConfigFile(flagValue string) error {
	if flagValue == "" {
		return nil
	}
	abs, err := filepath.Abs(flagValue)
	if err != nil {
		return err
	}
	s.Web = &webSettings{ConfigFile: abs}
	return webauth.ValidateWebConfig(abs)
}

// checkHTTP checks the files that secure the HTTP server: the web
// configuration file as the toolkit will read it, and the token file.
func (s *settings) checkHTTP(cfg *meshwatch.Config) meshwatch.Problems {
	var ps meshwatch.Problems
	if s.Web != nil {
		if s.Web.ConfigFile == "" {
			ps = append(ps, meshwatch.Problem{Path: "web.config_file", Msg: "is required in a web: section: the exporter-toolkit web configuration file (TLS, basic_auth_users)"})
		} else if err := webauth.ValidateWebConfig(s.webConfigFile()); err != nil {
			ps = append(ps, meshwatch.Problem{Path: "web.config_file", Msg: err.Error()})
		}
	}
	if f := cfg.HTTP.APITokenFile; f != "" {
		if _, err := webauth.ReadTokens(s.path(f)); err != nil {
			ps = append(ps, meshwatch.Problem{Path: "http.api_token_file", Msg: err.Error()})
		}
	}
	return ps
}

// alerting is the alerting: section: where alerts go and how often.
type alerting struct {
	Slack          *slackSettings     `yaml:"slack"`
	DefaultChannel string             `yaml:"default_channel"`
	TicketChannel  string             `yaml:"ticket_channel"`
	FinanceChannel string             `yaml:"finance_channel"` // chargeback summaries for finance
	GroupWait      meshwatch.Duration `yaml:"group_wait"`      // default 30s
	GroupInterval  meshwatch.Duration `yaml:"group_interval"`  // default 5m
	RepeatInterval meshwatch.Duration `yaml:"repeat_interval"` // default 4h
	Routes         []route            `yaml:"routes"`
	Webhook        *webhookSettings   `yaml:"webhook"`
	Alertmanager   *struct {
		URL string `yaml:"url"`
	} `yaml:"alertmanager"`
	// Console prints every notification to the agent's standard output.
	Console bool `yaml:"console"`
	// RunbookURL and DashboardURL are links in every message; {product}
	// and {slo} are replaced.
	RunbookURL   string `yaml:"runbook_url"`
	DashboardURL string `yaml:"dashboard_url"`
}

type slackSettings struct {
	Token              meshwatch.Secret   `yaml:"token"` // a bot token, usually ${SLACK_BOT_TOKEN}
	APIURL             string             `yaml:"api_url"`
	PerChannelInterval meshwatch.Duration `yaml:"per_channel_interval"` // default 1s
}

type route struct {
	Match          map[string]string  `yaml:"match"`
	Channel        string             `yaml:"channel"`
	Mention        string             `yaml:"mention"`
	GroupWait      meshwatch.Duration `yaml:"group_wait"`
	GroupInterval  meshwatch.Duration `yaml:"group_interval"`
	RepeatInterval meshwatch.Duration `yaml:"repeat_interval"`
}

type webhookSettings struct {
	URL    meshwatch.Secret `yaml:"url"` // a secret: webhook URLs often carry a token
	Secret meshwatch.Secret `yaml:"secret"`
}

// extensions returns the loader extensions that fill s's sections and
// check what the root package cannot: CEL rules, cost settings, and names
// too long for the state store.
func (s *settings) extensions() []config.Extension {
	return []config.Extension{
		{Key: "cost", Into: &s.Cost, Check: func(cfg *meshwatch.Config) meshwatch.Problems {
			if s.Cost == nil {
				return nil
			}
			s.Cost.SetDefaults()
			names := make([]string, len(cfg.Products))
			for i, p := range cfg.Products {
				names[i] = p.Name
			}
			return s.Cost.Validate(names)
		}},
		{Key: "alerting", Into: &s.Alerting, Check: func(*meshwatch.Config) meshwatch.Problems {
			return s.Alerting.validate()
		}},
		{Key: "web", Into: &s.Web, Check: s.checkHTTP},
		{Check: quality.Check},
		{Check: sla.CheckStateKeys},
	}
}

func (a *alerting) validate() meshwatch.Problems {
	if a == nil {
		return nil
	}
	var ps meshwatch.Problems
	errf := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	channel := func(path, ch string) {
		if ch != "" && !meshwatch.IsSlackChannel(ch) {
			errf(path, "must be a channel name like \"#data-alerts\" or a channel ID like C0123ABCD, got %s", strconv.Quote(ch))
		}
	}
	channel("alerting.default_channel", a.DefaultChannel)
	channel("alerting.ticket_channel", a.TicketChannel)
	channel("alerting.finance_channel", a.FinanceChannel)
	for _, d := range []struct {
		path string
		v    meshwatch.Duration
	}{{"alerting.group_wait", a.GroupWait}, {"alerting.group_interval", a.GroupInterval}, {"alerting.repeat_interval", a.RepeatInterval}} {
		if d.v < 0 {
			errf(d.path, "must be >= 0 (0 takes the default), got %s", d.v)
		}
	}
	if s := a.Slack; s != nil {
		if s.Token == "" {
			errf("alerting.slack.token", "is required: a bot token with chat:write, e.g. ${SLACK_BOT_TOKEN}")
		}
		if s.APIURL != "" && !meshwatch.IsHTTPURL(s.APIURL) {
			errf("alerting.slack.api_url", "must be an http(s) URL like https://slack.com/api/, got %s", strconv.Quote(s.APIURL))
		}
	}
	for i, r := range a.Routes {
		p := fmt.Sprintf("alerting.routes[%d]", i)
		if len(r.Match) == 0 {
			errf(p+".match", "is required: labels the alerts must have, e.g. {owner: orders-team, urgency: page}")
		}
		channel(p+".channel", r.Channel)
	}
	if w := a.Webhook; w != nil {
		// The URL is a secret: it is not echoed.
		if !meshwatch.IsHTTPURL(w.URL.Reveal()) {
			errf("alerting.webhook.url", "must be an http(s) URL")
		} else if meshwatch.URLHasCredentials(w.URL.Reveal()) {
			errf("alerting.webhook.url", "must not hold credentials (user:password@); sign the payload with alerting.webhook.secret, or keep a token in the URL's path or query")
		}
	}
	if am := a.Alertmanager; am != nil && !meshwatch.IsHTTPURL(am.URL) {
		errf("alerting.alertmanager.url", "must be an http(s) URL like http://alertmanager:9093, got %s", strconv.Quote(am.URL))
	}
	return ps
}

// routing converts the alerting section into the alert package's routing.
func (a *alerting) routing() alert.Routing {
	if a == nil {
		return alert.Routing{}
	}
	r := alert.Routing{
		DefaultChannel: a.DefaultChannel,
		TicketChannel:  a.TicketChannel,
		GroupWait:      a.GroupWait.Std(),
		GroupInterval:  a.GroupInterval.Std(),
		RepeatInterval: a.RepeatInterval.Std(),
	}
	for _, x := range a.Routes {
		r.Routes = append(r.Routes, alert.Route{
			Match: x.Match, Channel: x.Channel, Mention: x.Mention,
			GroupWait: x.GroupWait.Std(), GroupInterval: x.GroupInterval.Std(), RepeatInterval: x.RepeatInterval.Std(),
		})
	}
	return r
}

// loadSettings loads and validates a config file with its sections,
// printing every problem to stderr. It returns nil when there are errors.
func loadSettings(path string, stderr io.Writer) *settings {
	s := &settings{dir: filepath.Dir(path)}
	cfg, problems, err := config.LoadFileWith(path, s.extensions()...)
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if err != nil {
		if len(problems) == 0 {
			fmt.Fprintf(stderr, "meshwatch: %v\n", err)
		}
		return nil
	}
	s.Config = cfg
	return s
}
