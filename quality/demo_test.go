package quality

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/internal/demo"
	"github.com/meshwatch/meshwatch/internal/srtest"
)

// TestDemoProducts checks the demo's quality helpers against the engine:
// Avro records through the registry decode and pass, and the JSON producer
// with invalid records shows about demo.InvalidShare of them.
func TestDemoProducts(t *testing.T) {
	reg := srtest.New(t)
	payments, err := demo.NewAvroPayments(reg, "payments.authorizations.created", "payments-team")
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, `
schema_registry: {url: "`+reg.URL()+`"}
products:
  - name: payments.authorizations.created
    domain: shop
    owner: shop-team
    topics: [payments.authorizations.created]
    format: avro
    quality:
      rules: [{name: positive, expr: "message.amount > 0.0 && message.currency in ['EUR', 'USD', 'GBP']"}]
      sequence: {field: seq}
  - name: shop.orders.placed
    domain: shop
    owner: shop-team
    topics: [orders]
    format: json
    slos: [{name: validity, sli: validity, objective: 99%}]
    quality:
      required: [customer_id]
      rules:
        - {name: positive_total, expr: "`+demo.RulePositiveTotal+`"}
        - {name: known_currency, expr: "`+demo.RuleKnownCurrency+`"}
`)
	e, _, s := newEngine(t, cfg, Options{})
	e.refreshRuleSets(context.Background(), e.knownTopics())
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for range 200 {
		r, err := payments.Record(rng, now)
		if err != nil {
			t.Fatal(err)
		}
		e.ObserveRecord("payments.authorizations.created", r)
	}
	got := ruleCounts(t, e, "payments.authorizations.created")
	if got["positive"] != [3]int64{200, 0, 0} || got["amountbelowlimit"] != [3]int64{200, 0, 0} {
		t.Errorf("avro demo rules = %v, want 200 passes of the config and the registry rule", got)
	}
	if rep, _ := e.Quality("payments.authorizations.created"); rep.Sequence.Missing != 0 || rep.Sequence.Duplicates != 0 {
		t.Errorf("avro demo sequence = %+v, want no gaps", rep.Sequence)
	}

	const n = 20000
	for range n {
		e.ObserveRecord("shop.orders.placed", demo.OrderWithInvalid(rng, now, "orders"))
	}
	e.doTick(context.Background(), false)
	g, v := s.sum("validity")
	rep, _ := e.Quality("shop.orders.placed")
	invalid := float64(v-g)/float64(v) + float64(rep.Required[0].Missing)/float64(v)
	if v != n || rep.Undecodable["not_json"] != 0 || math.Abs(invalid-demo.InvalidShare) > 0.01 {
		t.Errorf("invalid share = %.4f of %d (not_json %d), want %.2f ± 0.01", invalid, v, rep.Undecodable["not_json"], demo.InvalidShare)
	}
}
