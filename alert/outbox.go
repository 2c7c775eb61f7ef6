package alert

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshwatch/meshwatch"
)

// Outcomes of a delivery attempt, the outcome label of
// meshwatch_alert_notifications_total.
const (
	OutcomeSuccess     = "success"      // delivered
	OutcomeRetry       = "retry"        // failed, retried with backoff
	OutcomeRateLimited = "rate_limited" // the receiver asked to wait (429)
	OutcomeFailed      = "failed"       // failed permanently, dropped
	OutcomeDropped     = "dropped"      // not tried: an earlier notification of the incident failed permanently
	OutcomeExpired     = "expired"      // undeliverable for Options.MaxAge, dropped
)

var outcomes = []string{OutcomeSuccess, OutcomeRetry, OutcomeRateLimited, OutcomeFailed, OutcomeDropped, OutcomeExpired}

// Backoff of a failed delivery: 1s, doubled per attempt, at most 5m.
const (
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
)

func backoff(attempts int) time.Duration {
	d := minBackoff
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// Run dispatches the groups on their timers and delivers the outbox, one
// goroutine per integration, until ctx ends. It then gives deliveries in
// flight and those already due up to Options.ShutdownTimeout, saves the
// state and returns. What was not delivered stays in the Store for the next
// start. Run returns nil after ctx ends; call it once.
func (m *Manager) Run(ctx context.Context) error {
	// dctx outlives ctx by the shutdown grace, so that a notification in
	// flight when ctx ends is finished rather than cut and sent twice.
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(m.shutdown, cancel) })
	defer stop()

	var g errgroup.Group
	g.Go(func() error { return m.dispatchLoop(ctx, dctx) })
	for _, n := range m.notifiers {
		g.Go(func() error { return m.deliverLoop(ctx, dctx, n) })
	}
	for _, f := range m.forwarders {
		g.Go(func() error { return m.forwardLoop(ctx, dctx, f) })
	}
	err := g.Wait()
	// The last save gets its own bound: dctx may be spent by now.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), m.shutdown)
	defer scancel()
	m.persist(sctx)
	m.saveExpiredSilences(sctx)
	return err
}

func (m *Manager) dispatchLoop(ctx, dctx context.Context) error {
	for {
		m.tick(dctx, m.now())
		next := m.nextFlush()
		m.mu.Lock()
		if m.dirty || m.silencesDirty { // a failed save: try again soon
			retry := m.now().Add(10 * time.Second)
			if next.IsZero() || retry.Before(next) {
				next = retry
			}
		}
		m.mu.Unlock()
		if !m.wait(ctx, m.wakeDispatch, next) {
			return nil
		}
		m.persist(dctx)
	}
}

// tick dispatches the groups due at now, then saves what changed: the
// state, when notifications were enqueued (and wakes the deliveries), and
// the silences, when some expired.
func (m *Manager) tick(ctx context.Context, now time.Time) {
	if m.dispatch(now) {
		m.persist(ctx)
		for _, ch := range m.wakeDeliver {
			wake(ch)
		}
	}
	m.saveExpiredSilences(ctx)
}

func (m *Manager) deliverLoop(ctx, dctx context.Context, n Notifier) error {
	wakeCh := m.wakeDeliver[n.Name()]
	for {
		next := m.deliver(dctx, n, m.now())
		if !m.wait(ctx, wakeCh, next) {
			// Last pass: what is due now, within the shutdown grace.
			m.deliver(dctx, n, m.now())
			return nil
		}
	}
}

// wait blocks until wakeCh is signalled, next is reached (never when zero)
// or ctx ends; it returns false when ctx ended.
func (m *Manager) wait(ctx context.Context, wakeCh chan struct{}, next time.Time) bool {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(max(next.Sub(m.now()), time.Millisecond))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-wakeCh:
	case <-timer:
	}
	return true
}

