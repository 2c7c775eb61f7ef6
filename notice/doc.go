// Package notice tells the teams that consume a data product of the
// changes that concern them: its deprecation, its coming sunset, and each
// new schema version of its subjects, flagged breaking when the schema
// registry says so. Each notice goes once to each team, as an announcement
// (package alert) to the team's Slack channel.
//
// # What it owns
//
//   - Who hears. Options.Audiences says who depends on a product
//     (package lineage, over the current graph): every team other than
//     the owner that reads it through a consumer group or owns a product it
//     feeds, has a Slack channel and is subscribed; none when the product
//     has notify_consumers: false. A notice names what the team has at
//     stake (meshwatch.Audience.Affected).
//   - Deprecation. A product marked deprecated: {sunset: YYYY-MM-DD,
//     replacement: P} is told to each team at the first pass that sees it
//     (kind deprecation), and once more when the sunset is
//     Options.SunsetWarning (7 days) away or less (kind sunset): "Deprecated:
//     checkout.orders.placed (owner orders-team) stops on 2027-01-31, in 57
//     days. Move to checkout.orders.v2. Affected: group fraud-detector;
//     product payments.fraud.scored." then "Reminder:
//     checkout.orders.placed stops in 7 days, on 2027-01-31. …". A team
//     that first hears of it within the warning gets one notice only, the
//     sunset one, with the days left. A team that starts depending on the
//     product later hears of it at its first pass. A changed sunset or
//     replacement is a new deprecation, told again. After the sunset day
//     nothing more is sent.
//   - Schema changes (with Options.Registry). The subjects are
//     <topic>-value (TopicNameStrategy) of every topic an avro or protobuf
//     product names (not patterns). Each pass reads the latest version of
//     each, 8 requests at a time: the first seen is the baseline, told to nobody; a higher one is
//     compared with the baseline and told to each team once (kind
//     schema_change, or schema_breaking). It is breaking when the subject's
//     compatibility level (its own, else the global one) is NONE, since the
//     registry then checks nothing, or when the registry's compatibility
//     check of the new schema against the baseline version fails. Versions
//     registered between two passes make one notice, of the latest against
//     the last one told ("is at version 5, was 3"). A subject the registry
//     does not have is skipped; a registry failure is counted, and the
//     subject is tried again at the next pass from the same baseline. The
//     baseline moves to the new version once every team heard of it.
//   - What a notice holds: plain text, short enough for a phone, with the
//     product, the subject, versions, dates, the compatibility level and
//     the team's groups and products. Never a schema's text, a registry's
//     error message (which may quote one) or a record's value, in a notice,
//     a log line or an error.
//   - Delivery. Options.Announce takes each Notice (command meshwatch
//     queues it as an announcement in package alert's outbox, which
//     delivers it durably; its Key makes a notice queued twice post once).
//     A failed Announce is not recorded: the notice is tried again at the
//     next pass. ErrNowhere (no integration posts announcements) is logged
//     once and the notice recorded as sent, so that nothing piles up.
//   - State. What was told whom (product, sunset, replacement, team and
//     notice; subject, version and team) and each subject's baseline are
//     one JSON value in the Store under StateKey ("notice/state"), saved at
//     the end of every pass that changed it, so a restart tells nothing
//     again. Unreadable JSON is logged and the state starts empty; a Store
//     that cannot be read stops the pass, which tells nothing. Deprecation
//     records go after their sunset day, subjects when no product names
//     them.
//
// Check runs one pass; its caller schedules it. Errors of one subject or one team do not stop the
// others: each is counted, logged once while it lasts, and joined in
// Check's error.
//
// # Metrics
//
//	meshwatch_notices_total{kind}       notices announced: deprecation, sunset, schema_change, schema_breaking
//	meshwatch_notice_errors_total{step} failures, retried at the next pass: registry, announce, state
package notice
