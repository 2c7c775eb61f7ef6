package demo

import (
	"time"

	"github.com/meshwatch/meshwatch"
)

// Behaviours of the demo products.
const (
	Healthy  = "healthy"  // steady traffic, event time = now
	Late     = "late"     // steady traffic, event time 2–5 s before the record is produced
	Flapping = "flapping" // steady traffic that falls silent for a while, periodically
	Bursty   = "bursty"   // a trickle with periodic bursts of high traffic
)

// Names of the demo products.
const (
	OrdersPlaced        = "checkout.orders.placed"
	TransactionsSettled = "payments.transactions.settled"
	ParcelsScanned      = "logistics.parcels.scanned"
	CartsUpdated        = "checkout.carts.updated"
	LedgerEntries       = "finance.ledger.entries"
	// ScratchTopic is a topic no product claims, which the demo's
	// unowned_topics policy finds.
	ScratchTopic          = "sandbox.scratch"
	parcelsScannedEU      = ParcelsScanned + ".eu"
	parcelsScannedUS      = ParcelsScanned + ".us"
	parcelsScannedPattern = `^logistics\.parcels\.scanned\.[a-z]{2}$`
)

// Scenario is how the demo producers treat one product of the Catalog.
type Scenario struct {
	Product   string   // the product's name in the Catalog
	Topics    []string // the topics the producers write, all selected by the product
	Behaviour string   // Healthy, Late, Flapping or Bursty
	Expect    string   // what meshwatch should show, for the demo's legend
}

// Scenarios returns the demo products' scenarios in Catalog order.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Product:   OrdersPlaced,
			Topics:    []string{OrdersPlaced},
			Behaviour: Healthy,
			Expect:    "timely, but ~4% of orders break a rule: validity (99.5%) and completeness (99.9%) burn their budgets",
		},
		{
			Product:   TransactionsSettled,
			Topics:    []string{TransactionsSettled},
			Behaviour: Late,
			Expect:    "latency SLO (1s) broken: events arrive 2-5s after they happen",
		},
		{
			Product:   ParcelsScanned,
			Topics:    []string{parcelsScannedEU, parcelsScannedUS},
			Behaviour: Flapping,
			Expect:    "freshness SLO (30s) broken while the scanners fall silent, 60s every 3m",
		},
		{
			Product:   CartsUpdated,
			Topics:    []string{CartsUpdated},
			Behaviour: Bursty,
			Expect:    "SLOs met; sampling capped at 500 rec/s during the 2000 rec/s bursts every 30s",
		},
		{
			Product:   LedgerEntries,
			Topics:    []string{LedgerEntries},
			Behaviour: Late,
			Expect:    "made from payments.transactions.settled, as late as it: its latency incident names the upstream one as its cause and does not page; finance-team hears of the upstream incident in #finance-ops",
		},
	}
}

// The demo agent's settings outside the model: it listens on Listen
// (http.listen) and ticks every Tick (collector.tick).
const (
	Listen = "127.0.0.1:9477"
	Tick   = 5 * time.Second
)

