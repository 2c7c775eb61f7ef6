package collector

import (
	"context"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// TestTickCutShortIsNotAnOutage checks that a tick whose requests fail
// because the agent is stopping emits no SLI event: each restart would
// otherwise record a bad availability event.
func TestTickCutShortIsNotAnOutage(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
	cfg := testConfig(kc, product("checkout.orders.placed", named("checkout.orders.placed")...))
	cfg.Collector.Tick = meshwatch.Duration(time.Hour) // the tick loop never ticks; the test does
	cfg.Collector.Discovery = meshwatch.Duration(time.Hour)
	h := start(t, kc, cfg)

	avail := func() []meshwatch.SLIEvents { ev, _ := h.sink.since(0, "availability"); return ev }
	// The interval bounds the tick's requests: a hang's bound, so that a
	// busy machine cannot make the healthy tick fail.
	h.c.tick(context.Background(), hangGuard)
	if ev := avail(); len(ev) != 1 || ev[0].Good != 1 {
		t.Fatalf("a healthy tick gave availability events %+v, want one good", ev)
	}
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	h.c.tick(stopped, hangGuard)
	if ev := avail(); len(ev) != 1 {
		t.Errorf("a tick cut short by shutdown gave availability events %+v; want none", ev[1:])
	}
}
