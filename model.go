package meshwatch

import (
	"regexp"
	"time"
)

// Config is the whole agent configuration, as read from config.yaml.
type Config struct {
	// Naming sets how product names are linted against <domain>.<entity>.<event>:
	// "warn" (default) reports a warning, "strict" an error, "off" nothing.
	Naming    string    `yaml:"naming"`
	Cluster   Cluster   `yaml:"cluster"`
	HTTP      HTTP      `yaml:"http"`
	Collector Collector `yaml:"collector"`
	Lag       Lag       `yaml:"lag"`
	// SchemaRegistry is the Confluent-compatible schema registry that avro
	// and protobuf products are decoded with.
	SchemaRegistry *SchemaRegistry  `yaml:"schema_registry"`
	State          State            `yaml:"state"`
	Push           *Push            `yaml:"push"`
	Sharding       *Sharding        `yaml:"sharding"`
	Products       []Product        `yaml:"products"`
	Owners         map[string]Owner `yaml:"owners"`
	// Contracts are ODCS v3 data contracts, files or directories of *.yaml
	// and *.yml files, relative to the configuration file's directory. The
	// loader (package config) reads them and appends one product to Products
	// for each contract (package odcs says how).
	Contracts []string `yaml:"contracts"`

	positions map[string]Position // set by the loader: path → position of its value
}

// SetPositions records where each setting is in the configuration file, by
// its path, for Position. It is for the loader (package config), which
// calls it once it has decoded c; positions must not change afterwards.
func (c *Config) SetPositions(positions map[string]Position) {
	c.positions = positions
}

// Position returns where the setting at path (e.g. "products[0].quality.rules[1].expr")
// is in the configuration file, or the nearest enclosing setting that is.
// Packages that check a product further (CEL rules, say) report with it.
func (c *Config) Position(path string) Position {
	for {
		if pos, ok := c.positions[path]; ok {
			return pos
		}
		if path == "" {
			return Position{}
		}
		path = ParentPath(path)
	}
}

// Lag configures the consumer-lag monitor.
type Lag struct {
	// Interval is the time between two passes over every product's groups
	// (default 10s, the collector tick).
	Interval Duration `yaml:"interval"`
	// ExactFetches bounds the records read per pass to measure time lag
	// exactly; lagging partitions beyond it are interpolated (default 10000).
	ExactFetches int `yaml:"exact_fetches"`
	// Passes is how many consecutive passes a new status must hold before it
	// is reported (default 3).
	Passes int `yaml:"passes"`
	// KafkaLagExporterMetrics also exports lag under kafka-lag-exporter's
	// metric names and labels (default true).
	KafkaLagExporterMetrics *bool `yaml:"kafka_lag_exporter_metrics"`
}

// LagExporterMetrics reports whether kafka-lag-exporter's names are exported.
func (l Lag) LagExporterMetrics() bool {
	return l.KafkaLagExporterMetrics == nil || *l.KafkaLagExporterMetrics
}

// SchemaRegistry says how to reach a Confluent-compatible schema registry.
// Username and Password are basic auth; Token is a bearer token.
type SchemaRegistry struct {
	URL          string `yaml:"url"`
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	Token        Secret `yaml:"token"`
	TokenFile    string `yaml:"token_file"`
	TLS          *TLS   `yaml:"tls"`
}

// State backends.
const (
	StateDir   = "dir"
	StateKafka = "kafka"
)

// State says where SLO budgets, the alert outbox and the cost ledger are kept.
type State struct {
	Backend string   `yaml:"backend"` // dir (default) | kafka
	Dir     string   `yaml:"dir"`     // default ./meshwatch-state
	Topic   string   `yaml:"topic"`   // default __meshwatch_state
	Flush   Duration `yaml:"flush"`   // how often state is written (default 30s)
}

// Cluster says how to reach the Kafka cluster the products live on.
type Cluster struct {
	// Name labels the cluster in messages and context (default "kafka").
	Name     string   `yaml:"name"`
	Brokers  []string `yaml:"brokers"`
	ClientID string   `yaml:"client_id"` // default "meshwatch"
	TLS      *TLS     `yaml:"tls"`
	SASL     *SASL    `yaml:"sasl"`
}

