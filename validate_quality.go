package meshwatch

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	ruleName    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	stateBacks  = []string{StateDir, StateKafka}
	fieldPathRe = regexp.MustCompile(`^[^.\s]+(\.[^.\s]+)*$`)
	labelName   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// URLHasCredentials reports whether the URL s holds credentials
// (user:password@): a URL in a config is no place for them.
func URLHasCredentials(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.User != nil
}

func (v *validator) lag(l *Lag, tick Duration) {
	// An interval taken from collector.tick is reported there.
	if l.Interval < Duration(time.Second) && l.Interval != tick {
		v.errf("lag.interval", "must be at least 1s, got %s", l.Interval)
	}
	if l.ExactFetches < 0 {
		v.errf("lag.exact_fetches", "must be >= 0 (0 interpolates every time lag), got %d", l.ExactFetches)
	}
	if l.Passes < 1 || l.Passes > 100 {
		v.errf("lag.passes", "must be from 1 to 100 consecutive passes, got %d", l.Passes)
	}
}

func (v *validator) schemaRegistry(r *SchemaRegistry) {
	if r == nil {
		return
	}
	const p = "schema_registry"
	if r.URL == "" {
		v.errf(JoinPath(p, "url"), "is required, e.g. http://schema-registry:8081")
	} else if !IsHTTPURL(r.URL) {
		v.errf(JoinPath(p, "url"), "must be an http:// or https:// URL like http://schema-registry:8081, got %s", Quote(r.URL))
	} else if URLHasCredentials(r.URL) {
		v.errf(JoinPath(p, "url"), "must not hold credentials; use username and password (or password_file)")
	}
	hasPassword := r.Password != "" || r.PasswordFile != ""
	hasToken := r.Token != "" || r.TokenFile != ""
	switch {
	case r.Username != "" && !hasPassword:
		v.errf(JoinPath(p, "password"), "is required with username; set password (e.g. ${SR_PASSWORD}) or password_file")
	case r.Username == "" && hasPassword:
		v.errf(JoinPath(p, "username"), "is required with a password")
	}
	if hasToken && (r.Username != "" || hasPassword) {
		v.errf(JoinPath(p, "token"), "cannot be used together with username and password; choose basic or bearer auth")
	}
	if t := r.TLS; t != nil {
		if (t.CertFile == "") != (t.KeyFile == "") {
			v.errf(JoinPath(p, "tls"), "cert_file and key_file go together; set both or neither")
		}
	}
}

func (v *validator) state(s *State) {
	v.oneOf("state.backend", s.Backend, stateBacks)
	if s.Backend == StateKafka && !topicName.MatchString(s.Topic) {
		v.errf("state.topic", "must be a Kafka topic name (letters, digits, '.', '_', '-'), got %s", Quote(s.Topic))
	}
	if s.Flush < Duration(time.Second) {
		v.errf("state.flush", "must be at least 1s, got %s", s.Flush)
	}
}

func (v *validator) push(p *Push) {
	if p == nil {
		return
	}
	if !IsHTTPURL(p.URL) {
		v.errf("push.url", "must be an http(s) URL of a text-import endpoint like http://victoria-metrics:8428/api/v1/import/prometheus, got %s", Quote(p.URL))
	} else if URLHasCredentials(p.URL) {
		v.errf("push.url", "must not hold credentials; use push.token")
	}
	if p.Interval < Duration(time.Second) {
		v.errf("push.interval", "must be at least 1s, got %s", p.Interval)
	}
	for _, k := range sortedKeys(p.Labels) {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			v.errf(JoinPath("push.labels", k), "must be a Prometheus label name (letters, digits, _; not starting with __), got %s", Quote(k))
		}
	}
}

func (v *validator) sharding(s *Sharding, st *State) {
	if s == nil {
		return
	}
	if st.Backend != StateKafka {
		v.errf("sharding", "needs state.backend: kafka, so that the agent that takes a product over reads its budgets and incidents; got state.backend: %s", st.Backend)
	}
	if s.Group == "" {
		v.errf("sharding.group", "must name the consumer group the agents share")
	}
	if s.SessionTimeout < Duration(time.Second) || s.SessionTimeout > Duration(5*time.Minute) {
		v.errf("sharding.session_timeout", "must be from 1s to 5m, got %s", s.SessionTimeout)
	}
	if !topicName.MatchString(s.Topic) {
		v.errf("sharding.topic", "must be a Kafka topic name, got %s", Quote(s.Topic))
	}
	if s.Partitions < 1 || s.Partitions > 1000 {
		v.errf("sharding.partitions", "must be from 1 to 1000, got %d", s.Partitions)
	}
}

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
