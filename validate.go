package meshwatch

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Naming modes: how product names are linted against <domain>.<entity>.<event>.
const (
	NamingWarn   = "warn"
	NamingStrict = "strict"
	NamingOff    = "off"
)

var (
	formats     = []string{FormatJSON, FormatAvro, FormatProtobuf, FormatRaw}
	timeFormats = []string{TimeFormatAuto, TimeFormatRFC3339, TimeFormatUnixS, TimeFormatUnixMs, TimeFormatUnixUs, TimeFormatUnixNs}
	slis        = []string{SLILatency, SLIFreshness, SLIAvailability, SLICompleteness, SLIValidity, SLILag, SLIVolume}
	namingModes = []string{NamingWarn, NamingStrict, NamingOff}

	nameSegment    = regexp.MustCompile(`^[a-z0-9_-]+$`)
	topicName      = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	slackChannel   = regexp.MustCompile(`^#[^\s#]+$`)
	slackChannelID = regexp.MustCompile(`^[CG][A-Z0-9]{6,}$`)
	windowDays     = regexp.MustCompile(`^[1-9][0-9]{0,2}d$`)
)

const (
	maxWindowDays = 400
	windowMonth   = "month"
)

// Validate checks the model and returns every problem at once, errors and warnings,
// each with the Path and Msg set but no position (the loader adds those). It
// expects SetDefaults to have run. It does no I/O; the secrets of *_file keys
// count as given when the file name is set.
//
// Validate compiles every topic pattern into its TopicSelector, so that
// Matches works afterwards; it is not safe for concurrent use with other
// users of c.
func (c *Config) Validate() Problems {
	v := &validator{}
	v.oneOf("naming", c.Naming, namingModes)
	v.products(c)
	v.owners(c.Owners)
	return v.ps
}

type validator struct {
	ps Problems
}