// TLS configures TLS to the brokers. An empty CAFile means the system roots.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL mechanisms meshwatch speaks.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	SASLOAuthBearer = "OAUTHBEARER"
)

// SASL configures SASL authentication. Password and Token may be given inline
// (usually as ${ENV}) or read from PasswordFile / TokenFile at load time.
type SASL struct {
	Mechanism    string `yaml:"mechanism"`
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	Token        Secret `yaml:"token"` // OAUTHBEARER
	TokenFile    string `yaml:"token_file"`
}

// HTTP configures the agent's HTTP server (/metrics, /healthz, /readyz and
// the API). TLS and basic authentication come from the web configuration
// file (the web: section, owned by cmd/meshwatch).
type HTTP struct {
	Listen string `yaml:"listen"` // default ":9477"
	// APITokenFile holds the bearer tokens that may change the agent's
	// state (silences), one per line, optionally after a name:
	// "ci-bot 9f3c…". Relative to the configuration file's directory.
	// Without it, and without basic_auth_users in the web configuration,
	// writes are refused.
	APITokenFile string `yaml:"api_token_file"`
}

// Collector holds agent-wide collection settings.
type Collector struct {
	// Tick is the evaluation interval of freshness, availability, throughput
	// and the SLI ticks (default 10s).
	Tick Duration `yaml:"tick"`
	// Discovery is how often topic names and patterns are resolved again
	// (default 1m).
	Discovery Duration `yaml:"discovery"`
	// Budget is the default sampling budget of a product (default 1000 records/s,
	// 1 MiB/s).
	Budget Budget `yaml:"budget"`
	// MaxClockSkew is the default of a product's event_time.max_clock_skew
	// (default 1h): how far from the agent's clock an event time may lie
	// before the record counts as clock skew and stays out of the latency
	// histograms.
	MaxClockSkew Duration `yaml:"max_clock_skew"`
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
	DLQTopics []string    `yaml:"dlq_topics"`
	Consumers []Consumer  `yaml:"consumers"`
	Cost      ProductCost `yaml:"cost"`

	// Contract is the ODCS file the product was read from, "" for config.yaml.
	Contract string `yaml:"-"`
}

// ProductCost holds a product's chargeback settings.
type ProductCost struct {
	CostCenter string `yaml:"cost_center"`
}

// Push sends every metric to a VictoriaMetrics or Prometheus text-import
// endpoint, for agents nobody scrapes (a sidecar, say).
type Push struct {
	// URL is the import endpoint, e.g.
	// http://victoria-metrics:8428/api/v1/import/prometheus.
	URL      string            `yaml:"url"`
	Interval Duration          `yaml:"interval"` // default 15s
	Labels   map[string]string `yaml:"labels"`   // added to every series, e.g. {instance: pod-1}
	Token    Secret            `yaml:"token"`    // bearer token, optional
}

// Sharding spreads the products over several agents through Kafka group
// membership: agents join Group on Topic (Partitions partitions), and the
// agent that owns partition hash(product) mod Partitions monitors it. It
// needs the kafka state backend, from which a new owner reads a product's
// state.
type Sharding struct {
	Group      string `yaml:"group"`      // default meshwatch
	Topic      string `yaml:"topic"`      // default __meshwatch_shards
	Partitions int    `yaml:"partitions"` // default 12
	// SessionTimeout is how long the group waits for an agent that stopped
	// heartbeating before its products move to the others (default 10s).
	SessionTimeout Duration `yaml:"session_timeout"`
	// InstanceID makes the agent a static group member (KIP-345), so a
	// restart within the session timeout keeps its products without a
	// rebalance; it must be unique per agent, e.g. the pod name. Optional.
	InstanceID string `yaml:"instance_id"`
}

// Consumer is a consumer group declared as a consumer of a product, with the
// team that owns it.
type Consumer struct {
	Group string `yaml:"group"`
	Owner string `yaml:"owner"`
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
	Record       string   `yaml:"record"`
	Header       string   `yaml:"header"`
	Field        string   `yaml:"field"`
	Format       string   `yaml:"format"` // for header and field; default auto
	MaxClockSkew Duration `yaml:"max_clock_skew"`
}

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