// deliver sends n the notifications that are due at now, each incident's in
// order, and returns when the next one is due (zero when none waits). Each
// entry is tried at most once per call.
func (m *Manager) deliver(ctx context.Context, n Notifier, now time.Time) time.Time {
	name := n.Name()
	tried := map[uint64]bool{}
	for ctx.Err() == nil {
		m.mu.Lock()
		e, next := m.pick(name, now, tried)
		if e == nil {
			m.mu.Unlock()
			return next
		}
		tried[e.Seq] = true
		key := e.N.Incident + "/" + name
		rec := m.st.Threads[key]
		if rec == nil {
			rec = &threadRec{}
		}
		switch {
		case rec.Failed != "", e.N.Kind == KindAnnounce && !announces(n):
			// An announcement is for Announcers only: one queued before a
			// restart that changed the integration is not sent.
			m.finish(e, OutcomeDropped)
			m.mu.Unlock()
			continue
		case now.Sub(e.Enqueued) > m.maxAge:
			m.finish(e, OutcomeExpired)
			m.logOnce("expired/"+name, "notification dropped: undeliverable for too long", "integration", name, "incident", e.N.Incident, "age", now.Sub(e.Enqueued).String())
			m.mu.Unlock()
			continue
		}
		e.inflight = true
		th := rec.Thread
		m.mu.Unlock()

		err := n.Notify(ctx, e.N, &th)

		// Waits count from the answer, not from the start of the pass: a
		// Retry-After of 2 s means 2 s after the 429 arrived.
		answered := m.now()
		if answered.Before(now) {
			answered = now
		}
		m.mu.Lock()
		e.inflight = false
		if th != rec.Thread {
			rec.Thread = th
			m.st.Threads[key] = rec
			m.dirty = true
		}
		var perm *PermanentError
		var ra *RetryAfterError
		switch {
		case err == nil:
			m.metrics.latency.WithLabelValues(name).Observe(max(m.now().Sub(e.Enqueued), 0).Seconds())
			m.finish(e, OutcomeSuccess)
		case errors.As(err, &perm):
			rec.Failed = perm.Reason
			m.st.Threads[key] = rec
			m.finish(e, OutcomeFailed)
			m.logOnce("failed/"+name+"/"+perm.Reason, "notification failed permanently: not retried",
				"integration", name, "incident", e.N.Incident, "channel", e.N.Channel, "reason", perm.Reason, "err", err)
		case errors.Is(err, errThrottled):
			e.Next = answered.Add(retryAfter(err))
		case ctx.Err() != nil:
			// Shutting down: the entry stays for the next start.
		case errors.As(err, &ra):
			e.Attempts++
			e.Next = answered.Add(max(ra.After, minBackoff))
			m.count(e, OutcomeRateLimited)
			m.logOnce("ratelimited/"+name, "notification rate limited: retrying", "integration", name, "retry_after", ra.After.String())
		default:
			e.Attempts++
			e.Next = answered.Add(backoff(e.Attempts))
			m.count(e, OutcomeRetry)
			m.logOnce("retry/"+name, "notification failed: retrying", "integration", name, "incident", e.N.Incident, "attempts", e.Attempts, "err", err)
		}
		m.updateMetricsLocked(now)
		m.mu.Unlock()
		m.persist(ctx)
	}
	return time.Time{}
}

func retryAfter(err error) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return max(ra.After, time.Millisecond)
	}
	return minBackoff
}

// pick returns the first entry of integration that is due at now and is
// the oldest of its incident, and else when the next one is due. The caller
// holds m.mu.
func (m *Manager) pick(integration string, now time.Time, tried map[uint64]bool) (*entry, time.Time) {
	var next time.Time
	blocked := map[string]bool{}
	for _, e := range m.st.Outbox {
		if e.Integration != integration || blocked[e.N.Incident] {
			continue
		}
		blocked[e.N.Incident] = true
		if e.inflight {
			continue
		}
		if !e.Next.After(now) && !tried[e.Seq] {
			return e, time.Time{}
		}
		if next.IsZero() || e.Next.Before(next) {
			next = e.Next
		}
	}
	return nil, next
}

