package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// workload is the traffic of one run: the products' topics on a kfake
// cluster, a producer writing Rate records per second to each product at
// an even pace, and the consumer groups committing offsets a few seconds
// behind it so that the lag monitor has work.
type workload struct {
	products   int
	partitions int32
	rate       float64 // per product
	groups     int
	commit     time.Duration // between offset commits of every group

	kc  *kafkatest.Cluster
	cl  *kgo.Client
	adm *kadm.Client

	mu   sync.Mutex
	high [][]int64 // product → partition → next offset acknowledged (0: none)

	produced, dropped, failed atomic.Int64
	requests                  [kmsg.MaxKey + 1]atomic.Int64 // requests kfake received, by key
	commitErr                 atomic.Value                  // string: the last commit error
}

func topicName(i int) string { return fmt.Sprintf("scale.p%05d.updated", i) }
func groupName(g int) string { return fmt.Sprintf("scale-readers-%d", g) }

// startWorkload starts a kfake cluster on 127.0.0.1 and creates the
// products' topics.
func startWorkload(ctx context.Context, w *workload) error {
	kc, err := kafkatest.Start()
	if err != nil {
		return err
	}
	w.kc = kc
	// Count what kfake is asked (observe only: the cluster answers as
	// usual), so that a run says how loaded its one request loop was.
	kc.Control(func(r kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if k := r.Key(); k >= 0 && int(k) < len(w.requests) {
			w.requests[k].Add(1)
		}
		return nil, nil, false
	})
	if err := w.connect(kc.Addrs()); err != nil {
		kc.Close()
		return err
	}
	const batch = 500
	for from := 0; from < w.products; from += batch {
		names := make([]string, 0, batch)
		for i := from; i < min(from+batch, w.products); i++ {
			names = append(names, topicName(i))
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		resp, err := w.adm.CreateTopics(cctx, w.partitions, 1, nil, names...)
		cancel()
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("creating topics %s…: %w", names[0], err)
		}
	}
	return nil
}

// connect creates the client that produces and commits, and the offsets
// the producer has seen acknowledged.
func (w *workload) connect(brokers []string) error {
	var err error
	w.cl, err = kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// The producer is load, not what is measured: kfake answers every
		// request from one goroutine, so batching 100 ms of records per
		// request (rather than 20) leaves more of it to the agent's
		// requests, as a real cluster's producers do not share it.
		kgo.ProducerLinger(100*time.Millisecond),
		kgo.MaxBufferedRecords(max(1000, int(2*float64(w.products)*w.rate))),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	if err != nil {
		return fmt.Errorf("producer client: %w", err)
	}
	w.adm = kadm.NewClient(w.cl)
	w.high = make([][]int64, w.products)
	for i := range w.high {
		w.high[i] = make([]int64, w.partitions)
	}
	return nil
}

// close stops the clients and the cluster.
func (w *workload) close() {
	if w.cl != nil {
		w.cl.Close()
	}
	if w.kc != nil {
		w.kc.Close()
	}
}

// produce writes rate records per second to every product, spread evenly
// over its partitions and over time (ten rounds a second), until ctx is
// done. A record that finds the producer's buffer full is dropped and
// counted: the pace never bunches up.
func (w *workload) produce(ctx context.Context) {
	const rounds = 10
	tk := time.NewTicker(time.Second / rounds)
	defer tk.Stop()
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	perRound := float64(w.products) * w.rate / rounds
	var owed float64
	next := 0 // the next (product, partition) slot, round robin
	slots := w.products * int(w.partitions)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		owed += perRound
		now := time.Now()
		for ; owed >= 1; owed-- {
			p, part := next/int(w.partitions), int32(next%int(w.partitions))
			next = (next + 1) % slots
			r := &kgo.Record{
				Topic:     topicName(p),
				Partition: part,
				Value:     payload(rng, now),
				Timestamp: now,
			}
			w.cl.TryProduce(ctx, r, func(r *kgo.Record, err error) {
				switch {
				case errors.Is(err, kgo.ErrMaxBuffered):
					w.dropped.Add(1)
				case err != nil:
					w.failed.Add(1)
				default:
					w.produced.Add(1)
					w.mu.Lock()
					if hp := &w.high[p][r.Partition]; r.Offset+1 > *hp {
						*hp = r.Offset + 1
					}
					w.mu.Unlock()
				}
			})
		}
	}
}

