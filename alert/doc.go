// Package alert tells data-product owners when a promise is at risk: it owns
// the alerts' lifecycle, groups them into incidents, routes each incident to
// the product owner's Slack channel, and delivers its notifications durably
// to Slack, a webhook, Alertmanager or the console.
//
// # What it owns
//
//   - Lifecycle. An alert is identified by its labels (alertname, product,
//     slo or rule or group, severity). After each evaluation the caller
//     passes the complete set of conditions (meshwatch.Condition, raised by
//     the sources that own the rules) to (*Manager).UpdateConditions, which
//     makes alerts of them (FromCondition) and applies the product's tier to
//     the severity (meshwatch.TierSeverity: only tier 1 pages): a new alert
//     is pending until it has held for its For, then firing; a firing alert
//     missing from the set resolves; a pending one is forgotten. Update and
//     UpdateKnown take Alerts directly.
//   - Continuity. "Not known" never reads as "not firing". A condition of
//     state unknown (or UpdateKnown's predicate) says what the caller could
//     not evaluate (a source that has not evaluated since the agent started
//     or took a shard over, one that stopped, a product the agent cannot
//     see): the alerts it covers are held as they were, never resolved,
//     never repeated. The incidents loaded
//     from the Store at New are held until an update knows them, so a
//     restart or a handover continues each incident in its Slack thread,
//     silently unless something really changed.
//   - Grouping with Alertmanager's semantics. Firing alerts are grouped per
//     channel, owner and product. A new group is notified group_wait (30s)
//     after its first alert fired; then, every group_interval (5m), a change
//     (an alert joined, resolved or changed State) is notified at once and
//     an unchanged incident again after repeat_interval (4h). An incident
//     opens with the group's first notification and closes when all its
//     alerts resolved.
//   - Inhibition. A firing alert {alertname="ProductUnavailable",
//     product="P"} mutes P's alerts whose sli label is freshness, latency or
//     lag: SLO alerts carry sli=<the SLO's indicator>, lag alerts
//     (alertname ConsumerLag) sli="lag".
//   - Upstream causes. A product declares its inputs (the products it is
//     made from). A product is in trouble while it has a firing alert that
//     makes data late or missing downstream (a latency, freshness or
//     availability SLO, ProductStale, ProductUnavailable, SLONoData) and
//     that no silence mutes. A freshness or latency alert of a product
//     whose nearest troubled input (on each path up the inputs) got into
//     trouble no later than the alert started is caused upstream:
//     Alert.CausedBy names the input, the alert is counted muted
//     "inhibited" but not hidden — it stays in its incident, marked
//     "caused upstream by", and neither pages nor makes the incident
//     repeat — until the input recovers, which is a change that pages.
//     When the first alert consumers hear of joins an incident while
//     inputs are in trouble, the incident names them (incident Upstream,
//     in the notifications, Slack's "Upstream:" line, at most three, and
//     /api/v1/incidents): its probable cause. The causes are computed
//     once per product and pass: 10,000 products with inputs cost about
//     as much as without.
//   - Consumers. With Options.Audiences (package lineage: the teams whose
//     groups read the product, or whose products it feeds, with a channel
//     and subscribed), each team gets its own copy of an incident in its
//     channel: an incident ID of its own each time it opens (so a Slack
//     thread of its own) and a group key of its own,
//     Notification.Audience naming the team and what it has at stake, the
//     alerts a consumer hears of (not ConsumerLag, which routing sends to
//     the group's team, nor ProductBlind, CostBudget or PolicyViolation). A copy opens with
//     the first such alert, changes with them, resolves with them or the
//     incident, and is never a page nor repeated. A team whose channel is
//     the incident's gets none. The copies are kept with the incident in
//     the Store: a restart sends nothing new.
//   - Silences: label matchers (=, !=, =~, !~) with an end, at most 90 days,
//     kept in the Store, served at /api/v1/silences (SilencesHandler) and
//     used by `meshwatch silence` through SilenceClient. They are bounded:
//     at most MaxSilences (1000) in force or to come, MaxSilenceMatchers
//     (32) matchers and MaxSilenceBytes (8 KiB) each, a request body of 64
//     KiB. A catch-all is refused (400): matchers that match an alert
//     without labels, or of which every one accepts any value of its label
//     — it matches a fixed set of made-up probe values (=~".+", !="",
//     !~"foo"…), or all of at least two values the mesh knows of the label
//     (the configured products, SLO names and SLI kinds, page and ticket,
//     the alert names). One = matcher with a value bounds a silence. A
//     muted alert opens no incident and joins none; an alert already
//     notified stays in its incident until it resolves, but a fully muted
//     incident is not repeated. An expired silence leaves the Store at the
//     next dispatch.
//   - Who silenced. Served behind the Guard of internal/webauth (as
//     cmd/meshwatch serves it), the API has every write authenticated; a
//     silence records the caller in authenticated_as ("token ci-bot",
//     "user alice"), next to the free-text created_by (which defaults to
//     the caller's name, and is required of an anonymous caller). Adding
//     and removing a silence is logged with the silence, the caller, its
//     address, the matchers, the times and the comment, and posted as a
//     note (KindNote) into the thread of every open incident with a
//     notified alert the silence matches: "Silenced by ops (token ci-bot)
//     until Mar 2 12:00 UTC (2h), reason: broker upgrade. Matchers:
//     product="p". Silence <id>." A note changes nothing of its incident.
//   - Routing (Routing): the product's owner gives the channel and the
//     mention; only a page of a tier-1 product mentions; other alerts go
//     without mention to the owner's channel, or to TicketChannel when set;
//     DefaultChannel takes alerts whose owner has no channel; Routes
//     override channel, mention and timings by label.
//   - Slack (NewSlack): one root message per incident in Block Kit with
//     fallback text — header (state, product, what), fields (owner,
//     promise — the SLO's objective and threshold in words, "99.9% of
//     records within 1s", which the Manager fills from the configuration
//     with threshold_seconds — or the objective, current SLI, budget
//     remaining as people read it ("spent" at or below 0, never a negative
//     percentage; absent below the SLO's min_events, where the description
//     says "not enough data (n of m events)"), burn rates, time to
//     exhaustion), context (topics, cluster, window, since), links (runbook,
//     dashboard). A change, a repeat and the resolve update the root
//     (chat.update) and post a reply in its thread; a note is a thread reply
//     only, with Slack's control characters (& < >) of what people typed
//     escaped, so that a comment "<!channel>" pings nobody, none before
//     the incident has a root message, and one Slack refuses for good is
//     dropped without failing the incident. Retry-After is obeyed, at
//     most one message per second goes to a channel, 5xx and network errors
//     back off (1s doubling to 5m), and errors retrying cannot fix
//     (channel_not_found, invalid_auth, not_in_channel…) are counted, logged
//     once and never retried: the incident's later notifications to Slack
//     are dropped without a call.
//   - The outbox. Notifications, open incidents and each incident's Slack
//     thread (channel, ts) are written to the Store (key StateKey) before
//     and after each delivery, so a restart loses no notification and posts
//     no second root message. A notification that could not be delivered
//     for MaxAge (24h) is dropped. Each integration gets an incident's
//     notifications in order; incidents do not wait for each other.
//   - Webhook (NewWebhook): WebhookPayload as JSON (not HTML-escaped, as
//     everything the package writes as JSON), signed with
//     X-Meshwatch-Signature: sha256=<hex HMAC-SHA256 of the body>. A note
//     has kind "note", no alerts, and its text, unescaped, in note.
//   - Alertmanager (NewAlertmanager): a Forwarder; every firing alert is
//     posted to /api/v2/alerts when the set changes and every ResendDelay
//     (1m) with endsAt 4 ResendDelays ahead, and each resolved alert once
//     with its end. Alertmanager groups and silences them by itself.
//   - Console (NewConsole), for the demo; a note is one line.
//   - Announcements ((*Manager).Announce): free text for a channel that is
//     no alert, such as cmd/meshwatch's chargeback summaries. Each one is
//     an outbox entry of its own, for the notifiers that are Announcers
//     (Slack posts it as a message of its own, its text escaped and its
//     links not unfurled; the console prints it; a webhook never gets
//     one), with everything an incident's notification has: the Store
//     keeps it across a restart, Retry-After and the per-channel pacing
//     are obeyed, 5xx and network errors back off, a permanent error
//     drops it, MaxAge expires it, the metrics count it. A retried post
//     is not repeated once Slack has recorded it, and an announcement with
//     the Key of one still waiting is not queued twice (one already
//     delivered can be announced again). Its text appears in no log line or
//     error.
//   - Configuration (Config): the alerting: section — slack (token,
//     api_url, per_channel_interval), default_channel, ticket_channel,
//     finance_channel, group_wait, group_interval, repeat_interval,
//     routes (match, channel, mention and the three timings), webhook
//     (url, secret), alertmanager (url), console, runbook_url and
//     dashboard_url. Package config decodes it with the rest of the file
//     and reports Validate's problems with the rest, so that a problem reads "file:line:col: alerting.path: what
//     is wrong"; Routing and Notifiers turn it into the Manager's Options.
//     A nil *Config is no section: no integration, the default routing.
//
// No secret leaves: the Slack token, webhook URLs and secrets and the
// Alertmanager URL appear in no message, log line or error, and the
// notifiers print as <secret>. Config.Validate never echoes the token or
// the webhook URL, and shows the other URLs without their user:password. Nor does an API credential: the log names
// the caller, never a token or a password, and SilenceClient's errors hold
// neither its token nor its password, even from a server that echoes
// them. Alerts carry names, numbers and links only; the caller must not
// put a record's payload into labels or annotations.
//
// It does not evaluate SLOs, lag, products or budgets: packages sla, lag,
// collector and cost raise their conditions, and cmd/meshwatch hands them
// over after each evaluation. It does not implement the Store (package
// internal/state).
//
// # Concurrency
//
// Update, the handlers and the silence methods are safe for concurrent
// use. Run starts, in one errgroup, the dispatch loop and one delivery loop
// per notifier (and per forwarder); when its context ends it gives the
// deliveries in flight and those due up to ShutdownTimeout (5s), saves the
// state and returns.
//
// # Metrics
//
//	meshwatch_alert_notifications_total{integration,outcome}  success, retry, rate_limited, failed, dropped, expired
//	meshwatch_alerts_firing{severity}                          firing alerts, muted or not: page, ticket
//	meshwatch_alerts_pending                                   alerts waiting for their for
//	meshwatch_alerts_unknown                                   alerts held as last known: their condition could not be evaluated
//	meshwatch_alerts_muted{reason}                             firing alerts silenced or inhibited
//	meshwatch_alert_incidents_open                             incidents notified and not resolved
//	meshwatch_alert_outbox_depth{integration}                  notifications waiting for delivery
//	meshwatch_alert_delivery_latency_seconds{integration}      histogram: creation to delivery, retries included
//	meshwatch_alert_silences_active                            silences in force
//	meshwatch_alert_state_errors_total{op}                     failed Store reads (load) and writes (save)
//	meshwatch_alert_slack_requests_total{method,result}        Slack API calls: ok, rate_limited, server_error, network_error, api_error
//	meshwatch_alert_announcements_total{integration,kind,outcome} announcement deliveries (chargeback…), also in notifications_total
package alert
