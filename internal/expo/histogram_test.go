package expo

import (
	"bytes"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

var famHist = NewFamily("test_latency_seconds", "Latency.", Histogram, "product")

// TestHistogramMatchesClientGolang observes the same values into a
// client_golang native histogram (schema 3, two classic buckets) and into a
// HistogramValue, and checks that both formats write what client_golang
// writes: the same spans and deltas (gaps of up to two empty buckets taken
// into a span), the zero bucket, the classic buckets, sum and count.
func TestHistogramMatchesClientGolang(t *testing.T) {
	values := []float64{0, 0.00101, 0.00102, 0.0012, 0.2, 0.21, 0.23, 0.26, 0.3, 0.7, 3.1, 100.5, 100.6}
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: famHist.Name, Help: famHist.Help,
		ConstLabels: prometheus.Labels{"product": "p"}, Buckets: []float64{0.5, 1},
		NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: 160})
	h := &HistogramValue{Native: true, Schema: 3, ZeroThreshold: prometheus.DefNativeHistogramZeroThreshold,
		Bounds: []float64{0.5, 1}, Cumulative: make([]uint64, 2)}
	keys := map[int32]uint64{}
	for _, v := range values {
		ref.Observe(v)
		h.Count++
		h.Sum += v
		for i, b := range h.Bounds {
			if v <= b {
				h.Cumulative[i]++
			}
		}
		if v <= h.ZeroThreshold {
			h.ZeroCount++
			continue
		}
		keys[int32(math.Ceil(math.Log2(v)*8))]++ // none of the values is on a bucket boundary
	}
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for k := range keys {
		lo, hi = min(lo, k), max(hi, k)
	}
	h.Offset = lo
	h.Buckets = make([]uint64, hi-lo+1)
	for k, n := range keys {
		h.Buckets[k-lo] = n
	}
	var m dto.Metric
	if err := ref.Write(&m); err != nil {
		t.Fatal(err)
	}
	h.Created = m.GetHistogram().GetCreatedTimestamp().AsTime()
	if got := h.proto(); !proto.Equal(got, m.GetHistogram()) {
		t.Errorf("protobuf histogram:\n got %v\nwant %v", got, m.GetHistogram())
	}

	reg := NewRegistry()
	reg.MustRegister(&Collector{Fams: []*Family{famHist}, Write: func(w Writer) {
		w.Begin(famHist)
		w.Histogram(h, "p")
	}})
	refReg := prometheus.NewRegistry()
	refReg.MustRegister(ref)
	fams, err := refReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
		var want, got bytes.Buffer
		if err := expfmt.NewEncoder(&want, format).Encode(fams[0]); err != nil {
			t.Fatal(err)
		}
		if err := Write(&got, format, nil, []*Registry{reg}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: streamed\n%q\nclient_golang\n%q", format, got.String(), want.String())
		}
	}
	if err := reg.Check(); err != nil {
		t.Error(err)
	}
}

// TestHistogramEmpty checks an empty native histogram without a zero
// threshold: a span of no bucket tells it from a classic one.
func TestHistogramEmpty(t *testing.T) {
	h := (&HistogramValue{Native: true, Schema: 3}).proto()
	if len(h.PositiveSpan) != 1 || h.PositiveSpan[0].GetLength() != 0 {
		t.Errorf("empty native histogram spans %v, want one of length 0", h.PositiveSpan)
	}
	if c := (&HistogramValue{Bounds: []float64{1}, Cumulative: []uint64{0}}).proto(); c.Schema != nil || len(c.PositiveSpan) != 0 {
		t.Errorf("a classic histogram has native fields: %v", c)
	}
}
