package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch/internal/srtest"
)

// PaymentAuthorizedSchema is the Avro schema of the demo's Avro product, a
// payments.authorizations.created event. Its subject in the registry also
// carries an owner in metadata.properties and a Confluent CEL domain rule,
// so the demo shows registry rules beside config rules.
const PaymentAuthorizedSchema = `{
  "type": "record", "name": "PaymentAuthorized", "namespace": "payments",
  "fields": [
    {"name": "authorization_id", "type": "string"},
    {"name": "order_id", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD", "GBP"]}},
    {"name": "card_country", "type": ["null", "string"], "default": null},
    {"name": "seq", "type": "long"},
    {"name": "authorized_at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
  ]
}`

type paymentAuthorized struct {
	AuthorizationID string    `avro:"authorization_id"`
	OrderID         string    `avro:"order_id"`
	Amount          float64   `avro:"amount"`
	Currency        string    `avro:"currency"`
	CardCountry     *string   `avro:"card_country"`
	Seq             int64     `avro:"seq"`
	AuthorizedAt    time.Time `avro:"authorized_at"`
}

// AvroPayments builds Avro-encoded payments.authorizations.created records
// in the Confluent wire format, with the schema registered in an srtest
// registry. Its methods are not safe for concurrent use.
type AvroPayments struct {
	topic  string
	id     int
	schema avro.Schema
	seq    int64
}

// NewAvroPayments registers PaymentAuthorizedSchema as the latest version
// of topic's value subject (<topic>-value) in reg, with an owner property
// and a CEL domain rule (amount below 10 000), and returns a builder of
// records for topic.
func NewAvroPayments(reg *srtest.Server, topic, owner string) (*AvroPayments, error) {
	schema, err := avro.Parse(PaymentAuthorizedSchema)
	if err != nil {
		return nil, fmt.Errorf("demo: avro schema: %w", err)
	}
	id, _, err := reg.Register(topic+"-value", sr.Schema{
		Schema:         PaymentAuthorizedSchema,
		SchemaMetadata: &sr.SchemaMetadata{Properties: map[string]string{"owner": owner}},
		SchemaRuleSet: &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{{
			Name: "amountBelowLimit", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite,
			Type: "CEL", Expr: "message.amount < 10000.0",
		}}},
	})
	if err != nil {
		return nil, fmt.Errorf("demo: register schema: %w", err)
	}
	return &AvroPayments{topic: topic, id: id, schema: schema}, nil
}

// SchemaID returns the registry id the records carry.
func (a *AvroPayments) SchemaID() int { return a.id }

// Record returns the next authorization, produced now and keyed by its
// order; about 1 % have no card country (a required field in the demo).
func (a *AvroPayments) Record(rng *rand.Rand, now time.Time) (*kgo.Record, error) {
	a.seq++
	orderID := appendID(nil, "ord-", rng)
	p := paymentAuthorized{
		AuthorizationID: string(appendID(nil, "auth-", rng)),
		OrderID:         string(orderID),
		Amount:          float64(499+rng.Int64N(30000)) / 100,
		Currency:        pick(rng, []string{"EUR", "EUR", "USD", "GBP"}),
		Seq:             a.seq,
		AuthorizedAt:    now.Truncate(time.Millisecond),
	}
	if rng.IntN(100) != 0 {
		c := pick(rng, []string{"NL", "DE", "FR", "US", "GB"})
		p.CardCountry = &c
	}
	body, err := avro.Marshal(a.schema, p)
	if err != nil {
		return nil, fmt.Errorf("demo: avro encode: %w", err)
	}
	v := make([]byte, 5, 5+len(body))
	v[1], v[2], v[3], v[4] = byte(a.id>>24), byte(a.id>>16), byte(a.id>>8), byte(a.id)
	return &kgo.Record{Topic: a.topic, Key: orderID, Value: append(v, body...), Timestamp: now}, nil
}

// Rules of the demo's product with invalid records, for its quality
// settings: InvalidShare of its records break one of them.
const (
	RulePositiveTotal = "message.order_total > 0"
	RuleKnownCurrency = "message.currency in ['EUR', 'USD', 'GBP']"
)

// InvalidShare is the share of OrderWithInvalid's records that are invalid.
const InvalidShare = 0.04

// OrderWithInvalid returns a JSON order for topic like the healthy
// product's, except that about InvalidShare of them are broken: a negative
// order_total, an unknown currency, or a customer_id of null, in equal
// parts. The value is always JSON, so the damage shows in validity and
// completeness, not as undecodable records.
func OrderWithInvalid(rng *rand.Rand, now time.Time, topic string) *kgo.Record {
	id := appendID(nil, "ord-", rng)
	items := 1 + rng.IntN(6)
	cents := int64(items) * (499 + rng.Int64N(9500))
	currency := pick(rng, currencies)
	negative, nullCustomer := false, false
	if rng.Float64() < InvalidShare {
		switch rng.IntN(3) {
		case 0:
			negative = true
		case 1:
			currency = "XXX"
		default:
			nullCustomer = true
		}
	}
	o := openObj(224).bytes("order_id", id)
	if nullCustomer {
		o = append(o.key("customer_id"), "null"...)
	} else {
		o = o.bytes("customer_id", customerID(rng))
	}
	if negative {
		o = o.num("order_total", -cents/100) // money writes non-negative amounts only
	} else {
		o = o.money("order_total", cents)
	}
	v := o.str("currency", currency).
		num("items", int64(items)).
		num("placed_at", now.UnixMilli()).
		close()
	return &kgo.Record{Topic: topic, Key: id, Value: v, Timestamp: now}
}
