package quality

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/expo"
	"github.com/meshwatch/meshwatch/internal/yamlconf"
)

// testConfig is a configuration of the tests: the model and the
// schema_registry: section.
type testConfig struct {
	*meshwatch.Config
	registry *RegistryConfig
}

// loadConfig loads a config.yaml for a test as package config does (which
// the package's own tests cannot import): strictly, with positions,
// defaults and validation. A header line names the cluster.
func loadConfig(t testing.TB, yaml string) *testConfig {
	t.Helper()
	if !strings.Contains(yaml, "cluster:") {
		yaml = "cluster: {name: test}\n" + yaml
	}
	if !strings.Contains(yaml, "owners:") {
		yaml += "owners: {shop-team: {slack_channel: \"#shop\"}}\n"
	}
	root, perr := yamlconf.Parse("config.yaml", []byte(yaml))
	if perr != nil {
		t.Fatalf("load config: %v", perr)
	}
	var doc struct {
		Naming         string                     `yaml:"naming"`
		Cluster        meshwatch.Cluster          `yaml:"cluster"`
		SchemaRegistry *RegistryConfig            `yaml:"schema_registry"`
		Products       []meshwatch.Product        `yaml:"products"`
		Owners         map[string]meshwatch.Owner `yaml:"owners"`
	}
	d := yamlconf.NewDecoder("config.yaml", nil)
	d.Decode(root, reflect.ValueOf(&doc).Elem(), "")
	cfg := &testConfig{
		Config:   &meshwatch.Config{Naming: doc.Naming, Cluster: doc.Cluster, Products: doc.Products, Owners: doc.Owners},
		registry: doc.SchemaRegistry,
	}
	cfg.SetDefaults()
	ps := append(d.Problems, cfg.Validate()...)
	ps = append(ps, cfg.registry.Validate()...)
	if err := ps.Err(); err != nil {
		t.Fatalf("load config: %v", err)
	}
	return cfg
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sink keeps every SLI event.
type sink struct {
	mu     sync.Mutex
	events []meshwatch.SLIEvents
}

func (s *sink) ObserveSLI(evs []meshwatch.SLIEvents) {
	s.mu.Lock()
	s.events = append(s.events, evs...)
	s.mu.Unlock()
}

// sum adds up the good and valid events of one SLO.
func (s *sink) sum(slo string) (good, valid int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.SLO == slo {
			good += e.Good
			valid += e.Valid
		}
	}
	return good, valid
}

// newEngine builds an engine for cfg with a fresh registry of metrics.
func newEngine(t testing.TB, cfg *testConfig, o Options) (*Engine, *prometheus.Registry, *sink) {
	t.Helper()
	if o.SchemaRegistry == nil {
		o.SchemaRegistry = cfg.registry
	}
	reg := prometheus.NewPedanticRegistry()
	o.Metrics = NewMetrics(reg)
	s := &sink{}
	if o.Sink == nil {
		o.Sink = s
	}
	e, err := New(cfg.Config, o)
	if err != nil {
		t.Fatalf("quality.New: %v", err)
	}
	return e, reg, s
}

func newRegistry() *prometheus.Registry { return prometheus.NewPedanticRegistry() }

// gatherText returns every metric of reg in the text format.
func gatherText(t testing.TB, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// seriesValue returns the value of m's series of family f with the label
// values lv (in the family's order), 0 while it has no series: what
// testutil.ToFloat64 of a vector's child read.
func seriesValue(t testing.TB, m *Metrics, f *expo.Family, lv ...string) float64 {
	t.Helper()
	c := &capture{}
	m.write(c)
	return c.values[f.Name+"\xff"+strings.Join(lv, "\xff")]
}

// capture is an expo.Writer that keeps every series' value by family name
// and label values.
type capture struct {
	cur    *expo.Family
	values map[string]float64
}

func (c *capture) Begin(f *expo.Family) { c.cur = f }

func (c *capture) Sample(v float64, lv ...string) {
	if c.values == nil {
		c.values = map[string]float64{}
	}
	c.values[c.cur.Name+"\xff"+strings.Join(lv, "\xff")] = v
}

func (c *capture) Counter(v float64, _ time.Time, lv ...string) { c.Sample(v, lv...) }

// Histogram keeps a histogram's count: quality writes none.
func (c *capture) Histogram(h *expo.HistogramValue, lv ...string) { c.Sample(float64(h.Count), lv...) }
