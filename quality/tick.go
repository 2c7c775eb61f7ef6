package quality

import (
	"context"
	"errors"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kfetch"
)

// volumeWindow is the window of the volume SLI.
const volumeWindow = time.Minute

// Bounds of the dead-letter reads of one tick, so that a flood into a DLQ
// costs the agent little: the reasons are a sample.
const (
	dlqMaxPartitionBytes = 256 << 10
	dlqMaxBytes          = 1 << 20
	// maxReasons bounds the distinct reason labels of a product; further
	// reasons count as other.
	maxReasons = 20
)

// Reasons of dead-lettered records that have no reason of their own.
const (
	ReasonLabelUnknown = "unknown" // no reason header
	ReasonLabelOther   = "other"   // a reason beyond the bound, or not a plain name
)

// dlqReasonHeaders are the headers that tell why a record was dead-lettered,
// in order of preference: Confluent data-contract rules, then Kafka Connect.
// Their values are rule or exception class names, never payload; values that
// are not plain names are counted as other all the same.
var dlqReasonHeaders = []string{"__rule.name", "__connect.errors.exception.class.name"}

var plainName = regexp.MustCompile(`^[A-Za-z0-9_.:$-]{1,100}$`)

// dlqFetch bounds the fetch of each broker's dead-letter partitions.
var dlqFetch = kfetch.Options{
	MaxBytes:          dlqMaxBytes,
	PartitionMaxBytes: dlqMaxPartitionBytes,
	Decode:            true,
}

// volumeState is a product's traffic by end offsets. Owned by the tick.
type volumeState struct {
	ends     map[partKey]int64
	moved    map[partKey]time.Time // last time the end offset moved
	start    time.Time             // of the current volume window; zero before the first offsets
	count    int64                 // records appended in the current window
	lastRate float64
	topics   []string // the product's topics at the last listing
	// The volume series exist from their first measurement: the rate
	// from the first full window, silent from the first listing.
	rateSet, silentSet bool
	silent             int // silent partitions at the last listing
}

// dlqState is a product's dead-letter traffic. Owned by the tick.
type dlqState struct {
	ends    map[partKey]int64
	next    map[partKey]int64 // next offset to read reasons from
	carry   float64           // fraction of a scaled DLQ event not yet emitted
	records count             // total, for the report and dlq_records_total
	reasons []dlqReasonCount  // at most maxReasons, in order of their first record
}

// dlqReasonCount counts the dead-lettered records of one reason label.
type dlqReasonCount struct {
	reason string
	count
}

// Run ticks every collector.tick until ctx is done: it emits the
// completeness, validity and volume SLI events of the interval, measures
// volume and the dead-letter share from end offsets, reads dead-lettered
// records' reasons, and every Options.RefreshInterval reads the subjects'
// ruleSets and metadata from the registry. On return it makes a final flush
// of the counts (without Kafka requests). Run returns nil.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.tick)
	defer t.Stop()
	var lastRefresh time.Time
	for {
		if e.now().Sub(lastRefresh) >= e.refresh {
			lastRefresh = e.now()
			e.refreshRuleSets(ctx, e.knownTopics())
		}
		select {
		case <-ctx.Done():
			e.doTick(context.WithoutCancel(ctx), false)
			return nil
		case <-t.C:
			e.doTick(ctx, true)
		}
	}
}

// knownTopics returns each product's topics: the named ones and those its
// patterns matched at the last end-offset listing.
func (e *Engine) knownTopics() map[*product][]string {
	out := make(map[*product][]string, len(e.products))
	for _, p := range e.products {
		var ts []string
		for _, s := range p.p.Topics {
			if s.Name != "" {
				ts = append(ts, s.Name)
			}
		}
		p.mu.Lock()
		ts = append(ts, p.volume.topics...)
		p.mu.Unlock()
		slices.Sort(ts)
		out[p] = slices.Compact(ts)
	}
	return out
}

