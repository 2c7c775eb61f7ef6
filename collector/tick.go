package collector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kfetch"
)

// tickLoop evaluates freshness, availability and throughput every
// collector.tick.
func (c *Collector) tickLoop(ctx context.Context) {
	interval := c.cc.Tick.Std()
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	scratch := hdr.New(histLowestMs, histHighestMs, histDigits)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.ready.Load() {
			continue // nothing is resolved yet: no tick counts
		}
		start := time.Now()
		c.tick(ctx, interval)
		c.updateQuantiles(scratch)
		c.m.tickSeconds.Observe(time.Since(start).Seconds())
	}
}

// tickResult is what one tick found of a product.
type tickResult struct {
	problems  []string
	freshness time.Duration
	silent    bool
}

// metaLeaders are the leaders a tick's metadata names.
func metaLeaders(meta map[string]topicMeta) kfetch.Leaders {
	return func(topic string, partition int32) (int32, [16]byte, bool) {
		tm, ok := meta[topic]
		pm, pok := tm.parts[partition]
		if !ok || tm.err != nil || !pok || pm.err != nil || pm.leader < 0 {
			return -1, [16]byte{}, false
		}
		return pm.leader, tm.id, true
	}
}

// listPartitions returns the partitions of r's topics: those meta names, and
// those the routes know.
func listPartitions(r *routes, meta map[string]topicMeta) map[string][]int32 {
	parts := make(map[string][]int32, len(r.names))
	for _, t := range r.names {
		ps := make([]int32, 0, len(meta[t].parts))
		for p := range meta[t].parts {
			ps = append(ps, p)
		}
		if tr := r.topics[t]; tr != nil {
			for p := range tr.parts {
				if _, ok := meta[t].parts[p]; !ok {
					ps = append(ps, p)
				}
			}
		}
		parts[t] = ps
	}
	return parts
}

