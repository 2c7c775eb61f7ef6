package quality

import (
	"context"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func seqRecord(producer string, seq int64, partition int32) *kgo.Record {
	v := `{"producer":"` + producer + `","seq":` + strconv.FormatInt(seq, 10) + `}`
	return &kgo.Record{Topic: "orders", Partition: partition, Value: []byte(v)}
}

func TestSequenceGapsAndDuplicates(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      sequence: {field: seq, key: producer}`))
	e, _, s := newEngine(t, cfg, Options{})
	const p = "shop.orders.placed"
	// Producer a: 1..100 with 7, 8 and 50 missing and 20, 21 twice.
	// Producer b (interleaved): 1..10 with 5 missing, 3 twice.
	var a, b []int64
	for i := int64(1); i <= 100; i++ {
		switch i {
		case 7, 8, 50:
			continue
		case 20, 21:
			a = append(a, i)
		}
		a = append(a, i)
	}
	for i := int64(1); i <= 10; i++ {
		if i == 5 {
			continue
		}
		if i == 3 {
			b = append(b, i)
		}
		b = append(b, i)
	}
	for i := range max(len(a), len(b)) {
		if i < len(a) {
			e.ObserveRecord(p, seqRecord("a", a[i], 0))
		}
		if i < len(b) {
			e.ObserveRecord(p, seqRecord("b", b[i], 1))
		}
	}
	e.doTick(context.Background(), false)
	rep, _ := e.Quality(p)
	if got := rep.Sequence; got.Missing != 4 || got.Duplicates != 3 || got.Resets != 0 || got.Keys != 2 {
		t.Errorf("sequence = %+v, want 4 missing, 3 duplicates, 2 keys", got)
	}
	// Expected numbers after each producer's first: 99 of a, 9 of b.
	if g, v := s.sum("completeness"); v != 99+9 || g != 99+9-4 {
		t.Errorf("completeness = %d/%d, want 104/108", g, v)
	}
}

func TestSequenceSkippedPartitionIsNotAGap(t *testing.T) {
	cfg := loadConfig(t, jsonConfig(`      sequence: {field: seq}`)) // one sequence per partition
	e, _, _ := newEngine(t, cfg, Options{})
	const p = "shop.orders.placed"
	for _, n := range []int64{1, 2, 3} {
		e.ObserveRecord(p, seqRecord("", n, 0))
	}
	e.Skipped(p, "orders", 0) // 4..9 fetched but over budget
	for _, n := range []int64{10, 11, 13} {
		e.ObserveRecord(p, seqRecord("", n, 0))
	}
	rep, _ := e.Quality(p)
	if rep.Sequence.Missing != 1 {
		t.Errorf("missing = %d, want 1 (12; not 4..9, which were skipped)", rep.Sequence.Missing)
	}
}

func TestSequenceResetsAndEviction(t *testing.T) {
	s := newSequencer(2)
	obs := func(key uint64, seq int64) seqResult { return s.observe("t", 0, key, seq) }
	obs(1, 10)
	if r := obs(1, 1); !r.reset {
		t.Errorf("back to 1 after 10 = %+v, want a reset", r)
	}
	if r := obs(1, 1+maxGap+2); !r.reset || r.missing != 0 {
		t.Errorf("a jump beyond maxGap = %+v, want a reset and nothing missing", r)
	}
	obs(2, 5)
	obs(1, maxGap+4) // key 1 is now the most recent; 2 the idlest
	if r := obs(3, 1); !r.evicted {
		t.Errorf("a third key with max_keys 2 = %+v, want an eviction", r)
	}
	if s.len() != 2 {
		t.Errorf("keys = %d, want 2", s.len())
	}
	if _, ok := s.keys[2]; ok {
		t.Error("the idlest key (2) was kept")
	}
	// Key 2 comes back: a first sighting again, no gap judged.
	if r := obs(2, 9); r.expected != 0 || r.missing != 0 {
		t.Errorf("an evicted key's return = %+v, want nothing judged", r)
	}
}
