package expo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// Check writes s once and returns what would make its exposition wrong: a
// family it writes but does not list in Families, a family begun twice
// (the text format needs a family's series together), a sample before any
// family or with the wrong number of label values, or two series of a
// family with the same label values. Tests call it on every Source.
func Check(s Source) error {
	c := &checker{listed: map[*Family]bool{}, begun: map[*Family]bool{}}
	for _, f := range s.Families() {
		c.listed[f] = true
	}
	s.WriteTo(c)
	return errors.Join(c.errs...)
}

type checker struct {
	listed, begun map[*Family]bool
	cur           *Family
	seen          map[string]bool
	errs          []error
}

func (c *checker) Begin(f *Family) {
	switch {
	case !c.listed[f]:
		c.errs = append(c.errs, fmt.Errorf("family %s is written but not in Families()", f.Name))
	case c.begun[f]:
		c.errs = append(c.errs, fmt.Errorf("family %s is begun twice", f.Name))
	}
	c.begun[f], c.cur, c.seen = true, f, map[string]bool{}
}

func (c *checker) Counter(v float64, _ time.Time, lv ...string) { c.Sample(v, lv...) }

func (c *checker) Histogram(h *HistogramValue, lv ...string) {
	if c.cur != nil && c.cur.Type != Histogram {
		c.errs = append(c.errs, fmt.Errorf("family %s: a histogram in a family of another type", c.cur.Name))
	}
	if len(h.Bounds) != len(h.Cumulative) {
		c.errs = append(c.errs, fmt.Errorf("family %s: %d classic bounds, %d counts", c.cur.Name, len(h.Bounds), len(h.Cumulative)))
	}
	c.series(lv)
}

func (c *checker) Sample(_ float64, lv ...string) {
	if c.cur != nil && c.cur.Type == Histogram {
		c.errs = append(c.errs, fmt.Errorf("family %s: a sample in a histogram family", c.cur.Name))
	}
	c.series(lv)
}

func (c *checker) series(lv []string) {
	if c.cur == nil {
		c.errs = append(c.errs, errors.New("a sample before any family"))
		return
	}
	if len(lv) != len(c.cur.Labels) {
		c.errs = append(c.errs, fmt.Errorf("family %s: %d label values for labels %v", c.cur.Name, len(lv), c.cur.Labels))
		return
	}
	k := strings.Join(lv, "\xff")
	if c.seen[k] {
		c.errs = append(c.errs, fmt.Errorf("family %s: two series with labels %q", c.cur.Name, lv))
	}
	c.seen[k] = true
}

// Check runs Check on each of the registry's Sources, then streams the
// whole registry as /metrics does (delimited protobuf, created timestamps
// included) and compares it with what Gather builds: the same families
// with the same series. Tests of a package that exports Sources call it on
// a registry its metrics are registered with.
func (r *Registry) Check() error {
	var errs []error
	for _, s := range r.streamed() {
		errs = append(errs, Check(s))
	}
	want, err := r.Gather()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	plain, err := gatherPlain([]*Registry{r})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	var buf bytes.Buffer
	if err := Write(&buf, format, plain, []*Registry{r}); err != nil {
		return errors.Join(append(errs, err)...)
	}
	got := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(&buf, format)
	for {
		f := &dto.MetricFamily{}
		if err := dec.Decode(f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if got[f.GetName()] != nil {
			errs = append(errs, fmt.Errorf("family %s streamed twice", f.GetName()))
		}
		got[f.GetName()] = f
	}
	for _, w := range want {
		g := got[w.GetName()]
		delete(got, w.GetName())
		if g == nil {
			errs = append(errs, fmt.Errorf("family %s gathered but not streamed", w.GetName()))
			continue
		}
		slices.SortFunc(g.Metric, func(a, b *dto.Metric) int { return compareLabels(a.GetLabel(), b.GetLabel()) })
		if !proto.Equal(g, w) {
			errs = append(errs, fmt.Errorf("family %s: streamed\n%v\ngathered\n%v", w.GetName(), g, w))
		}
	}
	for name := range got {
		errs = append(errs, fmt.Errorf("family %s streamed but not gathered", name))
	}
	return errors.Join(errs...)
}

// compareLabels orders label sets as client_golang sorts a family's
// series: by the values, pair by pair.
func compareLabels(a, b []*dto.LabelPair) int {
	for i := range min(len(a), len(b)) {
		if c := strings.Compare(a[i].GetValue(), b[i].GetValue()); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}