// tick reads metadata and end offsets, probes unsampled partitions for
// freshness, and evaluates every product.
func (c *Collector) tick(parent context.Context, interval time.Duration) {
	ctx, cancel := context.WithTimeout(parent, max(interval, 2*time.Second))
	defer cancel()
	r := c.routes.Load()

	var meta map[string]topicMeta // this tick's answer: the topics asked
	var metaErr, endErr error
	var againErr []string // stale topics whose second read failed
	var ends kadm.ListedOffsets
	listAt := c.now().UnixNano()
	if len(r.names) > 0 {
		// The metadata and the end offsets at once: the offsets of the
		// partitions the routes and the view know, asked of the leaders
		// the view names; the metadata of this tick's slice of the view
		// (metaView). A partition whose leader moved is asked through the
		// client, and its topic's metadata read again below.
		ask, whole := c.meta.ask(r)
		var wg sync.WaitGroup
		wg.Go(func() { meta, metaErr = c.metadata(ctx, ask) })
		var stale map[string]bool
		ends, stale, endErr = kfetch.ListOffsetsStale(ctx, c.cl, metaLeaders(c.meta.topics), kfetch.Latest, listPartitions(r, c.meta.topics))
		if endErr == nil {
			endErr = ends.Error()
		}
		wg.Wait()
		if metaErr == nil && !whole {
			var again []string
			for t := range stale {
				if _, ok := meta[t]; !ok && r.topics[t] != nil {
					again = append(again, t)
				}
			}
			if len(again) > 0 {
				more, err := c.metadata(ctx, again)
				if err == nil {
					maps.Copy(meta, more)
					ask = append(ask, again...)
				} else {
					// The slice's answer stands; these are read at
					// the next tick.
					c.tickError("metadata", err)
					againErr = again
				}
			}
		}
		if metaErr == nil {
			c.meta.update(ask, meta, whole)
		}
	}
	view := c.meta.topics
	recheck := map[string]bool{}
	for _, t := range againErr {
		recheck[t] = true
	}
	if parent.Err() != nil {
		// Shutdown cut the tick short: its failed requests say nothing of
		// the product, so the tick is dropped rather than counted as an
		// outage (it would be one bad availability event per restart).
		return
	}
	c.tickError("metadata", metaErr)
	c.tickError("end_offsets", endErr)
	now := c.now()

	// A topic whose ID changed since discovery was deleted and created
	// again: discovery reads it afresh (the fetches fail on the old ID).
	for t, tm := range meta {
		if tr := r.topics[t]; tr != nil && tm.id != ([16]byte{}) && tr.id != ([16]byte{}) && tm.id != tr.id {
			c.requestDiscovery()
			break
		}
	}

	// Throughput from end-offset deltas; note which partitions moved.
	produced := map[*productState]int64{}
	var moved []probeTarget
	if endErr == nil {
		prevListAt := c.lastListAt
		c.lastListAt = listAt
		ends.Each(func(o kadm.ListedOffset) {
			tr := r.topics[o.Topic]
			if tr == nil || o.Err != nil {
				return
			}
			ps := tr.parts[o.Partition]
			if ps == nil {
				return
			}
			ps.checkUnread(o.Offset, prevListAt, listAt)
			if ps.end >= 0 && o.Offset >= ps.end {
				produced[tr.ps] += o.Offset - ps.end
			}
			ps.end = o.Offset
			if o.Offset > 0 && o.Offset != ps.probe {
				moved = append(moved, probeTarget{topic: o.Topic, partition: o.Partition, end: o.Offset, ps: tr.ps, part: ps})
			}
		})
	}
	c.probeFreshness(ctx, now, interval, moved)
	if parent.Err() != nil {
		return // cut short while probing: freshness would look staler than it is
	}

	results := make(map[*productState]*tickResult, len(c.products))
	blindAfter := max(interval, minBlindAfter).Nanoseconds()
	var blindNow map[string]string
	conds := make([]meshwatch.Condition, 0, len(c.products))
	for _, ps := range c.products {
		res := &tickResult{}
		results[ps] = res
		n := 0
		blind, blindAt := "", ""
		retried := false
		// The product's own topics (an index of discovery): the tick is
		// linear in products and partitions, not their product.
		for _, t := range r.byProduct[ps] {
			tr := r.topics[t]
			n++
			for _, part := range tr.parts {
				if part.retriedAgain() {
					retried = true
				}
				if why := part.blind(listAt, blindAfter, endErr == nil); why != "" && (blind == "" || why == BlindFetchErrors) {
					blind, blindAt = why, fmt.Sprintf("%s[%d]", t, part.partition)
				}
			}
			if metaErr != nil {
				continue
			}
			td, ok := view[t]
			if !ok || errors.Is(td.err, kerr.UnknownTopicOrPartition) {
				// Deleted since the last discovery: discovery drops it; a
				// product whose topics are all gone has no_topics then.
				c.requestDiscovery()
				continue
			}
			if td.err != nil {
				res.problems = appendOnce(res.problems, ProblemNoLeader)
				recheck[t] = true
				continue
			}
			for _, pd := range td.parts {
				if pd.err != nil || pd.leader < 0 {
					res.problems = appendOnce(res.problems, ProblemNoLeader)
					recheck[t] = true
				}
				if pd.isr < tr.minISR {
					res.problems = appendOnce(res.problems, ProblemUnderMinISR)
					recheck[t] = true
				}
			}
		}
		if n == 0 {
			res.problems = appendOnce(res.problems, ProblemNoTopics)
		} else if metaErr != nil {
			res.problems = appendOnce(res.problems, ProblemMetadata)
		}
		if ps.fetchErrs.Swap(0) > 0 || c.heldFatal(ps) > 0 || retried {
			res.problems = appendOnce(res.problems, ProblemFetchErrors)
		}
		if blind != "" {
			res.problems = appendOnce(res.problems, ProblemBlind)
		}
		c.noteBlind(ps, blind, blindAt)
		if blind != "" {
			if blindNow == nil {
				blindNow = map[string]string{}
			}
			blindNow[ps.p.Name] = blind
		}

		// What the tick evaluated is kept in ps, under the lock the tick
		// takes anyway, and exported from there (productCollector): the
		// problems and the blind reason with a series each only while they
		// hold, silent only while it is.
		d := produced[ps]
		ps.mu.Lock()
		ps.problems, ps.ticked, ps.blind = res.problems, true, blind
		if ps.newest == 0 {
			res.silent = true
			res.freshness = now.Sub(c.started)
		} else {
			res.freshness = max(now.Sub(time.Unix(0, ps.newest)), 0)
		}
		ps.freshness, ps.silent = res.freshness.Seconds(), res.silent
		if d > 0 {
			meanSize := 0.0
			if ps.totalSampled > 0 {
				meanSize = float64(ps.totalBytes) / float64(ps.totalSampled)
			}
			ps.produced += d
			ps.producedBytes += float64(d) * meanSize
			ps.sampleRatio = min(float64(ps.tickSampled)/float64(d), 1)
		} else if endErr == nil {
			ps.sampleRatio = 1 // nothing produced, nothing missed
		}
		ps.tickSampled = 0
		ps.mu.Unlock()

		conds = append(conds, ProductConditions(ps.p, res.problems, blind, res.silent, res.freshness)...)
	}
	if metaErr == nil {
		c.meta.recheck = recheck // a failed read saw no problem: keep the last tick's
	}
	c.blind.Store(&blindNow)
	c.flushSLIs(now, results)
	c.conds.Store(&conds)
	if c.onTick != nil {
		c.onTick()
	}
}

