package shard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func TestOfIsStableAndInRange(t *testing.T) {
	seen := map[int32]int{}
	for i := range 300 {
		p := fmt.Sprintf("domain%d.product%d.v1", i%7, i)
		got := Of(p, 12)
		if got < 0 || got >= 12 {
			t.Fatalf("Of(%q, 12) = %d, out of range", p, got)
		}
		if again := Of(p, 12); again != got {
			t.Fatalf("Of(%q) changed from %d to %d", p, got, again)
		}
		seen[got]++
	}
	if len(seen) != 12 {
		t.Errorf("300 products landed on %d of 12 partitions: %v", len(seen), seen)
	}
	// The hash is part of the wire contract between agents of different
	// versions: pin it.
	for p, want := range map[string]int32{"checkout.orders.placed": 3, "payments.transactions.settled": 6} {
		if got := Of(p, 12); got != want {
			t.Errorf("Of(%q, 12) = %d, want %d (FNV-1a 32 mod 12)", p, got, want)
		}
	}
}

// recorder keeps a member's changes.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) on(c Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) owned() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.changes) == 0 {
		return nil
	}
	return r.changes[len(r.changes)-1].Owned
}

// TestMembersSplitAndTakeOver: two members own disjoint halves that cover
// every partition; when one leaves, the other owns everything, and the one
// that left was told it owns nothing before it left.
func TestMembersSplitAndTakeOver(t *testing.T) {
	c := kafkatest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := Options{Group: "meshwatch", Topic: "__meshwatch_shards", Partitions: 6, SessionTimeout: 6 * time.Second}
	kopts := []kgo.Opt{kgo.SeedBrokers(c.Addrs()...)}

	var recs [2]recorder
	var members [2]*Member
	var stops [2]context.CancelFunc
	var dones [2]chan struct{}
	for i := range members {
		oi := o
		oi.OnChange = recs[i].on
		m, err := Join(ctx, kopts, oi)
		if err != nil {
			t.Fatal(err)
		}
		members[i] = m
		rctx, stop := context.WithCancel(ctx)
		stops[i], dones[i] = stop, make(chan struct{})
		go func() { defer close(dones[i]); _ = m.Run(rctx) }()
	}
	defer func() {
		for i := range stops {
			stops[i]()
			<-dones[i]
		}
	}()

	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		a, b := recs[0].owned(), recs[1].owned()
		all := slices.Sorted(slices.Values(append(slices.Clone(a), b...)))
		return len(a) > 0 && len(b) > 0 && slices.Equal(all, []int32{0, 1, 2, 3, 4, 5})
	}, "two members never split the 6 partitions: %v / %v", &recs[0], &recs[1])
	if got := members[0].Owned(); !slices.Equal(got, recs[0].owned()) {
		t.Errorf("Owned() = %v, last change said %v", got, recs[0].owned())
	}

	stops[0]()
	<-dones[0]
	if got := recs[0].owned(); len(got) != 0 {
		t.Errorf("the member that left still owns %v", got)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		return slices.Equal(recs[1].owned(), []int32{0, 1, 2, 3, 4, 5})
	}, "the remaining member never took every partition over: %v", &recs[1])
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, c := range r.changes {
		fmt.Fprintf(&b, "%v ", c.Owned)
	}
	return b.String()
}

// TestPartitionCountMismatch: an existing topic with another partition count
// is an error that says how to fix it.
func TestPartitionCountMismatch(t *testing.T) {
	c := kafkatest.New(t)
	c.MustCreateTopic(t, "__meshwatch_shards", 4, 1, nil)
	_, err := Join(context.Background(), []kgo.Opt{kgo.SeedBrokers(c.Addrs()...)},
		Options{Group: "g", Topic: "__meshwatch_shards", Partitions: 12})
	if err == nil || !strings.Contains(err.Error(), "has 4 partitions but sharding.partitions is 12") {
		t.Fatalf("err = %v", err)
	}
}
