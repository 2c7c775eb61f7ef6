package collector

import (
	"strconv"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
)

func testProduct(rate float64) *meshwatch.Product {
	return &meshwatch.Product{
		Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team", Tier: 1,
		Sampling: meshwatch.Budget{MaxRecordsPerSecond: rate},
		SLOs: []meshwatch.SLO{
			{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.99},
			{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99},
		},
	}
}

func TestObserveCountsLatencySLI(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ps := newProductState(testProduct(0), NewMetrics(reg))
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for _, lat := range []time.Duration{100 * time.Millisecond, time.Second, 1500 * time.Millisecond, -time.Second} {
		recs = append(recs, &kgo.Record{Timestamp: now.Add(-lat), Value: []byte("abc")})
	}
	recs = append(recs, &kgo.Record{Timestamp: time.Unix(5, 0)}) // before 2000: out of range
	if n := ps.observeBatch(recs, now.UnixNano()); n != len(recs) {
		t.Fatalf("observed %d of %d with an unlimited budget", n, len(recs))
	}
	s := ps.latSLOs[0]
	// 100ms, 1s (≤ threshold) and the future record (latency 0) are good.
	if s.g != 3 || s.v != 4 {
		t.Errorf("latency SLI good/valid = %d/%d, want 3/4", s.g, s.v)
	}
	if got := ps.snapshot().eventTimeErrors[ReasonOutOfRange]; got != 1 {
		t.Errorf("out_of_range errors = %v, want 1", got)
	}
	if got := float64(ps.sampledTotal()); got != 5 {
		t.Errorf("sampled = %v, want 5", got)
	}
	// A scrape exports the counts kept under the product's lock.
	want := `
# HELP meshwatch_records_sampled_total Records the agent read and measured.
# TYPE meshwatch_records_sampled_total counter
meshwatch_records_sampled_total{domain="checkout",owner="orders-team",product="checkout.orders.placed"} 5
# HELP meshwatch_sampled_bytes_total Bytes (key + value) of the records the agent measured.
# TYPE meshwatch_sampled_bytes_total counter
meshwatch_sampled_bytes_total{domain="checkout",owner="orders-team",product="checkout.orders.placed"} 12
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "meshwatch_records_sampled_total", "meshwatch_sampled_bytes_total"); err != nil {
		t.Error(err)
	}
	// The record from the future counts as now, not as an hour of freshness.
	if ps.newest != now.UnixNano() {
		t.Errorf("newest = %v, want now (the future record's time capped)", time.Unix(0, ps.newest))
	}
}

func TestObserveBudget(t *testing.T) {
	ps := newProductState(testProduct(100), NewMetrics(prometheus.NewRegistry()))
	now := time.Now().UnixNano()
	recs := make([]*kgo.Record, 200)
	for i := range recs {
		recs[i] = &kgo.Record{Timestamp: time.Unix(0, now)}
	}
	// The burst is half a second of budget.
	if n := ps.observeBatch(recs, now); n != 50 {
		t.Fatalf("first batch measured %d, want the burst of 50", n)
	}
	if n := ps.observeBatch(recs, now); n != 0 {
		t.Fatalf("spent budget measured %d more", n)
	}
	// 200 ms later, 20 tokens are back.
	if n := ps.observeBatch(recs, now+int64(200*time.Millisecond)); n != 20 {
		t.Fatalf("after 200ms measured %d, want 20", n)
	}
	if got := float64(ps.totalSkipped); got != 200-50+200+200-20 {
		t.Errorf("skipped = %v", got)
	}
	ps.rec.refill(now + int64(time.Second))
	if !ps.rec.full() {
		t.Error("bucket not full after a second")
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	now := time.Now()
	evt := now.Add(-2 * time.Second)
	rfc := evt.UTC().Format(time.RFC3339Nano)
	ms := strconv.FormatInt(evt.UnixMilli(), 10)
	for _, tc := range []struct {
		name string
		et   meshwatch.EventTime
		rec  *kgo.Record
	}{
		{"record timestamp", meshwatch.EventTime{}, &kgo.Record{Timestamp: evt, Value: make([]byte, 200)}},
		{"header rfc3339 utc", meshwatch.EventTime{Header: "t"}, &kgo.Record{Headers: []kgo.RecordHeader{{Key: "t", Value: []byte(rfc)}}}},
		{"header unix ms", meshwatch.EventTime{Header: "t"}, &kgo.Record{Headers: []kgo.RecordHeader{{Key: "t", Value: []byte(ms)}}}},
		{"field rfc3339 utc", meshwatch.EventTime{Field: "a.t"}, &kgo.Record{Value: []byte(`{"id":"x","a":{"t":"` + rfc + `"}}`)}},
		{"field unix ms", meshwatch.EventTime{Field: "a.t"}, &kgo.Record{Value: []byte(`{"id":"x","a":{"t":` + ms + `}}`)}},
		{"field decimal seconds", meshwatch.EventTime{Field: "t"}, &kgo.Record{Value: []byte(`{"t":` + strconv.FormatFloat(float64(evt.UnixMilli())/1e3, 'f', 3, 64) + `}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testProduct(0)
			p.EventTime = tc.et
			ps := newProductState(p, NewMetrics(prometheus.NewRegistry()))
			batch := []*kgo.Record{tc.rec}
			ps.observeBatch(batch, now.UnixNano()) // first use of the native histogram's buckets
			if a := testing.AllocsPerRun(1000, func() { ps.observeBatch(batch, now.UnixNano()) }); a != 0 {
				t.Fatalf("observeBatch allocates %v times per record", a)
			}
			if got := float64(ps.sampledTotal()); got != 1002 {
				t.Fatalf("sampled %v, want 1002", got)
			}
			for r := ReasonOK + 1; r < numReasons; r++ {
				if n := ps.snapshot().eventTimeErrors[r]; n != 0 {
					t.Fatalf("%v event-time errors: %v", r, n)
				}
			}
		})
	}
}