// doTick flushes the counts of the interval since the last tick into SLI
// events and metrics. With kafka it first lists end offsets for volume and
// the dead-letter share, and reads dead-letter reasons.
func (e *Engine) doTick(ctx context.Context, kafka bool) {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	now := e.now()
	from := e.lastTick
	e.lastTick = now

	var ends kadm.ListedOffsets
	if kafka && e.kafka != nil && e.needsOffsets() {
		var err error
		ends, err = e.listEnds(ctx)
		if err != nil {
			e.m.tickErrors.WithLabelValues("end_offsets").Inc()
			if e.logs.ok("end_offsets", now) {
				e.log.Warn("list end offsets", "err", err)
			}
			ends = nil
		}
	}
	var events []meshwatch.SLIEvents
	for _, p := range e.products {
		produced, dlq, windows, good := e.offsetDeltas(p, ends, now)
		p.mu.Lock()
		c := p.tick
		p.tick = counts{}
		// Dead-lettered records count against validity in proportion to
		// the share of the product the agent samples.
		if dlq > 0 {
			ratio := 1.0
			if produced > 0 {
				ratio = min(1, float64(c.records)/float64(produced))
			}
			scaled := float64(dlq)*ratio + p.dlq.carry
			n := math.Floor(scaled)
			p.dlq.carry = scaled - n
			c.validBad += int64(n)
		}
		p.total.validGood.add(c.validGood)
		p.total.validBad.add(c.validBad)
		p.total.complGood.add(c.completeGood)
		p.total.complBad.add(c.completeBad)
		if p.seq != nil {
			p.seqKeys = p.seq.len()
		}
		p.mu.Unlock()
		for _, s := range p.p.SLOs {
			ev := meshwatch.SLIEvents{Product: p.p.Name, SLO: s.Name, SLI: s.SLI, From: from, To: now}
			switch s.SLI {
			case meshwatch.SLICompleteness:
				ev.Good, ev.Valid = c.completeGood, c.completeGood+c.completeBad
			case meshwatch.SLIValidity:
				ev.Good, ev.Valid = c.validGood, c.validGood+c.validBad
			case meshwatch.SLIVolume:
				ev.Good, ev.Valid = good, windows
			default:
				continue
			}
			events = append(events, ev)
		}
	}
	if kafka && e.kafka != nil && ends != nil {
		e.readDLQReasons(ctx)
	}
	if e.sink != nil && len(events) > 0 {
		e.sink.ObserveSLI(events)
	}
}

func (e *Engine) needsOffsets() bool {
	for _, p := range e.products {
		if p.p.Quality.Volume != nil || len(p.p.DLQTopics) > 0 {
			return true
		}
	}
	return false
}

// listEnds lists the end offsets of every product and dead-letter topic:
// all topics when a product selects topics by pattern.
func (e *Engine) listEnds(ctx context.Context) (kadm.ListedOffsets, error) {
	var topics []string
	all := false
	for _, p := range e.products {
		for _, s := range p.p.Topics {
			if s.Pattern != "" {
				all = true
			}
			topics = append(topics, s.Name)
		}
		topics = append(topics, p.p.DLQTopics...)
	}
	if all {
		topics = nil
	} else {
		slices.Sort(topics)
		topics = slices.Compact(topics)
	}
	ctx, cancel := context.WithTimeout(ctx, e.tick)
	defer cancel()
	ends, err := kadm.NewClient(e.kafka).ListEndOffsets(ctx, topics...)
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) || se.AllFailed {
			return nil, err
		}
	}
	return ends, nil
}

// offsetDeltas updates the product's volume and dead-letter state from the
// end offsets and returns the records appended since the last tick to its
// topics and to its dead-letter topics, and the volume windows that closed
// (and how many were good). Only the tick calls it.
func (e *Engine) offsetDeltas(p *product, ends kadm.ListedOffsets, now time.Time) (produced, dlq, windows, good int64) {
	if ends == nil {
		return 0, 0, 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v := &p.volume
	if v.ends == nil {
		v.ends, v.moved = map[partKey]int64{}, map[partKey]time.Time{}
	}
	v.topics = v.topics[:0]
	silent := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset < 0 {
			return
		}
		k := partKey{o.Topic, o.Partition}
		switch {
		case slices.Contains(p.p.DLQTopics, o.Topic):
			if prev, ok := p.dlq.ends[k]; ok && o.Offset > prev {
				dlq += o.Offset - prev
			}
			if _, ok := p.dlq.next[k]; !ok {
				p.dlq.next[k] = o.Offset // reasons from now on
			}
			p.dlq.ends[k] = o.Offset
		case selects(p.p, o.Topic):
			v.topics = append(v.topics, o.Topic)
			prev, ok := v.ends[k]
			if ok && o.Offset > prev {
				produced += o.Offset - prev
				v.moved[k] = now
			}
			if !ok {
				v.moved[k] = now
			}
			v.ends[k] = o.Offset
			if now.Sub(v.moved[k]) >= volumeWindow {
				silent++
			}
		}
	})
	slices.Sort(v.topics)
	v.topics = slices.Compact(v.topics)
	p.dlq.records.add(dlq)

	// Silent partitions and the rate belong to the volume expectation:
	// without one, the product exports neither.
	if p.p.Quality.Volume == nil {
		return produced, dlq, 0, 0
	}
	v.silent, v.silentSet = silent, true
	if v.start.IsZero() {
		v.start = now // the first listing is the baseline
		return produced, dlq, 0, 0
	}
	v.count += produced
	elapsed := now.Sub(v.start)
	if elapsed < volumeWindow {
		return produced, dlq, 0, 0
	}
	windows = int64(elapsed / volumeWindow)
	v.lastRate = float64(v.count) / elapsed.Minutes()
	if v.lastRate >= p.p.Quality.Volume.MinPerMinute {
		good = windows
	}
	v.rateSet = true
	v.count = 0
	v.start = v.start.Add(time.Duration(windows) * volumeWindow)
	return produced, dlq, windows, good
}

