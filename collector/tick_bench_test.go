package collector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// BenchmarkTick measures one tick — the metadata of its slice of the
// view, the end offsets of every product's topics, the freshness probes
// and the evaluation of every product — at the sizes make scale runs
// (1,000 products of 4 partitions, 10,000 of 2), on an idle kfake so that
// the figure is the agent's and the cluster's work, not a producer's. ns/product should stay flat from
// one size to the next: the tick is linear in products and partitions.
func BenchmarkTick(b *testing.B) {
	for _, s := range []struct {
		products   int
		partitions int32
	}{{1000, 4}, {10000, 2}} {
		b.Run(fmt.Sprintf("products=%d", s.products), func(b *testing.B) {
			benchTick(b, s.products, s.partitions)
		})
	}
}

func benchTick(b *testing.B, n int, partitions int32) {
	kc := kafkatest.New(b)
	adm := kc.Admin(b)
	ctx := context.Background()

	cfg := &meshwatch.Config{}
	const batch = 500
	for from := 0; from < n; from += batch {
		var names []string
		for i := from; i < min(from+batch, n); i++ {
			name := fmt.Sprintf("domain%d.entity%05d.event", i%10, i)
			names = append(names, name)
			cfg.Products = append(cfg.Products, meshwatch.Product{
				Name: name, Domain: fmt.Sprintf("domain%d", i%10), Owner: fmt.Sprintf("team-%d", i%50), Tier: 2,
				Topics: []meshwatch.TopicSelector{{Name: name}},
				SLOs: []meshwatch.SLO{
					{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999},
					{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99},
					{Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.999},
				},
			})
		}
		resp, err := adm.CreateTopics(ctx, partitions, 1, nil, names...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	// The tick loop and discovery never run on their own: the benchmark
	// ticks.
	cc := Config{Tick: meshwatch.Duration(time.Hour), Discovery: meshwatch.Duration(time.Hour)}
	c, err := New(cfg, cc, []kgo.Opt{kgo.SeedBrokers(kc.Addrs()...)}, Options{Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	kafkatest.WaitFor(b, 5*time.Minute, c.Ready, "the collector did not resolve %d topics", n)
	c.tick(rctx, 10*time.Second) // the first tick has no view yet

	for b.Loop() {
		c.tick(rctx, 10*time.Second)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/product")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/tick")
}
