package collector

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// recordSink remembers the records and skips handed to a RecordSink.
type recordSink struct {
	mu      sync.Mutex
	values  map[string][]string // product → values seen
	skipped map[string]int      // "product/topic/partition" → calls
	last    map[string]bool     // product → a record with header "last" seen
}

func newRecordSink() *recordSink {
	return &recordSink{values: map[string][]string{}, skipped: map[string]int{}, last: map[string]bool{}}
}

func (s *recordSink) ObserveRecord(product string, r *kgo.Record) {
	s.mu.Lock()
	s.values[product] = append(s.values[product], string(r.Value))
	s.last[product] = s.last[product] || isLast(r)
	s.mu.Unlock()
}

// sawLast reports whether a record with header "last" reached the sink.
func (s *recordSink) sawLast(product string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[product]
}

// isLast reports whether r has the header "last" (sampleAll's).
func isLast(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == "last" {
			return true
		}
	}
	return false
}

// ObserveRecordField is ObserveRecord; the sink decodes nothing.
func (s *recordSink) ObserveRecordField(product string, r *kgo.Record, _ []string) (any, bool, error) {
	s.ObserveRecord(product, r)
	return nil, false, nil
}

func (s *recordSink) DecodeField(string, *kgo.Record, []string) (any, bool, error) {
	return nil, false, nil
}

func (s *recordSink) Skipped(product, topic string, partition int32) {
	s.mu.Lock()
	s.skipped[product+"/"+topic+"/"+strconv.Itoa(int(partition))]++
	s.mu.Unlock()
}

func (s *recordSink) seen(product string) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, v := range s.values[product] {
		out[v] = true
	}
	return out
}

func (s *recordSink) count(product string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.values[product]))
}

func (s *recordSink) skips(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped[key]
}

// TestRecordSinkSeesEveryMeasuredRecord checks that the records the
// collector measures reach the record sink under their product, and that a
// spent budget is reported as a skip of the partition.
func TestRecordSinkSeesEveryMeasuredRecord(t *testing.T) {
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
	kc.MustCreateTopic(t, "logistics.parcels.scanned", 1, 1, nil)
	orders := product("checkout.orders.placed", named("checkout.orders.placed")...)
	parcels := product("logistics.parcels.scanned", named("logistics.parcels.scanned")...)
	// A budget of 2 records/s: a burst of one record, refilled in half a second.
	parcels.Sampling = meshwatch.Budget{MaxRecordsPerSecond: 2, MaxBytesPerSecond: 1 << 20}
	rs := newRecordSink()
	h := start(t, kc, testConfig(kc, orders, parcels), func(o *Options) { o.Records = rs })
	h.waitSampling(t, orders.Name, "checkout.orders.placed", func(now time.Time) *kgo.Record {
		return &kgo.Record{Timestamp: now, Value: []byte("marker")}
	})

	// Everything produced now is within the orders budget: each record must
	// reach the sink exactly under its product.
	want := map[string]bool{}
	recs := make([]*kgo.Record, 20)
	for i := range recs {
		v := "order-" + strconv.Itoa(i)
		want[v] = true
		recs[i] = &kgo.Record{Topic: "checkout.orders.placed", Value: []byte(v), Timestamp: time.Now()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := kc.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, hangGuard, func() bool {
		seen := rs.seen(orders.Name)
		for v := range want {
			if !seen[v] {
				return false
			}
		}
		return true
	}, "not every order record reached the record sink")
	for v := range rs.seen(parcels.Name) {
		if want[v] {
			t.Errorf("record %q of orders was handed over as a parcels record", v)
		}
	}

	// 50 records in one batch overrun the parcels budget: the rest of the
	// batch is skipped, and the sink is told so.
	batch := make([]*kgo.Record, 50)
	for i := range batch {
		batch[i] = &kgo.Record{Topic: "logistics.parcels.scanned", Value: []byte("parcel-" + strconv.Itoa(i)), Timestamp: time.Now()}
	}
	kafkatest.WaitFor(t, hangGuard, func() bool {
		if err := kc.Produce(ctx, batch...); err != nil {
			t.Fatal(err)
		}
		return rs.skips("logistics.parcels.scanned/logistics.parcels.scanned/0") > 0
	}, "a spent budget was never reported as skipped")
	// The sink gets exactly what was measured: the parcels within the
	// budget, not those it skipped. Records still in flight are measured
	// and handed over in the same poll; the counts meet once they are in.
	for _, name := range []string{orders.Name, parcels.Name} {
		ps := h.c.byName[name]
		kafkatest.WaitFor(t, hangGuard, func() bool { return rs.count(name) == ps.sampledTotal() },
			"%s: the sink got %v records, the collector measured %v", name,
			lazy(func() any { return rs.count(name) }), lazy(func() any { return ps.sampledTotal() }))
	}
	// The rare-event counters appear at their first event: the parcels
	// skipped and were paused, the orders neither.
	if v, _ := seriesValue(t, h.reg, parcels.Name, "meshwatch_records_skipped_total"); v == 0 {
		t.Error("the parcels budget skipped nothing in meshwatch_records_skipped_total, yet the sink was told it did")
	}
	kafkatest.WaitFor(t, hangGuard, func() bool {
		v, _ := seriesValue(t, h.reg, parcels.Name, "meshwatch_budget_throttled_total")
		return v >= 1
	}, "the parcels were never counted in meshwatch_budget_throttled_total")
	for _, name := range []string{"meshwatch_records_skipped_total", "meshwatch_budget_throttled_total"} {
		if v, ok := seriesValue(t, h.reg, orders.Name, name); ok {
			t.Errorf("orders, within their budget, have %s = %v; want no series before the first event", name, v)
		}
	}
}