// Catalog returns the model of the demo: the five products of Scenarios
// with their owners and SLOs, on the cluster "demo". The agent that
// monitors them listens on Listen and ticks every Tick (the caller sets
// those, and the brokers); the caller may change any field. Like a loaded
// configuration, it wants SetDefaults before Validate. Each call returns a
// new Config.
func Catalog() *meshwatch.Config {
	return &meshwatch.Config{
		Cluster: meshwatch.Cluster{Name: "demo"},
		Owners: map[string]meshwatch.Owner{
			"orders-team":    {SlackChannel: "#orders-data", Mention: "<!subteam^S0ORDERS>"},
			"payments-team":  {SlackChannel: "#payments-data", Mention: "<!subteam^S0PAYMENTS>"},
			"logistics-team": {SlackChannel: "#logistics-data", Mention: "<!subteam^S0LOGISTICS>"},
			// Teams that run consumers: their groups' lag alerts go to them,
			// not to the product's owner.
			"finance-team": {SlackChannel: "#finance-ops", Mention: "<!subteam^S0FINANCE>"},
			"fraud-team":   {SlackChannel: "#fraud-ops", Mention: "<!subteam^S0FRAUD>"},
		},
		Products: []meshwatch.Product{
			{
				Name:        OrdersPlaced,
				Domain:      "checkout",
				Owner:       "orders-team",
				Tier:        1,
				Description: "Orders accepted by the checkout service, one event per order.",
				Topics:      []meshwatch.TopicSelector{{Name: OrdersPlaced}},
				Format:      meshwatch.FormatJSON,
				EventTime:   meshwatch.EventTime{Field: "placed_at", Format: meshwatch.TimeFormatUnixMs},
				SLOs: append(slos(),
					meshwatch.SLO{
						Name: "fraud-lag", SLI: meshwatch.SLILag, ConsumerGroup: "fraud-detector",
						Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99,
					},
					meshwatch.SLO{Name: "validity", SLI: meshwatch.SLIValidity, Objective: 0.995, MinEvents: recordMinEvents},
					meshwatch.SLO{Name: "completeness", SLI: meshwatch.SLICompleteness, Objective: 0.999, MinEvents: recordMinEvents},
				),
				// OrderWithInvalid breaks InvalidShare of the orders: a
				// negative total, an unknown currency or a null customer.
				Quality: meshwatch.Quality{
					Required: []string{"order_id", "customer_id"},
					Rules: []meshwatch.Rule{
						{Name: "positive_total", Expr: RulePositiveTotal},
						{Name: "known_currency", Expr: RuleKnownCurrency},
					},
				},
				Consumers: []meshwatch.Consumer{
					{Group: "fraud-detector", Owner: "fraud-team"},
					{Group: "order-analytics", Owner: "analytics-team"},
				},
			},
			{
				Name:        TransactionsSettled,
				Domain:      "payments",
				Owner:       "payments-team",
				Tier:        1,
				Description: "Card and wallet payments settled with the acquirer, one event per transaction.",
				Topics:      []meshwatch.TopicSelector{{Name: TransactionsSettled}},
				Format:      meshwatch.FormatJSON,
				EventTime:   meshwatch.EventTime{Header: "x-event-time", Format: meshwatch.TimeFormatRFC3339},
				SLOs:        slos(),
				Consumers:   []meshwatch.Consumer{{Group: "ledger-writer", Owner: "finance-team"}, {Group: "invoice-mailer", Owner: "finance-team"}},
			},
			{
				Name:        ParcelsScanned,
				Domain:      "logistics",
				Owner:       "logistics-team",
				Tier:        2,
				Description: "Parcel scans at sorting hubs, one topic per region.",
				Topics:      []meshwatch.TopicSelector{{Pattern: parcelsScannedPattern}},
				Format:      meshwatch.FormatJSON,
				EventTime:   meshwatch.EventTime{Field: "event.ts", Format: meshwatch.TimeFormatUnixMs},
				SLOs:        slos(),
				Consumers:   []meshwatch.Consumer{{Group: "parcel-tracker", Owner: "customer-comms-team"}},
			},
			{
				Name:        CartsUpdated,
				Domain:      "checkout",
				Owner:       "orders-team",
				Tier:        3,
				Description: "Shopping-cart changes (items added, removed, re-priced).",
				Topics:      []meshwatch.TopicSelector{{Name: CartsUpdated}},
				Format:      meshwatch.FormatJSON,
				EventTime:   meshwatch.EventTime{Record: "timestamp"},
				Sampling:    meshwatch.Budget{MaxRecordsPerSecond: 500},
				SLOs:        slos(),
			},
			{
				// Fed by payments.transactions.settled and as late as it:
				// a downstream incident with an upstream cause.
				Name:        LedgerEntries,
				Domain:      "finance",
				Owner:       "finance-team",
				Tier:        1,
				Description: "Double-entry ledger lines booked from the settled payments.",
				Topics:      []meshwatch.TopicSelector{{Name: LedgerEntries}},
				Format:      meshwatch.FormatJSON,
				EventTime:   meshwatch.EventTime{Header: "x-event-time", Format: meshwatch.TimeFormatRFC3339},
				SLOs:        slos(),
				Inputs:      []string{TransactionsSettled},
			},
		},
	}
}

// recordMinEvents is the min_events of the demo's SLOs over records: a
// brand-new SLO reads "not enough data (n of 100 events)" for its first
// seconds rather than a budget spent by its first bad record. (SLOs over
// ticks, freshness and availability, count an event every 10 s: they keep
// no minimum.)
const recordMinEvents = 100

// slos returns the SLOs every demo product promises.
func slos() []meshwatch.SLO {
	return []meshwatch.SLO{
		{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.99, MinEvents: recordMinEvents},
		{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(30 * time.Second), Objective: 0.99},
		{Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.999},
	}
}
