package lag

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestEvery checks the passes' schedule on a fake clock: at once, one and a
// half intervals later, then every interval in step with that, so that
// passes stay half an interval away from collector ticks started with them;
// a pass that overruns is followed by the next at once.
func TestEvery(t *testing.T) {
	const iv = 10 * time.Second
	tests := []struct {
		name string
		took map[int]time.Duration // how long the nth pass takes
		want []time.Duration       // when each pass starts, from the start
	}{
		{"on time", nil, []time.Duration{0, 15 * time.Second, 25 * time.Second, 35 * time.Second, 45 * time.Second}},
		{"a slow first pass does not move the others", map[int]time.Duration{0: 4 * time.Second},
			[]time.Duration{0, 15 * time.Second, 25 * time.Second, 35 * time.Second, 45 * time.Second}},
		{"an overrun", map[int]time.Duration{2: 12 * time.Second},
			[]time.Duration{0, 15 * time.Second, 25 * time.Second, 37 * time.Second, 45 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				ctx, cancel := context.WithCancel(t.Context())
				var got []time.Duration
				done := make(chan struct{})
				go func() {
					defer close(done)
					every(ctx, iv+iv/2, iv, func() {
						got = append(got, time.Since(start))
						time.Sleep(tc.took[len(got)-1])
						if len(got) == len(tc.want) {
							cancel()
						}
					})
				}()
				<-done
				if !slices.Equal(got, tc.want) {
					t.Errorf("passes started at %v, want %v", got, tc.want)
				}
			})
		})
	}
}
