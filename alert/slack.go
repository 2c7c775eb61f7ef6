package alert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"

	"github.com/meshwatch/meshwatch"
)

// SlackOptions configure the Slack notifier.
type SlackOptions struct {
	// Token is the bot token (xoxb-…), with the chat:write scope.
	Token meshwatch.Secret
	// APIURL is the Web API's base URL (default https://slack.com/api/).
	APIURL  string
	Logger  *slog.Logger
	Metrics *Metrics
	// PerChannelInterval is the least time between two messages posted to
	// one channel (default 1s, Slack's limit).
	PerChannelInterval time.Duration
	// Now is the clock of the per-channel limit (default time.Now).
	Now func() time.Time
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Slack posts one root message per incident to the route's channel, in
// Block Kit with fallback text, and keeps it current: a change, a repeat
// and the resolve update the root (chat.update) and post a reply in its
// thread. A note (KindNote) is a thread reply only, its text escaped, and
// is not posted before the incident has a root message. It holds a message
// back rather than post twice a second to a channel, and returns a RetryAfterError on 429 and a PermanentError for the
// API errors retrying cannot fix (channel_not_found, invalid_auth,
// not_in_channel…).
type Slack struct {
	client   *slack.Client
	log      *slog.Logger
	metrics  *Metrics
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	last map[string]time.Time // channel → last post
	ids  map[string]string    // channel name → ID, from responses
}

// NewSlack returns a Slack notifier.
func NewSlack(o SlackOptions) *Slack {
	apiURL := cmp.Or(o.APIURL, slack.APIURL)
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Slack{
		client: slack.New(o.Token.Reveal(), slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(hc),
			slack.OptionLog(log.New(io.Discard, "", 0))),
		log:      o.Logger,
		metrics:  o.Metrics,
		interval: cmp.Or(o.PerChannelInterval, time.Second),
		now:      o.Now,
		last:     map[string]time.Time{},
		ids:      map[string]string{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "alert", "integration", "slack")
	if s.metrics == nil {
		s.metrics = NewMetrics(prometheus.NewRegistry())
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Name returns "slack".
func (s *Slack) Name() string { return "slack" }

var errNoChannel = errors.New("slack: no channel: the owner has none and there is no default channel")

// Notify posts or updates n's messages; see Slack.
func (s *Slack) Notify(ctx context.Context, n *Notification, th *Thread) error {
	switch n.Kind {
	case KindNote:
		return s.note(ctx, n, th)
	case KindAnnounce:
		return s.announce(ctx, n, th)
	}
	channel := cmp.Or(th.Channel, n.Channel)
	if channel == "" {
		return Permanent("no_channel", errNoChannel)
	}
	if err := s.allow(channel); err != nil {
		return err
	}
	text, blocks := rootMessage(n)
	root := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl()}
	if th.TS == "" {
		return s.postRoot(ctx, channel, th, root)
	}
	err := s.call("chat.update", func() error {
		_, _, _, err := s.client.UpdateMessageContext(ctx, th.Channel, th.TS, root...)
		return err
	})
	var perm *PermanentError
	if errors.As(err, &perm) && (perm.Reason == "message_not_found" || perm.Reason == "cant_update_message") {
		s.log.Warn("root message gone: posting a new one", "incident", n.Incident, "channel", th.Channel)
		return s.postRoot(ctx, th.Channel, th, root)
	}
	if err != nil {
		return err
	}
	if n.Kind == KindFire {
		// The root was posted before a restart cut the bookkeeping: the
		// update brought it up to date, there is nothing to reply.
		return nil
	}
	reply := replyText(n)
	return s.call("chat.postMessage", func() error {
		defer s.mark(th.Channel)
		_, _, err := s.client.PostMessageContext(ctx, th.Channel, slack.MsgOptionText(reply, false),
			slack.MsgOptionTS(th.TS), slack.MsgOptionDisableLinkUnfurl())
		return err
	})
}

// note posts n's note as a reply in the incident's thread, and nothing
// else: the root stays as it is and nobody is mentioned. Without a root
// message there is no thread to tell, and nothing is posted. A note that
// fails for good is logged and dropped, not returned: it must not stop the
// incident's own notifications, which find out for themselves.
func (s *Slack) note(ctx context.Context, n *Notification, th *Thread) error {
	if th.TS == "" || th.Channel == "" {
		s.log.Debug("note not posted: the incident has no root message", "incident", n.Incident)
		return nil
	}
	if err := s.allow(th.Channel); err != nil {
		return err
	}
	text := noteEmoji(n.Note) + " " + slackEscape(n.Note)
	err := s.call("chat.postMessage", func() error {
		defer s.mark(th.Channel)
		_, _, err := s.client.PostMessageContext(ctx, th.Channel, slack.MsgOptionText(text, false),
			slack.MsgOptionTS(th.TS), slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl())
		return err
	})
	var perm *PermanentError
	if errors.As(err, &perm) {
		s.log.Warn("note not posted: dropped", "incident", n.Incident, "channel", th.Channel, "reason", perm.Reason)
		return nil
	}
	return err
}

// Announces returns true: Slack posts announcements (KindAnnounce).
func (s *Slack) Announces() bool { return true }

// maxAnnouncementText bounds the text of an announcement, escaped, below
// the 40,000 characters at which Slack cuts a message.
const maxAnnouncementText = 39000

var errNoAnnouncementChannel = errors.New("slack: an announcement without a channel")

// announce posts n's text, escaped, as a message of its own in n's
// channel, without unfurling its links. The post is recorded in th, so
// that an announcement that has one is never posted again.
func (s *Slack) announce(ctx context.Context, n *Notification, th *Thread) error {
	if th.TS != "" {
		return nil // posted already
	}
	if n.Channel == "" {
		return Permanent("no_channel", errNoAnnouncementChannel)
	}
	if err := s.allow(n.Channel); err != nil {
		return err
	}
	text := truncate(slackEscape(n.Note), maxAnnouncementText)
	return s.postRoot(ctx, n.Channel, th, []slack.MsgOption{slack.MsgOptionText(text, false),
		slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl()})
}

// noteEmoji heads a note: :no_bell: for a silence added, :bell: for one
// removed.
func noteEmoji(note string) string {
	switch {
	case strings.HasPrefix(note, noteSilenced):
		return ":no_bell:"
	case strings.HasPrefix(note, noteUnsilenced):
		return ":bell:"
	}
	return ":memo:"
}

// slackEscaper escapes Slack's control characters, so that text people
// typed ("<!channel>", "<@U123>", "<https://x|y>") reads as typed and pings
// nobody.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackEscape(s string) string { return slackEscaper.Replace(s) }

func (s *Slack) postRoot(ctx context.Context, channel string, th *Thread, root []slack.MsgOption) error {
	return s.call("chat.postMessage", func() error {
		defer s.mark(channel)
		id, ts, err := s.client.PostMessageContext(ctx, channel, root...)
		if err == nil {
			th.Channel, th.TS = cmp.Or(id, channel), ts
			s.mu.Lock()
			s.ids[channel] = th.Channel
			s.mu.Unlock()
		}
		return err
	})
}

// allow returns a RetryAfterError when channel had a message less than the
// interval ago.
func (s *Slack) allow(channel string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.last[cmp.Or(s.ids[channel], channel)]
	if wait := s.interval - s.now().Sub(last); ok && wait > 0 {
		return &RetryAfterError{After: wait, Err: errThrottled}
	}
	return nil
}

func (s *Slack) mark(channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last[cmp.Or(s.ids[channel], channel)] = s.now()
}

// retryableSlack are the API errors that may pass: the rest are permanent.
var retryableSlack = map[string]bool{
	"ratelimited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true, "team_added_to_org": true,
}

// call runs one API call, counts it and classifies its error.
func (s *Slack) call(method string, f func() error) error {
	result, err := classifySlack(method, f())
	s.metrics.slackRequests.WithLabelValues(method, result).Inc()
	return err
}

func classifySlack(method string, err error) (string, error) {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var api slack.SlackErrorResponse
	switch {
	case err == nil:
		return slackOK, nil
	case errors.As(err, &rl):
		return slackRateLimited, &RetryAfterError{After: max(rl.RetryAfter, time.Second), Err: fmt.Errorf("slack %s: rate limited (429)", method)}
	case errors.As(err, &sc):
		e := fmt.Errorf("slack %s: HTTP %d", method, sc.Code)
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return slackRateLimited, e
		case sc.Code >= 500:
			return slackServerError, e
		default:
			return slackAPIError, Permanent(fmt.Sprintf("http_%d", sc.Code), e)
		}
	case errors.As(err, &api):
		e := fmt.Errorf("slack %s: %s", method, api.Err)
		if api.Err == "ratelimited" {
			return slackRateLimited, &RetryAfterError{After: time.Second, Err: e}
		}
		if retryableSlack[api.Err] {
			return slackAPIError, e
		}
		return slackAPIError, Permanent(api.Err, e)
	default:
		// Network errors, timeouts, a body that is not JSON: worth a retry.
		return slackNetwork, fmt.Errorf("slack %s: %w", method, cleanURLError(err))
	}
}

// maxAlertsShown bounds the alerts a root message details (Slack allows 50
// blocks; a phone screen fewer).
const maxAlertsShown = 8

// rootMessage returns the fallback text and the blocks of n's root message:
// a header (state, product, what), the mention on pages, one section per
// alert with its fields, a context (topics, cluster, window, since) and the
// links.
func rootMessage(n *Notification) (string, []slack.Block) {
	show := shown(n)
	prod := product(n)
	emoji := map[string]string{"PAGE": ":rotating_light:", "TICKET": ":warning:", "UPSTREAM": ":link:", "RESOLVED": ":white_check_mark:"}[headline(n)]
	head := truncate(fmt.Sprintf("%s %s %s · %s", emoji, headline(n), prod, titles(show)), 150)

	text := fmt.Sprintf("%s %s: %s", headline(n), prod, titles(show))
	if owner := n.GroupLabels["owner"]; owner != "" {
		text += " (owner " + owner + ")"
	}
	if n.Audience != nil {
		text += " — you depend on it: " + n.Audience.Affected()
	}
	if n.Mention != "" {
		text = n.Mention + " " + text
	}

	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, head, true, false))}

	var intro string
	if n.Status == StatusResolved {
		intro = fmt.Sprintf("Resolved %s, open for %s.", clock(n.Time), human(n.Time.Sub(n.Opened)))
	} else {
		intro = fmt.Sprintf("%d alert(s) firing since %s.", len(show), clock(n.Opened))
		if len(show) > 0 {
			intro = cmp.Or(show[0].Annotations["summary"], intro)
		}
	}
	if n.Audience != nil {
		intro = audienceIntro(n, prod) + "\n" + intro
	}
	if s := upstreamLine(n.Upstream); s != "" {
		intro += "\n" + s
	}
	if n.Mention != "" {
		intro = n.Mention + " " + intro
	}
	// A section holds at most 3,000 characters: a long list of groups at
	// stake must not make Slack refuse the whole message.
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(intro, 3000), false, false), nil, nil))

	for i := range show {
		if i == maxAlertsShown {
			blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType,
				fmt.Sprintf("and %d more alerts", len(show)-maxAlertsShown), false, false)))
			break
		}
		a := &show[i]
		line := fmt.Sprintf("*%s* · %s", a.title(), stateWord(a))
		if a.CausedBy != "" {
			line += " · caused upstream by *" + a.CausedBy + "*"
		}
		if d := a.Annotations["description"]; d != "" {
			line += "\n" + d
		}
		var fs []*slack.TextBlockObject
		for _, f := range fields(a) {
			fs = append(fs, slack.NewTextBlockObject(slack.MarkdownType, "*"+f.name+"*\n"+f.value, false, false))
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(line, 3000), false, false), fs, nil))
	}

	if n.Status == StatusFiring {
		var res []string
		for i := range n.Alerts {
			if a := &n.Alerts[i]; a.Status == StatusResolved {
				res = append(res, fmt.Sprintf("%s %s", a.title(), clock(a.EndsAt)))
			}
		}
		if len(res) > 0 {
			blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType,
				":white_check_mark: Resolved: "+strings.Join(res, ", "), false, false)))
		}
	}

	a := &Alert{}
	if len(show) > 0 {
		a = &show[0]
	}
	var ctxParts []string
	if len(a.Topics) > 0 {
		ctxParts = append(ctxParts, "Topics: `"+strings.Join(a.Topics, "`, `")+"`")
	}
	if a.Cluster != "" {
		ctxParts = append(ctxParts, "Cluster: "+a.Cluster)
	}
	if a.Window != "" {
		ctxParts = append(ctxParts, "Window: "+a.Window)
	}
	ctxParts = append(ctxParts, "Since: "+clock(n.Opened))
	blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, truncate(strings.Join(ctxParts, " · "), 3000), false, false)))

	var links []string
	for i := range show {
		if u := show[i].RunbookURL; u != "" {
			links = append(links, "<"+u+"|:book: Runbook>")
			break
		}
	}
	for i := range show {
		if u := show[i].DashboardURL; u != "" {
			links = append(links, "<"+u+"|:bar_chart: Dashboard>")
			break
		}
	}
	if len(links) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Join(links, "   "), false, false), nil, nil))
	}
	return text, blocks
}

