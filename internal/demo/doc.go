// Package demo holds the synthetic data products of `meshwatch demo`: a
// catalog of four products in three domains ([Catalog]) and the producers
// that feed their topics ([Producers]), each product with a behaviour that
// one of its SLOs notices:
//
//	checkout.orders.placed         healthy   ~50 rec/s, event time = now (JSON field placed_at, Unix ms)
//	payments.transactions.settled  late      ~50 rec/s, event time 2–5 s old (header x-event-time, RFC 3339): latency
//	logistics.parcels.scanned      flapping  ~50 rec/s over two topics matched by a pattern, silent 60 s every 3 min
//	                                         (JSON field event.ts, Unix ms): freshness
//	checkout.carts.updated         bursty    ~5 rec/s, bursts of ~2000 rec/s for 3 s every 30 s (record timestamp): sampling budget
//
// [Scenarios] lists the same for the demo's legend.
//
// The producers write realistic JSON (orders, payments, parcel scans, carts)
// keyed by the entity's ID. No payload value is ever logged: the producers
// log product names, topics, counts and errors only.
//
// demo exports no metrics and owns no product logic; it is used by
// cmd/meshwatch's demo subcommand and by tests.
package demo
