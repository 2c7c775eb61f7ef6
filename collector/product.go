package collector

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/expo"
)

// minEventTime is 2000-01-01T00:00:00Z: earlier event times are a unit or
// format mistake, not a latency.
const minEventTime = int64(946684800) * int64(time.Second)

// burstSeconds is how much of its per-second budget a product may read in
// one go. Small bursts keep the average under the budget over short windows
// (at most rate·T + rate·burstSeconds records in T seconds); each refill costs
// one re-seek to the tail, so not smaller.
const burstSeconds = 0.5

// sloCount accumulates the good and valid events of one SLO between ticks.
type sloCount struct {
	slo         *meshwatch.SLO
	thresholdNs int64
	g, v        int64
}

// productState is everything the collector keeps of one product. The fields
// above mu are set once at New; mu guards the rest except where noted.
type productState struct {
	p         *meshwatch.Product
	tier      string // p.Tier, the tier label of meshwatch_product_info
	x         *Extractor
	m         productMetrics
	freshSLOs []*sloCount
	availSLOs []*sloCount
	maxSkew   int64 // event_time.max_clock_skew in ns
	// skip: a record whose event time cannot be read gives no latency
	// (event_time.fallback skip); else it falls back to its record
	// timestamp.
	skip bool

	// unlogged holds a bit (1 << Reason) for each event-time reason counted
	// for the first time and not logged yet: the per-record path sets it
	// under mu, the poll loop logs and clears it.
	unlogged atomic.Uint32

	fetchErrs atomic.Int64 // non-retryable fetch errors since the last tick
	// fetchErrTotal counts fetch errors since start, for
	// meshwatch_fetch_errors_total, and fetchErrFirst is when the first one
	// was counted (Unix ns).
	fetchErrTotal, fetchErrFirst atomic.Int64

	mu        sync.Mutex
	win       *latencyWindow
	latency   nativeHist // meshwatch_latency_seconds
	latSLOs   []*sloCount
	newest    int64 // newest event time seen, Unix ns; 0 while none
	rec, byt  bucket
	throttled bool
	// since the last tick, for the sample ratio
	tickSampled int64
	// the last tick's availability problems, and why the product is blind
	problems []string
	blind    string
	ticked   bool
	// since start: exported by productCollector, and the mean record size
	totalSampled, totalBytes, totalSkipped int64
	throttles                              int64 // times the budget paused the product
	eventTimeErrors                        [numReasons]int64
	// When the rare events were first counted (Unix ns): the created
	// timestamps of counters that appear at their first event.
	firstSkipped, firstThrottle int64
	firstEventTimeError         [numReasons]int64
	// The HDR quantiles of MetricWindow at their last update, and the
	// records they were taken over (0: not exported).
	hdrQuantiles []float64
	hdrCount     int64

	// What the last tick evaluated, for export: freshness in seconds, and
	// whether the product is silent; from the first tick on (ticked).
	freshness float64
	silent    bool
	// Since start, from end-offset deltas: records produced, and bytes
	// estimated at the mean sampled record size; the sample ratio of the
	// last tick.
	produced      int64
	producedBytes float64
	sampleRatio   float64

	// assigned are the partitions the product resolved to; guarded by
	// Collector.assignMu, not mu. partitions is their number, for export.
	assigned   []*partState
	partitions atomic.Int64
}

func newProductState(p *meshwatch.Product, m *Metrics) *productState {
	ps := &productState{
		p:    p,
		tier: strconv.Itoa(p.Tier),
		x:    NewProductExtractor(p),
		m:    m.forProduct(),
		win:  newLatencyWindow(),
		rec:  newBucket(p.Sampling.MaxRecordsPerSecond),
		byt:  newBucket(p.Sampling.MaxBytesPerSecond),

		skip:         eventTimeFallback(p) == FallbackSkip,
		maxSkew:      int64(p.EventTime.MaxClockSkew),
		hdrQuantiles: make([]float64, len(Quantiles)),
		latency:      newNativeHist(m.latencyBounds),
	}
	if ps.maxSkew <= 0 { // a product without defaults, in tests
		ps.maxSkew = int64(meshwatch.DefaultMaxClockSkew)
	}
	for i := range p.SLOs {
		s := &p.SLOs[i]
		c := &sloCount{slo: s, thresholdNs: int64(s.Threshold)}
		switch s.SLI {
		case meshwatch.SLILatency:
			ps.latSLOs = append(ps.latSLOs, c)
		case meshwatch.SLIFreshness:
			ps.freshSLOs = append(ps.freshSLOs, c)
		case meshwatch.SLIAvailability:
			ps.availSLOs = append(ps.availSLOs, c)
		}
	}
	m.products.track(ps)
	return ps
}

// observeBatch measures the records of one fetched partition batch at
// observation time now (Unix ns) within the product's budget. It returns how
// many records it measured; fewer than len(recs) means the budget is spent
// and the product must be paused.
func (ps *productState) observeBatch(recs []*kgo.Record, now int64) int {
	ps.mu.Lock()
	n := ps.admit(recs, now)
	for _, r := range recs[:n] {
		evt, reason := ps.x.Extract(r)
		ps.measure(r, evt, reason, now)
	}
	ps.mu.Unlock()
	return n
}

