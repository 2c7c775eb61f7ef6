package expo

import (
	"errors"
	"fmt"
	"strings"
	"time"
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

func (c *checker) Sample(_ float64, lv ...string) {
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
