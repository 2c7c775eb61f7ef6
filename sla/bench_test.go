package sla

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshwatch/meshwatch"
)

// manySLOs returns a configuration of n SLOs, 10 per product, windows 28d.
func manySLOs(n int) *meshwatch.Config {
	cfg := &meshwatch.Config{}
	for i := 0; i < n; i += 10 {
		p := meshwatch.Product{Name: fmt.Sprintf("domain%d.entity.event", i/10), Domain: "domain", Owner: "team"}
		for j := range min(10, n-i) {
			p.SLOs = append(p.SLOs, meshwatch.SLO{Name: fmt.Sprintf("slo%d", j), SLI: meshwatch.SLIValidity, Objective: 0.999, Window: "28d"})
		}
		cfg.Products = append(cfg.Products, p)
	}
	cfg.SetDefaults()
	return cfg
}

func eventsOf(cfg *meshwatch.Config, at time.Time) []meshwatch.SLIEvents {
	var evs []meshwatch.SLIEvents
	for _, p := range cfg.Products {
		for _, s := range p.SLOs {
			evs = append(evs, meshwatch.SLIEvents{Product: p.Name, SLO: s.Name, SLI: s.SLI, Good: 99, Valid: 100, From: at.Add(-10 * time.Second), To: at})
		}
	}
	return evs
}

func TestObserveSLIDoesNotAllocate(t *testing.T) {
	cfg := manySLOs(100)
	clk := newClock(t0)
	e, err := New(cfg, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	evs := eventsOf(cfg, t0)
	if n := testing.AllocsPerRun(100, func() { e.ObserveSLI(evs) }); n != 0 {
		t.Errorf("ObserveSLI allocates %v times per call", n)
	}
}

// BenchmarkObserveSLI measures one tick's batch of 100 SLOs' events.
func BenchmarkObserveSLI(b *testing.B) {
	cfg := manySLOs(100)
	clk := newClock(t0)
	e, err := New(cfg, Options{Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	evs := eventsOf(cfg, t0)
	b.ReportAllocs()
	for b.Loop() {
		e.ObserveSLI(evs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(evs)), "ns/event")
}

// BenchmarkEvaluate measures one evaluation pass (every SLO's windows,
// budget, burn rates, decision and status) over 1,000 and 10,000 SLOs
// whose buckets are full, and reports the memory held per SLO.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("slos=%d", n), func(b *testing.B) {
			cfg := manySLOs(n)
			clk := newClock(t0)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			e, err := New(cfg, Options{Now: clk.Now, Metrics: NewMetrics(prometheus.NewRegistry())})
			if err != nil {
				b.Fatal(err)
			}
			evs := eventsOf(cfg, t0)
			for range 28 * 24 { // an event an hour for 28 days, and every minute of the last 6 hours
				at := clk.Advance(time.Hour)
				for i := range evs {
					evs[i].From, evs[i].To = at.Add(-10*time.Second), at
				}
				e.ObserveSLI(evs)
			}
			for range 360 {
				at := clk.Advance(time.Minute)
				for i := range evs {
					evs[i].From, evs[i].To = at.Add(-10*time.Second), at
				}
				e.ObserveSLI(evs)
			}
			e.Evaluate()
			runtime.GC()
			runtime.ReadMemStats(&after)
			perSLO := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
			b.ReportAllocs()
			for b.Loop() {
				e.Evaluate()
			}
			b.ReportMetric(perSLO, "heap-B/slo")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/tick")
		})
	}
}
