package alert

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Kinds of notification in an incident's life.
const (
	KindFire    = "fire"    // the incident opens: a root message
	KindChange  = "change"  // alerts joined, resolved or changed state
	KindRepeat  = "repeat"  // nothing changed for repeat_interval
	KindResolve = "resolve" // every alert of the incident resolved: it closes
	// KindNote tells the incident's thread something that is not a change
	// of its alerts: a silence that mutes some of them was added or
	// removed. It carries Note and no alerts, and changes nothing of the
	// incident.
	KindNote = "note"
	// KindAnnounce is an announcement (Manager.Announce): free text for a
	// channel, outside any incident, such as a chargeback summary. It
	// carries Note and no alerts, and goes only to the notifiers that are
	// Announcers.
	KindAnnounce = "announce"
)

// Notification is what the Manager tells the integrations about one
// incident: a group of alerts (one owner, one product, one channel) from the
// first firing to the last resolve. Its alerts are the incident's firing
// alerts followed by the ones that resolved since the previous notification;
// a note (KindNote) has none.
type Notification struct {
	Kind string `json:"kind"`
	// Incident identifies the incident; notifications of one incident are
	// delivered to an integration in order.
	Incident string `json:"incident"`
	// GroupKey identifies the group (channel, owner, product); a group's
	// next incident has the same key and a new Incident.
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels"`
	// Status is StatusFiring while any alert fires, else StatusResolved.
	Status string `json:"status"`
	// Channel is the Slack channel the route chose ("" when none).
	Channel string `json:"channel,omitempty"`
	// Mention is the owner's mention when the notification pages.
	Mention string `json:"mention,omitempty"`
	Page    bool   `json:"page,omitempty"`
	// Opened is when the incident opened; Time when this notification was made.
	Opened time.Time `json:"opened"`
	Time   time.Time `json:"time"`
	Alerts []Alert   `json:"alerts"`
	// Upstream are the incidents of the products that fed the incident's
	// product when it opened: its probable cause.
	Upstream []Upstream `json:"upstream,omitempty"`
	// Audience is set on a consuming team's copy of an incident: the team,
	// its channel and what it has at stake. Its notifications never page.
	Audience *meshwatch.Audience `json:"audience,omitempty"`
	// Note is the text of a KindNote, plain: who silenced what, until
	// when, and why. It holds what people typed (a silence's comment and
	// author): an integration escapes it for its format. It is also the
	// text of a KindAnnounce, plain as well.
	Note string `json:"note,omitempty"`
}

// Firing returns the notification's firing alerts.
func (n *Notification) Firing() []Alert {
	var out []Alert
	for _, a := range n.Alerts {
		if a.Status == StatusFiring {
			out = append(out, a)
		}
	}
	return out
}

// Thread is what an integration remembers of an incident between its
// notifications: for Slack, the channel ID and ts of the root message. The
// Manager keeps it in the Store, so that it survives a restart.
type Thread struct {
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
}

// Notifier is an integration that receives notifications (Slack, a webhook,
// the console).
type Notifier interface {
	// Name is the integration label of the metrics ("slack", "webhook"…);
	// two notifiers of a Manager must not share one.
	Name() string
	// Notify delivers n. th is the incident's thread for this integration,
	// empty at first; Notify updates it and the Manager persists it even
	// when Notify fails. An error is retried with backoff unless it is
	// Permanent; a RetryAfter error is retried after its delay. Notify is
	// called from one goroutine per notifier.
	Notify(ctx context.Context, n *Notification, th *Thread) error
}

// Announcer is a Notifier that also posts announcements (KindAnnounce):
// Slack posts them to their channel, the console prints them. The Manager
// queues an announcement only for the notifiers that are Announcers and
// whose Announces is true; the others (a webhook, whose receivers expect
// incidents) never see one.
type Announcer interface {
	Notifier
	// Announces reports whether Notify accepts KindAnnounce.
	Announces() bool
}

// Announcement is free text for a channel that is no alert: a chargeback
// summary, a notice. Manager.Announce delivers it through the outbox, like
// an incident's notifications: it survives a restart and an outage of the
// receiver (retried with backoff, Retry-After obeyed, at most one message
// a second to a channel), is counted in the metrics, and is dropped after
// Options.MaxAge undelivered or on a permanent error.
type Announcement struct {
	// Kind names what it is, for the kind label of
	// meshwatch_alert_announcements_total and the log: a short lowercase
	// word ("chargeback"), 1 to 32 of a-z, 0-9 and _, starting with a
	// letter. It is a label value: a handful per program, never data.
	Kind string
	// Channel is the Slack channel: a name like "#finops" or an ID like
	// C0123ABCD.
	Channel string
	// Text is the message, plain text: an integration escapes it for its
	// format (Slack: & < >), so that it mentions and links nobody. It may
	// span lines, and must hold no secret and no payload value: it leaves
	// the agent. It never appears in a log line or an error.
	Text string
	// Key, when set, identifies the announcement: one with the Key of an
	// announcement still waiting in the outbox is not queued again, so
	// that a caller that retries (a report close that failed after it
	// announced) posts once. Once delivered, a Key may be announced anew.
	Key string
	// Shard, with Options.Shard, is the shard whose state keeps the
	// announcement until it is delivered, one of Options.Shards (default:
	// the first). Without Options.Shard it is ignored.
	Shard string
}

// ErrNoAnnouncer is returned by Announce when none of the Manager's
// notifiers posts announcements (no Slack, no console): the caller decides
// what becomes of the text, such as logging that it went nowhere.
var ErrNoAnnouncer = errors.New("alert: no integration posts announcements (configure alerting.slack or alerting.console)")

// Forwarder is an integration that receives every alert instead of group
// notifications, because it groups, silences and routes by itself
// (Alertmanager). The Manager calls Forward with the firing alerts whenever
// they change and at least every Options.ResendDelay, each with EndsAt
// set to a time after which the receiver may take it as resolved, and with
// the alerts that resolved since the last successful call.
type Forwarder interface {
	Name() string
	Forward(ctx context.Context, alerts []Alert) error
}

// PermanentError is a delivery error that retrying cannot fix
// (channel_not_found, invalid_auth, a 4xx). The Manager drops the
// notification, counts it as failed and logs it once; the incident's later
// notifications to the same integration are dropped without a call.
type PermanentError struct {
	Reason string // a short, bounded word: "channel_not_found", "http_404"
	Err    error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError with reason.
func Permanent(reason string, err error) error {
	return &PermanentError{Reason: reason, Err: err}
}

// RetryAfterError asks for the notification to be retried no sooner than
// After (Slack's 429 Retry-After, or the per-channel rate limit).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// errThrottled is returned by a notifier that holds a message back to keep
// its own rate limit; it is not a failure.
var errThrottled = errors.New("throttled by the per-channel rate limit")

// cleanURLError strips the URL from a *url.Error: a webhook URL may hold a
// secret in its path or query, and errors end up in logs. What remains (the
// operation and the cause, such as "dial tcp 127.0.0.1:9: connection
// refused") names no path.
func cleanURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("%s: timeout: %w", ue.Op, context.DeadlineExceeded)
		}
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
