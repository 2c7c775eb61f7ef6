package sla

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/state"
)

// agent is one run of an Evaluator, as the agent runs it.
type agent struct {
	*harness
	cancel context.CancelFunc
	done   chan error
}

// hang bounds each wait for an agent's Run. It only catches a hang: Run
// works on real timers, which a busy machine may run late.
const hang = time.Minute

func restartConfig() *meshwatch.Config {
	cfg := testConfig(latencySLO(0.999, "30d"), meshwatch.SLO{Name: "freshness", SLI: meshwatch.SLIFreshness, Objective: 0.99, Window: "month"})
	return cfg
}

func startAgent(t *testing.T, store Store, now time.Time, log *slog.Logger) *agent {
	t.Helper()
	h := newHarness(t, restartConfig(), now, Options{Store: store, Logger: log, Tick: 20 * time.Millisecond, Flush: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	a := &agent{harness: h, cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- h.e.Run(ctx) }()
	t.Cleanup(cancel)
	kafkatest.WaitFor(t, hang, func() bool { return h.e.Statuses() != nil }, "first evaluation")
	return a
}

func (a *agent) stop(t *testing.T) {
	t.Helper()
	a.cancel()
	select {
	case err := <-a.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(hang):
		t.Fatal("Run did not return")
	}
}

func (a *agent) statuses() map[string]Status {
	a.e.Evaluate()
	m := map[string]Status{}
	for _, st := range a.e.Statuses() {
		m[st.SLO] = st
	}
	return m
}

func (a *agent) feedBoth(d time.Duration, errRatio float64) {
	a.feed(testSLO, d, 10000, errRatio)
	to := a.clk.Now()
	a.e.ObserveSLI([]meshwatch.SLIEvents{{Product: testProduct, SLO: "freshness", Good: 90, Valid: 100, From: to.Add(-d), To: to}})
}

// testRestart stops and starts the agent over one store and checks that
// every budget continues where it was.
func testRestart(t *testing.T, open func() Store) {
	start := time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC)
	a := startAgent(t, open(), start, nil)
	a.feedBoth(2*time.Hour, 0.0002)
	before := a.statuses()
	a.stop(t)
	if before[testSLO].Remaining != 0.8 || before["freshness"].Remaining != -9 {
		t.Fatalf("before the restart: remaining %v and %v", before[testSLO].Remaining, before["freshness"].Remaining)
	}

	b := startAgent(t, open(), a.clk.Now(), nil)
	after := b.statuses()
	for _, slo := range []string{testSLO, "freshness"} {
		x, y := before[slo], after[slo]
		if x.Remaining != y.Remaining || x.Good != y.Good || x.Valid != y.Valid || x.Decision != y.Decision || x.Windows != y.Windows {
			t.Errorf("%s after restart:\n got  %+v\n want %+v", slo, y, x)
		}
	}
	// And it keeps counting on top.
	b.feedBoth(time.Hour, 0)
	if st := b.statuses()[testSLO]; st.Valid != before[testSLO].Valid+3600000 {
		t.Errorf("valid %d after another hour, want %d", st.Valid, before[testSLO].Valid+3600000)
	}
	b.stop(t)
}

func TestRestartDir(t *testing.T) {
	dir := t.TempDir()
	testRestart(t, func() Store {
		s, err := state.NewDir(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRestartKafka(t *testing.T) {
	c := kafkatest.New(t)
	testRestart(t, func() Store {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		s, err := state.NewKafka(ctx, c.Client(t, kgo.ProducerLinger(0)), state.DefaultTopic, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// frozenStore drops writes once frozen, like an agent that crashed before
// its last flush, and remembers the last value it stored under each key.
type frozenStore struct {
	Store
	frozen atomic.Bool

	mu   sync.Mutex
	last map[string][]byte
}

func (f *frozenStore) Put(ctx context.Context, key string, value []byte) error {
	if f.frozen.Load() {
		return nil
	}
	if err := f.Store.Put(ctx, key, value); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == nil {
		f.last = map[string][]byte{}
	}
	f.last[key] = value
	return nil
}

// holds reports whether the last value stored under tr's key has tr's
// buckets as they are now: whether everything tr counted is durable.
func (f *frozenStore) holds(tr *tracker) bool {
	f.mu.Lock()
	b := f.last[tr.stateKey]
	f.mu.Unlock()
	var s saved
	if b == nil || json.Unmarshal(b, &s) != nil {
		return false
	}
	tr.mu.Lock()
	fine, coarse := saveFine(&tr.fine, &tr.mid), saveRing(&tr.coarse)
	tr.mu.Unlock()
	return s.Fine.Resolution == fine.Resolution && slices.Equal(s.Fine.Buckets, fine.Buckets) &&
		s.Coarse.Resolution == coarse.Resolution && slices.Equal(s.Coarse.Buckets, coarse.Buckets)
}

// TestCrashLosesAtMostOneFlush checks that what was flushed survives a crash
// and only what came after the last flush is lost.
func TestCrashLosesAtMostOneFlush(t *testing.T) {
	dir, err := state.NewDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	fs := &frozenStore{Store: dir}
	a := startAgent(t, fs, t0, nil)
	a.feed(testSLO, time.Hour, 100, 0.01)
	flushed := a.statuses()[testSLO]
	// Wait for a flush of all of it, not just for the next flush: one under
	// way when the feed ended may have read the buckets halfway through it.
	// Flushes run one at a time, and nothing changes the buckets until the
	// next feed, so once the store holds them no older write can follow.
	tr := a.e.trackers[slices.IndexFunc(a.e.trackers, func(tr *tracker) bool { return tr.key.slo == testSLO })]
	kafkatest.WaitFor(t, hang, func() bool { return fs.holds(tr) }, "a flush of everything fed")
	fs.frozen.Store(true)
	a.feed(testSLO, time.Minute, 100, 0.5) // after the last flush: lost
	a.stop(t)

	b := startAgent(t, dir, a.clk.Now(), nil)
	got := b.statuses()[testSLO]
	if got.Valid != flushed.Valid || got.Good != flushed.Good {
		t.Errorf("after the crash: good %d valid %d, want the flushed %d and %d", got.Good, got.Valid, flushed.Good, flushed.Valid)
	}
	b.stop(t)
}

// TestCorruptStateSetAside checks that an SLO whose state cannot be decoded
// starts empty with one clear log line, the bad value set aside, and that
// the other SLOs load.
func TestCorruptStateSetAside(t *testing.T) {
	dirPath := t.TempDir()
	dir, err := state.NewDir(dirPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, dir, t0, nil)
	a.feedBoth(time.Hour, 0.001)
	before := a.statuses()
	a.stop(t)

	ctx := t.Context()
	bad := map[string][]byte{
		"not json":      []byte("{\"version\":1,"),
		"wrong version": []byte(`{"version":99,"product":"checkout.orders.placed","slo":"latency"}`),
		"wrong slo":     []byte(`{"version":1,"product":"checkout.orders.placed","slo":"other","fine":{"resolution_seconds":60},"coarse":{"resolution_seconds":3600}}`),
		"negative":      []byte(`{"version":1,"product":"checkout.orders.placed","slo":"latency","fine":{"resolution_seconds":60,"buckets":[[1,-1,5]]},"coarse":{"resolution_seconds":3600}}`),
	}
	for name, v := range bad {
		t.Run(name, func(t *testing.T) {
			if err := dir.Put(ctx, StateKey(testProduct, testSLO), v); err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			dir, err := state.NewDir(dirPath, log)
			if err != nil {
				t.Fatal(err)
			}
			b := startAgent(t, dir, a.clk.Now(), log)
			got := b.statuses()
			if got[testSLO].Valid != 0 || got[testSLO].Decision != DecisionNoData {
				t.Errorf("corrupt SLO loaded: %+v", got[testSLO])
			}
			if got["freshness"].Valid != before["freshness"].Valid {
				t.Errorf("the other SLO did not load: %+v", got["freshness"])
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "set aside") || !strings.Contains(lines[0], "slo=latency") && !strings.Contains(lines[0], "SLO latency") {
				t.Errorf("log lines %q, want one that names the SLO and says it was set aside", lines)
			}
			if got := gaugeValue(t, b.reg, "meshwatch_slo_state_loads_total", map[string]string{"result": "corrupt"}); got != 1 {
				t.Errorf("corrupt loads %v, want 1", got)
			}
			b.stop(t)
		})
	}
}

// TestCorruptStateFileCounted checks that a state file the Dir store finds
// damaged (a garbled frame) is counted as corrupt, not missing, that the
// SLO starts empty with the store's one log line, and that the other SLO
// loads.
func TestCorruptStateFileCounted(t *testing.T) {
	dirPath := t.TempDir()
	dir, err := state.NewDir(dirPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, dir, t0, nil)
	a.feedBoth(time.Hour, 0.001)
	before := a.statuses()
	a.stop(t)

	if err := os.WriteFile(dir.Path(StateKey(testProduct, testSLO)), []byte("meshwatch-state v1 crc32c=00000000 len=3\nabc"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err = state.NewDir(dirPath, log)
	if err != nil {
		t.Fatal(err)
	}
	b := startAgent(t, dir, a.clk.Now(), log)
	want := map[string]float64{"loaded": 1, "missing": 0, "corrupt": 1, "error": 0}
	for result, n := range want {
		if got := gaugeValue(t, b.reg, "meshwatch_slo_state_loads_total", map[string]string{"result": result}); got != n {
			t.Errorf("state loads %s = %v, want %v", result, got, n)
		}
	}
	got := b.statuses()
	if got[testSLO].Valid != 0 || got[testSLO].Decision != DecisionNoData {
		t.Errorf("corrupt SLO loaded: %+v", got[testSLO])
	}
	if got["freshness"].Valid != before["freshness"].Valid {
		t.Errorf("the other SLO did not load: %+v", got["freshness"])
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "set aside") || !strings.Contains(lines[0], StateKey(testProduct, testSLO)) || !strings.Contains(lines[0], "checksum") {
		t.Errorf("log lines %q, want one that names the key, says why and that it was set aside", lines)
	}
	b.stop(t)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
