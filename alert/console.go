package alert

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Console writes notifications as text lines, for the demo and for a first
// look without Slack.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole returns a notifier writing to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Name returns "console".
func (c *Console) Name() string { return "console" }

// Announces returns true: the console prints announcements (KindAnnounce).
func (c *Console) Announces() bool { return true }

// Notify writes n: a line for the incident, then one per alert. A note is
// one line: time, NOTE, the product, the note and the incident. An
// announcement is a line with the time, ANNOUNCE, its kind and channel,
// then its text, indented.
func (c *Console) Notify(_ context.Context, n *Notification, _ *Thread) error {
	var b strings.Builder
	switch n.Kind {
	case KindNote:
		fmt.Fprintf(&b, "%s NOTE %s %s [incident %s]\n", n.Time.UTC().Format(time.RFC3339), product(n), oneLine(n.Note), n.Incident)
		return c.write(b.String())
	case KindAnnounce:
		fmt.Fprintf(&b, "%s ANNOUNCE %s", n.Time.UTC().Format(time.RFC3339), n.GroupLabels[labelAnnouncement])
		if n.Channel != "" {
			fmt.Fprintf(&b, " → %s", n.Channel)
		}
		b.WriteByte('\n')
		for line := range strings.Lines(n.Note) {
			fmt.Fprintf(&b, "  %s\n", oneLine(strings.TrimRight(line, "\r\n")))
		}
		return c.write(b.String())
	}
	fmt.Fprintf(&b, "%s %s %s %s", n.Time.UTC().Format(time.RFC3339), strings.ToUpper(n.Kind), headline(n), product(n))
	if n.Channel != "" {
		fmt.Fprintf(&b, " → %s", n.Channel)
	}
	if n.Mention != "" {
		fmt.Fprintf(&b, " %s", n.Mention)
	}
	fmt.Fprintf(&b, " [incident %s]\n", n.Incident)
	if n.Audience != nil {
		fmt.Fprintf(&b, "  for %s, which depends on it: %s\n", n.Audience.Team, n.Audience.Affected())
	}
	for _, u := range n.Upstream {
		fmt.Fprintf(&b, "  upstream: %s (%s) since %s\n", u.Product, u.What, clock(u.Since))
	}
	for i := range n.Alerts {
		a := &n.Alerts[i]
		fmt.Fprintf(&b, "  %-8s %s: %s", a.Status, a.title(), stateWord(a))
		for _, f := range fields(a) {
			fmt.Fprintf(&b, " · %s %s", strings.ToLower(f.name), f.value)
		}
		if a.CausedBy != "" {
			fmt.Fprintf(&b, " · caused upstream by %s", a.CausedBy)
		}
		if a.Change != "" {
			fmt.Fprintf(&b, " (%s)", a.Change)
		}
		b.WriteByte('\n')
	}
	return c.write(b.String())
}

func (c *Console) write(s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.w, s)
	return err
}
