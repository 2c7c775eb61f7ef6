// Package cost prices what each data product costs the shared Kafka
// cluster and charges it to the teams that own and consume it: usage
// metering, an effective-dated rate card, allocation, a restatable hourly
// ledger, CSV and FOCUS 1.3 chargeback reports, and monthly budgets.
//
// # What it owns
//
//   - Metering (Meter, Kafka I/O): every cost.sample (default 1m) the
//     meter reads metadata with replicas and broker racks, DescribeLogDirs
//     of every broker (bytes on disk per replica, so replication is
//     included; only the replicas the metadata names count), start and end
//     offsets, the consumer groups and their committed offsets. Bytes per
//     offset are measured on the tail: a direct fetch of the last ~50
//     offsets of a partition that moved (at most every 10 minutes per
//     partition), counting record-batch bytes, so compression and batch
//     overhead are included; the log size over its offsets is the
//     fallback. Ingress is end-offset deltas × bytes per offset; egress of
//     a group is committed-offset deltas × bytes per offset; an offset
//     reset backwards is counted as replay bytes. Storage is integrated by
//     the trapezoid rule, partitions by time; an interval that spans an
//     hour boundary is split by time. The agent never joins a group,
//     commits or produces.
//   - Pricing and allocation (Pricer, pure): rows per product, component
//     (storage, partitions, ingress, egress, cross_az, cluster), topic and
//     consumer group. Cross-AZ traffic is replication to followers in
//     another rack than the leader's, plus client traffic times the
//     cost.az_spread assumption. Egress goes to the group's owner
//     (consumer_pays), the product's owner (producer_pays) or half each
//     (split). Internal topics form the __shared__ pool, spread evenly or
//     by direct cost over the products (or kept with shared_spread: none);
//     topics no product claims are __unallocated__; capacity (cost.capacity)
//     nobody used is __idle__. Money is fixed point (Money, nano-units);
//     every split uses largest-remainder rounding, so the parts sum exactly
//     to the whole. In invoice mode the month's bill is split evenly over
//     its hours to the cent, and each hour's share over the rows in
//     proportion to their rate-card cost: the month sums to the bill.
//   - The ledger (Ledger) in the state Store: one record per closed hour,
//     with the usage it was priced from. Closing an hour again writes the
//     differences as ChargeClass=Correction rows and never rewrites closed
//     rows; closing it again unchanged writes nothing. The open hour is
//     stored as an estimate after every sample, so reports include it
//     (x_IsEstimate). The meter's own position (last sample, open hours)
//     is stored too, so a restart resumes. A stored value that is corrupt
//     (the store found it damaged, or it does not decode) is set aside with
//     one Error line from the store and counted as a failed "state" step,
//     and the meter goes on without it: metering starts afresh, the open
//     estimate waits for the next sample, a ledger hour is missing until it
//     is closed again (invoice mode bills it as __idle__), the month's
//     budget thresholds may alert again. A store that cannot be read fails
//     the step that read it (samples and budget checks try again at the
//     next sample) rather than have its values overwritten. Report and
//     Handler set nothing aside themselves: there a corrupt hour is an
//     error, reported after the other rows.
//   - Closes on robfig/cron schedules (UTC): the daily close writes
//     chargeback-YYYY-MM-DD.csv, .focus.csv and .summary.txt to reports.dir
//     and sends each owner a Summary; the monthly close (invoice mode: bills
//     the hours nobody metered as __idle__) writes chargeback-YYYY-MM.*, and
//     sends the owners and finance a Summary. A close that ran sends nothing
//     again.
//   - Statements (NewStatement): the chargeback of a period for people,
//     per team (owner and cost center), product and component with
//     subtotals and a grand total, rounded to the cent by the
//     largest-remainder method: the total is the exact ledger total
//     rounded, every amount shown is its exact amount rounded down or up
//     (never by more than a cent), and the amounts shown add up at every
//     level. A Summary's Slack text and `meshwatch report chargeback
//     -format summary` are the same Statement text; a team's summary is
//     its part of the statement of every team (ForOwner), so both agree.
//   - Budgets per product or cost center, checked after every sample:
//     50/75/90/100 % of the month's budget spent, and a month-end forecast
//     above it (after the first day), each fired once a month
//     (BudgetAlerts, Options.Budget).
//   - Report and WriteReport (read the Store only, for `meshwatch report
//     chargeback`) and Handler
//     (/api/v1/chargeback?from=&to=&month=&owner=&decimals=&format=json|csv|focus|summary).
//     csv has a row_type column: charge rows, then a subtotal row per team
//     and a total row, exact sums. json has the exact subtotals per team,
//     product and component (teams), and numeric quantities. focus stays a
//     row per charge, as FOCUS has no totals rows; its totals are the
//     summary's.
//
// It does not send Slack messages (Summary and BudgetAlert go to the
// caller, who routes them through package alert), parse flags, or decide
// where the state lives.
//
// # Concurrency
//
// Run starts two loops in one errgroup — sampling and the cron closes —
// and returns when both have stopped. Samples, closes and budget checks
// are serialised by the meter's mutex. A scrape reads gauges and counters
// the loops maintain; it never calls Kafka.
//
// # Metrics
//
// Amounts are in the billing currency (cost.currency, also the currency
// label of meshwatch_cost_info) whatever the _usd in the name says. owner
// is the team charged.
//
//	meshwatch_cost_usd_total{product,domain,owner,cost_center,component}      cost of closed hours (corrections below zero are in the ledger only)
//	meshwatch_cost_usd_per_hour{product,domain,owner,cost_center,component}   the open hour's cost rate
//	meshwatch_cost_month_to_date_usd{product,domain,owner,cost_center}         this month so far, estimate included
//	meshwatch_cost_month_forecast_usd{product,domain,owner,cost_center}        month-end at this month's pace
//	meshwatch_cost_allocation_coverage_ratio                                   share of the last closed hour charged to products
//	meshwatch_cost_storage_bytes{product,domain,owner}                         bytes on disk over every replica
//	meshwatch_cost_partitions{product,domain,owner}                            partitions
//	meshwatch_cost_ingress_bytes_total{product,domain,owner}                   bytes produced
//	meshwatch_cost_egress_bytes_total{product,domain,owner,group}              bytes read by a group
//	meshwatch_cost_replay_bytes_total{product,domain,owner,group}              bytes a group's offsets were reset back by
//	meshwatch_cost_cross_az_replication_bytes_total{product,domain,owner}      bytes replicated across racks
//	meshwatch_cost_budget_used_ratio{budget}                                   month-to-date / budget
//	meshwatch_cost_budget_forecast_ratio{budget}                               forecast / budget
//	meshwatch_cost_budget_alerts_total{budget}                                 thresholds crossed
//	meshwatch_cost_samples_total{result}                                       ok, error
//	meshwatch_cost_errors_total{step}                                          sample, daily_close, monthly_close, state
//	meshwatch_cost_tail_reads_total{result}                                    ok, fallback
//	meshwatch_cost_hours_closed_total                                          hours written to the ledger
//	meshwatch_cost_correction_rows_total                                       correction rows written
//	meshwatch_cost_info{currency,mode}                                         1; mode rate_card or invoice
//
// The pool products __shared__, __idle__ and __unallocated__ appear as
// product label values.
package cost
