package doctest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

const doc = `// Package p does things.
//
//	not_a_metric_outside_the_section
//
// # Metrics
//
// Series carry product.
//
//	meshwatch_a_total{reason}     missing, skew,
//	                              more reasons
//	meshwatch_b                   a gauge
//
// Agent series:
//
//	kafka_x_lag{group}            compatible
//
// # Concurrency
//
//	meshwatch_not_in_the_section
package p
`

func writeDoc(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.go")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDocMetrics(t *testing.T) {
	got, err := DocMetrics(writeDoc(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"meshwatch_a_total", "meshwatch_b", "kafka_x_lag"}
	if !slices.Equal(got, want) {
		t.Errorf("DocMetrics = %q, want %q", got, want)
	}
}

func TestDocMetricsErrors(t *testing.T) {
	for name, text := range map[string]string{
		"no section":   "// Package p.\npackage p\n",
		"empty":        "// Package p.\n//\n// # Metrics\n//\n// None yet.\npackage p\n",
		"listed twice": "// # Metrics\n//\n//\tmeshwatch_a\n//\tmeshwatch_a\npackage p\n",
	} {
		if got, err := DocMetrics(writeDoc(t, text)); err == nil {
			t.Errorf("%s: DocMetrics = %q, want an error", name, got)
		}
	}
}

func register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meshwatch_a_total", Help: "a"}, []string{"reason"}),
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "meshwatch_b", Help: "b"}),
		prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meshwatch_c_seconds", Help: "c"}, []string{"x"}),
	)
}

func TestRegisteredDescribesEmptyVectors(t *testing.T) {
	got, err := Registered(register)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"meshwatch_a_total", "meshwatch_b", "meshwatch_c_seconds"}
	if !slices.Equal(got, want) {
		t.Errorf("Registered = %q, want %q", got, want)
	}
}

func TestDiff(t *testing.T) {
	onlyDoc, onlyReg := Diff([]string{"a", "b", "d"}, []string{"a", "c", "d"})
	if !slices.Equal(onlyDoc, []string{"b"}) || !slices.Equal(onlyReg, []string{"c"}) {
		t.Errorf("Diff = %q, %q; want [b], [c]", onlyDoc, onlyReg)
	}
}

// fakeT records failures instead of failing the test.
type fakeT struct {
	testing.TB
	errors int
	fatal  bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.errors++ }
func (f *fakeT) Fatal(...any)          { f.fatal = true }
func (f *fakeT) Logf(string, ...any)   {}

func TestMetricsFailsOnEitherSide(t *testing.T) {
	both := `// # Metrics
//
//	meshwatch_a_total{reason}
//	meshwatch_b
//	meshwatch_c_seconds
package p
`
	ft := &fakeT{}
	Metrics(ft, writeDoc(t, both), register)
	if ft.errors != 0 || ft.fatal {
		t.Fatalf("a matching list failed: %d errors, fatal %v", ft.errors, ft.fatal)
	}
	// One name missing from the doc, one the code does not register.
	ft = &fakeT{}
	Metrics(ft, writeDoc(t, doc), register)
	if ft.errors != 2 {
		t.Errorf("got %d errors, want 2 (meshwatch_c_seconds not listed, kafka_x_lag not registered)", ft.errors)
	}
}