// payload is a record of a product: JSON with the event time (ts, Unix
// ms) and the two fields the CEL rules read (amount, currency).
func payload(rng *rand.Rand, now time.Time) []byte {
	currencies := [...]string{"EUR", "EUR", "USD", "GBP"}
	b := make([]byte, 0, 128)
	b = append(b, `{"id":"`...)
	b = strconv.AppendUint(b, rng.Uint64()>>16, 36)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, 1+rng.Int64N(50000), 10)
	b = append(b, `,"currency":"`...)
	b = append(b, currencies[rng.IntN(len(currencies))]...)
	b = append(b, `"}`...)
	return b
}

// commitLoop commits, every w.commit, for each consumer group the offsets
// that had been produced at the previous round: each group stays about
// one commit period behind, so its lag is a few records and a few seconds.
func (w *workload) commitLoop(ctx context.Context) {
	tk := time.NewTicker(w.commit)
	defer tk.Stop()
	var prev [][]int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		if prev != nil {
			for g := range w.groups {
				var offs kadm.Offsets
				for p := g; p < w.products; p += w.groups {
					for part, at := range prev[p] {
						if at > 0 {
							offs.Add(kadm.Offset{Topic: topicName(p), Partition: int32(part), At: at, LeaderEpoch: -1})
						}
					}
				}
				if len(offs) == 0 {
					continue
				}
				cctx, cancel := context.WithTimeout(ctx, w.commit)
				resp, err := w.adm.CommitOffsets(cctx, groupName(g), offs)
				cancel()
				if err == nil {
					err = resp.Error()
				}
				if err != nil && ctx.Err() == nil {
					w.commitErr.Store(fmt.Sprintf("group %s: %v", groupName(g), err))
				}
			}
		}
		w.mu.Lock()
		prev = make([][]int64, len(w.high))
		for i, h := range w.high {
			prev[i] = append([]int64(nil), h...)
		}
		w.mu.Unlock()
	}
}

// status is a progress line's account of the traffic.
func (w *workload) status() string {
	s := fmt.Sprintf("%s records produced", thousands(int(w.produced.Load())))
	if d := w.dropped.Load(); d > 0 {
		s += fmt.Sprintf(", %s dropped (producer buffer full)", thousands(int(d)))
	}
	if f := w.failed.Load(); f > 0 {
		s += fmt.Sprintf(", %s failed", thousands(int(f)))
	}
	if e, ok := w.commitErr.Load().(string); ok && e != "" {
		s += ", last commit error: " + e
	}
	return s
}

// requestCounts is how many requests of each key kfake had received.
func (w *workload) requestCounts() []int64 {
	n := make([]int64, len(w.requests))
	for k := range w.requests {
		n[k] = w.requests[k].Load()
	}
	return n
}

// requestRates says per second how many requests kfake received between
// two requestCounts over d: the busiest keys first, the rest summed.
func requestRates(from, to []int64, d time.Duration) string {
	type kr struct {
		key  int16
		rate float64
	}
	var rs []kr
	total := 0.0
	for k := range to {
		if n := to[k] - from[k]; n > 0 {
			r := float64(n) / d.Seconds()
			rs = append(rs, kr{int16(k), r})
			total += r
		}
	}
	slices.SortFunc(rs, func(a, b kr) int { return cmp.Compare(b.rate, a.rate) })
	parts := []string{fmt.Sprintf("%.0f requests/s", total)}
	other := 0.0
	for i, r := range rs {
		if i < 5 {
			name := kmsg.NameForKey(r.key)
			parts = append(parts, fmt.Sprintf("%s %.1f", name, r.rate))
		} else {
			other += r.rate
		}
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("other %.1f", other))
	}
	return strings.Join(parts, ", ")
}
