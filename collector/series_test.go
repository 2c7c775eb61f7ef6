package collector

import (
	"bytes"
	"cmp"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/expo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// productLabel matches the labels every product series carries, with the
// comma that follows one.
var productLabel = regexp.MustCompile(`(product|domain|owner)="[^"]*",?`)

// productSeries gathers g and returns the samples of product as the text
// exposition shows them (a histogram as its _bucket, _sum and _count
// lines), keyed by the sample's name and labels without product, domain
// and owner, e.g. `meshwatch_availability_problem{reason="no_leader"}`.
func productSeries(t testing.TB, g prometheus.Gatherer, product string) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]float64{}
	for line := range strings.Lines(buf.String()) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || !strings.Contains(line, `product="`+product+`"`) {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		key := productLabel.ReplaceAllString(line[:sp], "")
		key = strings.TrimSuffix(strings.Replace(key, ",}", "}", 1), "{}")
		out[key] = v
	}
	return out
}

// seriesValue returns the value of the product's series key (as
// productSeries keys it) and whether it exists.
func seriesValue(t testing.TB, g prometheus.Gatherer, product, key string) (float64, bool) {
	t.Helper()
	v, ok := productSeries(t, g, product)[key]
	return v, ok
}

// familySeries returns the keys of the product's series of the metric
// family name.
func familySeries(t testing.TB, g prometheus.Gatherer, product, name string) []string {
	t.Helper()
	var out []string
	for k := range productSeries(t, g, product) {
		if k == name || strings.HasPrefix(k, name+"{") {
			out = append(out, k)
		}
	}
	return out
}

// createdAt returns the created timestamp of the product's counter name
// whose labels include extra (name=value pairs), and whether it has one.
func createdAt(t testing.TB, g prometheus.Gatherer, product, name string, extra ...string) (time.Time, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			want := append([]string{"product", product}, extra...)
			for i := 0; i < len(want); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == want[i] && l.GetValue() == want[i+1] }) {
					continue metrics
				}
			}
			ct := m.GetCounter().GetCreatedTimestamp()
			return ct.AsTime(), ct != nil
		}
	}
	return time.Time{}, false
}

// steadySeries are the series of a product with an event time, SLOs and
// one topic of one partition, read and available: 15, the latency
// histogram counted as its 3 text lines.
var steadySeries = []string{
	`meshwatch_product_info{tier="1"}`,
	`meshwatch_records_sampled_total`,
	`meshwatch_sampled_bytes_total`,
	`meshwatch_sample_ratio`,
	`meshwatch_records_produced_total`,
	`meshwatch_produced_bytes_total`,
	`meshwatch_latency_seconds_bucket{le="+Inf"}`,
	`meshwatch_latency_seconds_sum`,
	`meshwatch_latency_seconds_count`,
	`meshwatch_latency_hdr_seconds{quantile="0.5",window="5m"}`,
	`meshwatch_latency_hdr_seconds{quantile="0.99",window="5m"}`,
	`meshwatch_freshness_seconds`,
	`meshwatch_available`,
	`meshwatch_product_partitions`,
}

// TestProductSeriesSteadyState runs the collector on a healthy product
// with event times, two SLOs and one topic, and checks the exact series it
// exports once measured and ticked: no reason series at 0, no rare-event
// counter before its event, none of the series dropped by design.
func TestProductSeriesSteadyState(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	kc.MustCreateTopic(t, topic, 1, 3, nil)
	p := product(topic, named(topic)...)
	p.SLOs = p.SLOs[:2] // latency and freshness
	h := start(t, kc, testConfig(kc, p))
	h.waitSampling(t, p.Name, topic, nil)

	var got map[string]float64
	kafkatest.WaitFor(t, hangGuard, func() bool {
		got = productSeries(t, h.reg, p.Name)
		_, p99 := got[`meshwatch_latency_hdr_seconds{quantile="0.99",window="5m"}`]
		avail, ticked := got["meshwatch_available"]
		return p99 && ticked && avail == 1 && got["meshwatch_product_partitions"] == 1
	}, "the product was never measured, ticked and available: %v", lazy(func() any { return got }))

	want := slices.Clone(steadySeries)
	keys := slices.Sorted(maps.Keys(got))
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("series of a product in steady state:\n got %d: %v\nwant %d: %v", len(keys), keys, len(want), want)
	}
	for k, v := range map[string]float64{"meshwatch_available": 1, "meshwatch_product_partitions": 1} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got["meshwatch_records_sampled_total"] == 0 || got["meshwatch_latency_seconds_count"] == 0 {
		t.Errorf("nothing measured: %v", got)
	}
}

