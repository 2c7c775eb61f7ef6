package meshwatch

import "time"

// Defaults that SetDefaults fills in.
const (
	defaultNaming           = NamingWarn
	defaultClusterName      = "kafka"
	defaultClientID         = "meshwatch"
	defaultListen           = ":9477"
	defaultTick             = Duration(10 * time.Second)
	defaultDiscovery        = Duration(time.Minute)
	defaultRecordsPerSecond = 1000
	defaultBytesPerSecond   = 1 << 20
	defaultTier             = 2
	defaultFormat           = FormatRaw
	defaultEventTimeRecord  = "timestamp"
	defaultEventTimeFormat  = TimeFormatAuto
	defaultWindow           = "28d"
	defaultExactFetches     = 10000
	defaultLagPasses        = 3
	defaultStateDir         = "meshwatch-state"
	defaultStateTopic       = "__meshwatch_state"
	defaultStateFlush       = Duration(30 * time.Second)
	defaultSequenceMaxKeys  = 100000
)

// DefaultMaxClockSkew is the default of collector.max_clock_skew. An hour
// is the top of the latency histograms' range (a latency beyond it reads
// as an hour there anyway), far beyond any streaming latency objective,
// and the bound on future event times the agent has always had; clocks
// that NTP keeps are off by milliseconds.
const DefaultMaxClockSkew = Duration(time.Hour)

// SetDefaults fills every setting left at its zero value with its default.
// It never overwrites a value that is set, so it is idempotent. Sampling
// fields left at zero take the collector's budget, and event_time.max_clock_skew
// collector.max_clock_skew, so those get their own defaults first. Not safe for concurrent use with readers of c.
func (c *Config) SetDefaults() {
	setDefault(&c.Naming, defaultNaming)
	setDefault(&c.Cluster.Name, defaultClusterName)
	setDefault(&c.Cluster.ClientID, defaultClientID)
	setDefault(&c.HTTP.Listen, defaultListen)
	setDefault(&c.Collector.Tick, defaultTick)
	setDefault(&c.Collector.Discovery, defaultDiscovery)
	setDefault(&c.Collector.Budget.MaxRecordsPerSecond, defaultRecordsPerSecond)
	setDefault(&c.Collector.Budget.MaxBytesPerSecond, defaultBytesPerSecond)
	setDefault(&c.Collector.MaxClockSkew, DefaultMaxClockSkew)
	setDefault(&c.Lag.Interval, c.Collector.Tick)
	setDefault(&c.Lag.ExactFetches, defaultExactFetches)
	setDefault(&c.Lag.Passes, defaultLagPasses)
	setDefault(&c.State.Backend, StateDir)
	setDefault(&c.State.Dir, defaultStateDir)
	setDefault(&c.State.Topic, defaultStateTopic)
	setDefault(&c.State.Flush, defaultStateFlush)
	if p := c.Push; p != nil {
		setDefault(&p.Interval, Duration(15*time.Second))
	}
	if s := c.Sharding; s != nil {
		setDefault(&s.Group, "meshwatch")
		setDefault(&s.Topic, "__meshwatch_shards")
		setDefault(&s.Partitions, 12)
		setDefault(&s.SessionTimeout, Duration(10*time.Second))
	}
	for i := range c.Products {
		p := &c.Products[i]
		setDefault(&p.Tier, defaultTier)
		setDefault(&p.Format, defaultFormat)
		if p.EventTime.Record == "" && p.EventTime.Header == "" && p.EventTime.Field == "" {
			p.EventTime.Record = defaultEventTimeRecord
		}
		setDefault(&p.EventTime.Format, defaultEventTimeFormat)
		setDefault(&p.EventTime.MaxClockSkew, c.Collector.MaxClockSkew)
		setDefault(&p.Sampling.MaxRecordsPerSecond, c.Collector.Budget.MaxRecordsPerSecond)
		setDefault(&p.Sampling.MaxBytesPerSecond, c.Collector.Budget.MaxBytesPerSecond)
		for j := range p.SLOs {
			setDefault(&p.SLOs[j].Window, defaultWindow)
		}
		if q := p.Quality.Sequence; q != nil {
			setDefault(&q.MaxKeys, defaultSequenceMaxKeys)
		}
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
