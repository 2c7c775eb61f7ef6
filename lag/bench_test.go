package lag

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
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

// rssMB is the process's resident set now, from /proc (0 where there is none).
func rssMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// Shape of the benchmark cluster.
const (
	benchTopics     = 1000
	benchPartitions = 10
	benchGroups     = 500
	benchRecords    = 4 // per partition, in one batch
	benchProducts   = 10
)

type benchCluster struct {
	kc      *kafkatest.Cluster
	cfg     *meshwatch.Config
	groups  []string
	commits int
}

var (
	benchOnce sync.Once
	benchC    *benchCluster
	benchErr  error
)

// benchSetup starts, once per process, a cluster of 1,000 topics of 10
// partitions with a few records each, and 500 groups that each committed,
// behind the end, on the 20 partitions of two topics: 10,000 committed
// offsets, all lagging.
func benchSetup(b *testing.B) *benchCluster {
	benchOnce.Do(func() { benchC, benchErr = newBenchCluster() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchC
}

func newBenchCluster() (*benchCluster, error) {
	kc, err := kafkatest.Start()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(50*time.Millisecond), kgo.MaxBufferedRecords(benchTopics*benchPartitions*benchRecords))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := make([]string, benchTopics)
	for i := range topics {
		topics[i] = fmt.Sprintf("bench%d.topic%04d.events", i%benchProducts, i)
	}
	resps, err := adm.CreateTopics(ctx, benchPartitions, 1, nil, topics...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("create topics: %w", err)
	}
	base := time.Now().Add(-time.Hour)
	var perr error
	var mu sync.Mutex
	for ti, t := range topics {
		for p := range int32(benchPartitions) {
			for r := range benchRecords {
				cl.Produce(ctx, &kgo.Record{Topic: t, Partition: p, Value: []byte("v"), Timestamp: base.Add(time.Duration(ti*benchRecords+r) * time.Millisecond)},
					func(_ *kgo.Record, err error) {
						if err != nil {
							mu.Lock()
							perr = err
							mu.Unlock()
						}
					})
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, fmt.Errorf("produce: %w", perr)
	}
	bc := &benchCluster{kc: kc}
	for g := range benchGroups {
		name := fmt.Sprintf("group-%03d", g)
		os := kadm.Offsets{}
		for _, t := range []string{topics[2*g%benchTopics], topics[(2*g+1)%benchTopics]} {
			for p := range int32(benchPartitions) {
				os.AddOffset(t, p, 1, -1) // 3 records behind
				bc.commits++
			}
		}
		if err := adm.CommitAllOffsets(ctx, name, os); err != nil {
			return nil, fmt.Errorf("commit %s: %w", name, err)
		}
		bc.groups = append(bc.groups, name)
	}
	cfg := &meshwatch.Config{Naming: "off", Cluster: meshwatch.Cluster{Name: "bench"}}
	for i := range benchProducts {
		cfg.Products = append(cfg.Products, meshwatch.Product{
			Name: fmt.Sprintf("bench%d.entity.events", i), Domain: fmt.Sprintf("bench%d", i), Owner: "team",
			Topics: []meshwatch.TopicSelector{{Pattern: fmt.Sprintf(`^bench%d\..*$`, i)}},
		})
	}
	cfg.Owners = map[string]meshwatch.Owner{"team": {SlackChannel: "#team"}}
	cfg.SetDefaults()
	if errs := cfg.Validate().Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errs)
	}
	bc.cfg = cfg
	return bc, nil
}

// BenchmarkLagPass measures one full pass over 500 groups with 10,000
// committed offsets on 1,000 topics × 10 partitions: offsets only, and with
// the exact time lag of all 10,000 lagging partitions read afresh (the
// cache of read records is emptied before each pass). kadm.Client.Lag over
// the same groups is the floor: it makes the same offset requests and
// computes offset lag only. CPU includes the in-process kfake broker's.
func BenchmarkLagPass(b *testing.B) {
	bc := benchSetup(b)
	ctx := context.Background()

	report := func(b *testing.B, cpu time.Duration) {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/pass")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/pass")
		b.ReportMetric(rssMB(), "rss-MB")
	}

	b.Run("floor=kadm.Lag", func(b *testing.B) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(bc.kc.Addrs()...))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		runtime.GC()
		cpu0 := cpuTime(b)
		for b.Loop() {
			lags, err := adm.Lag(ctx, bc.groups...)
			if err != nil {
				b.Fatal(err)
			}
			if n := len(lags); n != benchGroups {
				b.Fatalf("%d groups, want %d", n, benchGroups)
			}
		}
		report(b, cpuTime(b)-cpu0)
	})

	for _, exact := range []bool{false, true} {
		name := "offsets-only"
		if exact {
			name = "exact-10k"
		}
		b.Run(name, func(b *testing.B) {
			cfg := *bc.cfg
			var lc Config
			lc.SetDefaults(meshwatch.Duration(10 * time.Second))
			lc.ExactFetches = new(0)
			if exact {
				lc.ExactFetches = new(10_000)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(bc.kc.Addrs()...))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			m := New(&cfg, lc, cl, Options{Metrics: NewMetrics(prometheus.NewRegistry(), MetricsOptions{KafkaLagExporter: true}), ReadTimeout: 10 * time.Second})
			if err := m.pass(ctx); err != nil { // warm up: metadata, connections
				b.Fatal(err)
			}
			check := func() {
				n, exacts := 0, 0
				for _, p := range m.snap.Load().products {
					for _, g := range p.Groups {
						for _, pl := range g.Partitions {
							if pl.Committed != nil {
								n++
								if pl.Method == MethodExact {
									exacts++
								}
							}
						}
					}
				}
				if n != bc.commits || (exact && exacts != n) {
					b.Fatalf("%d committed partitions (%d exact), want %d (all exact: %v)", n, exacts, bc.commits, exact)
				}
			}
			check()
			runtime.GC()
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				m.passMu.Lock()
				clear(m.stamps) // read every record again
				m.passMu.Unlock()
				cpu0 := cpuTime(b)
				b.StartTimer()
				if err := m.pass(ctx); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime(b) - cpu0
			}
			check()
			report(b, cpu)
		})
	}
}

// BenchmarkLagCompute is the pure computation of one partition's lag from
// a full history.
func BenchmarkLagCompute(b *testing.B) {
	var h history
	for s := range 200 {
		h.add(int64(s*100), at(float64(s)))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Compute(Offsets{Committed: 19_050, End: 19_900}, h.points, time.Time{}, at(200))
	}
}