// replyText is the thread reply of a change, a repeat or the resolve.
func replyText(n *Notification) string {
	switch n.Kind {
	case KindResolve:
		return fmt.Sprintf(":white_check_mark: Resolved %s, open for %s.", clock(n.Time), human(n.Time.Sub(n.Opened)))
	case KindRepeat:
		return fmt.Sprintf(":repeat: Still firing since %s (%s): %s.", clock(n.Opened), human(n.Time.Sub(n.Opened)), titles(n.Firing()))
	}
	var lines []string
	mention := ""
	for i := range n.Alerts {
		a := &n.Alerts[i]
		switch a.Change {
		case ChangeNew:
			lines = append(lines, fmt.Sprintf(":rotating_light: *%s* firing: %s", a.title(), stateWord(a)))
			if a.Pages() && n.Mention != "" {
				mention = n.Mention + " "
			}
		case ChangeState:
			lines = append(lines, fmt.Sprintf(":arrows_counterclockwise: *%s* now %s", a.title(), stateWord(a)))
		case ChangeResolved:
			lines = append(lines, fmt.Sprintf(":white_check_mark: *%s* resolved", a.title()))
		}
	}
	return mention + "Changed " + clock(n.Time) + ":\n" + strings.Join(lines, "\n")
}

// Format prints the notifier without its client, which holds the token.
func (s *Slack) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "alert.Slack{token: <secret>}")
}

// audienceIntro tells a consuming team why it hears of another team's
// incident: what it depends on, and whose incident it is.
func audienceIntro(n *Notification, prod string) string {
	owner := ""
	if o := n.GroupLabels["owner"]; o != "" {
		owner = " (owner " + o + ")"
	}
	if n.Status == StatusResolved {
		return fmt.Sprintf("*%s*%s, which your team depends on, is back to normal. Yours: %s.", prod, owner, n.Audience.Affected())
	}
	return fmt.Sprintf("*%s*%s, which your team depends on, is in an incident since %s. Yours: %s. Its owner has been told; this is for your information.",
		prod, owner, clock(n.Opened), n.Audience.Affected())
}

// maxUpstreamShown bounds the upstream incidents a message names: the
// nearest first.
const maxUpstreamShown = 3

// upstreamLine names the probable upstream cause of an incident.
func upstreamLine(ups []Upstream) string {
	if len(ups) == 0 {
		return ""
	}
	var parts []string
	for i, u := range ups {
		if i == maxUpstreamShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(ups)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("*%s* (%s) since %s", u.Product, truncate(u.What, 100), clock(u.Since)))
	}
	return ":arrow_up: Upstream: " + strings.Join(parts, "; ") + " — the probable cause."
}
