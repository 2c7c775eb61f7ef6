package state

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"testing"
)

// BenchmarkPutManySLA is the SLO state flush of 10,000 products with 2
// SLOs each, as package sla writes it every state.flush and at SIGTERM:
// 20,000 keys sla/<product>/<slo> of 8 KB each (160 MB), the same keys
// every time, so each flush writes one pack and removes the one before.
// ns/entry × 20,000 is what the final flush takes (the agent has 5 s to
// stop).
func BenchmarkPutManySLA(b *testing.B) {
	d, err := NewDir(b.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	entries := make(map[string][]byte, 20000)
	for i := range 10000 {
		for _, slo := range []string{"latency", "freshness"} {
			v := make([]byte, 8<<10)
			for j := range v {
				v[j] = byte('a' + (i+j)%26)
			}
			entries[fmt.Sprintf("sla/domain%04d.entity.event/%s", i, slo)] = v
		}
	}
	ctx := context.Background()
	for b.Loop() {
		if err := d.PutMany(ctx, entries); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(entries)), "ns/entry")
}

// BenchmarkLoadSLA is what an agent of 10,000 products does at start
// with what BenchmarkPutManySLA wrote: NewDir, then a Get per key.
func BenchmarkLoadSLA(b *testing.B) {
	dir := b.TempDir()
	d, err := NewDir(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	entries := make(map[string][]byte, 20000)
	for i := range 20000 {
		entries[fmt.Sprintf("sla/domain%04d.entity.event/%d", i/2, i%2)] = bytes.Repeat([]byte{byte(i)}, 8<<10)
	}
	ctx := context.Background()
	if err := d.PutMany(ctx, entries); err != nil {
		b.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(entries))
	for b.Loop() {
		d, err := NewDir(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			if _, ok, err := d.Get(ctx, k); !ok || err != nil {
				b.Fatal(k, ok, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/entry")
}

// BenchmarkPutManyFiles is PutMany below packThreshold: a file per key,
// as an agent with a few SLOs writes them.
func BenchmarkPutManyFiles(b *testing.B) {
	d, err := NewDir(b.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	const n = 2000
	batches := make([]map[string][]byte, 0, n/(packThreshold-1)+1)
	for i := range n {
		if i%(packThreshold-1) == 0 {
			batches = append(batches, map[string][]byte{})
		}
		batches[len(batches)-1][fmt.Sprintf("slo/p%05d.entity.event/latency", i)] = bytes.Repeat([]byte{byte(i)}, 600)
	}
	ctx := context.Background()
	for b.Loop() {
		for _, m := range batches {
			if err := d.PutMany(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	if d.isPacked(slices.Collect(maps.Keys(batches[0]))[0]) {
		b.Fatal("written to a pack")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}
