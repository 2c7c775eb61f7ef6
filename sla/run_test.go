package sla

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestRunWake checks when Run evaluates, on a fake clock: at once, at each
// Wake (the agent's collector tick), and on its own only when no Wake came
// for a tick and a half.
func TestRunWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tick = 10 * time.Second
		start := time.Now()
		var evals []time.Duration
		e, err := New(testConfig(latencySLO(0.99, "30d")), Options{
			Tick:        tick,
			OnEvaluated: func() { evals = append(evals, time.Since(start)) },
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		// Ticks at 3 s, 13 s and 23 s wake it; then none come.
		for _, at := range []time.Duration{3 * time.Second, 13 * time.Second, 23 * time.Second} {
			time.Sleep(at - time.Since(start))
			e.Wake()
			synctest.Wait()
		}
		// On its own at 23 + 15 s and 53 s; a Wake at 55 s evaluates at
		// once and moves the next own pass to 70 s.
		time.Sleep(55*time.Second - time.Since(start))
		e.Wake()
		synctest.Wait()
		time.Sleep(71*time.Second - time.Since(start))
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, 3 * time.Second, 13 * time.Second, 23 * time.Second,
			38 * time.Second, 53 * time.Second, 55 * time.Second, 70 * time.Second, 71 * time.Second}
		if !slices.Equal(evals, want) {
			t.Errorf("evaluated at %v, want %v (the last at shutdown)", evals, want)
		}
	})
}
