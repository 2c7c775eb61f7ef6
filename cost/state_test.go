package cost

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/state"
)

// logLines collects log lines; safe for concurrent use.
type logLines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logLines) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

func (l *logLines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := strings.TrimSpace(l.b.String()); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// dirStore returns a Dir store in a temporary directory and a logger at
// Warn that both it and a meter log to.
func dirStore(t *testing.T) (*state.Dir, *slog.Logger, *logLines) {
	t.Helper()
	var ll logLines
	log := slog.New(slog.NewTextHandler(&ll, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := state.NewDir(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	return d, log, &ll
}

// damage overwrites key's file with one whose checksum is wrong, as a
// failing disk would.
func damage(t *testing.T, d *state.Dir, key string) {
	t.Helper()
	if err := os.WriteFile(d.Path(key), []byte("meshwatch-state v1 crc32c=00000000 len=3\nabc"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// setAsideFiles returns the files key's value was set aside as.
func setAsideFiles(t *testing.T, d *state.Dir, key string) []string {
	t.Helper()
	files, err := filepath.Glob(d.Path(key) + ".corrupt-*")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// wantOneLine checks that exactly one line was logged and that it says
// every one of says.
func wantOneLine(t *testing.T, ll *logLines, says ...string) {
	t.Helper()
	lines := ll.lines()
	if len(lines) != 1 {
		t.Fatalf("log lines %q, want one", lines)
	}
	for _, want := range append([]string{"level=ERROR"}, says...) {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line %q does not say %q", lines[0], want)
		}
	}
}

func stateErrors(m *Meter) float64 {
	return testutil.ToFloat64(m.metrics.errors.WithLabelValues(stepState))
}

// failingStore fails Get of the keys in getErr and every SetAside when
// setAsideErr is set, like a store on a broken disk.
type failingStore struct {
	Store
	mu          sync.Mutex
	getErr      map[string]error
	setAsideErr error
}

func (f *failingStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	f.mu.Lock()
	err := f.getErr[key]
	f.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	return f.Store.Get(ctx, key)
}

func (f *failingStore) SetAside(ctx context.Context, key, reason string) error {
	f.mu.Lock()
	err := f.setAsideErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Store.SetAside(ctx, key, reason)
}

func (f *failingStore) heal() {
	f.mu.Lock()
	f.getErr, f.setAsideErr = nil, nil
	f.mu.Unlock()
}

// TestMeterStateCorruptSetAside checks that a meter position that does not
// decode, or whose file is damaged, is set aside with one Error line and
// counted, and that metering starts afresh.
func TestMeterStateCorruptSetAside(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, d *state.Dir)
		says    string
	}{
		{"not json", func(t *testing.T, d *state.Dir) {
			if err := d.Put(t.Context(), keyMeter, []byte(`{"prev":`)); err != nil {
				t.Fatal(err)
			}
		}, "metering starts afresh"},
		{"damaged file", func(t *testing.T, d *state.Dir) { damage(t, d, keyMeter) }, "checksum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, log, ll := dirStore(t)
			tc.corrupt(t, d)
			m := newTestMeter(t, &clock{t: hour0}, nil, Options{Store: d, Logger: log})
			m.mu.Lock()
			err := m.loadLocked(t.Context())
			loaded, prev := m.loaded, m.prev
			m.mu.Unlock()
			if err != nil || !loaded || prev != nil {
				t.Fatalf("load = %v, loaded %v, prev %v; want a fresh start", err, loaded, prev)
			}
			if got := stateErrors(m); got != 1 {
				t.Errorf(`meshwatch_cost_errors_total{step="state"} = %v, want 1`, got)
			}
			wantOneLine(t, ll, "set aside", keyMeter, tc.says)
			if files := setAsideFiles(t, d, keyMeter); len(files) != 1 {
				t.Errorf("set aside as %v, want one file", files)
			}
			if _, ok, err := d.Get(t.Context(), keyMeter); ok || err != nil {
				t.Errorf("after the load %s: exists %v, %v; want it gone", keyMeter, ok, err)
			}
		})
	}
}

// TestMeterStateUnreadableWaits checks that a store that cannot read the
// meter's position fails the sample, and that the position is loaded
// (not overwritten by a fresh start) once the store reads again.
func TestMeterStateUnreadableWaits(t *testing.T) {
	ctx := t.Context()
	mem := state.NewMem()
	first := newTestMeter(t, &clock{t: hour0}, nil, Options{Store: mem})
	first.mu.Lock()
	first.prev = &sample{At: hour0}
	err := first.saveLocked(ctx)
	first.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}

	fs := &failingStore{Store: mem, getErr: map[string]error{keyMeter: errors.New("disk on fire")}}
	// A client that is never dialled: the sample fails before it reads
	// the cluster.
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m := newTestMeter(t, &clock{t: hour0.Add(time.Minute)}, nil, Options{Store: fs, Kafka: cl})
	err = m.Sample(ctx)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || !strings.Contains(err.Error(), "meter state") {
		t.Fatalf("Sample = %v, want the store's error naming the meter state", err)
	}
	if got := testutil.ToFloat64(m.metrics.samples.WithLabelValues("error")); got != 1 {
		t.Errorf("failed samples = %v, want 1", got)
	}
	m.mu.Lock()
	loaded := m.loaded
	m.mu.Unlock()
	if loaded {
		t.Fatal("the meter went on without the position it could not read: the next save overwrites it")
	}

	fs.heal()
	m.mu.Lock()
	err = m.loadLocked(ctx)
	prev := m.prev
	m.mu.Unlock()
	if err != nil || prev == nil || !prev.At.Equal(hour0) {
		t.Fatalf("after the store recovered: %v, prev %+v; want the stored position", err, prev)
	}
}

// TestCorruptStateNotSetAsideStays checks that a value that cannot be
// decoded nor set aside is left in place, logged at Error, and fails the
// load rather than be overwritten.
func TestCorruptStateNotSetAsideStays(t *testing.T) {
	ctx := t.Context()
	mem := state.NewMem()
	if err := mem.Put(ctx, keyMeter, []byte("{")); err != nil {
		t.Fatal(err)
	}
	fs := &failingStore{Store: mem, setAsideErr: errors.New("read-only file system")}
	var ll logLines
	m := newTestMeter(t, &clock{t: hour0}, nil, Options{Store: fs, Logger: slog.New(slog.NewTextHandler(&ll, nil))})
	m.mu.Lock()
	err := m.loadLocked(ctx)
	loaded := m.loaded
	m.mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "could not be set aside") || !strings.Contains(err.Error(), "read-only file system") || loaded {
		t.Fatalf("load = %v (loaded %v), want an error that says it could not be set aside and why", err, loaded)
	}
	wantOneLine(t, &ll, "could not be set aside", keyMeter)
	if v, ok, _ := mem.Get(ctx, keyMeter); !ok || string(v) != "{" {
		t.Errorf("%s = %q %v, want it left in place", keyMeter, v, ok)
	}
}

// TestCorruptLedgerHourDoesNotStopCloses checks that a ledger hour that
// cannot be read is set aside with one Error line and counted by the
// meter's closes, instead of failing them: the day's close reports the
// other hours, and the invoice month close bills the hour as __idle__ so
// that the month still sums to the bill. Report, which only reads, still
// reports it as an error.
func TestCorruptLedgerHourDoesNotStopCloses(t *testing.T) {
	ctx := t.Context()
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	d, log, ll := dirStore(t)
	var sent []Summary
	m := newTestMeter(t, &clock{t: june.AddDate(0, 1, 0).Add(30 * time.Minute)}, func(c *Config) {
		c.Invoice = &Invoice{Monthly: mustMoney(t, "720.00")}
		c.Reports = Reports{Dir: t.TempDir()}
	}, Options{Store: d, Logger: log, Notify: func(s Summary) { sent = append(sent, s) }})
	day := june.AddDate(0, 0, 2)
	for i := range 3 {
		if _, err := m.CloseHour(ctx, ordersUsage(day.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}

	// Report reads only: a damaged hour is its error.
	damage(t, d, hourKey(day.Add(time.Hour)))
	var buf bytes.Buffer
	err := Report(ctx, d, day, day.Add(3*time.Hour), FormatCSV, &buf)
	if !errors.Is(err, state.ErrCorrupt) || !strings.Contains(err.Error(), "ledger hour 2026-06-03T01") {
		t.Errorf("Report over a damaged hour = %v, want an error naming it that wraps state.ErrCorrupt", err)
	}
	wantOneLine(t, ll, "set aside", hourKey(day.Add(time.Hour)))
	ll.reset()

	// The meter's close sets an hour that does not decode aside.
	if err := d.Put(ctx, hourKey(day.Add(2*time.Hour)), []byte(`{"hour":`)); err != nil {
		t.Fatal(err)
	}
	if err := m.CloseDay(ctx, day); err != nil {
		t.Fatalf("CloseDay with a corrupt hour: %v", err)
	}
	var total Money
	for _, s := range sent {
		total += s.Total
	}
	if total != mustMoney(t, "1.00") {
		t.Errorf("the day's summaries total %s, want the one hour left, 1.00", total)
	}
	if got := stateErrors(m); got != 1 {
		t.Errorf(`meshwatch_cost_errors_total{step="state"} = %v, want 1`, got)
	}
	wantOneLine(t, ll, "set aside", hourKey(day.Add(2*time.Hour)), "missing from the ledger")

	// And the month close bills a corrupt hour as __idle__ (in memory: it
	// writes every hour of the month).
	mem := state.NewMem()
	m = newTestMeter(t, &clock{t: june.AddDate(0, 1, 0).Add(30 * time.Minute)}, func(c *Config) {
		c.Invoice = &Invoice{Monthly: mustMoney(t, "720.00")}
	}, Options{Store: mem})
	if _, err := m.CloseHour(ctx, ordersUsage(day)); err != nil {
		t.Fatal(err)
	}
	if err := mem.Put(ctx, hourKey(day), []byte("[]")); err != nil {
		t.Fatal(err)
	}
	if err := m.CloseMonth(ctx, june); err != nil {
		t.Fatalf("CloseMonth with a corrupt hour: %v", err)
	}
	rows, err := m.Ledger().Rows(ctx, june, june.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := Total(rows); got != mustMoney(t, "720.00") {
		t.Errorf("June sums to %s, want the bill 720.00", got)
	}
	if got := stateErrors(m); got != 1 {
		t.Errorf(`meshwatch_cost_errors_total{step="state"} = %v, want 1`, got)
	}
	if _, ok, _ := mem.Get(ctx, hourKey(day)+".corrupt"); !ok {
		t.Error("the corrupt hour was not set aside")
	}
}

// TestCorruptOpenEstimate checks that the meter's ledger sets a corrupt
// open estimate aside and returns the closed hours, where a read-only
// ledger reports it.
func TestCorruptOpenEstimate(t *testing.T) {
	ctx := t.Context()
	store := goldenLedger(t)
	if err := store.Put(ctx, keyOpen, []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLedger(store).Rows(ctx, hour0, hour0.Add(3*time.Hour)); err == nil || !strings.Contains(err.Error(), "open hour's estimate is unreadable") {
		t.Errorf("read-only Rows = %v, want an error naming the open hour's estimate", err)
	}
	m := newTestMeter(t, &clock{t: hour0.Add(3 * time.Hour)}, nil, Options{Store: store})
	rows, err := m.Ledger().Rows(ctx, hour0, hour0.Add(3*time.Hour))
	if err != nil || len(rows) == 0 {
		t.Fatalf("the meter's Rows = %d rows, %v; want the closed hours", len(rows), err)
	}
	for _, r := range rows {
		if r.Estimate {
			t.Fatalf("an estimate row survived: %+v", r)
		}
	}
	if got := stateErrors(m); got != 1 {
		t.Errorf(`meshwatch_cost_errors_total{step="state"} = %v, want 1`, got)
	}
	if v, ok, _ := store.Get(ctx, keyOpen+".corrupt"); !ok || string(v) != "{" {
		t.Errorf("the corrupt estimate was not set aside: %q %v", v, ok)
	}
}

// TestCorruptBudgetState checks that the month's fired thresholds that do
// not decode are set aside and counted (they fire again), and that while
// the store cannot read them nothing fires at all: firing would alert
// every owner again and overwrite them.
func TestCorruptBudgetState(t *testing.T) {
	ctx := t.Context()
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	key := keyBudget + "2026-06"
	budget := func(c *Config) {
		c.Budgets = []Budget{{Product: "checkout.orders.placed", Monthly: mustMoney(t, "4.00")}}
	}
	h := june.Add(24 * time.Hour)
	clk := &clock{t: june.Add(2 * 24 * time.Hour)}
	// run closes an hour and checks the budgets, as a sample does.
	run := func(m *Meter, hour time.Time) {
		t.Helper()
		if _, err := m.CloseHour(ctx, ordersUsage(hour)); err != nil {
			t.Fatal(err)
		}
		m.mu.Lock()
		m.checkBudgetsLocked(ctx, clk.Now())
		m.mu.Unlock()
	}

	t.Run("not json", func(t *testing.T) {
		store := state.NewMem()
		if err := store.Put(ctx, key, []byte(`{"fired":`)); err != nil {
			t.Fatal(err)
		}
		var pushed []BudgetAlert
		m := newTestMeter(t, clk, budget, Options{Store: store, Budget: func(a BudgetAlert) { pushed = append(pushed, a) }})
		run(m, h)
		if got := stateErrors(m); got != 1 {
			t.Errorf(`meshwatch_cost_errors_total{step="state"} = %v, want 1`, got)
		}
		if v, ok, _ := store.Get(ctx, key+".corrupt"); !ok || string(v) != `{"fired":` {
			t.Errorf("the corrupt budget state was not set aside: %q %v", v, ok)
		}
		if len(pushed) != 1 || !pushed[0].Forecast {
			t.Errorf("alerts %v, want the forecast to fire afresh", pushed)
		}
	})

	t.Run("unreadable", func(t *testing.T) {
		store := state.NewMem()
		var pushed []BudgetAlert
		notify := Options{Store: store, Budget: func(a BudgetAlert) { pushed = append(pushed, a) }}
		run(newTestMeter(t, clk, budget, notify), h) // fires the forecast and stores it
		if len(pushed) != 1 {
			t.Fatalf("first agent: alerts %v, want the forecast", pushed)
		}
		pushed = nil
		fs := &failingStore{Store: store, getErr: map[string]error{key: errors.New("disk on fire")}}
		notify.Store = fs
		m := newTestMeter(t, clk, budget, notify)
		run(m, h.Add(time.Hour))
		if len(pushed) != 0 {
			t.Errorf("alerts %v while the fired thresholds could not be read, want none", pushed)
		}
		if got := stateErrors(m); got < 1 {
			t.Errorf(`meshwatch_cost_errors_total{step="state"} = %v, want every failed read counted`, got)
		}
		fs.heal()
		m.mu.Lock()
		m.checkBudgetsLocked(ctx, clk.Now())
		m.mu.Unlock()
		if len(pushed) != 1 || pushed[0].Threshold != 50 {
			t.Errorf("after the store recovered: alerts %v, want only the 50 %% threshold (the forecast fired before)", pushed)
		}
		if got := m.BudgetAlerts(); len(got) != 2 {
			t.Errorf("BudgetAlerts %v, want the stored forecast and the new 50 %%", got)
		}
	})
}

// TestDamagedReportMarker checks that a close whose "reported" marker is
// damaged counts it as sent: the summaries are not sent twice, and the
// marker is written again.
func TestDamagedReportMarker(t *testing.T) {
	ctx := t.Context()
	d, log, _ := dirStore(t)
	var sent []Summary
	m := newTestMeter(t, &clock{t: hour0.Add(24 * time.Hour)}, nil,
		Options{Store: d, Logger: log, Notify: func(s Summary) { sent = append(sent, s) }})
	if _, err := m.CloseHour(ctx, ordersUsage(hour0)); err != nil {
		t.Fatal(err)
	}
	if err := m.CloseDay(ctx, hour0); err != nil {
		t.Fatal(err)
	}
	if len(sent) == 0 {
		t.Fatal("no summaries sent")
	}
	sent = nil
	marker := keyReports + "2026-06-03"
	damage(t, d, marker)
	if err := m.CloseDay(ctx, hour0); err != nil {
		t.Fatalf("CloseDay with a damaged marker: %v", err)
	}
	if len(sent) != 0 {
		t.Errorf("summaries sent again: %v", sent)
	}
	if got := stateErrors(m); got != 1 {
		t.Errorf(`meshwatch_cost_errors_total{step="state"} = %v, want 1`, got)
	}
	if _, ok, err := d.Get(ctx, marker); !ok || err != nil {
		t.Errorf("marker not written again: %v %v", ok, err)
	}
}