// finish removes e from the outbox with outcome, and the incident's thread
// when nothing of the incident is left to send on it. The caller holds m.mu.
func (m *Manager) finish(e *entry, outcome string) {
	m.count(e, outcome)
	m.st.Outbox = slices.DeleteFunc(m.st.Outbox, func(x *entry) bool { return x == e })
	m.dirty = true
	for _, x := range m.st.Outbox {
		if x.N.Incident == e.N.Incident && x.Integration == e.Integration {
			return
		}
	}
	if m.openIncident(e.N.Incident) {
		return
	}
	delete(m.st.Threads, e.N.Incident+"/"+e.Integration)
}

// forwardState is what a Forwarder was last sent.
type forwardState struct {
	f        Forwarder
	wake     chan struct{}
	resolved []Alert // resolved since the last successful Forward
	digest   string
	lastSent time.Time
	next     time.Time // not before, after a failure
	attempts int
}

// maxForwardResolved bounds the resolved alerts kept for a forwarder that
// cannot be reached: beyond it the receiver learns from EndsAt.
const maxForwardResolved = 1000

func (m *Manager) forwardLoop(ctx, dctx context.Context, f *forwardState) error {
	for {
		next := m.forward(dctx, f, m.now())
		if !m.wait(ctx, f.wake, next) {
			m.forward(dctx, f, m.now())
			return nil
		}
	}
}

// forward sends f the firing alerts when they changed, when alerts resolved
// or when ResendDelay passed, and returns when to call it again.
func (m *Manager) forward(ctx context.Context, f *forwardState, now time.Time) time.Time {
	m.mu.Lock()
	if now.Before(f.next) {
		m.mu.Unlock()
		return f.next
	}
	var alerts []Alert
	var fps []string
	for _, t := range m.alerts {
		if t.a.Status != StatusFiring {
			continue
		}
		a := t.a.clone()
		a.EndsAt = now.Add(4 * m.resendDelay)
		alerts = append(alerts, a)
		fps = append(fps, a.Fingerprint+"/"+a.State)
	}
	slices.Sort(fps)
	digest := ""
	for _, s := range fps {
		digest += s + ","
	}
	nResolved := len(f.resolved)
	if digest == f.digest && nResolved == 0 && now.Sub(f.lastSent) < m.resendDelay {
		next := f.lastSent.Add(m.resendDelay)
		m.mu.Unlock()
		return next
	}
	if len(alerts) == 0 && nResolved == 0 && f.digest == "" {
		f.lastSent = now
		m.mu.Unlock()
		return now.Add(m.resendDelay)
	}
	sortAlerts(alerts)
	alerts = append(alerts, f.resolved...)
	m.mu.Unlock()

	err := f.f.Forward(ctx, alerts)

	m.mu.Lock()
	defer m.mu.Unlock()
	name := f.f.Name()
	if err != nil {
		f.attempts++
		d := backoff(f.attempts)
		var ra *RetryAfterError
		outcome := OutcomeRetry
		if errors.As(err, &ra) {
			d, outcome = max(ra.After, minBackoff), OutcomeRateLimited
		}
		f.next = now.Add(min(d, m.resendDelay))
		m.metrics.notifications.WithLabelValues(name, outcome).Inc()
		m.logOnce("forward/"+name, "forwarding alerts failed: retrying", "integration", name, "attempts", f.attempts, "err", err)
		return f.next
	}
	m.metrics.notifications.WithLabelValues(name, OutcomeSuccess).Inc()
	f.resolved = slices.Delete(f.resolved, 0, nResolved)
	f.digest, f.lastSent, f.attempts, f.next = digest, now, 0, time.Time{}
	return now.Add(m.resendDelay)
}

// count counts a delivery attempt of e with outcome, and that of an
// announcement by its kind too. The caller holds m.mu.
func (m *Manager) count(e *entry, outcome string) {
	m.metrics.notifications.WithLabelValues(e.Integration, outcome).Inc()
	if e.N.Kind == KindAnnounce {
		m.metrics.announcements.WithLabelValues(e.Integration, e.N.GroupLabels[labelAnnouncement], outcome).Inc()
	}
}

// announces reports whether n posts announcements.
func announces(n Notifier) bool {
	an, ok := n.(Announcer)
	return ok && an.Announces()
}

// labelAnnouncement is the group label of an announcement's notification
// that holds its Kind.
const labelAnnouncement = "announcement"