// TestProductSeriesBeforeFirstTick: before any event, record or tick a
// product has only the series that mean something at 0.
func TestProductSeriesBeforeFirstTick(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ps := newProductState(testProduct(0), NewMetrics(reg))
	ps.updateQuantiles(hdr.New(histLowestMs, histHighestMs, histDigits))
	want := []string{
		`meshwatch_latency_seconds_bucket{le="+Inf"}`, `meshwatch_latency_seconds_count`, `meshwatch_latency_seconds_sum`,
		`meshwatch_produced_bytes_total`, `meshwatch_product_info{tier="1"}`, `meshwatch_product_partitions`,
		`meshwatch_records_produced_total`, `meshwatch_records_sampled_total`, `meshwatch_sample_ratio`, `meshwatch_sampled_bytes_total`,
	}
	if got := slices.Sorted(maps.Keys(productSeries(t, reg, ps.p.Name))); !slices.Equal(got, want) {
		t.Errorf("series of a new product:\n got %v\nwant %v", got, want)
	}
}

// TestEventTimeErrorsAppearAtFirstError: a reason of
// meshwatch_event_time_errors_total has no series until a record has it.
func TestEventTimeErrorsAppearAtFirstError(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	p := testProduct(0)
	p.EventTime = meshwatch.EventTime{Header: "t"}
	ps := newProductState(p, NewMetrics(reg))
	now := time.Now()
	ok := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "t", Value: []byte(now.Add(-time.Second).UTC().Format(time.RFC3339Nano))}}}
	const family = "meshwatch_event_time_errors_total"
	ps.observeBatch([]*kgo.Record{ok}, now.UnixNano())
	if s := familySeries(t, reg, p.Name, family); len(s) > 0 {
		t.Fatalf("event-time error series before any error: %v", s)
	}
	ps.observeBatch([]*kgo.Record{ok, {}}, now.UnixNano()) // no header: missing
	got := productSeries(t, reg, p.Name)
	if s := familySeries(t, reg, p.Name, family); len(s) != 1 || got[family+`{reason="missing"}`] != 1 {
		t.Fatalf("after one record without its header: %v, want only reason missing at 1", s)
	}
	// Created at the first error, so that its increase counts it.
	if ct, ok := createdAt(t, reg, p.Name, family, "reason", "missing"); !ok || !ct.Equal(now) {
		t.Errorf("created %v (set: %v), want the first error's time %v", ct, ok, now)
	}
	later := now.Add(time.Second)
	ps.observeBatch([]*kgo.Record{{Headers: []kgo.RecordHeader{{Key: "t", Value: []byte("soon")}}}, {}}, later.UnixNano())
	got = productSeries(t, reg, p.Name)
	if s := familySeries(t, reg, p.Name, family); len(s) != 2 ||
		got[family+`{reason="missing"}`] != 2 || got[family+`{reason="unparseable"}`] != 1 {
		t.Errorf("after a second missing and an unparseable one: %v", got)
	}
	for reason, want := range map[string]time.Time{"missing": now, "unparseable": later} {
		if ct, _ := createdAt(t, reg, p.Name, family, "reason", reason); !ct.Equal(want) {
			t.Errorf("reason %s created %v, want %v", reason, ct, want)
		}
	}
}