// BenchmarkObserve is the per-record path: record timestamp → event time →
// HDR → native histogram → counters, one record per call (the worst case:
// the lock and counter adds are per batch).
func BenchmarkObserve(b *testing.B) {
	ps := newProductState(testProduct(0), NewMetrics(prometheus.NewRegistry()))
	now := time.Now()
	batch := []*kgo.Record{{Timestamp: now.Add(-2 * time.Second), Value: make([]byte, 200)}}
	b.ReportAllocs()
	for b.Loop() {
		ps.observeBatch(batch, now.UnixNano())
	}
}

// BenchmarkObserveJSONField is the per-record path of a JSON product whose
// event time is a payload field (Unix ms), one record per call.
func BenchmarkObserveJSONField(b *testing.B) {
	p := testProduct(0)
	p.Format = meshwatch.FormatJSON
	p.EventTime = meshwatch.EventTime{Field: "meta.placed_at"}
	ps := newProductState(p, NewMetrics(prometheus.NewRegistry()))
	now := time.Now()
	v := `{"order_id":"o-1","meta":{"placed_at":` + strconv.FormatInt(now.Add(-2*time.Second).UnixMilli(), 10) + `},"total":12.5}`
	batch := []*kgo.Record{{Timestamp: now.Add(-time.Second), Value: []byte(v)}}
	b.ReportAllocs()
	for b.Loop() {
		ps.observeBatch(batch, now.UnixNano())
	}
}

// BenchmarkObserveJSONFieldMissing is that path for records without the
// field: counted, and measured at their record timestamp.
func BenchmarkObserveJSONFieldMissing(b *testing.B) {
	p := testProduct(0)
	p.Format = meshwatch.FormatJSON
	p.EventTime = meshwatch.EventTime{Field: "meta.placed_at"}
	ps := newProductState(p, NewMetrics(prometheus.NewRegistry()))
	now := time.Now()
	batch := []*kgo.Record{{Timestamp: now.Add(-time.Second), Value: []byte(`{"order_id":"o-1","meta":{},"total":12.5}`)}}
	b.ReportAllocs()
	for b.Loop() {
		ps.observeBatch(batch, now.UnixNano())
	}
}

// BenchmarkObserveBatch is the same path in batches of 100 records, as
// fetches deliver them; ns/op is per record.
func BenchmarkObserveBatch(b *testing.B) {
	ps := newProductState(testProduct(0), NewMetrics(prometheus.NewRegistry()))
	now := time.Now()
	batch := make([]*kgo.Record, 100)
	for i := range batch {
		batch[i] = &kgo.Record{Timestamp: now.Add(-time.Duration(i) * 30 * time.Millisecond), Value: make([]byte, 200)}
	}
	b.ReportAllocs()
	for b.Loop() {
		ps.observeBatch(batch, now.UnixNano())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/record")
}

func TestLatencyWindow(t *testing.T) {
	w := newLatencyWindow()
	h := hdr.New(histLowestMs, histHighestMs, histDigits)
	count := func(slots int) int64 { h.Reset(); w.merge(h, slots); return h.TotalCount() }

	w.record(100)
	w.record(int64(2 * time.Hour / time.Millisecond)) // clamped to the top
	w.record(-3)                                      // clamped to 0
	if c := count(slotsPer1m); c != 3 {
		t.Fatalf("current slot holds %d, want 3", c)
	}
	h.Reset()
	w.merge(h, slotsPer1m)
	if h.Max() < histHighestMs-histHighestMs/100 {
		t.Errorf("max %d, want the clamped top %d", h.Max(), histHighestMs)
	}
	// After a rotation the values are in the newest completed slot: still in
	// both windows until slotsPer1m-1 more rotations push them out of 1m.
	w.rotate()
	for i := 1; i < slotsPer1m; i++ {
		if c := count(slotsPer1m); c != 3 {
			t.Fatalf("after %d rotations the 1m window holds %d, want 3", i, c)
		}
		w.rotate()
	}
	if c := count(slotsPer1m); c != 0 {
		t.Fatalf("1m window still holds %d after %d rotations", c, slotsPer1m)
	}
	if c := count(slotsPer5m); c != 3 {
		t.Fatalf("5m window holds %d, want 3", c)
	}
	for i := slotsPer1m; i < slotsPer5m; i++ {
		w.rotate()
	}
	if c := count(slotsPer5m); c != 0 {
		t.Fatalf("5m window still holds %d after %d rotations", c, slotsPer5m)
	}
}
