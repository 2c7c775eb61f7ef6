package quality

import (
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// benchRecord is a 200-byte order, as the demo's producers write them.
var benchRecord = []byte(`{"order_id":"ord-7f3a9c2e41","customer_id":"cus-88213","order_total":129.95,"currency":"EUR","items":3,"channel":"web","placed_at":1763726400000,"shipping":{"country":"NL","method":"express"}}`)

const benchRules = `      required: [order_id, customer_id]
      rules:
        - {name: positive_total, expr: "message.order_total > 0"}
        - {name: known_currency, expr: "message.currency in ['EUR', 'USD', 'GBP']"}
        - {name: few_items, expr: "message.items >= 1 && message.items <= 100"}`

// BenchmarkRules measures the per-record path: decode a 200-byte JSON
// record, check 2 required fields and evaluate 3 CEL rules.
func BenchmarkRules(b *testing.B) {
	if len(benchRecord) < 190 || len(benchRecord) > 210 {
		b.Fatalf("record is %d bytes, want about 200", len(benchRecord))
	}
	e, _, _ := newEngine(b, loadConfig(b, jsonConfig(benchRules)), Options{})
	r := &kgo.Record{Topic: "orders", Value: benchRecord}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchRecord)))
	for b.Loop() {
		e.ObserveRecord("shop.orders.placed", r)
	}
	b.StopTimer()
	if got := ruleCounts(b, e, "shop.orders.placed"); got["positive_total"][0] == 0 || got["few_items"][1] != 0 {
		b.Fatalf("rules did not pass: %v", got)
	}
}

// BenchmarkPipeline compares, in one run, the CPU time of consuming
// pipelineRecords records from kfake with a plain franz-go client against
// the same consume with every record passed through ObserveRecord (decode,
// 2 required fields, 3 CEL rules). It reports CPU seconds per million
// records for both and their ratio. The broker runs in-process, so both
// figures include its work. Run it with -benchtime=1x.
func BenchmarkPipeline(b *testing.B) {
	const pipelineRecords = 100_000
	c := kafkatest.New(b, kfake.NumBrokers(1))
	c.MustCreateTopic(b, "orders", 1, 1, nil)
	prod := c.Client(b, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(pipelineRecords))
	for i := range pipelineRecords {
		prod.Produce(b.Context(), &kgo.Record{Topic: "orders", Value: benchRecord}, nil)
		if i%10000 == 0 {
			if err := prod.Flush(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := prod.Flush(b.Context()); err != nil {
		b.Fatal(err)
	}
	e, _, _ := newEngine(b, loadConfig(b, jsonConfig(benchRules)), Options{})

	consume := func(observe bool) time.Duration {
		cl := c.Client(b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"orders": {0: kgo.NewOffset().AtStart()}}))
		defer cl.Close()
		start := cpuTime()
		n := 0
		for n < pipelineRecords {
			fs := cl.PollFetches(b.Context())
			if err := fs.Err0(); err != nil {
				b.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if observe {
					e.ObserveRecord("shop.orders.placed", r)
				}
				n++
			})
		}
		return cpuTime() - start
	}
	var plain, rules time.Duration
	for b.Loop() {
		plain += consume(false)
		rules += consume(true)
	}
	perM := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) * 1e6 / pipelineRecords }
	b.ReportMetric(perM(plain), "cpu-s/Mrec-plain")
	b.ReportMetric(perM(rules), "cpu-s/Mrec-rules")
	b.ReportMetric(float64(rules)/float64(plain), "ratio")
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCounterInc compares an increment of a client_golang series
// resolved up front (plain: what the record path paid per series before
// the product series were an expo.Source) with one of a product's count
// whose series exists (lazy), which the record path increments under the
// product's mutex it holds anyway.
func BenchmarkCounterInc(b *testing.B) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bench_total", Help: "Bench."}, []string{"result"})
	b.Run("plain", func(b *testing.B) {
		c := vec.WithLabelValues("plain")
		b.ReportAllocs()
		for b.Loop() {
			c.Inc()
		}
	})
	b.Run("lazy", func(b *testing.B) {
		var c count
		b.ReportAllocs()
		for b.Loop() {
			c.inc()
		}
		if c.n == 0 {
			b.Fatal("nothing counted")
		}
	})
}