// TestSkippedAppearsAtFirstSkip: meshwatch_records_skipped_total has no
// series until the budget skips a record.
func TestSkippedAppearsAtFirstSkip(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ps := newProductState(testProduct(10), NewMetrics(reg)) // a burst of 5
	now := time.Now()
	recs := []*kgo.Record{{Timestamp: now}, {Timestamp: now}, {Timestamp: now}, {Timestamp: now}, {Timestamp: now}}
	ps.observeBatch(recs, now.UnixNano())
	if v, ok := seriesValue(t, reg, ps.p.Name, "meshwatch_records_skipped_total"); ok {
		t.Fatalf("meshwatch_records_skipped_total = %v within the budget, want no series", v)
	}
	ps.observeBatch(recs[:2], now.UnixNano())
	if v, _ := seriesValue(t, reg, ps.p.Name, "meshwatch_records_skipped_total"); v != 2 {
		t.Errorf("meshwatch_records_skipped_total = %v, want 2", v)
	}
	if ct, ok := createdAt(t, reg, ps.p.Name, "meshwatch_records_skipped_total"); !ok || !ct.Equal(now) {
		t.Errorf("created %v (set: %v), want the first skip's time %v", ct, ok, now)
	}
}

// TestProblemSeriesFollowTheTick: the availability problems and the blind
// reason a tick leaves on the product are exported as one series of 1
// each; a reason that clears is gone, not 0.
func TestProblemSeriesFollowTheTick(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ps := newProductState(testProduct(0), NewMetrics(reg))
	tick := func(problems []string, blind string) {
		ps.mu.Lock()
		ps.problems, ps.blind, ps.ticked = problems, blind, true
		ps.mu.Unlock()
	}
	reasons := func() []string {
		var out []string
		for _, f := range []string{"meshwatch_availability_problem", "meshwatch_product_blind"} {
			out = append(out, familySeries(t, reg, ps.p.Name, f)...)
		}
		slices.Sort(out)
		return out
	}
	tick(nil, "")
	if r := reasons(); len(r) > 0 {
		t.Fatalf("reason series of a healthy product: %v", r)
	}
	tick([]string{ProblemNoLeader, ProblemFetchErrors, ProblemBlind}, BlindFetchErrors)
	want := []string{
		`meshwatch_availability_problem{reason="blind"}`,
		`meshwatch_availability_problem{reason="fetch_errors"}`,
		`meshwatch_availability_problem{reason="no_leader"}`,
		`meshwatch_product_blind{reason="fetch_errors"}`,
	}
	if r := reasons(); !slices.Equal(r, want) {
		t.Fatalf("reason series: %v, want %v", r, want)
	}
	for _, k := range want {
		if v, _ := seriesValue(t, reg, ps.p.Name, k); v != 1 {
			t.Errorf("%s = %v, want 1", k, v)
		}
	}
	tick([]string{ProblemUnderMinISR}, "")
	if r := reasons(); !slices.Equal(r, []string{`meshwatch_availability_problem{reason="under_min_isr"}`}) {
		t.Errorf("after the fetch errors and the blindness cleared: %v", r)
	}
	tick(nil, "")
	if r := reasons(); len(r) > 0 {
		t.Errorf("reason series once the product recovered: %v", r)
	}
}

