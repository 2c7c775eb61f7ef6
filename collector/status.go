package collector

import (
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Status is a point-in-time view of one product, for APIs and tests.
type Status struct {
	Product    string
	Topics     []string
	Partitions int
	// Newest is the newest event time seen (the record timestamp of a
	// record whose event time could not be used); zero while the product
	// is silent.
	Newest time.Time
	// Freshness is now minus Newest (time since the agent started while silent).
	Freshness time.Duration
	Silent    bool
	// Ticked says whether a tick has evaluated availability yet.
	Ticked    bool
	Available bool
	Problems  []string
	Throttled bool
	// Blind is why the agent cannot read the product's records at the last
	// tick (BlindFetchErrors, BlindStalled), "" while it reads them. A blind
	// product is not Available (ProblemBlind among Problems); what its
	// records would tell (latency, freshness seen by sampling) is unknown.
	Blind string
}

// Status returns the current view of the named product, and false if there
// is no such product.
func (c *Collector) Status(product string) (Status, bool) {
	ps := c.byName[product]
	if ps == nil {
		return Status{}, false
	}
	st := Status{Product: product}
	r := c.routes.Load()
	for _, t := range r.byProduct[ps] {
		st.Topics = append(st.Topics, t)
		st.Partitions += len(r.topics[t].parts)
	}
	now := c.now()
	ps.mu.Lock()
	newest := ps.newest
	st.Ticked = ps.ticked
	st.Problems = slices.Clone(ps.problems)
	st.Throttled = ps.throttled
	st.Blind = ps.blind
	ps.mu.Unlock()
	st.Available = st.Ticked && len(st.Problems) == 0
	if newest == 0 {
		st.Silent = true
		st.Freshness = now.Sub(c.started)
	} else {
		st.Newest = time.Unix(0, newest)
		st.Freshness = max(now.Sub(st.Newest), 0)
	}
	return st, true
}

// Latency returns the quantile q of the product's latency over the named
// window ("1m" or "5m"), computed now from the HDR slots, and the number of
// records in the window. ok is false for an unknown product or window.
func (c *Collector) Latency(product, window string, q float64) (d time.Duration, count int64, ok bool) {
	ps := c.byName[product]
	if ps == nil {
		return 0, 0, false
	}
	for _, w := range Windows {
		if w.Name != window {
			continue
		}
		h := hdr.New(histLowestMs, histHighestMs, histDigits)
		ps.mu.Lock()
		ps.win.merge(h, w.Slots)
		ps.mu.Unlock()
		return time.Duration(h.ValueAtQuantile(q*100)) * time.Millisecond, h.TotalCount(), true
	}
	return 0, 0, false
}
