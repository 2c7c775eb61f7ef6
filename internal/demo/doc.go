// Package demo holds the synthetic data products of `meshwatch demo`: a
// catalog of five products in four domains ([Catalog]), the producers that
// feed their topics ([Producers]) and the consumer groups that read them
// ([Consumers]). Each product has a behaviour that one of its SLOs notices:
//
//	checkout.orders.placed         healthy   ~50 rec/s, event time = now (JSON field placed_at, Unix ms);
//	                                         ~4 % invalid records: validity and completeness
//	payments.transactions.settled  late      ~50 rec/s, event time 2–5 s old (header x-event-time, RFC 3339): latency
//	logistics.parcels.scanned      flapping  ~50 rec/s over two topics matched by a pattern, silent 60 s every 3 min
//	                                         (JSON field event.ts, Unix ms): freshness
//	checkout.carts.updated         bursty    ~5 rec/s, bursts of ~2000 rec/s for 3 s every 30 s (record timestamp): sampling budget
//	finance.ledger.entries         late      ~50 rec/s, made from payments.transactions.settled (its input) and as late
//	                                         (header x-event-time, 2.5–5.5 s old): latency, caused upstream
//
// [Scenarios] lists the same for the demo's legend.
//
// Each consumer group is declared under its product's consumers, with the
// team that owns it, and has a behaviour that the lag monitor's status shows
// ([ConsumerScenarios] lists them for the legend):
//
//	fraud-detector    checkout.orders.placed         keeps up                                         OK (and its lag SLO of 30 s is met)
//	order-analytics   checkout.orders.placed         reads at 60 % of the rate, half of every 3 min   WARN, then OK
//	ledger-writer     payments.transactions.settled  stops committing, half of every 3 min            STOP, then OK
//	invoice-mailer    payments.transactions.settled  a live member re-commits one offset, half of     STALL, then OK
//	                                                 every 3 min
//	parcel-tracker    logistics.parcels.scanned      goes back a minute every 3 min, replays at 3x    REWIND
//
// [Consumers] commits offsets with admin requests, as the behaviours say,
// every second ([WithConsumerTiming] changes the period and the tick),
// except invoice-mailer, which is a real member of its group (joined,
// assigned its partitions, heartbeating, never polling) and commits through
// its membership: STALL needs a live member. No group ever fetches.
//
// The quality helpers build the records that the quality checks catch:
// [OrderWithInvalid] writes orders of which [InvalidShare] break a rule of
// the catalog ([RulePositiveTotal], [RuleKnownCurrency]) or the required
// customer_id, always as valid JSON; [AvroPayments] registers
// [PaymentAuthorizedSchema] with an owner property and a CEL domain rule in
// a test schema registry (internal/srtest) and builds Confluent wire-format
// Avro records, for the quality package's tests.
//
// The producers write realistic JSON (orders, payments, parcel scans, carts)
// keyed by the entity's ID. No payload value is ever logged: the producers
// and consumers log product names, groups, topics, counts and errors only.
//
// demo exports no metrics and owns no product logic; it is used by
// cmd/meshwatch's demo subcommand and by tests.
package demo
