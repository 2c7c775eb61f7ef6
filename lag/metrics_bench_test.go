package lag

import (
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/common/expfmt"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/expo"
)

// benchSnapshot is a pass over n products, each read by a group of its own
// on one topic of 3 partitions, all committed and lagging.
func benchSnapshot(n int) *snapshot {
	s := &snapshot{at: testAt, products: make(map[string]*ProductLag, n), order: make([]string, 0, n)}
	for i := range n {
		name := fmt.Sprintf("domain%03d.entity%05d.events", i%100, i)
		group := fmt.Sprintf("consumer-%05d", i)
		g := GroupLag{Group: group, Owner: "team", Declared: true, Type: TypeConsumer, State: "Stable", Members: 3,
			Status: StatusOK, Settled: true, LagRecords: 30, LagSeconds: 2, Method: MethodExact}
		for p := range int32(3) {
			g.Partitions = append(g.Partitions, PartitionLag{Topic: name, Partition: p, Committed: committed(90), End: 100,
				LagRecords: 10, LagSeconds: 2, Method: MethodExact, Status: StatusOK, MemberID: "m", ClientID: "c", MemberHost: "/10.0.0.1"})
		}
		s.order = append(s.order, name)
		s.products[name] = &ProductLag{Product: name, At: testAt, Groups: []GroupLag{g}}
		s.exporter = append(s.exporter, exporterGroup{group: group, maxLag: 10, sumLag: 30, maxLagSeconds: 2, hasData: true})
	}
	return s
}

// BenchmarkCollect writes the lag series of 10,000 products, each read by
// a group of its own, as a /metrics scrape does: stream streams the Source
// in the text format (the /metrics handler); stream-first is the first
// scrape of a pass, which also computes what the series derive from the
// snapshot (groups once, topic sums); gather builds client_golang's
// messages and encodes them (a Gatherer, as the tests read it).
func BenchmarkCollect(b *testing.B) {
	const n = 10_000
	s := benchSnapshot(n)
	for _, gr := range []Granularity{GranularityTopic, GranularityPartition} {
		reg := expo.NewRegistry()
		m := NewMetrics(reg, MetricsOptions{KafkaLagExporter: true, Granularity: gr})
		mo := &Monitor{cfg: &meshwatch.Config{Cluster: meshwatch.Cluster{Name: "bench"}}}
		mo.snap.Store(s)
		m.attach(mo)
		format := expfmt.NewFormat(expfmt.TypeTextPlain)
		b.Run(string(gr)+"/stream", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := expo.Write(io.Discard, format, nil, []*expo.Registry{reg}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(gr)+"/stream-first", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				mo.snap.Store(&snapshot{at: s.at, products: s.products, order: s.order, exporter: s.exporter})
				b.StartTimer()
				if err := expo.Write(io.Discard, format, nil, []*expo.Registry{reg}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(gr)+"/gather", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fams, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, format)
				for _, f := range fams {
					if err := enc.Encode(f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
