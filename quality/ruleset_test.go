package quality

import (
	"context"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch/internal/srtest"
)

// taggedAvsc marks customer_id PII, for a CEL_FIELD rule that checks tagged
// fields only.
const taggedAvsc = `{
  "type": "record", "name": "Order", "namespace": "shop",
  "fields": [
    {"name": "order_id", "type": "string"},
    {"name": "order_total", "type": "double"},
    {"name": "items", "type": "long"},
    {"name": "customer_id", "type": ["null", "string"], "default": null, "confluent:tags": ["PII"]},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["UNKNOWN", "PLACED"]}},
    {"name": "address", "type": {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
  ]
}`

func TestConfluentRuleSet(t *testing.T) {
	reg := srtest.New(t)
	id := reg.MustRegister(t, "orders-value", sr.Schema{
		Schema:         taggedAvsc,
		SchemaMetadata: &sr.SchemaMetadata{Properties: map[string]string{"owner": "orders-team", "owner_email": "orders@example.com"}},
		SchemaRuleSet: &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{
			{Name: "checkTotal", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "CEL", Expr: "message.order_total < 1000.0"},
			{Name: "piiNotEmpty", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "CEL_FIELD", Tags: []string{"PII"}, Expr: "typeName == 'STRING' ; value != ''"},
			{Name: "stringsShort", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "CEL_FIELD", Expr: "typeName == 'STRING' ; size(value) < 10"},
			{Name: "encryptPII", Kind: sr.SchemaRuleKindTransform, Mode: sr.SchemaRuleModeWriteRead, Type: "ENCRYPT", Tags: []string{"PII"}},
			{Name: "jsonata", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "JSONATA", Expr: "$"},
			{Name: "broken", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeWrite, Type: "CEL", Expr: "message.order_total >"},
		}},
	})
	cfg := loadConfig(t, `
schema_registry: {url: "`+reg.URL()+`"}
products:
  - {name: shop.orders.placed, domain: shop, owner: shop-team, topics: [orders], format: avro}
`)
	e, _, _ := newEngine(t, cfg, Options{})
	e.refreshRuleSets(context.Background(), e.knownTopics())

	meta, _ := e.SubjectMetadata("shop.orders.placed")
	if len(meta) != 1 || meta[0].Properties["owner"] != "orders-team" || meta[0].SchemaID != id || meta[0].Version != 1 {
		t.Fatalf("subject metadata = %+v", meta)
	}
	if got := meta[0].Rules; len(got) != 3 || got[0] != "checktotal" || got[1] != "piinotempty" || got[2] != "stringsshort" {
		t.Errorf("registry rules = %v, want checktotal, piinotempty, stringsshort", got)
	}
	if len(meta[0].Problems) != 2 {
		t.Errorf("problems = %v, want the JSONATA rule and the broken one", meta[0].Problems)
	}

	schema := avro.MustParse(taggedAvsc)
	rec := func(total float64, customer, orderID string) *kgo.Record {
		return &kgo.Record{Topic: "orders", Value: wire(id, nil, encodeAvroOrder(t, schema, avroOrder{
			OrderID: orderID, OrderTotal: total, Items: 1, CustomerID: &customer, Status: "PLACED", PlacedAt: time.Unix(0, 0)}))}
	}
	e.ObserveRecord("shop.orders.placed", rec(10, "c-1", "o-1"))
	e.ObserveRecord("shop.orders.placed", rec(5000, "", "o-2"))
	e.ObserveRecord("shop.orders.placed", rec(10, "c-1", "order-long-id"))
	got := ruleCounts(t, e, "shop.orders.placed")
	for name, want := range map[string][3]int64{
		"checktotal":   {2, 1, 0},
		"piinotempty":  {2, 1, 0},
		"stringsshort": {2, 1, 0},
	} {
		if got[name] != want {
			t.Errorf("rule %s = %v, want %v", name, got[name], want)
		}
	}

	// A new version without rules drops them at the next refresh.
	if _, _, err := reg.Register("orders-value", sr.Schema{Schema: taggedAvsc}); err != nil {
		t.Fatal(err)
	}
	e.refreshRuleSets(context.Background(), e.knownTopics())
	if meta, _ := e.SubjectMetadata("shop.orders.placed"); meta[0].Version != 2 || len(meta[0].Rules) != 0 {
		t.Errorf("after a new version: %+v, want version 2 without rules", meta)
	}
}