// TestHDRSeriesAbsentWhileWindowEmpty: the HDR quantiles are exported for
// the 5m window only, p50 and p99, and not at all while it holds no
// record.
func TestHDRSeriesAbsentWhileWindowEmpty(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ps := newProductState(testProduct(0), NewMetrics(reg))
	scratch := hdr.New(histLowestMs, histHighestMs, histDigits)
	const family = "meshwatch_latency_hdr_seconds"
	ps.updateQuantiles(scratch)
	if s := familySeries(t, reg, ps.p.Name, family); len(s) > 0 {
		t.Fatalf("HDR series of an empty window: %v", s)
	}
	now := time.Now()
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Timestamp: now.Add(-time.Duration(i+1) * 10 * time.Millisecond)})
	}
	ps.observeBatch(recs, now.UnixNano())
	ps.updateQuantiles(scratch)
	got := productSeries(t, reg, ps.p.Name)
	p50, p99 := got[family+`{quantile="0.5",window="5m"}`], got[family+`{quantile="0.99",window="5m"}`]
	if s := familySeries(t, reg, ps.p.Name, family); len(s) != 2 || p50 < 0.49 || p50 > 0.51 || p99 < 0.98 || p99 > 1.01 {
		t.Fatalf("HDR series %v: p50 %v, p99 %v; want only those two, 0.5 s and 0.99 s within 1 %%", s, p50, p99)
	}
	// The records stay in the window for 5m of slots, then leave it.
	for range slotsPer5m - 1 {
		ps.win.rotate()
	}
	ps.updateQuantiles(scratch)
	if s := familySeries(t, reg, ps.p.Name, family); len(s) != 2 {
		t.Fatalf("HDR series %v while the records are in the window", s)
	}
	ps.win.rotate()
	ps.updateQuantiles(scratch)
	if s := familySeries(t, reg, ps.p.Name, family); len(s) > 0 {
		t.Errorf("HDR series of a window emptied by rotation: %v", s)
	}
}

// TestLatencyBuckets: meshwatch_latency_seconds has no classic bucket by
// default (the text exposition shows +Inf, _sum and _count) and the
// buckets of MetricsOptions.LatencyBuckets when set.
func TestLatencyBuckets(t *testing.T) {
	buckets := func(o MetricsOptions) []string {
		reg := prometheus.NewPedanticRegistry()
		ps := newProductState(testProduct(0), NewMetricsWith(reg, o))
		now := time.Now()
		ps.observeBatch([]*kgo.Record{{Timestamp: now.Add(-time.Second)}}, now.UnixNano())
		var out []string
		for _, k := range familySeries(t, reg, ps.p.Name, "meshwatch_latency_seconds_bucket") {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(k, `meshwatch_latency_seconds_bucket{le="`), `"}`))
		}
		slices.SortFunc(out, func(a, b string) int {
			x, _ := strconv.ParseFloat(a, 64)
			y, _ := strconv.ParseFloat(b, 64)
			return cmp.Compare(x, y)
		})
		return out
	}
	if got := buckets(MetricsOptions{}); !slices.Equal(got, []string{"+Inf"}) {
		t.Errorf("default buckets: %v, want +Inf alone", got)
	}
	if got := buckets(MetricsOptions{LatencyBuckets: []float64{0.5, 1, 10}}); !slices.Equal(got, []string{"0.5", "1", "10", "+Inf"}) {
		t.Errorf("buckets 0.5, 1, 10: %v", got)
	}
	fifteen := []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	if got := buckets(MetricsOptions{LatencyBuckets: fifteen}); len(got) != len(fifteen)+1 {
		t.Errorf("the suggested buckets: %v", got)
	}
	for _, bad := range [][]float64{{1, 1}, {2, 1}, {0}, {-1}, {math.NaN()}, {1, math.Inf(1)}} {
		if err := (MetricsOptions{LatencyBuckets: bad}).Validate(); err == nil {
			t.Errorf("latency buckets %v pass Validate", bad)
		}
	}
}

// TestSilentSeries: meshwatch_product_silent is 1 while the product is
// silent and has no series once it is not, and again 1 if it is again.
func TestSilentSeries(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ps := newProductState(testProduct(0), NewMetrics(reg))
	for i, silent := range []bool{true, true, false, false, true} {
		ps.mu.Lock()
		ps.silent = silent // as a tick leaves it
		ps.mu.Unlock()
		v, ok := seriesValue(t, reg, ps.p.Name, "meshwatch_product_silent")
		if ok != silent || (ok && v != 1) {
			t.Errorf("step %d, silent %v: series present %v with %v", i, silent, ok, v)
		}
	}
}

