package quality

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// jsonConfig is a JSON product with the quality settings q (indented by
// six spaces) and validity and, when q allows, completeness SLOs.
func jsonConfig(q string) string {
	slos := "      - {name: validity, sli: validity, objective: 99%}\n"
	if strings.Contains(q, "required:") || strings.Contains(q, "sequence:") {
		slos += "      - {name: completeness, sli: completeness, objective: 99%}\n"
	}
	return `
products:
  - name: shop.orders.placed
    domain: shop
    owner: shop-team
    topics: [orders]
    format: json
    slos:
` + slos + `    quality:
` + q + "\n"
}

func TestValidityFromFailingRule(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      rules:
        - {name: positive_total, expr: "message.order_total > 0"}
        - {name: known_currency, expr: "message.currency in ['EUR', 'USD']"}`))
	e, reg, s := newEngine(t, cfg, Options{})
	const n = 10000
	for i := range n {
		total := "12.5"
		if i%100 < 3 { // 3 %
			total = "-1"
		}
		v := `{"order_id":"ord-` + strconv.Itoa(i) + `","order_total":` + total + `,"currency":"EUR"}`
		e.ObserveRecord("shop.orders.placed", &kgo.Record{Topic: "orders", Offset: int64(i), Value: []byte(v)})
	}
	e.doTick(context.Background(), false)
	good, valid := s.sum("validity")
	if valid != n {
		t.Fatalf("validity valid events = %d, want %d", valid, n)
	}
	if r := float64(good) / float64(valid); math.Abs(r-0.97) > 0.01 {
		t.Errorf("validity = %.4f, want 0.97 ± 0.01", r)
	}
	// Only the results that happened: no error series, no fail series of
	// known_currency.
	want := `
# HELP meshwatch_quality_records_total Sampled records checked by a validity rule, by result (pass, fail, error).
# TYPE meshwatch_quality_records_total counter
meshwatch_quality_records_total{domain="shop",owner="shop-team",product="shop.orders.placed",result="fail",rule="positive_total"} 300
meshwatch_quality_records_total{domain="shop",owner="shop-team",product="shop.orders.placed",result="pass",rule="known_currency"} 10000
meshwatch_quality_records_total{domain="shop",owner="shop-team",product="shop.orders.placed",result="pass",rule="positive_total"} 9700
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "meshwatch_quality_records_total"); err != nil {
		t.Error(err)
	}
	rep, _ := e.Quality("shop.orders.placed")
	if got := rep.Rules[0].LastFailures; len(got) != lastFailures || got[0].Offset != 9902 {
		t.Errorf("last failures = %+v, want the 5 newest, 9902 first", got)
	}
}

func TestRulesSeeEveryVariable(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      rules:
        - {name: key_prefix, expr: "string(key).startsWith('ord-')"}
        - {name: header, expr: "headers['source'] == 'web' && !('missing' in headers)"}
        - {name: recent, expr: "timestamp > timestamp('2026-01-01T00:00:00Z')"}
        - {name: place, expr: "topic == 'orders' && partition == 2 && offset == 42"}
        - {name: nested, expr: "has(message.customer.id) && !has(message.customer.email) && size(message.lines) == 2 && message.lines[1].qty == 2"}
        - {name: missing_field_errors, expr: "message.nope == 1"}`))
	e, _, _ := newEngine(t, cfg, Options{})
	e.ObserveRecord("shop.orders.placed", &kgo.Record{
		Topic: "orders", Partition: 2, Offset: 42, Key: []byte("ord-1"),
		Timestamp: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC),
		Headers:   []kgo.RecordHeader{{Key: "source", Value: []byte("ios")}, {Key: "source", Value: []byte("web")}},
		Value:     []byte(`{"customer":{"id":"c-1"},"lines":[{"qty":1},{"qty":2}]}`),
	})
	got := ruleCounts(t, e, "shop.orders.placed")
	for _, name := range []string{"key_prefix", "header", "recent", "place", "nested"} {
		if got[name] != [3]int64{1, 0, 0} {
			t.Errorf("rule %s pass/fail/error = %v, want a pass", name, got[name])
		}
	}
	if got["missing_field_errors"] != [3]int64{0, 0, 1} {
		t.Errorf("rule on a missing field = %v, want an error", got["missing_field_errors"])
	}
}

func TestRequiredFieldsCompleteness(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      required: [order_id, customer.id]`))
	e, _, s := newEngine(t, cfg, Options{})
	for _, v := range []string{
		`{"order_id":"a","customer":{"id":"c"}}`,
		`{"order_id":"a","customer":{"id":null}}`, // null counts as missing
		`{"order_id":"a","customer":{}}`,
		`{"customer":{"id":"c"}}`,
		`{"order_id":null,"customer":"c"}`, // both missing
		`not json`,                         // undecodable: incomplete and invalid
	} {
		e.ObserveRecord("shop.orders.placed", &kgo.Record{Topic: "orders", Value: []byte(v)})
	}
	e.doTick(context.Background(), false)
	if g, v := s.sum("completeness"); g != 1 || v != 6 {
		t.Errorf("completeness = %d/%d, want 1/6", g, v)
	}
	if g, v := s.sum("validity"); g != 5 || v != 6 {
		t.Errorf("validity = %d/%d, want 5/6 (one not_json)", g, v)
	}
	rep, _ := e.Quality("shop.orders.placed")
	if rep.Required[0].Missing != 2 || rep.Required[1].Missing != 3 || rep.Undecodable["not_json"] != 1 {
		t.Errorf("missing order_id %d, customer.id %d, not_json %d; want 2, 3, 1", rep.Required[0].Missing, rep.Required[1].Missing, rep.Undecodable["not_json"])
	}
}

