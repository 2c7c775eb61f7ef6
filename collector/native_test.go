package collector

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/meshwatch/meshwatch/internal/expo"
)

// oldLatencyOpts are the options of the client_golang HistogramVec that
// meshwatch_latency_seconds was, with classic buckets.
func oldLatencyOpts(buckets []float64) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Name:                            "meshwatch_latency_seconds",
		Help:                            "End-to-end latency of sampled records: observed time minus event time.",
		Buckets:                         buckets,
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: 0,
	}
}

// latencyScenarios are values (seconds) to observe: bucket boundaries and
// their neighbours, the zero bucket's, and spreads of more than 160
// buckets, dense and sparse, that make the resolution drop.
func latencyScenarios() map[string][]float64 {
	up := func(v float64) float64 { return math.Nextafter(v, math.Inf(1)) }
	down := func(v float64) float64 { return math.Nextafter(v, 0) }
	boundaries := []float64{
		0, 0, 1e-40, nativeZero, up(nativeZero), down(nativeZero), 1e-9, 2e-9,
		1, 0.5, 2, 0.25, 4, math.Pow(2, 1./8), math.Exp2(-1. / 8), math.Sqrt2, 1 / math.Sqrt2,
		up(1), down(1), up(0.5), down(0.5), 0.001, 0.0015, 0.1, 3600, 7200.5, 86400,
	}
	for _, b := range nativeBounds3 {
		for _, e := range []int{-29, -10, -1, 0, 1, 2, 13, 33} {
			v := math.Ldexp(b, e)
			boundaries = append(boundaries, v, up(v), down(v))
		}
	}
	for k := -16; k <= 16; k++ { // 2^(k/8) computed, not the table's value
		v := math.Exp2(float64(k) / 8)
		boundaries = append(boundaries, v, up(v), down(v))
	}

	rng := rand.New(rand.NewPCG(1, 2))
	// Every bucket of schema 3 from 2^-15 s to 2^15 s: 241 buckets, in
	// random order.
	var dense []float64
	for k := -120; k <= 120; k++ {
		dense = append(dense, math.Exp2((float64(k)-0.5)/8))
	}
	rng.Shuffle(len(dense), func(i, j int) { dense[i], dense[j] = dense[j], dense[i] })
	// Every other bucket: still more than 160 after one halving.
	var sparse []float64
	for k := -199; k <= 201; k += 2 {
		sparse = append(sparse, math.Exp2((float64(k)-0.5)/8), math.Exp2(float64(k)/8))
	}
	// Latencies as measure makes them, whole nanoseconds, from 0 to a
	// day, log-uniform, many of them repeated.
	var ns []float64
	for range 3000 {
		lat := int64(math.Exp2(rng.Float64() * 46.3)) // up to ~1e14 ns
		if rng.IntN(50) == 0 {
			lat = 0
		}
		ns = append(ns, float64(lat)/1e9)
	}
	// A realistic product: 5 ms to 3 s, then a stall of an hour.
	var realistic []float64
	for i := range 2000 {
		realistic = append(realistic, float64(5_000_000+int64(i*i*i)%3_000_000_000)/1e9)
	}
	realistic = append(realistic, 3600.25, 3599.9, 0.004)
	return map[string][]float64{"boundaries": boundaries, "dense": dense, "sparse": sparse, "nanoseconds": ns, "realistic": realistic}
}

