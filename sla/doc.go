// Package sla turns SLI events into SLOs with error budgets: it accounts
// good and valid events in time buckets, evaluates budgets, burn rates and
// multiwindow multi-burn-rate alert decisions every tick, keeps its buckets
// in a state store across restarts and failovers, and writes the same SLOs
// as Prometheus rules.
//
// # What it owns
//
//   - Accounting ([Evaluator.ObserveSLI]): the collector, lag and quality
//     emit [meshwatch.SLIEvents] once per tick through their Sink; each is
//     added to the SLO's minute buckets (the last hour, for the 5m, 30m and
//     1h windows), 5-minute buckets (the last 6 hours, for 2h and 6h),
//     coarse buckets (an hour each for windows up to 32 days, for 1d and
//     3d; wider for longer windows, at most 768 per window) and, for a
//     rolling window of 4 to 32 days, 6-hour blocks for the window, in the
//     bucket that holds the end of (From, To]. Coarse buckets cover the
//     whole window only for a month or a window over 32 days (or of up to
//     3 days); with blocks they cover the last 3 days. Buckets hold
//     cumulative counts, so any window's sum is one subtraction. Memory is
//     fixed by the configuration (322 buckets, about 2.5 KiB, per 28d SLO;
//     330 per 30d; 880, about 7 KiB, per month; a bucket is 8 bytes, 16
//     where the span of its ring holds 2^32 events or more) and reported
//     as meshwatch_slo_buckets and meshwatch_slo_bucket_bytes.
//   - Windows: rolling Nd (default 28d), counted in whole 6-hour blocks
//     aligned to 00, 06, 12 and 18 UTC (the current block and the 111
//     before it: the window spans between 27d18h and 28d, its start moving
//     in 6-hour steps as the 2h and 6h windows' does in 5-minute ones; the
//     budget is exact while every event is younger than that) or, over 32
//     days, in whole coarse buckets; or the calendar month in
//     Options.Location (UTC by default), counted in whole hours, whose
//     budget resets at midnight on the 1st. Burn-rate windows never reset.
//     Burn factors and time to exhaustion treat a month as 30 days
//     ([MonthWindow]).
//   - Evaluation ([Evaluate], pure): error budget = 1 − objective; budget
//     remaining = 1 − (bad / valid) / (1 − objective); burn rate = error
//     ratio / (1 − objective) over 5m, 30m, 1h, 2h, 6h, 1d, 3d and the
//     window; the SRE workbook's [AlertRules] with factors derived from the
//     window (budget share × window hours / long-window hours: 14.4, 6, 3, 1
//     for 30d; 13.44, 5.6, 2.8, 0.93 for 28d): page on 1h and 5m above f1 or
//     6h and 30m above f2, ticket on 1d and 2h above f3 or 3d and 6h above
//     f4. A rule whose long window holds fewer than min_events valid events
//     is held back and the why says so. Decisions: none, ticket, page,
//     exhausted (spent over at least min_events valid events, nothing
//     burning fast), no_data (no valid event in the window: silent is not
//     healthy). Conditions turns them into alert conditions: SLOBurnRate
//     (page or ticket), SLOBudgetExhausted, SLONoData (after NoDataFor, or
//     a freshness SLO's threshold when longer). Time to exhaustion is the remaining
//     budget at the 1h burn rate. No number is NaN; an SLI without valid
//     events has no value (null in JSON, no series in the recorded rules).
//     Over fewer valid events than min_events in the window no display
//     shows a budget: the API's budget_remaining_display, meshwatch check
//     and the why say "not enough data (n of m events)", and a condition
//     carries no budget remaining or time to exhaustion (a page on the 1st
//     of a month, whose burn windows reach into the last one, still shows
//     its burn rates).
//   - State: every state.flush the buckets of SLOs that changed are written
//     to the [Store] under [StateKey] (JSON, non-empty buckets only, in the
//     first layout's form: minute buckets for 6 hours, coarse ones for the
//     window, older 6-hour blocks each as one hourly bucket at its start,
//     so that an agent of the previous version reads it back), and
//     once more when Run stops; Run loads them at start and adds them to
//     what it already holds, so a restart or a failover loses at most one
//     flush interval. A value that cannot be decoded is set aside through
//     the store (one log line) and the SLO starts empty; it never stops
//     the agent. State of SLOs no longer configured is left in the store.
//     [CheckStateKeys], a check of the loader, rejects product and SLO
//     names whose state file name would be longer than a file name may be.
//   - /api/v1/slos ([Evaluator.Handler]): [Status] per SLO with every
//     number needed to recompute budget and decision by hand, including
//     the counts, SLI and burn rate of every window and the window start,
//     and what people read: the promise ([Promise], "99.9% of records
//     within 1s"), threshold_seconds and budget_remaining_display
//     ([BudgetDisplay]: "not enough data (n of m events)" below
//     min_events, "spent" at or below 0) next to the raw budget_remaining.
//     JSON is written without HTML escaping.
//   - meshwatch rules ([Rules]): recording rules for each SLO's error
//     ratio per window (5m … 3d and the SLO's window as a range, e.g.
//     meshwatch_slo:error_ratio:rate1h; a burn rate is that ratio divided
//     by 1 − objective, an SLI 1 minus it) and budget remaining, and alerting rules MeshwatchSLOBurnRatePage and
//     MeshwatchSLOBurnRateTicket with the same factors and guard, built
//     from meshwatch_slo_good_total and meshwatch_slo_valid_total. A month
//     is a rolling 30d there.
//   - meshwatch check ([Tally], [Check], [WriteTable]): an SLO over just a
//     sampled period — value, promise, met — without buckets or state;
//     fewer valid events than min_events are "not enough data", not met.
//
// It does not measure SLIs (collector, lag, quality), route or send alerts
// (alert), or choose the state backend (cmd/meshwatch, internal/state).
//
// # Concurrency
//
// ObserveSLI takes each SLO's mutex for a few additions and does not
// allocate. Run evaluates every SLO into an immutable snapshot when Wake
// asks (the agent wakes it after each collector tick has handed its events
// over, so decisions see a tick's events at once and the pass does not run
// beside the tick), or on its own when no Wake came for a tick and a half
// (before the agent is ready). Statuses, the handler and scrapes read the
// latest snapshot and never sum buckets.
//
// # Metrics
//
// SLO series carry product, domain, owner, slo and sli. Cardinality by
// design: what Prometheus can compute from the counters is not exported
// for every window — burn rates and SLIs per window come from
// rate(meshwatch_slo_good_total) and rate(meshwatch_slo_valid_total) (the
// dashboards do so) or the error ratios meshwatch rules records; the
// window's counts, burn rate and start are in /api/v1/slos. An enumeration exports
// its current value only, and a rare event's counter appears with the
// first event. An SLO has 5 series in steady state (objective, remaining,
// decision, good, valid), one more with a time threshold (latency,
// freshness, lag) and one more while it burns.
//
//	meshwatch_slo_objective_ratio                          the objective
//	meshwatch_slo_threshold_seconds                        the time threshold of a latency, freshness or lag SLO;
//	                                                       absent for the others
//	meshwatch_slo_error_budget_remaining_ratio             1 − (bad/valid)/(1 − objective) over the window
//	meshwatch_slo_decision{decision}                       the current decision (none, ticket, page, exhausted,
//	                                                       no_data), always 1: one series per SLO
//	meshwatch_slo_time_to_exhaustion_seconds               at the 1h burn rate; absent while nothing burns
//	meshwatch_slo_good_total                               good events received since start (rules use it)
//	meshwatch_slo_valid_total                              valid events received since start (rules use it)
//	meshwatch_slo_late_events_total                        SLIEvents older than every bucket, dropped; absent
//	                                                       until the first
//
// Agent series:
//
//	meshwatch_slo_buckets                                  buckets held for all SLOs
//	meshwatch_slo_bucket_bytes                             their memory
//	meshwatch_slo_unknown_events_total                     SLIEvents of SLOs not configured, dropped
//	meshwatch_slo_evaluation_duration_seconds              histogram of one evaluation pass
//	meshwatch_slo_last_evaluation_timestamp_seconds        when the last pass ran
//	meshwatch_slo_state_flushes_total{result}              ok, error
//	meshwatch_slo_state_loads_total{result}                loaded, missing, corrupt, error
//	meshwatch_slo_state_last_flush_timestamp_seconds       last successful flush
package sla
