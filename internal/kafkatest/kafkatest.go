package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// NumBrokers is how many brokers Start runs unless kfake.Ports or
// kfake.NumBrokers says otherwise.
const NumBrokers = 3

// metadataMinAge is the MetadataMinAge of the clients Client returns. The
// franz-go default of 5 s also bounds how long kadm caches metadata, which
// would hide a fault like Leaderless for seconds.
const metadataMinAge = 50 * time.Millisecond

// opTimeout bounds the requests MustCreateTopic makes on behalf of a test.
// It only stops a hang: a busy machine must never reach it.
const opTimeout = time.Minute

// ErrClosed is returned by the methods of a Cluster that was closed.
var ErrClosed = errors.New("kafkatest: cluster closed")

// Cluster is an in-process Kafka cluster: a kfake cluster and the clients
// kafkatest keeps for it. Its methods are safe for concurrent use.
//
// The embedded kfake.Cluster's own CreateTopic and DeleteTopic are shadowed
// by request-based versions that take a context; reach them as
// c.Cluster.CreateTopic if a test needs topics created behind the
// protocol's back.
type Cluster struct {
	*kfake.Cluster

	addrs []string

	mu        sync.Mutex
	closed    bool
	internal  *kgo.Client // produces and administers topics, created lazily
	shadow    *kgo.Client // reissues Metadata for Leaderless, created lazily
	metaCtl   bool        // the Metadata control of Leaderless is installed
	noLeaders map[topicPartition]int
}

type topicPartition struct {
	topic     string
	partition int32
}

// Start starts a cluster of NumBrokers brokers on 127.0.0.1, each on a random
// port unless opts include kfake.Ports. opts are applied after
// kfake.NumBrokers(NumBrokers), so they can override it. The caller must
// Close the cluster.
func Start(opts ...kfake.Opt) (*Cluster, error) {
	kc, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(NumBrokers)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: start cluster: %w", err)
	}
	return &Cluster{
		Cluster:   kc,
		addrs:     kc.ListenAddrs(),
		noLeaders: make(map[topicPartition]int),
	}, nil
}

// New starts a cluster as Start does and closes it when the test and its
// subtests have finished. It fails the test if the cluster cannot start.
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	c, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Addrs returns the brokers' host:port addresses as of Start, for
// kgo.SeedBrokers or a meshwatch config.
func (c *Cluster) Addrs() []string { return slices.Clone(c.addrs) }

// Close closes the clients kafkatest made for the cluster and shuts the
// cluster down. It is safe to call more than once.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	internal, shadow := c.internal, c.shadow
	c.internal, c.shadow = nil, nil
	c.mu.Unlock()

	if internal != nil {
		internal.Close()
	}
	if shadow != nil {
		shadow.Close()
	}
	c.Cluster.Close()
}

// Client returns a client of the cluster, closed when the test finishes. opts
// follow kgo.SeedBrokers and kgo.MetadataMinAge(50ms), so they can override
// both. It fails the test if the client cannot be created.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(c.clientOpts(opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client of the cluster, closed when the test
// finishes.
func (c *Cluster) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t))
}

func (c *Cluster) clientOpts(opts ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(c.addrs...),
		kgo.MetadataMinAge(metadataMinAge),
	}, opts...)
}

// internalClient returns the client Produce, CreateTopic and DeleteTopic
// share, creating it on first use.
func (c *Cluster) internalClient() (*kgo.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.internal == nil {
		// No linger: Produce is synchronous, one call at a time per
		// caller, so waiting for more records only adds latency.
		cl, err := kgo.NewClient(c.clientOpts(kgo.ProducerLinger(0))...)
		if err != nil {
			return nil, fmt.Errorf("kafkatest: new client: %w", err)
		}
		c.internal = cl
	}
	return c.internal, nil
}

// CreateTopic creates topic name with partitions partitions, replication
// factor rf (at most the number of brokers) and configs (nil for none) with
// a CreateTopics request. It returns the request's error or the topic's
// error code, e.g. kerr.TopicAlreadyExists.
func (c *Cluster) CreateTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]*string) error {
	cl, err := c.internalClient()
	if err != nil {
		return err
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, rf, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("kafkatest: create topic %s: %w", name, err)
	}
	return nil
}

// MustCreateTopic is CreateTopic for a test: it fails the test on error.
func (c *Cluster) MustCreateTopic(t testing.TB, name string, partitions int32, rf int16, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	defer cancel()
	if err := c.CreateTopic(ctx, name, partitions, rf, configs); err != nil {
		t.Fatal(err)
	}
}

// DeleteTopic deletes topic name with a DeleteTopics request. It returns the
// request's error or the topic's error code, e.g.
// kerr.UnknownTopicOrPartition. Produce forgets the topic, so a topic of the
// same name created later is produced to under its new ID.
func (c *Cluster) DeleteTopic(ctx context.Context, name string) error {
	cl, err := c.internalClient()
	if err != nil {
		return err
	}
	resp, err := kadm.NewClient(cl).DeleteTopic(ctx, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("kafkatest: delete topic %s: %w", name, err)
	}
	// Forget the topic's ID and partitions, so that Produce to a topic of
	// the same name created again learns the new ones.
	cl.PurgeTopicsFromClient(name)
	return nil
}

// ProduceEvery produces the record rec returns every interval until ctx is
// done, skipping a tick when rec returns nil. A failed produce only thins
// the traffic: the next tick tries again. It returns when ctx is done.
func (c *Cluster) ProduceEvery(ctx context.Context, interval time.Duration, rec func() *kgo.Record) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			if r := rec(); r != nil {
				_ = c.Produce(ctx, r)
			}
		}
	}
}

// Produce produces recs and waits until every one is acknowledged or failed,
// returning the first error. Each record needs a Topic. A record's Timestamp
// and Headers are sent as given; a zero Timestamp becomes the time of the
// call, as in franz-go. The partition follows franz-go's default
// partitioner: the key's hash, or a sticky partition for records without a
// key. Produce may be called concurrently; all calls share one client.
func (c *Cluster) Produce(ctx context.Context, recs ...*kgo.Record) error {
	cl, err := c.internalClient()
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafkatest: produce: %w", err)
	}
	return nil
}
