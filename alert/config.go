package alert

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/secretfmt"
	"github.com/meshwatch/meshwatch/internal/urls"
)

// Config is the alerting: section of the configuration: where alerts go,
// how often, and through which integrations. Package config decodes it
// with the rest of the file, as strictly, and reports the problems of
// Validate with the rest, each at its file:line:col. A nil *Config is no alerting:
// section: alerts are served on /api/v1/alerts only.
type Config struct {
	Slack          *SlackConfig        `yaml:"slack"`
	DefaultChannel string              `yaml:"default_channel"`
	TicketChannel  string              `yaml:"ticket_channel"`
	FinanceChannel string              `yaml:"finance_channel"` // chargeback summaries for finance
	GroupWait      meshwatch.Duration  `yaml:"group_wait"`      // default 30s
	GroupInterval  meshwatch.Duration  `yaml:"group_interval"`  // default 5m
	RepeatInterval meshwatch.Duration  `yaml:"repeat_interval"` // default 4h
	Routes         []RouteConfig       `yaml:"routes"`
	Webhook        *WebhookConfig      `yaml:"webhook"`
	Alertmanager   *AlertmanagerConfig `yaml:"alertmanager"`
	// Console prints every notification to the agent's standard output.
	Console bool `yaml:"console"`
	// RunbookURL and DashboardURL are links in every message; {product}
	// and {slo} are replaced.
	RunbookURL   string `yaml:"runbook_url"`
	DashboardURL string `yaml:"dashboard_url"`
}

// The sections hold secrets (the Slack token, the webhook URL and
// secret): each pointer prints as fmt prints a pointer to a struct, with the
// secrets as "<secret>" for every verb (see package secretfmt).
type (
	configFields  Config
	slackFields   SlackConfig
	webhookFields WebhookConfig
)

// Format prints c without its secrets.
func (c *Config) Format(f fmt.State, verb rune) {
	secretfmt.Format(f, verb, "alert.Config", "configFields", (*configFields)(c), c == nil)
}

// Format prints s without its token.
func (s *SlackConfig) Format(f fmt.State, verb rune) {
	secretfmt.Format(f, verb, "alert.SlackConfig", "slackFields", (*slackFields)(s), s == nil)
}

// Format prints w without its URL and secret.
func (w *WebhookConfig) Format(f fmt.State, verb rune) {
	secretfmt.Format(f, verb, "alert.WebhookConfig", "webhookFields", (*webhookFields)(w), w == nil)
}

// SlackConfig is alerting.slack: the Slack notifier (NewSlack).
type SlackConfig struct {
	Token              meshwatch.Secret   `yaml:"token"` // a bot token, usually ${SLACK_BOT_TOKEN}
	APIURL             string             `yaml:"api_url"`
	PerChannelInterval meshwatch.Duration `yaml:"per_channel_interval"` // default 1s
}

// RouteConfig is one of alerting.routes: a Route.
type RouteConfig struct {
	Match          map[string]string  `yaml:"match"`
	Channel        string             `yaml:"channel"`
	Mention        string             `yaml:"mention"`
	GroupWait      meshwatch.Duration `yaml:"group_wait"`
	GroupInterval  meshwatch.Duration `yaml:"group_interval"`
	RepeatInterval meshwatch.Duration `yaml:"repeat_interval"`
}

// WebhookConfig is alerting.webhook: the webhook notifier (NewWebhook).
type WebhookConfig struct {
	URL    meshwatch.Secret `yaml:"url"` // a secret: webhook URLs often carry a token
	Secret meshwatch.Secret `yaml:"secret"`
}

// AlertmanagerConfig is alerting.alertmanager: the Alertmanager forwarder
// (NewAlertmanager).
type AlertmanagerConfig struct {
	URL string `yaml:"url"`
}

