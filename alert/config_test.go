package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
)

// Secrets the configuration tests use: none may appear in a problem.
const (
	testWebhookURL   = "https://hooks.example.com/services/T0/B0/hunter2-hook-path"
	testWebhookCreds = "https://bot:hunter2-pass@hooks.example.com/x"
	testHookSecret   = "whsec-hunter2-signing"
)

// leaks returns the secrets of the tests that s shows: the env values, and
// "hunter2" and "xoxb-", which every literal secret of testdata/config
// holds.
func leaks(s string) []string {
	var out []string
	for _, secret := range []string{testToken, testWebhookURL, testWebhookCreds, testHookSecret, "hunter2", "xoxb-", "T0/B0"} {
		if strings.Contains(s, secret) {
			out = append(out, secret)
		}
	}
	return out
}

// TestConfigNil: a nil Config is no alerting: section: no problem, the
// default routing, no notifier.
func TestConfigNil(t *testing.T) {
	var c *Config
	if ps := c.Validate(); ps != nil {
		t.Errorf("Validate: %v", ps)
	}
	if r := c.Routing(); !cmp.Equal(r, Routing{}) {
		t.Errorf("Routing: %+v", r)
	}
	if ns := c.Notifiers(NotifierOptions{}); ns != nil {
		t.Errorf("Notifiers: %v", ns)
	}
}

// TestConfigRouting: Routing carries the channels, timings and routes
// over, and routes an alert as the section says.
func TestConfigRouting(t *testing.T) {
	c := &Config{
		DefaultChannel: "#data-alerts", TicketChannel: "#data-tickets",
		GroupWait: meshwatch.Duration(10 * time.Second), RepeatInterval: meshwatch.Duration(12 * time.Hour),
		Routes: []RouteConfig{
			{Match: map[string]string{LabelAlertname: NameProductBlind}, Channel: "#platform-sre"},
			{
				Match: map[string]string{"owner": "orders-team", "urgency": SeverityPage}, Mention: "<!subteam^S0ONCALL>",
				GroupWait: meshwatch.Duration(time.Second), GroupInterval: meshwatch.Duration(30 * time.Second),
			},
		},
	}
	r := c.Routing()
	want := Routing{
		DefaultChannel: "#data-alerts", TicketChannel: "#data-tickets",
		GroupWait: 10 * time.Second, RepeatInterval: 12 * time.Hour,
		Routes: []Route{
			{Match: map[string]string{LabelAlertname: NameProductBlind}, Channel: "#platform-sre"},
			{
				Match: map[string]string{"owner": "orders-team", "urgency": SeverityPage}, Mention: "<!subteam^S0ONCALL>",
				GroupWait: time.Second, GroupInterval: 30 * time.Second,
			},
		},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Fatalf("Routing (-want +got):\n%s", diff)
	}

	owners := testConfig().Owners
	blind := Alert{Labels: map[string]string{LabelAlertname: NameProductBlind, LabelSeverity: SeverityTicket}, Owner: "orders-team", Tier: 1}
	page := Alert{Labels: map[string]string{LabelAlertname: NameSLOBurnRate, LabelSeverity: SeverityPage}, Owner: "orders-team", Tier: 1}
	ticket := Alert{Labels: map[string]string{LabelAlertname: NameSLOBurnRate, LabelSeverity: SeverityTicket}, Owner: "orders-team", Tier: 1}
	orphan := Alert{Labels: map[string]string{LabelAlertname: NameSLOBurnRate, LabelSeverity: SeverityPage}, Owner: "search-team", Tier: 1}
	for _, tc := range []struct {
		name string
		a    Alert
		want target
	}{
		{"the first matching route wins", blind, target{Channel: "#platform-sre", timings: timings{10 * time.Second, DefaultGroupInterval, 12 * time.Hour}}},
		{"a page: the owner's channel, the route's mention and timings", page, target{
			Channel: "#orders-data", Mention: "<!subteam^S0ONCALL>", Page: true,
			timings: timings{time.Second, 30 * time.Second, 12 * time.Hour},
		}},
		{"a ticket: the ticket channel, no route", ticket, target{Channel: "#data-tickets", timings: timings{10 * time.Second, DefaultGroupInterval, 12 * time.Hour}}},
		{"an owner without a channel: the default channel", orphan, target{Channel: "#data-alerts", Page: true, timings: timings{10 * time.Second, DefaultGroupInterval, 12 * time.Hour}}},
	} {
		if got := r.route(&tc.a, owners); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}

	// Without timings, the defaults.
	var empty Config
	if got := empty.Routing(); got.defaults() != (timings{DefaultGroupWait, DefaultGroupInterval, DefaultRepeatInterval}) {
		t.Errorf("empty section: timings %+v", got.defaults())
	}
}

// TestValidateNeverShowsSecrets: whatever is wrong with them, Validate's
// messages show neither the Slack token nor the webhook URL, and show the
// other URLs without their user:password.
func TestValidateNeverShowsSecrets(t *testing.T) {
	for _, c := range []*Config{
		{Slack: &SlackConfig{Token: testToken, APIURL: "ftp://bot:hunter2-api@slack.example.com/api/"}},
		{Slack: &SlackConfig{Token: testToken, APIURL: "bot:hunter2-api@slack.example.com"}},
		{Webhook: &WebhookConfig{URL: testWebhookCreds, Secret: testHookSecret}},
		{Webhook: &WebhookConfig{URL: "hooks.example.com/services/T0/B0/hunter2-hook-path"}},
		{Webhook: &WebhookConfig{URL: "https://hooks.example.com/a b/hunter2\x7f"}},
		{Alertmanager: &AlertmanagerConfig{URL: "admin:hunter2-am@alertmanager:9093"}},
		{Alertmanager: &AlertmanagerConfig{URL: "tcp://admin:hunter2-am@alertmanager:9093/x@y"}},
		{Alertmanager: &AlertmanagerConfig{URL: "//admin:hunter2@am"}},
	} {
		ps := c.Validate()
		if len(ps) != 1 {
			t.Errorf("%+v: %d problems, want 1: %v", c, len(ps), ps)
			continue
		}
		if l := leaks(ps.Error()); len(l) > 0 {
			t.Errorf("problem shows %q: %v", l, ps)
		}
	}
	// A URL without credentials is shown as it is.
	ps := (&Config{Alertmanager: &AlertmanagerConfig{URL: "alertmanager:9093"}}).Validate()
	if want := `must be an http(s) URL like http://alertmanager:9093, got "alertmanager:9093"`; len(ps) != 1 || ps[0].Msg != want {
		t.Errorf("problems %v, want %q", ps, want)
	}
}

func TestHideUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"alertmanager:9093":                  "alertmanager:9093",
		"http://am:9093/path@x":              "http://am:9093/path@x",
		"ftp://u:p@host/api/":                "ftp://<secret>@host/api/",
		"u:p@host:9093":                      "<secret>@host:9093",
		"//u:p@a@host?q=@":                   "//<secret>@host?q=@",
		"slack.example.com/api/":             "slack.example.com/api/",
		"http://u@host#frag@x":               "http://<secret>@host#frag@x",
		"HTTPS://user:pass@Host.example.com": "HTTPS://<secret>@Host.example.com",
	} {
		if got := hideUserinfo(in); got != want {
			t.Errorf("hideUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
