package collector

import (
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
)

// TestObserveClockSkew: an event time further from now than the product's
// max_clock_skew is counted and kept out of both histograms: far in the
// future (future) it gives no latency at all but the record still counts
// as arriving, at its record timestamp capped at now; far in the past
// (skew) it is still a latency SLI event.
func TestObserveClockSkew(t *testing.T) {
	const bound = 10 * time.Minute
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		lat       time.Duration // now − event time; negative: in the future
		threshold time.Duration // of the latency SLO
		reason    Reason        // counted once, or none
		histogram uint64        // records in the histograms
		good      int64         // latency SLI; valid is 1 unless noted
		valid     int64
		newest    time.Time
	}{
		{name: "on time", lat: 100 * time.Millisecond, threshold: time.Second,
			histogram: 1, good: 1, valid: 1, newest: now.Add(-100 * time.Millisecond)},
		{name: "a little ahead counts as now", lat: -30 * time.Second, threshold: time.Second,
			histogram: 1, good: 1, valid: 1, newest: now},
		{name: "at the bound", lat: bound, threshold: time.Second,
			histogram: 1, good: 0, valid: 1, newest: now.Add(-bound)},
		{name: "far ahead", lat: -bound - time.Millisecond, threshold: time.Second,
			reason: ReasonFuture, histogram: 0, good: 0, valid: 0, newest: now},
		{name: "far behind", lat: bound + time.Millisecond, threshold: time.Second,
			reason: ReasonSkew, histogram: 0, good: 0, valid: 1, newest: now.Add(-bound - time.Millisecond)},
		{name: "far behind within a longer threshold", lat: 2 * bound, threshold: 3 * bound,
			reason: ReasonSkew, histogram: 0, good: 1, valid: 1, newest: now.Add(-2 * bound)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			p := testProduct(0)
			p.EventTime.MaxClockSkew = meshwatch.Duration(bound)
			p.SLOs[0].Threshold = meshwatch.Duration(tt.threshold)
			ps := newProductState(p, NewMetrics(reg))
			ps.observeBatch([]*kgo.Record{{Timestamp: now.Add(-tt.lat)}}, now.UnixNano())

			for r := ReasonOK + 1; r < numReasons; r++ {
				want := int64(0)
				if r == tt.reason {
					want = 1
				}
				if got := ps.snapshot().eventTimeErrors[r]; got != want {
					t.Errorf("%v = %v, want %v", r, got, want)
				}
			}
			hdrCount := ps.updateQuantiles(hdr.New(histLowestMs, histHighestMs, histDigits))
			if uint64(hdrCount) != tt.histogram {
				t.Errorf("HDR holds %d, want %d", hdrCount, tt.histogram)
			}
			if got := nativeCount(t, reg); got != tt.histogram {
				t.Errorf("native histogram holds %d, want %d", got, tt.histogram)
			}
			if s := ps.latSLOs[0]; s.g != tt.good || s.v != tt.valid {
				t.Errorf("latency SLI good/valid = %d/%d, want %d/%d", s.g, s.v, tt.good, tt.valid)
			}
			if ps.newest != tt.newest.UnixNano() {
				t.Errorf("newest = %v, want %v", time.Unix(0, ps.newest).UTC(), tt.newest)
			}
		})
	}
}

// TestObserveClockSkewDefault: a product without max_clock_skew (its
// defaults not set) is held to an hour, and the skew series appears at the
// first skewed record, not before.
func TestObserveClockSkewDefault(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ps := newProductState(testProduct(0), NewMetrics(reg))
	const skew = `meshwatch_event_time_errors_total{reason="skew"}`
	now := time.Now()
	ps.observeBatch([]*kgo.Record{{Timestamp: now.Add(-59 * time.Minute)}}, now.UnixNano())
	if v, ok := seriesValue(t, reg, ps.p.Name, skew); ok {
		t.Fatalf("%s = %v before a skewed record, want no series", skew, v)
	}
	ps.observeBatch([]*kgo.Record{{Timestamp: now.Add(-61 * time.Minute)}}, now.UnixNano())
	if v, ok := seriesValue(t, reg, ps.p.Name, skew); v != 1 {
		t.Errorf("%s = %v (exists: %v), want 1 (only the record more than an hour old)", skew, v, ok)
	}
}

func TestObserveClockSkewDoesNotAllocate(t *testing.T) {
	now := time.Now()
	for name, evt := range map[string]time.Time{"ahead": now.Add(2 * time.Hour), "behind": now.Add(-2 * time.Hour)} {
		t.Run(name, func(t *testing.T) {
			ps := newProductState(testProduct(0), NewMetrics(prometheus.NewRegistry()))
			batch := []*kgo.Record{{Timestamp: evt}}
			ps.observeBatch(batch, now.UnixNano())
			if a := testing.AllocsPerRun(1000, func() { ps.observeBatch(batch, now.UnixNano()) }); a != 0 {
				t.Fatalf("observeBatch allocates %v times per record", a)
			}
			reason := ReasonSkew
			if name == "ahead" {
				reason = ReasonFuture
			}
			if got := float64(ps.snapshot().eventTimeErrors[reason]); got != 1002 {
				t.Fatalf("%v = %v, want 1002", reason, got)
			}
		})
	}
}

// nativeCount returns the observations of meshwatch_latency_seconds.
func nativeCount(t *testing.T, reg prometheus.Gatherer) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == "meshwatch_latency_seconds" {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}