// tickError counts a failed step of the tick and logs it at most once a
// minute.
func (c *Collector) tickError(step string, err error) {
	if err == nil {
		return
	}
	c.m.tickErrors.WithLabelValues(step).Inc()
	if c.logs.Allow("tick:" + step) {
		c.log.Warn("tick step failed; availability and throughput of this tick are affected (counted in meshwatch_tick_errors_total, logged at most once a minute)",
			"step", step, "err", err)
	}
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// flushSLIs adds the SLI events since the last flush to the counters and
// hands them to the sink. results holds the tick's freshness and availability
// findings; nil (at shutdown) flushes only the per-record latency events.
func (c *Collector) flushSLIs(now time.Time, results map[*productState]*tickResult) {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	from := c.lastFlush
	c.lastFlush = now
	var events []meshwatch.SLIEvents
	emit := func(ps *productState, s *sloCount, good, valid int64) {
		if valid == 0 && good == 0 {
			return
		}
		events = append(events, meshwatch.SLIEvents{
			Product: ps.p.Name, SLO: s.slo.Name, SLI: s.slo.SLI, Good: good, Valid: valid, From: from, To: now,
		})
	}
	for _, ps := range c.products {
		ps.mu.Lock()
		type gv struct {
			s    *sloCount
			g, v int64
		}
		lat := make([]gv, len(ps.latSLOs))
		for i, s := range ps.latSLOs {
			lat[i] = gv{s, s.g, s.v}
			s.g, s.v = 0, 0
		}
		ps.mu.Unlock()
		for _, x := range lat {
			emit(ps, x.s, x.g, x.v)
		}
		res := results[ps]
		if res == nil {
			continue
		}
		for _, s := range ps.freshSLOs {
			stale, known := freshness(res.silent, res.freshness, time.Duration(s.thresholdNs))
			if !known {
				continue // unknown is no event
			}
			emit(ps, s, boolInt(!stale), 1)
		}
		for _, s := range ps.availSLOs {
			if len(ProductProblems(res.problems)) == 0 && len(res.problems) > 0 {
				// Only the agent cannot read the product, which may be
				// fine: neither good nor bad (ProductBlind tells the SREs).
				continue
			}
			emit(ps, s, boolInt(len(res.problems) == 0), 1)
		}
	}
	if c.sink != nil && len(events) > 0 {
		c.sink.ObserveSLI(events)
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

type probeTarget struct {
	topic     string
	partition int32
	end       int64
	ps        *productState
	part      *partState
	newest    int64 // the product's newest event time when chosen
}

// probeFreshness reads the last record of partitions that moved without
// being sampled since the last tick, so that a product whose budget or
// partition spread hides its newest records is not reported stale. Probes go
// oldest product first and are bounded by MaxProbes per tick.
func (c *Collector) probeFreshness(ctx context.Context, now time.Time, interval time.Duration, moved []probeTarget) {
	var todo []probeTarget
	for _, t := range moved {
		if now.UnixNano()-t.part.sampledAt.Load() < int64(interval) {
			continue // sampled recently: the poll loop saw its newest records
		}
		t.ps.mu.Lock()
		newest := t.ps.newest
		t.ps.mu.Unlock()
		if newest != 0 && now.UnixNano()-newest < int64(interval) {
			continue // the product is fresh already; the probe cannot change that
		}
		t.newest = newest
		todo = append(todo, t)
	}
	if len(todo) == 0 {
		return
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].newest < todo[j].newest })
	if len(todo) > c.maxProbe {
		todo = todo[:c.maxProbe]
	}
	// Each end offset is probed once, whatever the outcome: a partition whose
	// tail holds no readable record (expired, deleted, transaction markers)
	// must not cost a probe timeout on every tick.
	for _, t := range todo {
		t.part.probe = t.end
	}
	// Skip partitions with nothing left to read.
	parts := map[string][]int32{}
	for _, t := range todo {
		parts[t.topic] = append(parts[t.topic], t.partition)
	}
	// Asked of the leaders this tick's metadata named: through the client
	// the listing would read the probed topics' metadata once more.
	starts, err := kfetch.ListOffsets(ctx, c.cl, metaLeaders(c.meta.topics), kfetch.Earliest, parts)
	if err != nil {
		c.tickError("start_offsets", err)
		return
	}
	todo = slices.DeleteFunc(todo, func(t probeTarget) bool {
		o, ok := starts.Lookup(t.topic, t.partition)
		return !ok || o.Err != nil || o.Offset >= t.end
	})
	if len(todo) == 0 {
		return
	}
	// Read from a few offsets before the end, so that a transaction marker at
	// end-1 (never returned as a record) does not hide the last real record.
	const back = 4
	offsets := map[string]map[int32]kgo.Offset{}
	pending := map[string]map[int32]*probeTarget{}
	for i := range todo {
		t := &todo[i]
		if offsets[t.topic] == nil {
			offsets[t.topic] = map[int32]kgo.Offset{}
			pending[t.topic] = map[int32]*probeTarget{}
		}
		offsets[t.topic][t.partition] = kgo.NewOffset().At(max(t.end-back, 0))
		pending[t.topic][t.partition] = t
	}
	c.probe.AddConsumePartitions(offsets)
	remove := map[string][]int32{}
	for t, ps := range offsets {
		for p := range ps {
			remove[t] = append(remove[t], p)
		}
	}
	defer c.probe.RemoveConsumePartitions(remove)

	pctx, cancel := context.WithTimeout(ctx, c.probeTO)
	defer cancel()
	left := len(todo)
	for left > 0 {
		fetches := c.probe.PollFetches(pctx)
		if pctx.Err() != nil || fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(topic string, partition int32, _ error) {
			// A failing partition is not waited for: availability reports
			// it; its freshness stays what sampling saw.
			if pending[topic][partition] != nil {
				delete(pending[topic], partition)
				left--
				c.m.probes.WithLabelValues("error").Inc()
			}
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			t := pending[p.Topic][p.Partition]
			if t == nil || len(p.Records) == 0 {
				return
			}
			var newest int64
			for _, r := range p.Records {
				if r.Offset >= t.end {
					continue
				}
				if evt := c.probeTime(t.ps, r, now.UnixNano()); evt > newest {
					newest = evt
				}
			}
			if newest > 0 {
				t.ps.noteNewest(newest, now.UnixNano())
			}
			delete(pending[p.Topic], p.Partition)
			left--
			c.m.probes.WithLabelValues("ok").Inc()
		})
	}
	if left > 0 {
		c.m.probes.WithLabelValues("timeout").Add(float64(left))
	}
}

