package meshwatch

import (
	"regexp"
	"strings"
	"time"
)

// Config is the data-product model: the cluster the products live on, the
// products and their owners. Package config reads it from config.yaml,
// together with the sections that other packages own (collector:, lag:,
// state:...).
type Config struct {
	// Naming sets how product names are linted against <domain>.<entity>.<event>:
	// "warn" (default) reports a warning, "strict" an error, "off" nothing.
	Naming   string           `yaml:"naming"`
	Cluster  Cluster          `yaml:"cluster"`
	Products []Product        `yaml:"products"`
	Owners   map[string]Owner `yaml:"owners"`
	// Contracts are ODCS v3 data contracts, files or directories of *.yaml
	// and *.yml files, relative to the configuration file's directory. The
	// loader (package config) reads them and appends one product to Products
	// for each contract (package odcs says how).
	Contracts []string `yaml:"contracts"`
}

// Cluster is the Kafka cluster the products live on, as the model knows
// it: by the name that alerts, metrics and chargeback give it. How the
// agent reaches it (the other keys of cluster:) is package config's.
type Cluster struct {
	// Name labels the cluster in messages and context (default "kafka").
	Name string `yaml:"name"`
}

// Budget bounds what the agent reads of one product.
type Budget struct {
	MaxRecordsPerSecond float64 `yaml:"max_records_per_second"`
	MaxBytesPerSecond   float64 `yaml:"max_bytes_per_second"`
}

// Owner is a team that owns data products or consumes them.
type Owner struct {
	SlackChannel string `yaml:"slack_channel"`
	Mention      string `yaml:"mention"`
	// Subscribe, when false, keeps the team's channel out of the notices
	// about the products it consumes (their incidents, deprecations and
	// schema changes); nil or true: the team hears of them. Its own
	// groups' lag alerts still reach it.
	Subscribe *bool `yaml:"subscribe"`
	// Groups are regular expressions over consumer group IDs: a group
	// that no product declares an owner for and whose ID matches one
	// belongs to the team, marked inferred (package lineage).
	Groups []string `yaml:"groups"`
	// Clients are regular expressions over the client IDs of a group's
	// members: an undeclared group with a member whose client ID matches
	// one belongs to the team, marked inferred.
	Clients []string `yaml:"clients"`

	// Contract is the ODCS file whose team made the owner, because
	// config.yaml does not declare it; "" for an owner of config.yaml.
	Contract string `yaml:"-"`
}

// Product is a data product: topics owned by a domain team, with promises.
type Product struct {
	Name        string          `yaml:"name"`
	Domain      string          `yaml:"domain"`
	Owner       string          `yaml:"owner"`
	Tier        int             `yaml:"tier"` // 1 pages, 2 business hours, 3 best effort; default 2
	Description string          `yaml:"description"`
	Topics      []TopicSelector `yaml:"topics"`
	Format      string          `yaml:"format"` // json | avro | protobuf | raw; default raw
	EventTime   EventTime       `yaml:"event_time"`
	Sampling    Budget          `yaml:"sampling"` // zero fields take collector.budget
	SLOs        []SLO           `yaml:"slos"`
	Quality     Quality         `yaml:"quality"`
	// DLQTopics are the product's dead-letter topics: records there count
	// against validity.
	DLQTopics []string   `yaml:"dlq_topics"`
	Consumers []Consumer `yaml:"consumers"`
	// Inputs are the products this one is made from (its upstream): each
	// names another product of the configuration. Package lineage draws
	// them as "feeds" edges.
	Inputs []string    `yaml:"inputs"`
	Cost   ProductCost `yaml:"cost"`
	// NotifyConsumers, when false, tells no consuming team of the
	// product's incidents and changes; nil or true: each consuming team
	// with a channel hears of them.
	NotifyConsumers *bool `yaml:"notify_consumers"`
	// Version is the product's (its contract's) version, e.g. "1.2.0"; an
	// ODCS contract's version maps to it.
	Version string `yaml:"version"`
	// Kind is what the topics hold: KindEvents (default: a stream of
	// events, cleanup.policy delete) or KindState (the latest value per
	// key, cleanup.policy compact).
	Kind string `yaml:"kind"`
	// ReplayWindow is how far back the product promises its consumers can
	// re-read; the topics' retention must cover it. 0: no promise.
	ReplayWindow Duration `yaml:"replay_window"`
	// PII lists the fields that hold personal data (dotted paths, as
	// quality.required); an ODCS property classified or tagged pii maps
	// here.
	PII []string `yaml:"pii"`
	// Deprecated marks a product on its way out: its consumers are told
	// once when it is set and again before the sunset.
	Deprecated *Deprecation `yaml:"deprecated"`

	// Contract is the ODCS file the product was read from, "" for config.yaml.
	Contract string `yaml:"-"`
}