// announcementKind is what Announcement.Kind may be: a bounded label value.
var announcementKind = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// maxAnnouncementBytes bounds an announcement's text: Slack cuts a
// message at 40,000 characters.
const maxAnnouncementBytes = 32 << 10

// Announce queues a for every notifier that is an Announcer (Slack, the
// console), saves the outbox to the Store and wakes the deliveries; Run
// delivers it as it delivers incidents' notifications: retried with
// backoff, Retry-After and the per-channel pacing obeyed, counted in
// meshwatch_alert_notifications_total and
// meshwatch_alert_announcements_total, kept across a restart, dropped
// after Options.MaxAge. Each announcement is an outbox entry of its own:
// it waits for no incident and no incident waits for it. An announcement
// with the Key of one still in the outbox is not queued again (nil).
//
// Announce returns ErrNoAnnouncer when no notifier posts announcements,
// and an error for an invalid Kind, Channel or Text, or, with
// Options.Shard, a Shard the Manager does not own; the errors hold neither
// the text nor the channel. A Store failure is not returned: it is logged,
// counted and retried, as for incidents. Announce does not wait for the
// delivery.
func (m *Manager) Announce(ctx context.Context, a Announcement) error {
	switch {
	case !announcementKind.MatchString(a.Kind):
		return errors.New("alert: announcement kind must be 1 to 32 of a-z, 0-9 and _, starting with a letter")
	case a.Channel == "" || !meshwatch.IsSlackChannel(a.Channel):
		return fmt.Errorf("alert: %s announcement: the channel must be a Slack channel name like \"#finops\" or an ID like C0123ABCD", a.Kind)
	case a.Text == "":
		return fmt.Errorf("alert: %s announcement without text", a.Kind)
	case len(a.Text) > maxAnnouncementBytes:
		return fmt.Errorf("alert: %s announcement of %d bytes, more than %d", a.Kind, len(a.Text), maxAnnouncementBytes)
	}
	var to []string
	for _, n := range m.notifiers {
		if announces(n) {
			to = append(to, n.Name())
		}
	}
	if len(to) == 0 {
		return ErrNoAnnouncer
	}
	groupKey := labelAnnouncement + "/" + a.Kind
	if m.shardOf != nil {
		sh := a.Shard
		if sh == "" && len(m.shards) > 0 {
			sh = m.shards[0]
		}
		if !slices.Contains(m.shards, sh) {
			return fmt.Errorf("alert: %s announcement for shard %q, which this Manager does not own", a.Kind, sh)
		}
		// The key ends with the shard: see groupShard.
		groupKey += "#" + sh
	}

	now := m.now()
	m.mu.Lock()
	var id string
	if a.Key != "" {
		id = "announce-" + Fingerprint(map[string]string{"kind": a.Kind, "key": a.Key})
		for _, e := range m.st.Outbox {
			if e.N.Incident == id {
				m.mu.Unlock()
				m.log.Info("announcement already queued", "kind", a.Kind, "channel", a.Channel, "announcement", id)
				return nil
			}
		}
	} else {
		m.st.Seq++
		id = fmt.Sprintf("announce-%s-%d", Fingerprint(map[string]string{"kind": a.Kind, "time": now.Format(time.RFC3339Nano)}), m.st.Seq)
	}
	n := &Notification{
		Kind: KindAnnounce, Incident: id, GroupKey: groupKey,
		GroupLabels: map[string]string{labelAnnouncement: a.Kind},
		Channel:     a.Channel, Opened: now, Time: now, Note: a.Text,
	}
	for _, name := range to {
		m.st.Seq++
		m.st.Outbox = append(m.st.Outbox, &entry{Seq: m.st.Seq, Integration: name, N: n, Enqueued: now, Next: now})
		for _, o := range outcomes {
			m.metrics.announcements.WithLabelValues(name, a.Kind, o)
		}
	}
	m.dirty = true
	m.updateMetricsLocked(now)
	m.mu.Unlock()
	m.log.Info("announcement queued", "kind", a.Kind, "channel", a.Channel, "announcement", id, "integrations", to)
	m.persist(ctx)
	for _, name := range to {
		wake(m.wakeDeliver[name])
	}
	return nil
}