// TestCheckReportsRuleErrorsByPath: each problem names its setting; the
// loader places it in the file (config's golden files pin the positions).
func TestCheckReportsRuleErrorsByPath(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      rules:
        - {name: ok, expr: "message.order_total > 0"}
        - {name: undeclared, expr: "msg.order_total > 0"}
        - {name: not_bool, expr: "1 + 2"}
        - {name: syntax, expr: "message.order_total >"}
        - {name: type_error, expr: "'a' + 1 == 2"}`))
	ps := Check(cfg.Config)
	if len(ps) != 4 {
		t.Fatalf("Check found %d problems, want 4:\n%v", len(ps), ps)
	}
	for i, p := range ps {
		wantPath := fmt.Sprintf("products[0].quality.rules[%d].expr", i+1)
		if p.Path != wantPath {
			t.Errorf("problem %d path = %s, want %s", i, p.Path, wantPath)
		}
	}
	if !strings.Contains(ps[0].String(), "undeclared reference to 'msg'") || !strings.Contains(ps[0].String(), "1:1") {
		t.Errorf("problem = %s, want the undeclared reference and its column", ps[0])
	}
	if !strings.Contains(ps[1].Msg, "must be a condition (bool)") {
		t.Errorf("problem = %s, want a bool type error", ps[1])
	}
	if _, err := New(cfg.Config, Options{Metrics: NewMetrics(newRegistry())}); err == nil {
		t.Error("New accepted rules that do not compile")
	}
}

func TestCostLimitStopsPathologicalRule(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      rules:
        - {name: quadratic, expr: "message.xs.all(a, message.xs.all(b, message.xs.all(c, a + b + c >= 0)))"}`))
	e, _, _ := newEngine(t, cfg, Options{})
	var b strings.Builder
	b.WriteString(`{"xs":[0`)
	for i := 1; i < 100; i++ {
		b.WriteString("," + strconv.Itoa(i))
	}
	b.WriteString("]}")
	// 10⁶ steps, far over CostLimit, that end in a pass: an error is the
	// limit stopping the rule, and without it the rule passes within
	// seconds. How long the rule ran is not checked: that is up to the
	// machine.
	e.ObserveRecord("shop.orders.placed", &kgo.Record{Topic: "orders", Value: []byte(b.String())})
	if got := ruleCounts(t, e, "shop.orders.placed")["quadratic"]; got != [3]int64{0, 0, 1} {
		t.Errorf("pathological rule = %v, want an error (cost limit)", got)
	}
}

// TestNoPayloadLeaves checks that no value, key or header value reaches a
// log line, a metric or the API, whatever happens to the record.
func TestNoPayloadLeaves(t *testing.T) {
	const secret = "SECRETPAYLOAD"
	cfg := loadConfig(t, jsonConfig(`      required: [order_id, absent]
      rules:
        - {name: fails, expr: "message.order_id == 'x'"}
        - {name: errors, expr: "int(message.order_id) > 0"}
        - {name: header_rule, expr: "headers['h'] == 'x'"}
      sequence: {field: seq, key: producer}`))
	var logs bytes.Buffer
	e, reg, s := newEngine(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	rec := func(v string) *kgo.Record {
		return &kgo.Record{Topic: "orders", Key: []byte(secret), Value: []byte(v),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(secret)}}}
	}
	for i, v := range []string{
		`{"order_id":"` + secret + `","seq":1,"producer":"` + secret + `"}`,
		`{"order_id":"` + secret + `","seq":5,"producer":"` + secret + `"}`,
		`{"order_id":"` + secret + `","seq":5,"producer":"` + secret + `"}`,
		secret,
		`{"order_id":"` + secret,
	} {
		r := rec(v)
		r.Offset = int64(i)
		e.ObserveRecord("shop.orders.placed", r)
	}
	e.doTick(context.Background(), false)

	metrics := gatherText(t, reg)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/products/shop.orders.placed/quality")
	if err != nil {
		t.Fatal(err)
	}
	api, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(api), `"fails"`) {
		t.Fatalf("API answered %d: %s", resp.StatusCode, api)
	}
	// Rule expressions read as written, not HTML-escaped.
	if !strings.Contains(string(api), `int(message.order_id) > 0`) {
		t.Errorf("the API does not show the rule as written:\n%s", api)
	}
	for name, out := range map[string]string{"logs": logs.String(), "metrics": string(metrics), "api": string(api), "sli": fmt.Sprint(s.events)} {
		if strings.Contains(out, secret) {
			t.Errorf("%s hold a payload value:\n%s", name, out)
		}
	}
	// Something was counted, so the check above had material to look at.
	if !strings.Contains(string(metrics), `result="fail",rule="fails"} 3`) || !strings.Contains(string(metrics), `reason="not_json"} 2`) {
		t.Errorf("metrics lack the expected counts:\n%s", metrics)
	}
}
