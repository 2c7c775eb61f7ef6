package collector

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// cpuTime is the process's user + system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPipeline compares, in one run, the CPU time the whole agent
// spends per million records while sampling everything with the CPU time a
// plain franz-go consumer spends reading the same records. Both read the same
// prefilled topic from its start with a fresh client; the in-process kfake
// broker's CPU is in both figures.
func BenchmarkPipeline(b *testing.B) {
	const (
		topic      = "checkout.orders.placed"
		partitions = 4
		records    = 200_000
	)
	kc, err := kafkatest.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	ctx := context.Background()
	if err := kc.CreateTopic(ctx, topic, partitions, 1, nil); err != nil {
		b.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs()...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(records))
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 200)
	start := time.Now().Add(-time.Minute)
	for i := range records {
		prod.Produce(ctx, &kgo.Record{Topic: topic, Value: val, Timestamp: start.Add(time.Duration(i) * time.Microsecond)}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	prod.Close()

	plain := func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs()...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart(), 3: kgo.NewOffset().AtStart()},
		}))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		n := 0
		for n < records {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				b.Fatal(err)
			}
			n += fs.NumRecords()
		}
	}
	agent := func() {
		p := meshwatch.Product{
			Name: topic, Domain: "checkout", Owner: "orders-team", Tier: 1,
			Topics:    []meshwatch.TopicSelector{{Name: topic}},
			EventTime: meshwatch.EventTime{},
			SLOs: []meshwatch.SLO{
				{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999},
				{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99},
				{Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.999},
			},
		}
		cfg := &meshwatch.Config{
			Products: []meshwatch.Product{p}, // a zero budget: sample everything
		}
		cc := Config{Tick: meshwatch.Duration(time.Second), Discovery: meshwatch.Duration(time.Minute)}
		from := kgo.NewOffset().AtStart()
		c, err := New(cfg, cc, []kgo.Opt{kgo.SeedBrokers(kc.Addrs()...)}, Options{Metrics: NewMetrics(prometheus.NewRegistry()), startAt: &from})
		if err != nil {
			b.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(rctx) }()
		ps := c.products[0]
		tk := time.NewTicker(10 * time.Millisecond)
		for float64(ps.sampledTotal()) < records {
			<-tk.C
		}
		tk.Stop()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}

	var plainCPU, agentCPU time.Duration
	for b.Loop() {
		runtime.GC()
		t0 := cpuTime(b)
		plain()
		t1 := cpuTime(b)
		runtime.GC()
		t2 := cpuTime(b)
		agent()
		t3 := cpuTime(b)
		plainCPU += t1 - t0
		agentCPU += t3 - t2
	}
	perM := func(d time.Duration) float64 {
		return float64(d.Milliseconds()) / float64(b.N) / records * 1e6
	}
	b.ReportMetric(perM(plainCPU), "plain-cpu-ms/Mrec")
	b.ReportMetric(perM(agentCPU), "agent-cpu-ms/Mrec")
	b.ReportMetric(float64(agentCPU)/float64(plainCPU), "agent/plain")
}

// BenchmarkMemoryPerProduct measures the heap one product costs the agent:
// 1,000 products with 4 partitions and 3 SLOs each, every latency slot of
// the 5m window populated with a realistic spread of values, and all their
// Prometheus series registered.
func BenchmarkMemoryPerProduct(b *testing.B) {
	var perProduct float64
	for b.Loop() {
		perProduct = memoryPerProduct(b, 1000)
	}
	b.ReportMetric(perProduct, "B/product")
	b.ReportMetric(perProduct/1024, "KiB/product")
}

// maxBytesPerProduct bounds the heap of one busy product in the collector:
// the agent's budget is 150 MB for 1,000 products and 1 GiB for 10,000,
// every package included. (A dense HDR histogram per product, as before,
// alone took 16 KiB.)
const maxBytesPerProduct = 28 << 10

// TestMemoryPerProduct is BenchmarkMemoryPerProduct as a bound, so that a
// change that makes every product heavier fails.
func TestMemoryPerProduct(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1,000 products")
	}
	per := memoryPerProduct(t, 1000)
	t.Logf("%.0f bytes (%.1f KiB) per product", per, per/1024)
	if per > maxBytesPerProduct {
		t.Errorf("a product takes %.0f bytes of heap, want at most %d", per, maxBytesPerProduct)
	}
}

// memoryPerProduct builds a collector of n busy products (see
// BenchmarkMemoryPerProduct) and returns the heap it takes per product.
func memoryPerProduct(tb testing.TB, n int) float64 {
	const partitions = 4
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	cfg := &meshwatch.Config{}
	for i := range n {
		name := fmt.Sprintf("domain%d.entity%d.event", i%10, i)
		cfg.Products = append(cfg.Products, meshwatch.Product{
			Name: name, Domain: fmt.Sprintf("domain%d", i%10), Owner: fmt.Sprintf("team-%d", i%50), Tier: 2,
			Topics:   []meshwatch.TopicSelector{{Name: name}},
			Sampling: meshwatch.Budget{MaxRecordsPerSecond: 1000, MaxBytesPerSecond: 1 << 20},
			SLOs: []meshwatch.SLO{
				{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999},
				{Name: "freshness", SLI: meshwatch.SLIFreshness, Threshold: meshwatch.Duration(time.Minute), Objective: 0.99},
				{Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.999},
			},
		})
	}
	c, err := New(cfg, Config{Tick: meshwatch.Duration(10 * time.Second)}, nil, Options{Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		tb.Fatal(err)
	}
	r := &routes{topics: map[string]*topicRoute{}}
	now := time.Now()
	recs := make([]*kgo.Record, 64)
	for i := range recs {
		// latencies from 5 ms to ~2.5 s: ~60 distinct HDR buckets per slot
		recs[i] = &kgo.Record{Timestamp: now.Add(-time.Duration(5+i*i*i/100) * time.Millisecond), Value: val200}
	}
	scratch := hdr.New(histLowestMs, histHighestMs, histDigits)
	for _, ps := range c.products {
		t := ps.p.Topics[0].Name
		tr := &topicRoute{ps: ps, minISR: 1, parts: map[int32]*partState{}}
		for p := range int32(partitions) {
			part := &partState{topic: t, partition: p, end: -1, probe: -1}
			tr.parts[p] = part
			ps.assigned = append(ps.assigned, part)
		}
		r.topics[t] = tr
		r.names = append(r.names, t)
		for range slotsPer5m {
			ps.observeBatch(recs, now.UnixNano())
			ps.win.rotate()
		}
		ps.observeBatch(recs, now.UnixNano())
		ps.updateQuantiles(scratch)
	}
	c.routes.Store(r)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

var val200 = make([]byte, 200)
