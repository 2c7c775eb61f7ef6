package meshwatch

import (
	"regexp"
	"slices"
	"strings"
)

var (
	ruleName    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	fieldPathRe = regexp.MustCompile(`^[^.\s]+(\.[^.\s]+)*$`)
)

func (v *validator) quality(path string, p *Product) {
	q := &p.Quality
	decodes := p.Format != FormatRaw && p.Format != ""
	needFormat := func(key string) {
		if !decodes {
			v.errf(JoinPath(path, key), "needs a format that can be decoded (json, avro or protobuf), but format is %s", p.Format)
		}
	}
	if len(q.Required) > 0 {
		needFormat("required")
	}
	for i, f := range q.Required {
		if !fieldPathRe.MatchString(f) {
			v.errf(IndexPath(JoinPath(path, "required"), i), "must be keys separated by single dots like customer.id, got %s", Quote(f))
		}
	}
	names := make(map[string]int, len(q.Rules))
	for i, r := range q.Rules {
		rp := IndexPath(JoinPath(path, "rules"), i)
		switch {
		case r.Name == "":
			v.errf(JoinPath(rp, "name"), "is required: lowercase letters, digits and _, e.g. positive_total")
		case !ruleName.MatchString(r.Name):
			v.errf(JoinPath(rp, "name"), "must be lowercase letters, digits and _ starting with a letter (it is a metric label), got %s", Quote(r.Name))
		default:
			if first, dup := names[r.Name]; dup {
				v.errf(JoinPath(rp, "name"), "duplicate rule name %s; rules[%d] has it already", Quote(r.Name), first)
			}
			names[r.Name] = i
		}
		if strings.TrimSpace(r.Expr) == "" {
			v.errf(JoinPath(rp, "expr"), `is required: a CEL expression that is true for a good record, e.g. "message.order_total > 0"`)
		}
	}
	if s := q.Sequence; s != nil {
		sp := JoinPath(path, "sequence")
		needFormat("sequence")
		if s.Field == "" {
			v.errf(JoinPath(sp, "field"), "is required: the field holding the producer's sequence number")
		} else if !fieldPathRe.MatchString(s.Field) {
			v.errf(JoinPath(sp, "field"), "must be keys separated by single dots, got %s", Quote(s.Field))
		}
		if s.Key != "" && !fieldPathRe.MatchString(s.Key) {
			v.errf(JoinPath(sp, "key"), "must be keys separated by single dots, got %s", Quote(s.Key))
		}
		if s.MaxKeys < 0 {
			v.errf(JoinPath(sp, "max_keys"), "must be > 0, got %d", s.MaxKeys)
		}
	}
	if vol := q.Volume; vol != nil {
		v.rate(JoinPath(JoinPath(path, "volume"), "min_per_minute"), vol.MinPerMinute, false)
	}
}

func (v *validator) dlqTopics(path string, topics []string) {
	for i, t := range topics {
		if !topicName.MatchString(t) {
			v.errf(IndexPath(path, i), "must be a Kafka topic name (letters, digits, '.', '_', '-'), got %s", Quote(t))
		}
	}
}

func (v *validator) consumers(path string, cs []Consumer) {
	seen := make(map[string]int, len(cs))
	for i, c := range cs {
		cp := IndexPath(path, i)
		if c.Group == "" {
			v.errf(JoinPath(cp, "group"), "is required: the consumer group id")
			continue
		}
		if first, dup := seen[c.Group]; dup {
			v.errf(JoinPath(cp, "group"), "duplicate consumer group %s; consumers[%d] has it already", Quote(c.Group), first)
		}
		seen[c.Group] = i
		if c.Owner == "" {
			v.warnf(JoinPath(cp, "owner"), "is not set, so group %s is reported with owner %s", Quote(c.Group), UnknownOwner)
		}
	}
}

// sloNeeds checks that an SLO has something to measure.
func (v *validator) sloNeeds(path string, p *Product) {
	q := &p.Quality
	for i, s := range p.SLOs {
		sp := JoinPath(IndexPath(JoinPath(path, "slos"), i), "sli")
		switch s.SLI {
		case SLICompleteness:
			if len(q.Required) == 0 && q.Sequence == nil {
				v.errf(sp, "completeness needs quality.required or quality.sequence: there is nothing to count as missing")
			}
		case SLIValidity:
			if (p.Format == FormatRaw || p.Format == "") && len(q.Rules) == 0 && len(p.DLQTopics) == 0 {
				v.errf(sp, "validity needs quality.rules, dlq_topics or a format to decode (json, avro, protobuf): every raw record is valid")
			}
		case SLIVolume:
			if q.Volume == nil {
				v.errf(sp, "volume needs quality.volume.min_per_minute: the least traffic promised")
			}
		case SLILag:
			if s.ConsumerGroup != "" && !slices.ContainsFunc(p.Consumers, func(c Consumer) bool { return c.Group == s.ConsumerGroup }) {
				v.warnf(JoinPath(IndexPath(JoinPath(path, "slos"), i), "consumer_group"), "group %s is not declared under consumers, so its owner is reported as %s", Quote(s.ConsumerGroup), UnknownOwner)
			}
		}
	}
}
