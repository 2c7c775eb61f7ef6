package lag

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func TestCompute(t *testing.T) {
	// A steady 10 records/s from offset 0 at t0, sampled every 10 s.
	steady := []Point{{0, at(0)}, {100, at(10)}, {200, at(20)}, {300, at(30)}}
	// Idle: offset 50 reached at t=5 and unchanged until t=600.
	idle := []Point{{0, at(0)}, {50, at(5)}, {50, at(600)}}
	tests := []struct {
		name    string
		o       Offsets
		history []Point
		record  time.Time
		now     time.Time
		want    Lag
	}{
		{
			name: "never committed",
			o:    Offsets{Committed: NoOffset, End: 300, LogStart: 0},
			now:  at(30),
			want: Lag{},
		},
		{
			name:    "caught up is 0 and exact",
			o:       Offsets{Committed: 300, End: 300},
			history: steady, now: at(30),
			want: Lag{Committed: true, Method: MethodExact},
		},
		{
			name:    "caught up on an idle topic stays 0",
			o:       Offsets{Committed: 50, End: 50},
			history: idle, now: at(600),
			want: Lag{Committed: true, Method: MethodExact},
		},
		{
			name: "committed ahead of the listed end is clamped to 0",
			o:    Offsets{Committed: 305, End: 300},
			now:  at(30),
			want: Lag{Committed: true, Method: MethodExact},
		},
		{
			name:    "exact: now minus the record timestamp",
			o:       Offsets{Committed: 150, End: 300},
			history: steady, record: at(15.25), now: at(30),
			want: Lag{Committed: true, Records: 150, Time: secs(14.75), Method: MethodExact},
		},
		{
			name:   "exact: a record from the future waited 0",
			o:      Offsets{Committed: 299, End: 300},
			record: at(31), now: at(30),
			want: Lag{Committed: true, Records: 1, Method: MethodExact},
		},
		{
			name:    "interpolated inside a segment",
			o:       Offsets{Committed: 149, End: 300},
			history: steady, now: at(30),
			// record 149 is the 50th of 100 appended in (10, 20]: at 15 s.
			want: Lag{Committed: true, Records: 151, Time: secs(15), Method: MethodInterpolated},
		},
		{
			name:    "interpolated at a sample boundary",
			o:       Offsets{Committed: 199, End: 300},
			history: steady, now: at(30),
			want: Lag{Committed: true, Records: 101, Time: secs(10), Method: MethodInterpolated},
		},
		{
			name:    "interpolated after a plateau: appended after the last idle sample",
			o:       Offsets{Committed: 50, End: 60},
			history: append(append([]Point{}, idle...), Point{60, at(610)}), now: at(610),
			// record 50 is the first of 10 appended in (600, 610]: at 601 s.
			want: Lag{Committed: true, Records: 10, Time: secs(9), Method: MethodInterpolated},
		},
		{
			name:    "older than the history: the age of the oldest point, a lower bound",
			o:       Offsets{Committed: 10, End: 300},
			history: steady[2:], now: at(30),
			want: Lag{Committed: true, Records: 290, Time: secs(10), Method: MethodInterpolated, LowerBound: true},
		},
		{
			name: "no history: 0 as a lower bound, never NaN",
			o:    Offsets{Committed: 10, End: 300},
			now:  at(30),
			want: Lag{Committed: true, Records: 290, Method: MethodInterpolated, LowerBound: true},
		},
		{
			name:    "lost: committed below the log start",
			o:       Offsets{Committed: 49, End: 300, LogStart: 100},
			history: steady, now: at(30),
			want: Lag{Committed: true, Records: 251, Time: secs(25), Method: MethodInterpolated, Lost: 51},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute(tt.o, tt.history, tt.record, tt.now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Compute (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInterpolateBurst checks that a 10x burst between two samples does not
// make the time lag of a group that keeps up spike: the estimate stays
// within one sample interval of the truth.
func TestInterpolateBurst(t *testing.T) {
	var h history
	var truth []time.Time // append time of each offset
	end := int64(0)
	for s := 0; s <= 60; s++ {
		rate := 10
		if s > 30 && s <= 35 {
			rate = 100
		}
		if s > 0 {
			for i := range rate {
				truth = append(truth, at(float64(s-1)+float64(i+1)/float64(rate)))
			}
			end += int64(rate)
		}
		h.add(end, at(float64(s)))
		// A group half a second behind.
		c := int64(len(truth)) - 1
		for c > 0 && at(float64(s)).Sub(truth[c]) < 500*time.Millisecond {
			c--
		}
		if c <= 0 {
			continue
		}
		l := Compute(Offsets{Committed: c, End: end}, h.points, time.Time{}, at(float64(s)))
		want := at(float64(s)).Sub(truth[c])
		if d := l.Time - want; d < -time.Second || d > time.Second || math.IsNaN(l.Time.Seconds()) {
			t.Fatalf("t=%ds: time lag %v, truth %v", s, l.Time, want)
		}
	}
}

// TestInterpolateWithinOneInterval checks Compute's promise on uneven
// traffic sampled at uneven times: the interpolated time lag of any
// committed offset is less than the interval between the samples around it
// away from the truth, however the records arrived within it.
func TestInterpolateWithinOneInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4)) // fixed: the same histories every run
	for run := range 100 {
		var h history
		var truth []time.Time // append time of each offset
		now := at(0)
		h.add(0, now)
		for range 40 {
			// An interval of 1 ms to 2 s with 0 to 3 records, or a
			// burst of up to 150, appended at random times in it.
			d := time.Duration(1+rng.Int64N(2000)) * time.Millisecond
			n := rng.IntN(4)
			if rng.IntN(4) == 0 {
				n *= 50
			}
			ts := make([]time.Time, n)
			for i := range ts {
				ts[i] = now.Add(time.Duration(1 + rng.Int64N(int64(d))))
			}
			slices.SortFunc(ts, time.Time.Compare)
			truth = append(truth, ts...)
			now = now.Add(d)
			h.add(int64(len(truth)), now)
		}
		for c := range truth {
			l := Compute(Offsets{Committed: int64(c), End: int64(len(truth))}, h.points, time.Time{}, now)
			i := sort.Search(len(h.points), func(i int) bool { return h.points[i].Offset > int64(c) })
			if i == 0 || i == len(h.points) {
				t.Fatalf("run %d: offset %d outside the history %v", run, c, h.points)
			}
			gap := h.points[i].Time.Sub(h.points[i-1].Time)
			want := now.Sub(truth[c])
			if d := l.Time - want; d <= -gap || d >= gap || l.LowerBound || l.Method != MethodInterpolated {
				t.Fatalf("run %d, offset %d: time lag %v (%s, lower bound %v), truth %v: %v apart, want less than the %v between the samples around it",
					run, c, l.Time, l.Method, l.LowerBound, want, d, gap)
			}
		}
	}
}

func TestHistoryBounded(t *testing.T) {
	var h history
	for s := range 10_000 {
		end := int64(s / 3 * 7) // plateaus of three samples
		h.add(end, at(float64(s)))
		if len(h.points) > maxPoints {
			t.Fatalf("%d points after %d samples, want at most %d", len(h.points), s, maxPoints)
		}
	}
	for i := 1; i < len(h.points); i++ {
		if h.points[i].Offset < h.points[i-1].Offset || !h.points[i].Time.After(h.points[i-1].Time) {
			t.Fatalf("history not monotonic at %d: %v", i, h.points[i-1:i+1])
		}
	}
	if h.points[0].Time != at(0) {
		t.Errorf("oldest point %v, want the first sample kept", h.points[0])
	}
	// The end going backwards (a recreated topic) starts a new history.
	h.add(3, at(20_000))
	if len(h.points) != 1 || h.points[0].Offset != 3 {
		t.Errorf("after the end went backwards: %v", h.points)
	}
	// An idle partition costs two points however long it idles.
	var idle history
	idle.add(5, at(0))
	for s := 1; s < 1000; s++ {
		idle.add(9, at(float64(s)))
	}
	if want := []Point{{5, at(0)}, {9, at(1)}, {9, at(999)}}; !cmp.Equal(want, idle.points) {
		t.Errorf("idle history %v, want %v", idle.points, want)
	}
}