// TestStreamedExposition: the product series, streamed as /metrics does,
// are what a Gather reads, family by family, with every rare series
// present: event-time errors, skipped records, throttles and fetch errors
// with and without their created time, HDR quantiles, the latency
// histogram with classic buckets, problems, blind, silent, and a product
// beside it with its series of the start only.
func TestStreamedExposition(t *testing.T) {
	reg := expo.NewRegistry()
	m := NewMetricsWith(reg, MetricsOptions{LatencyBuckets: []float64{0.25, 1}})
	p := testProduct(10) // a burst of 5
	p.EventTime = meshwatch.EventTime{Header: "t"}
	ps := newProductState(p, m)
	q := testProduct(0)
	q.Name, q.Tier = "billing.invoices.issued", 2
	newProductState(q, m)

	now := time.Now()
	var recs []*kgo.Record
	for i := range 6 { // the last over budget
		h := []kgo.RecordHeader{{Key: "t", Value: []byte(now.Add(-time.Duration(i+1) * 100 * time.Millisecond).UTC().Format(time.RFC3339Nano))}}
		recs = append(recs, &kgo.Record{Timestamp: now, Headers: h})
	}
	recs[1].Headers = nil                                                                    // missing
	recs[2].Headers = []kgo.RecordHeader{{Key: "t", Value: []byte("soon")}}                  // unparseable
	recs[3].Headers[0].Value = []byte(now.Add(time.Hour + time.Minute).Format(time.RFC3339)) // future
	ps.observeBatch(recs, now.UnixNano())
	ps.updateQuantiles(hdr.New(histLowestMs, histHighestMs, histDigits))
	ps.fetchErrTotal.Add(2) // the first one's time not stored yet
	ps.mu.Lock()
	ps.throttles, ps.firstThrottle = 1, now.UnixNano()
	ps.problems, ps.blind, ps.ticked = []string{ProblemNoLeader, ProblemBlind}, BlindStalled, true
	ps.silent, ps.freshness = true, 12
	ps.produced, ps.producedBytes, ps.sampleRatio = 7, 700.5, 0.5
	ps.mu.Unlock()
	ps.partitions.Store(3)

	got := productSeries(t, reg, p.Name)
	for _, k := range []string{
		`meshwatch_event_time_errors_total{reason="missing"}`, `meshwatch_event_time_errors_total{reason="unparseable"}`,
		`meshwatch_event_time_errors_total{reason="future"}`, `meshwatch_records_skipped_total`,
		`meshwatch_budget_throttled_total`, `meshwatch_fetch_errors_total`,
		`meshwatch_latency_hdr_seconds{quantile="0.99",window="5m"}`,
		`meshwatch_latency_seconds_bucket{le="0.25"}`, `meshwatch_latency_seconds_bucket{le="+Inf"}`,
		`meshwatch_latency_seconds_sum`,
		`meshwatch_availability_problem{reason="no_leader"}`, `meshwatch_availability_problem{reason="blind"}`,
		`meshwatch_product_blind{reason="stalled"}`, `meshwatch_product_silent`,
		`meshwatch_freshness_seconds`, `meshwatch_available`,
	} {
		if _, ok := got[k]; !ok {
			t.Errorf("no series %s: %v", k, got)
		}
	}
	for k, v := range map[string]float64{
		`meshwatch_product_partitions`: 3, `meshwatch_records_produced_total`: 7, `meshwatch_produced_bytes_total`: 700.5,
		`meshwatch_sample_ratio`: 0.5, `meshwatch_freshness_seconds`: 12, `meshwatch_available`: 0,
		// 100 ms, 500 ms, and 0 twice for the missing and unparseable event
		// times (their record timestamps are now); the future one and the
		// one over budget give none
		`meshwatch_latency_seconds_count`: 4, `meshwatch_latency_seconds_bucket{le="1"}`: 4,
		`meshwatch_latency_seconds_bucket{le="0.25"}`: 3, `meshwatch_latency_seconds_sum`: 0.6,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if err := reg.Check(); err != nil {
		t.Error(err)
	}
}