// probeTime returns what a probed record tells of the product's freshness:
// its event time, or, when that cannot be read or lies further in the future
// than max_clock_skew, its record timestamp (the record is there all the
// same, whatever event_time.fallback says of latency); 0 for nothing. The
// probe's records are not samples: they are decoded (DecodeField), not
// checked, and their event-time errors are not counted.
func (c *Collector) probeTime(ps *productState, r *kgo.Record, now int64) int64 {
	var evt int64
	var reason Reason
	switch {
	case !ps.x.Decoded():
		evt, reason = ps.x.Extract(r)
	case c.records != nil:
		evt, reason = ps.x.ExtractValue(c.records.DecodeField(ps.p.Name, r, ps.x.Path()))
	default:
		reason = ReasonUndecodable
	}
	if ps.plausible(evt, reason, now) == ReasonOK {
		return evt
	}
	if ts := r.Timestamp.UnixNano(); ts >= minEventTime {
		return ts
	}
	return 0
}

// ProductProblems returns the problems of problems that are the product's
// rather than the agent's: all of them, unless the agent is blind on the
// product, when its failing fetches (and the blindness) are its own.
func ProductProblems(problems []string) []string {
	if !slices.Contains(problems, ProblemBlind) {
		return problems
	}
	var out []string
	for _, p := range problems {
		if p != ProblemBlind && p != ProblemFetchErrors {
			out = append(out, p)
		}
	}
	return out
}