// Kinds of product (Product.Kind).
const (
	KindEvents = "events" // a stream of events: cleanup.policy delete
	KindState  = "state"  // the latest value per key: cleanup.policy compact
)

// Deprecation says when a product goes away and what replaces it.
type Deprecation struct {
	// Sunset is the day the product stops, YYYY-MM-DD (UTC).
	Sunset string `yaml:"sunset"`
	// Replacement is the product its consumers should move to; "" for none.
	Replacement string `yaml:"replacement"`
}

// SunsetDate is the sunset as a time (midnight UTC); ok is false when it
// is not a valid YYYY-MM-DD date.
func (d *Deprecation) SunsetDate() (t time.Time, ok bool) {
	t, err := time.Parse(time.DateOnly, d.Sunset)
	return t, err == nil
}

// UsesRegistry reports whether the product's values are read through the
// schema registry: Avro or Protobuf in the Confluent wire format.
func (p *Product) UsesRegistry() bool { return p.Format == FormatAvro || p.Format == FormatProtobuf }

// ValueSubject is the schema registry subject of a topic's values
// (TopicNameStrategy): <topic>-value.
func ValueSubject(topic string) string { return topic + "-value" }

// KeySubject is the schema registry subject of a topic's keys: <topic>-key.
func KeySubject(topic string) string { return topic + "-key" }

// Notifies reports whether the product's consumers hear of its incidents
// and changes (NotifyConsumers unset or true).
func (p *Product) Notifies() bool { return p.NotifyConsumers == nil || *p.NotifyConsumers }

// Subscribed reports whether the team hears of the products it consumes
// (Subscribe unset or true).
func (o *Owner) Subscribed() bool { return o.Subscribe == nil || *o.Subscribe }

// ProductCost holds a product's chargeback settings.
type ProductCost struct {
	CostCenter string `yaml:"cost_center"`
}

// Consumer is a consumer group declared as a consumer of a product, with the
// team that owns it.
type Consumer struct {
	Group string `yaml:"group"`
	Owner string `yaml:"owner"`
}

// Audience is a team that depends on a product and hears of it: of its
// incidents (package alert) and of its deprecation and schema changes
// (package notice). Package lineage finds them in the mesh's graph.
type Audience struct {
	Team    string `json:"team"`
	Channel string `json:"channel"`
	// Groups are the team's consumer groups that read the product
	// (declared, observed, or inferred to be the team's).
	Groups []string `json:"groups,omitempty"`
	// Products are the team's products that the product feeds, directly
	// or through other products (declared inputs).
	Products []string `json:"products,omitempty"`
}