func (v *validator) errf(path, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(path, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// oneOf checks that got is one of allowed.
func (v *validator) oneOf(path, got string, allowed []string) bool {
	if slices.Contains(allowed, got) {
		return true
	}
	list := strings.Join(allowed, ", ")
	if got == "" {
		v.errf(path, "is required; one of %s", list)
		return false
	}
	v.errf(path, "must be one of %s; got %s%s", list, Quote(got), DidYouMean(got, allowed))
	return false
}

// rate checks a budget: > 0, or >= 0 when zero means "take the default".
func (v *validator) rate(path string, r float64, zeroOK bool) {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		v.errf(path, "must be a finite number, got %v", r)
	case zeroOK && r < 0:
		v.errf(path, "must be >= 0 (0 takes collector.budget), got %s", formatFloat(r))
	case !zeroOK && r <= 0:
		v.errf(path, "must be > 0, got %s", formatFloat(r))
	}
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func (v *validator) products(c *Config) {
	if len(c.Products) == 0 {
		v.errf("products", "at least one product is required")
		return
	}
	names := make(map[string]int, len(c.Products))
	for i := range c.Products {
		p := &c.Products[i]
		path := IndexPath("products", i)
		v.productName(c, p, path)
		if p.Name != "" {
			if first, dup := names[p.Name]; dup {
				v.errf(JoinPath(path, "name"), "duplicate product name %s; products[%d] has it already", Quote(p.Name), first)
			} else {
				names[p.Name] = i
			}
		}
		if p.Domain == "" {
			v.errf(JoinPath(path, "domain"), "is required, e.g. checkout")
		}
		v.owner(JoinPath(path, "owner"), p.Owner, c.Owners)
		if p.Tier < 1 || p.Tier > 3 {
			v.errf(JoinPath(path, "tier"), "must be 1, 2 or 3 (1 pages, 2 business hours, 3 best effort), got %d", p.Tier)
		}
		v.topics(JoinPath(path, "topics"), p.Topics)
		v.oneOf(JoinPath(path, "format"), p.Format, formats)
		v.eventTime(JoinPath(path, "event_time"), p)
		v.rate(JoinPath(JoinPath(path, "sampling"), "max_records_per_second"), p.Sampling.MaxRecordsPerSecond, true)
		v.rate(JoinPath(JoinPath(path, "sampling"), "max_bytes_per_second"), p.Sampling.MaxBytesPerSecond, true)
		v.slos(JoinPath(path, "slos"), p.SLOs)
		v.quality(JoinPath(path, "quality"), p)
		v.dlqTopics(JoinPath(path, "dlq_topics"), p.DLQTopics)
		v.consumers(JoinPath(path, "consumers"), p.Consumers)
		v.sloNeeds(path, p)
		v.oneOf(JoinPath(path, "kind"), p.Kind, []string{KindEvents, KindState})
		if p.ReplayWindow < 0 {
			v.errf(JoinPath(path, "replay_window"), "must not be negative, got %s", p.ReplayWindow.Std())
		}
		for j, f := range p.PII {
			if f == "" {
				v.errf(IndexPath(JoinPath(path, "pii"), j), "is required: a field that holds personal data, e.g. customer.email")
			}
		}
	}
	v.inputs(c, names)
	v.inputCycles(c, names)
	v.deprecations(c, names)
}

// deprecations checks each deprecated product's sunset and replacement.
func (v *validator) deprecations(c *Config, names map[string]int) {
	all := sortedKeys(names)
	for i := range c.Products {
		p := &c.Products[i]
		d := p.Deprecated
		if d == nil {
			continue
		}
		path := JoinPath(IndexPath("products", i), "deprecated")
		if _, ok := d.SunsetDate(); !ok {
			v.errf(JoinPath(path, "sunset"), "must be the day the product stops, YYYY-MM-DD, got %s", Quote(d.Sunset))
		}
		switch _, known := names[d.Replacement]; {
		case d.Replacement == "":
		case d.Replacement == p.Name:
			v.errf(JoinPath(path, "replacement"), "must name another product: %s cannot replace itself", Quote(d.Replacement))
		case !known:
			v.warnf(JoinPath(path, "replacement"), "names no product of this configuration: %s%s (consumers are told the name as it is)", Quote(d.Replacement), DidYouMean(d.Replacement, all))
		}
	}
}

// inputs checks each product's inputs against the names of the products
// (names: the first index of each), once every name is known.
func (v *validator) inputs(c *Config, names map[string]int) {
	all := sortedKeys(names)
	for i := range c.Products {
		p := &c.Products[i]
		path := JoinPath(IndexPath("products", i), "inputs")
		seen := make(map[string]int, len(p.Inputs))
		for j, in := range p.Inputs {
			ip := IndexPath(path, j)
			if first, dup := seen[in]; dup && in != "" {
				v.errf(ip, "duplicate input %s; inputs[%d] has it already", Quote(in), first)
				continue
			}
			seen[in] = j
			switch _, known := names[in]; {
			case in == "":
				v.errf(ip, "is required: the name of a product of this configuration that feeds this one")
			case in == p.Name:
				v.errf(ip, "must name another product: %s cannot feed itself", Quote(in))
			case !known:
				v.errf(ip, "must name a product of this configuration, got %s%s", Quote(in), DidYouMean(in, all))
			}
		}
	}
}

// inputCycles reports inputs that lead back to their product: a product
// cannot be made from itself, and an upstream incident could not be told
// from a downstream one. Each cycle is reported once, at its first
// product in config order.
func (v *validator) inputCycles(c *Config, names map[string]int) {
	const (
		unseen = iota
		open
		done
	)
	state := make([]int, len(c.Products))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = open
		stack = append(stack, i)
		for _, in := range c.Products[i].Inputs {
			j, ok := names[in]
			if !ok || j == i {
				continue // reported by inputs
			}
			switch state[j] {
			case unseen:
				visit(j)
			case open:
				k := slices.Index(stack, j)
				cycle := make([]string, 0, len(stack)-k+1)
				for _, x := range stack[k:] {
					cycle = append(cycle, Quote(c.Products[x].Name))
				}
				// inputs point upstream: show the data's direction.
				slices.Reverse(cycle)
				first := slices.Min(stack[k:])
				r := slices.Index(cycle, Quote(c.Products[first].Name))
				cycle = append(cycle[r:], cycle[:r]...)
				cycle = append(cycle, cycle[0])
				v.errf(JoinPath(IndexPath("products", first), "inputs"), "inputs form a cycle: %s feeds %s; a product cannot be made from itself, even through others", cycle[0], strings.Join(cycle[1:], " feeds "))
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range c.Products {
		if state[i] == unseen {
			visit(i)
		}
	}
}

func (v *validator) productName(c *Config, p *Product, path string) {
	path = JoinPath(path, "name")
	if p.Name == "" {
		v.errf(path, "is required, e.g. checkout.orders.placed")
		return
	}
	if c.Naming != NamingWarn && c.Naming != NamingStrict {
		return
	}
	why := lintName(p.Name, p.Domain)
	if why == "" {
		return
	}
	if c.Naming == NamingStrict {
		v.errf(path, "%s does not follow <domain>.<entity>.<event>: %s (naming: strict)", Quote(p.Name), why)
	} else {
		v.warnf(path, "%s does not follow <domain>.<entity>.<event>: %s", Quote(p.Name), why)
	}
}

// lintName says why name does not follow <domain>.<entity>.<event>, or ""
// when it does.
func lintName(name, domain string) string {
	segs := strings.Split(name, ".")
	if len(segs) != 3 {
		return fmt.Sprintf("want 3 dot-separated segments, got %d", len(segs))
	}
	for _, s := range segs {
		if !nameSegment.MatchString(s) {
			return fmt.Sprintf("segment %s must be lowercase letters, digits, _ or -", Quote(s))
		}
	}
	if domain != "" && segs[0] != domain {
		return fmt.Sprintf("the first segment must be the domain %s, got %s", Quote(domain), Quote(segs[0]))
	}
	return ""
}

func (v *validator) owner(path, owner string, owners map[string]Owner) {
	keys := sortedKeys(owners)
	switch {
	case owner == "" && len(keys) == 0:
		v.errf(path, "is required: a team declared under owners")
	case owner == "":
		v.errf(path, "is required; one of owners: %s", strings.Join(keys, ", "))
	case len(keys) == 0:
		v.errf(path, "must be a team declared under owners, got %s, but owners is empty", Quote(owner))
	default:
		if _, ok := owners[owner]; !ok {
			v.errf(path, "must be one of owners: %s; got %s%s", strings.Join(keys, ", "), Quote(owner), DidYouMean(owner, keys))
		}
	}
}

func (v *validator) topics(path string, topics []TopicSelector) {
	if len(topics) == 0 {
		v.errf(path, `at least one topic is required: a name, or {pattern: "^regex$"}`)
	}
	for j := range topics {
		s := &topics[j]
		sp := IndexPath(path, j)
		s.re = nil
		switch {
		case s.Name != "" && s.Pattern != "":
			v.errf(sp, "must set exactly one of name or pattern, got both")
		case s.Name == "" && s.Pattern == "":
			v.errf(sp, "must set exactly one of name or pattern, got neither")
		case s.Pattern != "":
			re, err := regexp.Compile(s.Pattern)
			if err != nil {
				v.errf(JoinPath(sp, "pattern"), "must be a regular expression (RE2 syntax), got %s: %s", Quote(s.Pattern), RegexpError(err, s.Pattern))
				continue
			}
			s.re = re
		case !topicName.MatchString(s.Name) || s.Name == "." || s.Name == "..":
			v.errf(sp, `must be a Kafka topic name (letters, digits, ".", "_" and "-", at most 249), got %s`, Quote(s.Name))
		}
	}
}

// RegexpError says what is wrong with a pattern that regexp.Compile
// refused, without Go's "error parsing regexp:" preamble and naming the
// lookarounds RE2 lacks: for the problems of every package that takes
// patterns.
func RegexpError(err error, pattern string) string {
	for _, look := range []string{"(?=", "(?!", "(?<=", "(?<!"} {
		if strings.Contains(pattern, look) {
			return fmt.Sprintf("RE2 has no lookahead or lookbehind such as %s", Quote(look))
		}
	}
	var se *syntax.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	if se.Expr == "" || se.Expr == pattern {
		return string(se.Code)
	}
	return fmt.Sprintf("%s at %s", se.Code, Quote(se.Expr))
}

func (v *validator) eventTime(path string, p *Product) {
	e := p.EventTime
	var set []string
	if e.Record != "" {
		set = append(set, "record")
	}
	if e.Header != "" {
		set = append(set, "header")
	}
	if e.Field != "" {
		set = append(set, "field")
	}
	if len(set) > 1 {
		v.errf(path, "must set at most one of record, header or field, got %s", strings.Join(set, " and "))
	}
	if e.Record != "" && e.Record != defaultEventTimeRecord {
		v.errf(JoinPath(path, "record"), `must be "timestamp" (the record timestamp), got %s`, Quote(e.Record))
	}
	if e.Field != "" {
		if p.Format != FormatJSON && p.Format != FormatAvro && p.Format != FormatProtobuf {
			v.errf(JoinPath(path, "field"), "needs format json, avro or protobuf to read a payload field, but format is %s", p.Format)
		}
		if slices.Contains(strings.Split(e.Field, "."), "") {
			v.errf(JoinPath(path, "field"), "must be keys separated by single dots like meta.placed_at, got %s", Quote(e.Field))
		}
	}
	v.oneOf(JoinPath(path, "format"), e.Format, timeFormats)
	if e.Fallback != "" { // "" takes the default
		v.oneOf(JoinPath(path, "fallback"), e.Fallback, []string{EventTimeFallbackRecordTimestamp, EventTimeFallbackSkip})
	}
	if e.MaxClockSkew != 0 && e.MaxClockSkew < Duration(time.Second) {
		v.errf(JoinPath(path, "max_clock_skew"), "must be at least 1s (0 takes collector.max_clock_skew), got %s", e.MaxClockSkew)
	}
}

func (v *validator) slos(path string, slos []SLO) {
	names := make(map[string]int, len(slos))
	for k := range slos {
		s := &slos[k]
		sp := IndexPath(path, k)
		if s.Name == "" {
			v.errf(JoinPath(sp, "name"), "is required, e.g. latency")
		} else if first, dup := names[s.Name]; dup {
			v.errf(JoinPath(sp, "name"), "duplicate SLO name %s; slos[%d] has it already", Quote(s.Name), first)
		} else {
			names[s.Name] = k
		}
		known := v.oneOf(JoinPath(sp, "sli"), s.SLI, slis)
		takesThreshold := s.SLI == SLILatency || s.SLI == SLIFreshness || s.SLI == SLILag
		switch {
		case takesThreshold && s.Threshold == 0:
			v.errf(JoinPath(sp, "threshold"), "is required for sli %s, e.g. threshold: %s", s.SLI, exampleThreshold(s.SLI))
		case takesThreshold && s.Threshold < 0:
			v.errf(JoinPath(sp, "threshold"), "must be > 0, got %s", s.Threshold)
		case known && !takesThreshold && s.Threshold != 0:
			v.errf(JoinPath(sp, "threshold"), "is not allowed for sli %s (only latency, freshness and lag take a threshold), got %s", s.SLI, s.Threshold)
		}
		switch {
		case s.Objective == 0:
			v.errf(JoinPath(sp, "objective"), "is required, e.g. 99.9%%")
		case !(s.Objective > 0 && s.Objective < 1):
			v.errf(JoinPath(sp, "objective"), "must be above 0%% and below 100%%, got %s", s.Objective)
		}
		if s.Window == "" {
			v.errf(JoinPath(sp, "window"), "is required: Nd (e.g. 28d) or month")
		} else if !validWindow(s.Window) {
			v.errf(JoinPath(sp, "window"), "must be Nd with N from 1 to %d (e.g. 28d) or month, got %s", maxWindowDays, Quote(s.Window))
		}
		switch {
		case s.SLI == SLILag && s.ConsumerGroup == "":
			v.errf(JoinPath(sp, "consumer_group"), "is required for sli lag: the consumer group whose lag is measured")
		case known && s.SLI != SLILag && s.ConsumerGroup != "":
			v.errf(JoinPath(sp, "consumer_group"), "is only used by sli lag, not %s; remove it", s.SLI)
		}
		if s.TimeZone != "" {
			if s.Window != windowMonth {
				v.errf(JoinPath(sp, "time_zone"), "is only used by window: month (a calendar month in that zone), not %s; remove it", Quote(s.Window))
			} else if _, err := time.LoadLocation(s.TimeZone); err != nil {
				v.errf(JoinPath(sp, "time_zone"), "must be an IANA time zone like Europe/Berlin or UTC, got %s", Quote(s.TimeZone))
			}
		}
		if s.MinEvents < 0 {
			v.errf(JoinPath(sp, "min_events"), "must be >= 0, got %d", s.MinEvents)
		}
	}
}

func exampleThreshold(sli string) string {
	switch sli {
	case SLIFreshness:
		return "60s"
	case SLILag:
		return "30s"
	default:
		return "1s"
	}
}

func validWindow(w string) bool {
	if w == windowMonth {
		return true
	}
	if !windowDays.MatchString(w) {
		return false
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(w, "d"))
	return n <= maxWindowDays
}

// IsSlackChannel reports whether ch is a Slack channel name ("#orders-data")
// or channel ID ("C0123456789").
func IsSlackChannel(ch string) bool {
	return slackChannel.MatchString(ch) || slackChannelID.MatchString(ch)
}

func (v *validator) owners(owners map[string]Owner) {
	for _, key := range sortedKeys(owners) {
		for _, k := range []struct{ key, what string }{{"groups", "consumer group IDs"}, {"clients", "client IDs"}} {
			res := owners[key].Groups
			if k.key == "clients" {
				res = owners[key].Clients
			}
			for j, re := range res {
				path := IndexPath(JoinPath(JoinPath("owners", key), k.key), j)
				if re == "" {
					v.errf(path, `is required: a regular expression over %s, e.g. "^fraud-"`, k.what)
				} else if _, err := regexp.Compile(re); err != nil {
					v.errf(path, "must be a regular expression over %s (RE2 syntax), got %s: %s", k.what, Quote(re), RegexpError(err, re))
				}
			}
		}
		ch := owners[key].SlackChannel
		if ch == "" || IsSlackChannel(ch) {
			continue
		}
		hint := ""
		if slackChannel.MatchString("#" + ch) {
			hint = fmt.Sprintf(" (did you mean %s?)", Quote("#"+ch))
		}
		v.errf(JoinPath(JoinPath("owners", key), "slack_channel"), `must be a channel name like "#orders-data" or a channel ID like C0123456789, got %s%s`, Quote(ch), hint)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
