package alert

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestShardedStateMovesWithItsShard: with Options.Shard each shard's
// incidents live under their own key, so an agent that takes one shard over
// continues exactly that shard's incidents (same incident, same thread) and
// never sees, nor overwrites, the others'.
func TestShardedStateMovesWithItsShard(t *testing.T) {
	clk := newClock()
	st := newTestStore()
	shardOf := func(a *Alert) string {
		if a.Product == "search.clicks.logged" {
			return "p1"
		}
		return "p0"
	}
	newM := func(shards []string, n Notifier) *Manager {
		m, err := New(testConfig(), Options{
			Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry()),
			Store: st, Now: clk.Now, Notifiers: []Notifier{n},
			Routing: Routing{DefaultChannel: "#data-alerts"},
			Shard:   shardOf, Shards: shards,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	search := sloAlert("latency", "latency", SeverityPage)
	search.Labels[LabelProduct] = "search.clicks.logged"
	both := []Alert{sloAlert("latency", "latency", SeverityPage), search}

	recA := &recorder{name: "rec"}
	a := newM([]string{"p0", "p1"}, recA)
	a.Update(clk.Now(), both)
	step(t, a, clk, t0.Add(time.Minute))
	fired := recA.take()
	if len(fired) != 2 {
		t.Fatalf("agent A notified %d times, want 2 fires", len(fired))
	}
	a.persist(context.Background())
	if _, ok, _ := st.Get(context.Background(), StateKey); ok {
		t.Errorf("sharded state written under %s too", StateKey)
	}
	p0, _, _ := st.Get(context.Background(), shardKey("p0"))
	var p0st state
	if err := json.Unmarshal(p0, &p0st); err != nil || len(p0st.Incidents) != 1 {
		t.Fatalf("shard p0 holds %s (err %v), want one incident", p0, err)
	}

	var searchFire *Notification
	for _, n := range fired {
		if n.GroupLabels[LabelProduct] == "search.clicks.logged" {
			searchFire = n
		}
	}
	if searchFire == nil {
		t.Fatal("no fire for search.clicks.logged")
	}

	// Agent B takes shard p1 over: the search incident continues there.
	recB := &recorder{name: "rec"}
	b := newM([]string{"p1"}, recB)
	if got := len(b.st.Incidents); got != 1 {
		t.Fatalf("agent B loaded %d incidents, want only shard p1's one", got)
	}
	b.Update(clk.Now(), []Alert{search})
	step(t, b, clk, t0.Add(2*time.Minute))
	if got := recB.take(); len(got) != 0 {
		t.Fatalf("agent B re-notified a continuing incident: %+v", got[0])
	}
	b.Update(clk.Now(), nil)
	step(t, b, clk, t0.Add(10*time.Minute))
	got := recB.take()
	if len(got) != 1 || got[0].Kind != KindResolve || got[0].Incident != searchFire.Incident {
		t.Fatalf("agent B sent %+v, want one resolve of incident %s", got, searchFire.Incident)
	}
	b.persist(context.Background())

	p0again, _, _ := st.Get(context.Background(), shardKey("p0"))
	if string(p0again) != string(p0) {
		t.Errorf("agent B rewrote shard p0, which it does not own")
	}
	p1, _, _ := st.Get(context.Background(), shardKey("p1"))
	var p1st state
	if err := json.Unmarshal(p1, &p1st); err != nil || len(p1st.Incidents) != 0 || len(p1st.Outbox) != 0 {
		t.Errorf("shard p1 after the resolve holds %s (err %v), want it empty", p1, err)
	}
}

// TestReloadSilences: a silence one agent adds reaches another agent on the
// same Store when it reloads; one removed there disappears.
func TestReloadSilences(t *testing.T) {
	clk := newClock()
	st := newTestStore()
	a := newTestManager(t, clk, st, nil)
	b := newTestManager(t, clk, st, nil)
	ctx := context.Background()
	s, err := a.AddSilence(ctx, SilenceRequest{
		Matchers: []Matcher{{Name: LabelProduct, Value: "checkout.orders.placed"}}, Duration: "1h", CreatedBy: "ops", Comment: "maintenance",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Silences()) != 0 {
		t.Fatal("b knows the silence before reloading")
	}
	if err := b.ReloadSilences(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.Silences(); len(got) != 1 || got[0].ID != s.ID {
		t.Fatalf("b has %+v after reloading, want silence %s", got, s.ID)
	}
	if err := a.RemoveSilence(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.ReloadSilences(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.Silences(); len(got) != 0 {
		t.Fatalf("b still has %+v after the removal", got)
	}
}