// TestLatencyHistogramMatchesClientGolang observes the same values into a
// client_golang histogram with the options meshwatch_latency_seconds had
// and into a product's nativeHist, and checks, after value after value,
// that both expose the same: the protobuf histogram (schema, zero
// threshold and count, spans, deltas, classic buckets, count, sum) and the
// text lines.
func TestLatencyHistogramMatchesClientGolang(t *testing.T) {
	for name, values := range latencyScenarios() {
		for _, classic := range [][]float64{nil, {1e-9, 0.001, 0.5, 1, 2.5, 60, 3600}} {
			t.Run(fmt.Sprintf("%s/%d classic", name, len(classic)), func(t *testing.T) {
				refReg := prometheus.NewPedanticRegistry()
				ref := prometheus.NewHistogramVec(oldLatencyOpts(classic), productLabels)
				refReg.MustRegister(ref)
				reg := expo.NewRegistry()
				ps := newProductState(testProduct(0), NewMetricsWith(reg, MetricsOptions{LatencyBuckets: classic}))
				obs := ref.WithLabelValues(ps.p.Name, ps.p.Domain, ps.p.Owner)
				every := max(1, len(values)/200)
				for i, v := range values {
					obs.Observe(v)
					ps.mu.Lock()
					ps.latency.observe(v, ps.m.latencyBounds)
					ps.mu.Unlock()
					if i%every == 0 || i == len(values)-1 {
						if !compareLatency(t, refReg, reg, ps, fmt.Sprintf("after %d values (the last %v)", i+1, v)) {
							return
						}
					}
				}
				if err := reg.Check(); err != nil {
					t.Error(err)
				}
				switch name {
				case "dense", "sparse", "nanoseconds":
					if ps.latency.schema == nativeSchema {
						t.Errorf("schema still %d: the scenario does not reach the bucket limit", ps.latency.schema)
					}
				}
			})
		}
	}
}

// compareLatency compares the latency histogram of ref and of reg's
// product ps, in protobuf and text; it reports whether they are equal.
func compareLatency(t *testing.T, ref prometheus.Gatherer, reg *expo.Registry, ps *productState, when string) bool {
	t.Helper()
	want := latencyFamily(t, ref)
	got := latencyFamily(t, reg)
	if got == nil || want == nil || len(got.Metric) != 1 || len(want.Metric) != 1 {
		t.Fatalf("%s: latency families %v and %v", when, got, want)
	}
	if ct := got.Metric[0].GetHistogram().GetCreatedTimestamp(); ct == nil || !ct.AsTime().Equal(ps.m.created) {
		t.Errorf("%s: created %v, want the product's creation %v", when, ct.AsTime(), ps.m.created)
	}
	for _, f := range []*dto.MetricFamily{got, want} {
		f.Metric[0].Histogram.CreatedTimestamp = nil
	}
	ok := true
	if !proto.Equal(got, want) {
		t.Errorf("%s: protobuf\n got %v\nwant %v", when, got, want)
		ok = false
	}
	var refText bytes.Buffer
	if _, err := expfmt.MetricFamilyToText(&refText, want); err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	if err := expo.Write(&all, expfmt.NewFormat(expfmt.TypeTextPlain), nil, []*expo.Registry{reg}); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for line := range strings.Lines(all.String()) {
		for _, p := range []string{"# HELP meshwatch_latency_seconds ", "# TYPE meshwatch_latency_seconds ", "meshwatch_latency_seconds_", "meshwatch_latency_seconds{"} {
			if strings.HasPrefix(line, p) {
				text.WriteString(line)
				break
			}
		}
	}
	if text.String() != refText.String() {
		t.Errorf("%s: text\n got %s\nwant %s", when, text.String(), refText.String())
		ok = false
	}
	return ok
}

func latencyFamily(t *testing.T, g prometheus.Gatherer) *dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "meshwatch_latency_seconds" {
			return mf
		}
	}
	return nil
}

// clientKey is the bucket client_golang computes for v > 0 at a schema
// from 3 down to -4 (histogramCounts.observe), with the bounds of schemas
// 1 to 3 taken from schema 3's as client_golang's table has them.
func clientKey(v float64, schema int32) int32 {
	frac, exp := math.Frexp(v)
	if schema > 0 {
		var bounds []float64
		for i := 0; i < 8; i += 1 << (3 - schema) {
			bounds = append(bounds, nativeBounds3[i])
		}
		return int32(sort.SearchFloat64s(bounds, frac) + (exp-1)*len(bounds))
	}
	key := exp
	if frac == 0.5 {
		key--
	}
	return int32((key + (1 << -schema) - 1) >> -schema)
}

