// Package doctest checks, in tests, that a package's documentation lists
// the metrics its code registers: the "# Metrics" section of a doc.go is
// what users build dashboards, rules and routes on, so a metric added,
// renamed or removed without it is a defect.
//
// [Metrics] compares the two lists. The registered side comes from
// describing every collector handed to the Registerer (Describe, not
// Gather), so a vector appears even while it has no series.
package doctest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// listed is a line of a "# Metrics" list: the comment marker, a tab (gofmt's
// code block) and a metric name, optionally followed by its labels.
var listed = regexp.MustCompile(`^//\t([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s|$)`)

// DocMetrics returns the metric names listed in the "# Metrics" section of
// the doc comment in file, in their order. It fails when the section is
// missing, lists nothing or lists a name twice.
func DocMetrics(file string) ([]string, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	in, found := false, false
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "// # Metrics":
			in, found = true, true
			continue
		case strings.HasPrefix(line, "// # "), !strings.HasPrefix(line, "//"):
			in = false
		}
		if !in {
			continue
		}
		if m := listed.FindStringSubmatch(line); m != nil {
			if seen[m[1]] {
				return nil, fmt.Errorf("%s:%d: %s is listed twice", file, n, m[1])
			}
			seen[m[1]] = true
			names = append(names, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: no \"# Metrics\" section", file)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: the \"# Metrics\" section lists no metric", file)
	}
	return names, nil
}

// recorder is a Registerer that registers with a fresh registry (which
// checks the collectors as the agent's would) and keeps every collector.
type recorder struct {
	reg        *prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(c prometheus.Collector) bool {
	i := slices.Index(r.collectors, c)
	if i >= 0 {
		r.collectors = slices.Delete(r.collectors, i, i+1)
	}
	return r.reg.Unregister(c)
}

// fqName takes the name out of a Desc, which has no accessor for it.
var fqName = regexp.MustCompile(`fqName: "([^"]*)"`)

// Registered calls register with a Registerer backed by a fresh registry
// and returns the names of the metrics the registered collectors describe,
// sorted: every vector, whether or not it has a series yet.
func Registered(register func(prometheus.Registerer)) ([]string, error) {
	r := &recorder{reg: prometheus.NewPedanticRegistry()}
	register(r)
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range r.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	var bad []string
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil || m[1] == "" {
			bad = append(bad, d.String())
			continue
		}
		names = append(names, m[1])
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("descriptions without a name: %s", strings.Join(bad, "; "))
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Diff returns the names only in doc and those only in registered.
func Diff(doc, registered []string) (onlyDoc, onlyRegistered []string) {
	for _, n := range doc {
		if !slices.Contains(registered, n) {
			onlyDoc = append(onlyDoc, n)
		}
	}
	for _, n := range registered {
		if !slices.Contains(doc, n) {
			onlyRegistered = append(onlyRegistered, n)
		}
	}
	return onlyDoc, onlyRegistered
}

// Metrics fails t unless the "# Metrics" section of docFile lists exactly
// the metrics that register registers.
func Metrics(t testing.TB, docFile string, register func(prometheus.Registerer)) {
	t.Helper()
	doc, err := DocMetrics(docFile)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := Registered(register)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg) == 0 {
		t.Fatal("nothing was registered")
	}
	onlyDoc, onlyReg := Diff(doc, reg)
	for _, n := range onlyReg {
		t.Errorf("%s is registered but not listed under # Metrics in %s", n, docFile)
	}
	for _, n := range onlyDoc {
		t.Errorf("%s is listed under # Metrics in %s but not registered", n, docFile)
	}
}