// minBlindAfter is the least time records may stay unread, or fetches fail,
// before a product is reported blind: a busy machine or a leader election
// must not look like a blind spot. The tick interval is used when longer.
const minBlindAfter = 5 * time.Second

// Reasons a product is blind, the reason label of meshwatch_product_blind.
const (
	// BlindFetchErrors: the partition's fetches keep failing while records
	// arrive on it.
	BlindFetchErrors = "fetch_errors"
	// BlindStalled: records listed on the partition a while ago were never
	// fetched, and no fetch failed: the sampler is stuck.
	BlindStalled = "stalled"
)

// checkUnread notes, at a tick that listed end at listAt, whether records
// that were on the partition at the previous listing (prevListAt) are still
// unread. A re-add at the tail since then skips what was there on purpose:
// everything up to end is forgiven. Only the tick loop calls it, before it
// sets part.end.
func (part *partState) checkUnread(end, prevListAt, listAt int64) {
	if part.tailAt.Load() > prevListAt {
		part.floor = max(part.floor, end)
	}
	cursor := max(part.fetchedNext.Load(), part.floor)
	switch {
	case part.end < 0 || part.end <= cursor:
		part.unreadSince = 0
	case part.unreadSince == 0:
		part.unreadSince = prevListAt
	}
}

// retriedAgain reports whether the partition's fetches failed with a
// retryable error since the last tick and also in one of the two ticks
// before it: an error that persists. (A failing partition is held back for
// up to a tick, so it may miss one.) A leader election fails each of the
// broker's partitions once, and those errors may arrive on either side of a
// tick: counted per product, they would look like two failing ticks.
func (part *partState) retriedAgain() bool {
	r := part.retryErrs.Swap(0) > 0
	again := r && part.retried&0b11 != 0
	part.retried <<= 1
	if r {
		part.retried |= 1
	}
	return again
}

// blind returns why the partition is blind at the tick that listed at
// listAt, or "": its fetches kept failing, with nothing fetched, for
// blindAfter while its end moved, or records stayed unread for blindAfter. listed says whether
// this tick's end offsets were read (else unread is not re-evaluated).
func (part *partState) blind(listAt, blindAfter int64, listed bool) string {
	fetched := part.fetchedNext.Load()
	if part.errs.Swap(0) > 0 {
		part.lastErrTick = listAt
		if part.errSince == 0 {
			part.errSince, part.errFrom, part.errFetched = listAt, part.end, fetched
		}
	}
	if part.errSince != 0 && (fetched > part.errFetched || listAt-part.lastErrTick >= blindAfter) {
		// A record was fetched since the errors began, or nothing failed
		// for a while: the run of errors is over. (A partition held back
		// between errors has ticks without one: they do not end it.)
		part.errSince = 0
	}
	switch {
	case part.errSince != 0 && listAt-part.errSince >= blindAfter && part.end > part.errFrom:
		return BlindFetchErrors
	case listed && part.unreadSince != 0 && listAt-part.unreadSince >= blindAfter:
		return BlindStalled
	}
	return ""
}

// noteBlind logs a product going blind (at most once a minute) and seeing
// again.
func (c *Collector) noteBlind(ps *productState, blind, where string) {
	ps.mu.Lock()
	was := ps.blind
	ps.mu.Unlock()
	switch {
	case blind != "" && c.logs.Allow("blind:"+ps.p.Name):
		c.log.Error("product is blind: records on its topics are not read, so its latency, validity and completeness are not measured and its alerts are kept as they were (meshwatch_product_blind)",
			"product", ps.p.Name, "reason", blind, "partition", where)
	case blind == "" && was != "":
		c.log.Info("product is read again", "product", ps.p.Name, "was", was)
	}
}