// admit takes the budget for as many of recs as it allows at now and
// counts them as sampled (the rest as skipped); ps.mu is held. It returns
// how many it admitted, from the first.
func (ps *productState) admit(recs []*kgo.Record, now int64) int {
	var bytes int64
	ps.rec.refill(now)
	ps.byt.refill(now)
	n := 0
	for _, r := range recs {
		size := int64(len(r.Key) + len(r.Value))
		if !ps.rec.ok() || !ps.byt.ok() {
			break
		}
		ps.rec.take(1)
		ps.byt.take(float64(size))
		bytes += size
		n++
	}
	ps.tickSampled += int64(n)
	ps.totalSampled += int64(n)
	ps.totalBytes += bytes
	if n < len(recs) && ps.totalSkipped == 0 {
		ps.firstSkipped = now
	}
	ps.totalSkipped += int64(len(recs) - n)
	return n
}

// decodedTime is the event time of one record as a decoder read it.
type decodedTime struct {
	evt    int64
	reason Reason
}

// observeDecoded is observeBatch for a product whose event time is a field
// of an Avro or Protobuf value: the budget is taken first, then each
// admitted record is handed to rs, which decodes it once, checks it and
// returns the field, and then the records are measured. scratch is the
// caller's buffer (the poll loop's), returned grown for the next call.
func (ps *productState) observeDecoded(rs RecordSink, recs []*kgo.Record, now int64, scratch []decodedTime) (int, []decodedTime) {
	ps.mu.Lock()
	n := ps.admit(recs, now)
	ps.mu.Unlock()
	// The sink runs outside the product's lock: it decodes and evaluates
	// rules, and a scrape must not wait for that.
	times := scratch[:0]
	path := ps.x.Path()
	for _, r := range recs[:n] {
		evt, reason := ps.x.ExtractValue(rs.ObserveRecordField(ps.p.Name, r, path))
		times = append(times, decodedTime{evt, reason})
	}
	ps.mu.Lock()
	for i, r := range recs[:n] {
		ps.measure(r, times[i].evt, times[i].reason, now)
	}
	ps.mu.Unlock()
	return n, times
}

// productSnapshot is what productCollector exports of a product.
type productSnapshot struct {
	ps                                              *productState
	sampled, bytes, skipped, throttled, fetchErrors int64
	eventTimeErrors                                 [numReasons]int64
	// when the first of each rare event was counted, Unix ns (0: unknown)
	firstSkipped, firstThrottle, firstFetchError int64
	firstEventTimeError                          [numReasons]int64
	hdrQuantiles                                 []float64
	hdrCount                                     int64
	problems                                     []string
	blind                                        string
	ticked, silent                               bool
	freshness, sampleRatio, producedBytes        float64
	produced, partitions                         int64
	// latency is meshwatch_latency_seconds; its slices are reused from
	// one write to the next.
	latency expo.HistogramValue
}

// snapshot reads the product's exported state under its lock.
func (ps *productState) snapshot() productSnapshot {
	var s productSnapshot
	ps.snapshotInto(&s)
	return s
}

// snapshotInto reads the product's exported state under its lock into s,
// reusing s's quantile and histogram slices.
func (ps *productState) snapshotInto(s *productSnapshot) {
	q, lat := s.hdrQuantiles[:0], s.latency
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.latency.snapshotInto(&lat, ps.m.latencyBounds)
	lat.Created = ps.m.created
	*s = productSnapshot{
		ps:                  ps,
		sampled:             ps.totalSampled,
		bytes:               ps.totalBytes,
		skipped:             ps.totalSkipped,
		throttled:           ps.throttles,
		fetchErrors:         ps.fetchErrTotal.Load(),
		eventTimeErrors:     ps.eventTimeErrors,
		firstSkipped:        ps.firstSkipped,
		firstThrottle:       ps.firstThrottle,
		firstFetchError:     ps.fetchErrFirst.Load(),
		firstEventTimeError: ps.firstEventTimeError,
		hdrQuantiles:        append(q, ps.hdrQuantiles...),
		hdrCount:            ps.hdrCount,
		problems:            ps.problems, // replaced, never changed, by the tick
		blind:               ps.blind,
		ticked:              ps.ticked,
		silent:              ps.silent,
		freshness:           ps.freshness,
		sampleRatio:         ps.sampleRatio,
		producedBytes:       ps.producedBytes,
		produced:            ps.produced,
		partitions:          ps.partitions.Load(),
		latency:             lat,
	}
}

// sampledTotal returns the records measured since start.
func (ps *productState) sampledTotal() int64 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.totalSampled
}

