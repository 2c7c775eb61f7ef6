package lag

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Window is how far back the time-lag quantiles of a group look.
const Window = 5 * time.Minute

// Quantiles are the quantiles of a group's time lag over Window.
var Quantiles = []float64{0.5, 0.99}

// Geometry of the time-lag histogram: milliseconds from 1 ms to 30 days
// with two significant digits; longer lags are recorded as 30 days.
const (
	histLowestMs  = 1
	histHighestMs = int64(30 * 24 * time.Hour / time.Millisecond)
	histDigits    = 2
)

// newHistogram returns an empty time-lag histogram.
func newHistogram() *hdr.Histogram {
	return hdr.New(histLowestMs, histHighestMs, histDigits)
}

// lagWindow keeps a group's time lag of every pass over the last Window.
// A pass yields one sample per group, so the samples themselves (30 at the
// default 10 s) are far smaller than a histogram per group (~20 KiB at this
// range); the quantiles are read through one HDR histogram the pass loop
// reuses for every group.
type lagWindow struct {
	samples []lagPoint // oldest first
}

func (w *lagWindow) add(t time.Time, v time.Duration) {
	cut := 0
	for cut < len(w.samples) && t.Sub(w.samples[cut].t) > Window {
		cut++
	}
	if cut > 0 {
		w.samples = append(w.samples[:0], w.samples[cut:]...)
	}
	w.samples = append(w.samples, lagPoint{t, v})
}

// quantiles returns Quantiles of the window in seconds, and how many
// samples they are made of, using scratch as the histogram.
func (w *lagWindow) quantiles(scratch *hdr.Histogram) ([]float64, int) {
	out := make([]float64, len(Quantiles))
	if len(w.samples) == 0 {
		return out, 0
	}
	scratch.Reset()
	for _, s := range w.samples {
		ms := min(max(s.lag.Milliseconds(), 0), histHighestMs)
		_ = scratch.RecordValue(ms) // in range by construction
	}
	for i, q := range Quantiles {
		out[i] = float64(scratch.ValueAtQuantile(q*100)) / 1000
	}
	return out, len(w.samples)
}