// Affected lists what the audience has at stake, for a message: "group
// fraud-detector; product payments.fraud.scored".
func (a Audience) Affected() string {
	var parts []string
	if len(a.Groups) > 0 {
		parts = append(parts, plural(len(a.Groups), "group", "groups")+" "+strings.Join(a.Groups, ", "))
	}
	if len(a.Products) > 0 {
		parts = append(parts, plural(len(a.Products), "product", "products")+" "+strings.Join(a.Products, ", "))
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// UnknownOwner is the owner of a consumer group no product declares.
const UnknownOwner = "unknown"

// ConsumerOwner returns the owner of group as declared under consumers, or
// UnknownOwner.
func (p *Product) ConsumerOwner(group string) string {
	for _, c := range p.Consumers {
		if c.Group == group {
			if c.Owner == "" {
				return UnknownOwner
			}
			return c.Owner
		}
	}
	return UnknownOwner
}

// Quality holds the rules a product's records are checked against.
type Quality struct {
	// Required lists fields that must be present and non-null; dots
	// separate nested keys (customer.id).
	Required []string `yaml:"required"`
	// Rules are CEL expressions over message, key, headers, timestamp,
	// topic, partition and offset that must hold for every record.
	Rules    []Rule    `yaml:"rules"`
	Sequence *Sequence `yaml:"sequence"`
	Volume   *Volume   `yaml:"volume"`
}

// Rule is one validity rule: a CEL expression that must be true.
type Rule struct {
	Name string `yaml:"name"` // a metric label: lowercase letters, digits and _
	Expr string `yaml:"expr"`
	// Source is where the rule was declared when it came from a contract or
	// a schema registry ruleset; empty for config.yaml.
	Source string `yaml:"-"`
}

// Sequence detects gaps and duplicates in a per-producer sequence number.
type Sequence struct {
	Field string `yaml:"field"` // the sequence number
	Key   string `yaml:"key"`   // the producer's id; empty means one sequence per partition
	// MaxKeys bounds the producers tracked; the idlest are evicted (default 100000).
	MaxKeys int `yaml:"max_keys"`
}

// Volume is the least traffic a product promises.
type Volume struct {
	MinPerMinute float64 `yaml:"min_per_minute"`
}

// Formats of a product's record values.
const (
	FormatRaw      = "raw"
	FormatJSON     = "json"
	FormatAvro     = "avro"
	FormatProtobuf = "protobuf"
)

// TopicSelector names one topic, or every topic whose name matches Pattern.
// In YAML it is either a plain string or {pattern: "^regex$"}.
type TopicSelector struct {
	Name    string `yaml:"name"`
	Pattern string `yaml:"pattern"`

	re *regexp.Regexp // compiled by Validate
}

// Matches reports whether the selector selects topic. It is valid only after
// Config.Validate succeeded.
func (s TopicSelector) Matches(topic string) bool {
	if s.Pattern != "" {
		return s.re != nil && s.re.MatchString(topic)
	}
	return s.Name == topic
}

// Event-time sources.
const (
	EventTimeRecord = "record" // the record timestamp (CreateTime or LogAppendTime)
	EventTimeHeader = "header"
	EventTimeField  = "field"
)

// Event-time formats of a header or field value.
const (
	TimeFormatAuto    = "auto" // RFC 3339 text, or a Unix number whose unit is told by its magnitude
	TimeFormatRFC3339 = "rfc3339"
	TimeFormatUnixS   = "unix_s"
	TimeFormatUnixMs  = "unix_ms"
	TimeFormatUnixUs  = "unix_us"
	TimeFormatUnixNs  = "unix_ns"
)

// EventTime says where a record's event time is read: the record timestamp
// (default, {record: timestamp}), a header ({header: x-event-time}) or a JSON
// payload field ({field: meta.placed_at}, dots separate nested keys).
//
// MaxClockSkew bounds how far an event time may lie from the agent's clock
// (default collector.max_clock_skew): a record whose event time is further
// in the future, or whose latency is longer, is counted as clock skew and
// kept out of the latency histograms (package collector says what else).
type EventTime struct {
	Record string `yaml:"record"`
	Header string `yaml:"header"`
	// Field is a dotted path into the record's value, of a JSON, Avro or
	// Protobuf product.
	Field        string   `yaml:"field"`
	Format       string   `yaml:"format"` // for header and field; default auto
	MaxClockSkew Duration `yaml:"max_clock_skew"`
	// Fallback is what a record whose header or field is missing or
	// unreadable is measured with: EventTimeFallbackRecordTimestamp (the
	// default) or EventTimeFallbackSkip.
	Fallback string `yaml:"fallback"`
}

// Values of EventTime.Fallback.
const (
	// EventTimeFallbackRecordTimestamp: the record timestamp stands in for
	// an event time that cannot be read.
	EventTimeFallbackRecordTimestamp = "record_timestamp"
	// EventTimeFallbackSkip: such a record gives no latency; it still counts
	// for freshness at its record timestamp.
	EventTimeFallbackSkip = "skip"
)

// Source returns which of record, header or field the event time comes from.
func (e EventTime) Source() string {
	switch {
	case e.Header != "":
		return EventTimeHeader
	case e.Field != "":
		return EventTimeField
	default:
		return EventTimeRecord
	}
}

// SLI kinds. DESIGN.md defines what a good and a valid event is for each.
const (
	SLILatency      = "latency"
	SLIFreshness    = "freshness"
	SLIAvailability = "availability"
	SLICompleteness = "completeness"
	SLIValidity     = "validity"
	SLILag          = "lag"
	SLIVolume       = "volume"
)

// SLO is a promise: good/valid ≥ Objective over Window.
type SLO struct {
	Name          string   `yaml:"name"`
	SLI           string   `yaml:"sli"`
	Threshold     Duration `yaml:"threshold"` // latency, freshness, lag
	Objective     Percent  `yaml:"objective"`
	Window        string   `yaml:"window"` // "28d" (default), any "Nd", or "month"
	ConsumerGroup string   `yaml:"consumer_group"`
	MinEvents     int      `yaml:"min_events"`
	// TimeZone is the IANA zone whose calendar a window: month follows
	// (default UTC): the budget resets at midnight on the 1st there.
	TimeZone string `yaml:"time_zone"`
}

// Duration is a time.Duration that also accepts days ("28d") in YAML.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Percent is a ratio in [0, 1], written in YAML as "99.9%" or 0.999.
type Percent float64