func selects(p *meshwatch.Product, topic string) bool {
	for _, s := range p.Topics {
		if s.Matches(topic) {
			return true
		}
	}
	return false
}

// readDLQReasons reads what was appended to the dead-letter topics since the
// last tick (bounded per tick) with fetch requests to the partitions'
// leaders (kfetch), and counts each record's reason header. A partition
// that several products name as a dead-letter topic is read once, from the
// lowest of their next offsets; each product counts the records from its
// own. A next offset that fell out of range (the records expired unread,
// or the topic was recreated) moves to the listed end: reasons from now
// on, as at the first listing.
func (e *Engine) readDLQReasons(ctx context.Context) {
	from := map[partKey]int64{}
	owners := map[partKey][]*product{}
	var topics []string
	for _, p := range e.products {
		p.mu.Lock()
		for k, next := range p.dlq.next {
			if end := p.dlq.ends[k]; end > next {
				if f, ok := from[k]; !ok || next < f {
					from[k] = next
				}
				owners[k] = append(owners[k], p)
				topics = append(topics, k.topic)
			}
		}
		p.mu.Unlock()
	}
	if len(from) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, e.tick)
	defer cancel()
	slices.Sort(topics)
	md, err := kadm.NewClient(e.kafka).Metadata(ctx, slices.Compact(topics)...)
	if err != nil {
		e.m.tickErrors.WithLabelValues("metadata").Inc()
		return
	}
	wants := make([]kfetch.Want, 0, len(from))
	for k, f := range from {
		wants = append(wants, kfetch.Want{Topic: k.topic, Partition: k.partition, Offset: f})
	}
	results := kfetch.Fetch(ctx, e.kafka, kfetch.MetadataLeaders(md.Topics), wants, dlqFetch)
	failed := map[int32]bool{} // brokers whose request failed, counted once
	for _, r := range results {
		k := partKey{r.Topic, r.Partition}
		var be *kfetch.BrokerError
		switch {
		case errors.Is(r.Err, kfetch.ErrNoLeader):
			// Not in the metadata, or leaderless: next tick.
			continue
		case errors.As(r.Err, &be):
			if !failed[be.Broker] {
				failed[be.Broker] = true
				e.m.tickErrors.WithLabelValues("dlq_fetch").Inc()
			}
			continue
		case errors.Is(r.Err, kerr.OffsetOutOfRange):
			e.m.tickErrors.WithLabelValues("dlq_fetch").Inc()
			for _, p := range owners[k] {
				p.mu.Lock()
				if end := p.dlq.ends[k]; p.dlq.next[k] < end {
					p.dlq.next[k] = end
				}
				p.mu.Unlock()
			}
			continue
		case r.Err != nil:
			e.m.tickErrors.WithLabelValues("dlq_fetch").Inc()
			continue
		}
		for _, p := range owners[k] {
			p.mu.Lock()
			next := p.dlq.next[k]
			for _, rec := range r.Records {
				if rec.Offset >= next {
					p.countDLQReason(dlqReason(rec))
				}
			}
			// Past the records read, and any transaction marker
			// after them.
			p.dlq.next[k] = max(next, r.NextOffset)
			p.mu.Unlock()
		}
	}
}

// dlqReason returns the reason a dead-lettered record's headers give.
func dlqReason(r *kgo.Record) string {
	for _, h := range dlqReasonHeaders {
		for _, rh := range r.Headers {
			if rh.Key == h {
				if plainName.Match(rh.Value) {
					return string(rh.Value)
				}
				return ReasonLabelOther
			}
		}
	}
	return ReasonLabelUnknown
}

// countDLQReason counts one dead-lettered record by reason, keeping at most
// maxReasons distinct labels, unknown among them from the start (its series
// appears at its first record, but its place is kept: unknown is never
// counted as other). The caller holds p.mu.
func (p *product) countDLQReason(reason string) {
	d := &p.dlq
	i := d.reasonIndex(reason)
	if i < 0 {
		n := len(d.reasons)
		if d.reasonIndex(ReasonLabelUnknown) < 0 {
			n++
		}
		if n >= maxReasons && reason != ReasonLabelOther && reason != ReasonLabelUnknown {
			reason = ReasonLabelOther
			i = d.reasonIndex(reason)
		}
		if i < 0 {
			i = len(d.reasons)
			d.reasons = append(d.reasons, dlqReasonCount{reason: reason})
		}
	}
	d.reasons[i].inc()
}

// reasonIndex returns the place of reason in d.reasons, or -1.
func (d *dlqState) reasonIndex(reason string) int {
	for i := range d.reasons {
		if d.reasons[i].reason == reason {
			return i
		}
	}
	return -1
}