// TestNativeKey: the bucket of a value, at every schema, is the one
// client_golang computes, on and around the bucket boundaries and at
// random.
func TestNativeKey(t *testing.T) {
	values := latencyScenarios()["boundaries"]
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		values = append(values, math.Exp2(rng.Float64()*200-100))
	}
	for _, v := range values {
		if v <= nativeZero {
			continue
		}
		for s := int32(nativeSchema); s >= nativeMinSchema; s-- {
			if got, want := nativeKey(v, s), clientKey(v, s); got != want {
				t.Fatalf("bucket of %v at schema %d: %d, want %d", v, s, got, want)
			}
		}
	}
	// The table is client_golang's: its bounds are 2^(i/8)/2.
	for i, b := range nativeBounds3 {
		if want := math.Exp2(float64(i)/8) / 2; math.Abs(b-want) > 1e-15 {
			t.Errorf("bound %d: %v, want %v", i, b, want)
		}
	}
}

// TestLatencyHistogramLimit: past 160 buckets with a value, the schema
// drops and the buckets merge in pairs; the histogram never holds more
// than 160 buckets with a value after a value is counted.
func TestLatencyHistogramLimit(t *testing.T) {
	h := newNativeHist(nil)
	for k := range int32(300) {
		h.observe(math.Exp2((float64(k)-0.5)/8), nil)
		if h.populated > nativeMaxBuckets {
			t.Fatalf("%d buckets after %d values", h.populated, k+1)
		}
		n := 0
		for _, c := range h.buckets {
			if c != 0 {
				n++
			}
		}
		if n != h.populated {
			t.Fatalf("%d buckets counted, %d hold a value", h.populated, n)
		}
	}
	// 161 buckets: 81 of schema 2, and the next 139 values in 70 more.
	if h.schema != 2 || h.count != 300 || h.populated != 151 {
		t.Errorf("schema %d, count %d, %d buckets after 300 buckets of schema 3, want 2, 300, 151", h.schema, h.count, h.populated)
	}
}

// TestSnapshotReusesLatencyBuckets: a product's snapshot, taken again into
// the same productSnapshot as a scrape does (productCollector keeps them),
// copies the latency buckets into the slices it has: no allocation.
func TestSnapshotReusesLatencyBuckets(t *testing.T) {
	ps := newProductState(testProduct(0), NewMetricsWith(prometheus.NewRegistry(), MetricsOptions{LatencyBuckets: []float64{0.1, 1}}))
	ps.mu.Lock()
	for k := range 40 {
		ps.latency.observe(math.Exp2(float64(k-20)/4), ps.m.latencyBounds)
	}
	ps.mu.Unlock()
	var s productSnapshot
	ps.snapshotInto(&s) // the slices' first use
	if a := testing.AllocsPerRun(100, func() { ps.snapshotInto(&s) }); a != 0 {
		t.Errorf("a snapshot allocates %v times", a)
	}
	if len(s.latency.Buckets) == 0 || len(s.latency.Cumulative) != 2 || s.latency.Count != 40 {
		t.Errorf("snapshot %+v", s.latency)
	}
}

// TestLatencyHistogramSnapshotIsACopy: a snapshot keeps the buckets of its
// time while the product counts on.
func TestLatencyHistogramSnapshotIsACopy(t *testing.T) {
	ps := newProductState(testProduct(0), NewMetricsWith(prometheus.NewRegistry(), MetricsOptions{LatencyBuckets: []float64{1}}))
	ps.mu.Lock()
	ps.latency.observe(0.5, ps.m.latencyBounds)
	ps.mu.Unlock()
	s := ps.snapshot()
	before := slices.Clone(s.latency.Buckets)
	ps.mu.Lock()
	ps.latency.observe(0.5, ps.m.latencyBounds)
	ps.mu.Unlock()
	if !slices.Equal(s.latency.Buckets, before) || s.latency.Count != 1 || s.latency.Cumulative[0] != 1 {
		t.Errorf("the snapshot changed with the product: %+v", s.latency)
	}
}
