package cost

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/state"
)

// clock is a settable clock for the meter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

const (
	valueSize = 1000
	orders    = "checkout.orders.placed"
)

func produce(t *testing.T, c *kafkatest.Cluster, n int) int64 {
	t.Helper()
	// Random values: the producer compresses, and what the log holds of a
	// compressible value is not the value's size.
	rng := rand.NewChaCha8([32]byte{byte(n)})
	var recs []*kgo.Record
	var payload int64
	for i := range n {
		v := make([]byte, valueSize)
		_, _ = rng.Read(v)
		k := []byte(fmt.Sprintf("k%05d", i))
		recs = append(recs, &kgo.Record{Topic: orders, Key: k, Value: v})
		payload += int64(len(k) + len(v))
	}
	if err := c.Produce(t.Context(), recs...); err != nil {
		t.Fatal(err)
	}
	return payload
}

func within(t *testing.T, what string, got, want float64, tol float64) {
	t.Helper()
	if want == 0 || math.Abs(got-want)/want > tol {
		t.Errorf("%s = %.0f, want %.0f ± %.0f%%", what, got, want, tol*100)
	} else {
		t.Logf("%s = %.0f, want %.0f (%.2f%% off)", what, got, want, 100*math.Abs(got-want)/want)
	}
}

func commit(t *testing.T, adm *kadm.Client, group string, ends kadm.ListedOffsets, zero bool) {
	t.Helper()
	os := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Topic != orders {
			return
		}
		at := o.Offset
		if zero {
			at = 0
		}
		os.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: at, LeaderEpoch: -1})
	})
	resp, err := adm.CommitOffsets(t.Context(), group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestMeterOnKafka meters a product with RF 3 on a three-broker kfake
// cluster: its storage and ingress within 5 % of the bytes produced, and a
// group that reads N bytes charged N × the egress rate ± 5 %.
func TestMeterOnKafka(t *testing.T) {
	c := kafkatest.New(t)
	c.MustCreateTopic(t, orders, 3, 3, nil)
	cl := c.Client(t)
	adm := kadm.NewClient(cl)
	ctx := t.Context()

	clk := &clock{t: hour0}
	store := state.NewMem()
	reg := prometheus.NewRegistry()
	cfg := &meshwatch.Config{Cluster: meshwatch.Cluster{Name: "test"}, Products: testProducts()}
	m, err := New(cfg, Config{RateCard: []Rate{testRate(t)}, Reports: Reports{Dir: t.TempDir()}},
		Options{Store: store, Now: clk.Now, Kafka: cl, Metrics: NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}

	// Before the first sample: 300 records, and fraud-detector at offset 0.
	a := produce(t, c, 300)
	ends, err := adm.ListEndOffsets(ctx, orders)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, adm, "fraud-detector", ends, true)
	if err := m.Sample(ctx); err != nil {
		t.Fatal(err)
	}

	// 30 minutes in: 300 more records; fraud-detector reads everything.
	clk.Set(hour0.Add(30 * time.Minute))
	b := produce(t, c, 300)
	if ends, err = adm.ListEndOffsets(ctx, orders); err != nil {
		t.Fatal(err)
	}
	commit(t, adm, "fraud-detector", ends, false)
	if err := m.Sample(ctx); err != nil {
		t.Fatal(err)
	}

	// The open hour is in the ledger as an estimate.
	var buf bytes.Buffer
	if err := Report(ctx, store, hour0, hour0.Add(time.Hour), FormatFOCUS, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), ",true,") {
		t.Errorf("the open hour is not in the report as an estimate:\n%s", buf.String())
	}

	// The hour ends: it is closed.
	clk.Set(hour0.Add(time.Hour))
	if err := m.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := m.Ledger().Hour(ctx, hour0)
	if err != nil || !ok {
		t.Fatalf("hour not closed: %v", err)
	}
	var tu *TopicUsage
	for i := range rec.Usage.Topics {
		if rec.Usage.Topics[i].Topic == orders {
			tu = &rec.Usage.Topics[i]
		}
	}
	if tu == nil {
		t.Fatalf("no usage of %s in %+v", orders, rec.Usage)
	}
	// Storage: a for the first half hour, a+b for the second (trapezoid:
	// a → a+b over the first half), on three replicas.
	wantStorage := 3 * (float64(a+a+b)/2*0.5 + float64(a+b)*0.5)
	within(t, "storage byte-hours (RF 3)", float64(tu.StorageByteHours), wantStorage, 0.05)
	within(t, "logical byte-hours", float64(tu.LogicalByteHours), wantStorage/3, 0.05)
	within(t, "ingress bytes", float64(tu.IngressBytes), float64(b), 0.05)
	if tu.PartitionSeconds != 3*3600 {
		t.Errorf("partition-seconds = %d, want 3 partitions × 3600", tu.PartitionSeconds)
	}
	if len(tu.Groups) != 1 || tu.Groups[0].Group != "fraud-detector" {
		t.Fatalf("groups = %+v", tu.Groups)
	}
	within(t, "egress bytes", float64(tu.Groups[0].EgressBytes), float64(a+b), 0.05)

	// The egress charge: N × the egress rate, to the fraud team.
	var egress Money
	for _, r := range rec.Rows() {
		if r.Component == ComponentEgress && r.Group == "fraud-detector" && r.Owner == "fraud-team" {
			egress += r.Cost
		}
	}
	wantEgress := float64(a+b) / gib * testRate(t).EgressGiB.Float()
	within(t, "egress cost (nano)", float64(egress), wantEgress*float64(Nano), 0.05)

	// Closing again (a restart, or a second sample) writes nothing.
	clk.Set(hour0.Add(time.Hour + time.Minute))
	if err := m.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := m.Ledger().Hour(ctx, hour0); len(again.Entries) != 1 {
		t.Errorf("hour has %d entries after another sample, want 1", len(again.Entries))
	}

	if got := testutil.ToFloat64(m.metrics.tailReads.WithLabelValues("ok")); got == 0 {
		t.Errorf("no bytes per offset was measured on the tail (fallbacks: %v)", testutil.ToFloat64(m.metrics.tailReads.WithLabelValues("fallback")))
	}
	if got := testutil.ToFloat64(m.metrics.cost.WithLabelValues(orders, "checkout", "fraud-team", "CC-7", ComponentEgress)); got <= 0 {
		// The test pricer's cost centers are not in this config.
		if got2 := testutil.ToFloat64(m.metrics.cost.WithLabelValues(orders, "checkout", "fraud-team", "", ComponentEgress)); got2 <= 0 {
			t.Errorf("meshwatch_cost_usd_total of the fraud team's egress = %v", got2)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "meshwatch_cost_usd_total", "meshwatch_cost_month_to_date_usd",
		"meshwatch_cost_allocation_coverage_ratio", "meshwatch_cost_ingress_bytes_total"); err != nil || n == 0 {
		t.Errorf("metrics: %d series, %v", n, err)
	}
}

// TestRunSamplesAndStops runs the meter until its first sample, then stops
// it: Run returns nil once its context is done. Its waits only catch a hang:
// a sample on a busy machine may take many times what it takes on an idle
// one.
func TestRunSamplesAndStops(t *testing.T) {
	const hang = time.Minute
	c := kafkatest.New(t)
	c.MustCreateTopic(t, orders, 1, 3, nil)
	m, err := New(&meshwatch.Config{Products: testProducts()}, Config{Sample: meshwatch.Duration(time.Second)},
		Options{Store: state.NewMem(), Kafka: c.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	kafkatest.WaitFor(t, hang, func() bool {
		return testutil.ToFloat64(m.metrics.samples.WithLabelValues("ok")) >= 1
	}, "no sample")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(hang):
		t.Fatal("Run did not stop")
	}
}