// Validate checks what the strict decoder cannot: channel names, durations,
// the Slack token, and the URLs. Its problems have their paths set
// ("alerting.routes[1].match"); the loader places them. No problem shows a
// secret: neither the Slack token nor the webhook URL is ever echoed, and
// the credentials of an echoed URL are replaced by <secret>. A nil Config
// has no problem.
func (c *Config) Validate() meshwatch.Problems {
	if c == nil {
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
	channel("alerting.default_channel", c.DefaultChannel)
	channel("alerting.ticket_channel", c.TicketChannel)
	channel("alerting.finance_channel", c.FinanceChannel)
	for _, d := range []struct {
		path string
		v    meshwatch.Duration
	}{{"alerting.group_wait", c.GroupWait}, {"alerting.group_interval", c.GroupInterval}, {"alerting.repeat_interval", c.RepeatInterval}} {
		if d.v < 0 {
			errf(d.path, "must be >= 0 (0 takes the default), got %s", d.v)
		}
	}
	if s := c.Slack; s != nil {
		if s.Token == "" {
			errf("alerting.slack.token", "is required: a bot token with chat:write, e.g. ${SLACK_BOT_TOKEN}")
		}
		if s.APIURL != "" && !urls.IsHTTP(s.APIURL) {
			errf("alerting.slack.api_url", "must be an http(s) URL like https://slack.com/api/, got %s", strconv.Quote(hideUserinfo(s.APIURL)))
		}
	}
	for i, r := range c.Routes {
		p := fmt.Sprintf("alerting.routes[%d]", i)
		if len(r.Match) == 0 {
			errf(p+".match", "is required: labels the alerts must have, e.g. {owner: orders-team, urgency: page}")
		}
		channel(p+".channel", r.Channel)
	}
	if w := c.Webhook; w != nil {
		// The URL is a secret: it is not echoed.
		if !urls.IsHTTP(w.URL.Reveal()) {
			errf("alerting.webhook.url", "must be an http(s) URL")
		} else if urls.HasCredentials(w.URL.Reveal()) {
			errf("alerting.webhook.url", "must not hold credentials (user:password@); sign the payload with alerting.webhook.secret, or keep a token in the URL's path or query")
		}
	}
	if am := c.Alertmanager; am != nil && !urls.IsHTTP(am.URL) {
		errf("alerting.alertmanager.url", "must be an http(s) URL like http://alertmanager:9093, got %s", strconv.Quote(hideUserinfo(am.URL)))
	}
	return ps
}

// hideUserinfo replaces the user information of a URL (what precedes the
// last "@" of its authority: "user:password") by <secret>, so that a URL
// shown in a problem shows no password, even one that does not parse.
func hideUserinfo(s string) string {
	start := 0
	if i := strings.Index(s, "//"); i >= 0 {
		start = i + 2
	}
	end := len(s)
	if j := strings.IndexAny(s[start:], "/?#"); j >= 0 {
		end = start + j
	}
	if at := strings.LastIndexByte(s[start:end], '@'); at >= 0 {
		return s[:start] + "<secret>" + s[start+at:]
	}
	return s
}

// Routing returns the section's routing: the channels, the timings and
// the routes. A nil Config routes with the defaults.
func (c *Config) Routing() Routing {
	if c == nil {
		return Routing{}
	}
	r := Routing{
		DefaultChannel: c.DefaultChannel,
		TicketChannel:  c.TicketChannel,
		GroupWait:      c.GroupWait.Std(),
		GroupInterval:  c.GroupInterval.Std(),
		RepeatInterval: c.RepeatInterval.Std(),
		RunbookURL:     c.RunbookURL,
		DashboardURL:   c.DashboardURL,
	}
	for _, x := range c.Routes {
		r.Routes = append(r.Routes, Route{
			Match: x.Match, Channel: x.Channel, Mention: x.Mention,
			GroupWait: x.GroupWait.Std(), GroupInterval: x.GroupInterval.Std(), RepeatInterval: x.RepeatInterval.Std(),
		})
	}
	return r
}

// NotifierOptions are what the integrations of a Config need besides it.
type NotifierOptions struct {
	// Logger and Metrics are the Slack notifier's (and should be the
	// Manager's): its API calls are counted in Metrics.
	Logger  *slog.Logger
	Metrics *Metrics
	// Stdout receives the console notifications (default os.Stdout).
	Stdout io.Writer
}

// Notifiers returns the integrations the section configures, in this
// order: Slack, the webhook, Alertmanager (a Forwarder), the console. A nil
// Config has none. The Config must be valid (Validate).
func (c *Config) Notifiers(o NotifierOptions) []Notifier {
	if c == nil {
		return nil
	}
	var ns []Notifier
	if s := c.Slack; s != nil {
		ns = append(ns, NewSlack(SlackOptions{
			Token: s.Token, APIURL: s.APIURL, Logger: o.Logger, Metrics: o.Metrics,
			PerChannelInterval: s.PerChannelInterval.Std(),
		}))
	}
	if w := c.Webhook; w != nil {
		ns = append(ns, NewWebhook(w.URL.Reveal(), w.Secret))
	}
	if am := c.Alertmanager; am != nil {
		ns = append(ns, NewAlertmanager(am.URL))
	}
	if c.Console {
		out := o.Stdout
		if out == nil {
			out = os.Stdout
		}
		ns = append(ns, NewConsole(out))
	}
	return ns
}
