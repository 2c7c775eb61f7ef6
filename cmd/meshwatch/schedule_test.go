package main

import (
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// TestSLOPassFollowsTick checks that the SLO evaluation runs after each
// collector tick (the tick wakes it), so that a tick's events are decided
// on at once, rather than on a clock of its own. On its own it would
// evaluate every tick and a half: about two passes for three ticks.
func TestSLOPassFollowsTick(t *testing.T) {
	kc := kafkatest.New(t)
	app := readyApp(t, kc, "checkout.orders.placed", t.TempDir())
	counts := func() (ticks, evals float64) {
		fams, err := scrapeFamilies(t, app.Addr())
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]*float64{
			"meshwatch_tick_duration_seconds":           &ticks,
			"meshwatch_slo_evaluation_duration_seconds": &evals,
		} {
			if f := fams[name]; f != nil && len(f.Metric) == 1 {
				*v = float64(f.Metric[0].GetHistogram().GetSampleCount())
			}
		}
		return ticks, evals
	}
	// From a tick on (before the first, the agent was not ready: the
	// evaluation ran on its own), over twelve ticks.
	var ticks0, evals0 float64
	kafkatest.WaitFor(t, time.Minute, func() bool { ticks0, evals0 = counts(); return ticks0 >= 1 }, "the collector does not tick")
	kafkatest.WaitFor(t, time.Minute, func() bool { ticks, _ := counts(); return ticks >= ticks0+12 }, "the collector stopped ticking")
	ticks, evals := counts()
	// A tick that ended between the two counts' reads may not have been
	// evaluated yet, at either end.
	if dt, de := ticks-ticks0, evals-evals0; de < dt-1 {
		t.Errorf("%v SLO passes over %v collector ticks: the tick does not wake the evaluation", de, dt)
	}
}