// measure measures one record whose event time was read as evt, reason;
// ps.mu is held. It must not allocate.
//
// A record whose event time cannot be read (missing, unparseable, not_json,
// out_of_range, undecodable) is counted by reason and falls back to its
// record timestamp, measured like an event time; with event_time.fallback
// skip it gives no latency at all. An event time further in the future than
// maxSkew tells no latency either: it counts as future. A record that
// gives no latency still counts as arriving: freshness takes its record
// timestamp (at most now), so a product whose records flow is never
// silent. An event time further in the past than maxSkew counts as skew
// and stays out of the histograms, so that a producer clock far behind
// cannot make the quantiles an hour, but it is still a latency SLI event:
// if the clock is right the record is late, and if it is wrong every
// consumer that trusts the event time sees it late too. The differences
// are taken so that they cannot overflow: evt and now are both positive.
func (ps *productState) measure(r *kgo.Record, evt int64, reason Reason, now int64) {
	reason = ps.plausible(evt, reason, now)
	counted := reason != ReasonOK
	if counted {
		ps.eventTimeError(reason, now)
		if !reason.unreadable() || ps.skip {
			ps.arrived(r, now)
			return
		}
		evt = r.Timestamp.UnixNano()
		if ps.plausible(evt, ReasonOK, now) != ReasonOK {
			ps.arrived(r, now) // a record timestamp no better: no latency
			return
		}
	}
	lat := now - evt
	if lat < 0 {
		lat = 0 // the producer's clock runs a little ahead of ours
	}
	if lat > ps.maxSkew {
		if !counted { // a fallback is counted once, by its first reason
			ps.eventTimeError(ReasonSkew, now)
		}
	} else {
		ps.win.record(lat / int64(time.Millisecond))
		ps.latency.observe(float64(lat)/1e9, ps.m.latencyBounds)
	}
	// A producer clock running ahead must not make the product look fresh
	// after it falls silent: the newest event is at most now.
	if evt = min(evt, now); evt > ps.newest {
		ps.newest = evt
	}
	for _, s := range ps.latSLOs {
		s.v++
		if lat <= s.thresholdNs {
			s.g++
		}
	}
}

// plausible returns reason, or, for an event time that was read, why it
// cannot be a latency: before 2000 (out_of_range) or further ahead of now
// than maxSkew (future).
func (ps *productState) plausible(evt int64, reason Reason, now int64) Reason {
	switch {
	case reason != ReasonOK:
		return reason
	case evt < minEventTime:
		return ReasonOutOfRange
	case evt-now > ps.maxSkew:
		return ReasonFuture
	}
	return ReasonOK
}

// arrived notes a record that gives no latency for freshness: at its record
// timestamp, at most now (now for a record timestamp before 2000: the
// sampler reads the tail, so the record is recent).
func (ps *productState) arrived(r *kgo.Record, now int64) {
	ts := r.Timestamp.UnixNano()
	if ts < minEventTime || ts > now {
		ts = now
	}
	if ts > ps.newest {
		ps.newest = ts
	}
}

// eventTimeError counts a record of reason at now; ps.mu is held. The first
// of each reason is flagged for the poll loop to log.
func (ps *productState) eventTimeError(reason Reason, now int64) {
	if ps.eventTimeErrors[reason] == 0 {
		ps.firstEventTimeError[reason] = now
		ps.unlogged.Or(1 << reason)
	}
	ps.eventTimeErrors[reason]++
}

// noteNewest raises the newest event time to evt (from a freshness probe),
// at most now.
func (ps *productState) noteNewest(evt, now int64) {
	ps.mu.Lock()
	if evt = min(evt, now); evt > ps.newest {
		ps.newest = evt
	}
	ps.mu.Unlock()
}

// updateQuantiles merges the latency window of MetricWindow into scratch
// (reset first) and keeps its Quantiles, in seconds, and its count for
// export, all under the product's lock so that the tick and window loops
// cannot leave an older update last. It returns the count.
func (ps *productState) updateQuantiles(scratch *hdr.Histogram) int64 {
	scratch.Reset()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.win.merge(scratch, metricSlots)
	ps.hdrCount = scratch.TotalCount()
	if ps.hdrCount > 0 {
		for i, v := range scratch.ValueAtPercentilesSlice(quantilePercentiles) {
			ps.hdrQuantiles[i] = float64(v) / 1e3
		}
	}
	return ps.hdrCount
}

// bucket is a token bucket; a rate ≤ 0 means unlimited. Time is Unix ns.
type bucket struct {
	rate, burst, tokens float64
	last                int64
}

func newBucket(rate float64) bucket {
	b := bucket{rate: rate, burst: rate * burstSeconds}
	if b.burst < 1 {
		b.burst = 1
	}
	b.tokens = b.burst
	return b
}

func (b *bucket) refill(now int64) {
	if b.rate <= 0 {
		return
	}
	if b.last != 0 && now <= b.last {
		return // time seen already: crediting it again would double the budget
	}
	if b.last != 0 {
		b.tokens += float64(now-b.last) / 1e9 * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
}

// ok reports whether a token is left. A record larger than the whole burst
// still gets through once per refill: the balance then goes negative and the
// refill pays it back.
func (b *bucket) ok() bool { return b.rate <= 0 || b.tokens >= 1 }

// take spends n tokens.
func (b *bucket) take(n float64) {
	if b.rate > 0 {
		b.tokens -= n
	}
}

// full reports whether the bucket has refilled completely.
func (b *bucket) full() bool { return b.rate <= 0 || b.tokens >= b.burst }
