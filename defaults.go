package meshwatch

import "time"

// Defaults that SetDefaults fills in.
const (
	defaultNaming          = NamingWarn
	defaultClusterName     = "kafka"
	defaultTier            = 2
	defaultFormat          = FormatRaw
	defaultEventTimeRecord = "timestamp"
	defaultEventTimeFormat = TimeFormatAuto
	defaultWindow          = "28d"
	defaultSequenceMaxKeys = 100000
)

// DefaultBudget is the default of collector.budget, and so of a product's
// sampling: 1000 records/s and 1 MiB/s.
var DefaultBudget = Budget{MaxRecordsPerSecond: 1000, MaxBytesPerSecond: 1 << 20}

// DefaultMaxClockSkew is the default of collector.max_clock_skew. An hour
// is the top of the latency histograms' range (a latency beyond it reads
// as an hour there anyway), far beyond any streaming latency objective,
// and the bound on future event times the agent has always had; clocks
// that NTP keeps are off by milliseconds.
const DefaultMaxClockSkew = Duration(time.Hour)

// ProductDefaults are the defaults of the product settings that a section
// outside the model sets: the collector: section's budget for sampling,
// and its max_clock_skew for event_time.max_clock_skew.
type ProductDefaults struct {
	Sampling     Budget
	MaxClockSkew Duration
}

// SetDefaults is SetDefaultsWith the defaults of an empty collector:
// section (DefaultBudget, DefaultMaxClockSkew).
func (c *Config) SetDefaults() { c.SetDefaultsWith(ProductDefaults{}) }

// SetDefaultsWith fills every setting of the model left at its zero value
// with its default. A product's sampling fields and max_clock_skew left at
// zero take d's, and d's fields left at zero DefaultBudget's and
// DefaultMaxClockSkew. It never overwrites a value that is set, so it is
// idempotent. Not safe for concurrent use with readers of c.
func (c *Config) SetDefaultsWith(d ProductDefaults) {
	setDefault(&d.Sampling.MaxRecordsPerSecond, DefaultBudget.MaxRecordsPerSecond)
	setDefault(&d.Sampling.MaxBytesPerSecond, DefaultBudget.MaxBytesPerSecond)
	setDefault(&d.MaxClockSkew, DefaultMaxClockSkew)
	setDefault(&c.Naming, defaultNaming)
	setDefault(&c.Cluster.Name, defaultClusterName)
	for i := range c.Products {
		p := &c.Products[i]
		setDefault(&p.Tier, defaultTier)
		setDefault(&p.Format, defaultFormat)
		setDefault(&p.Kind, KindEvents)
		if p.EventTime.Record == "" && p.EventTime.Header == "" && p.EventTime.Field == "" {
			p.EventTime.Record = defaultEventTimeRecord
		}
		setDefault(&p.EventTime.Format, defaultEventTimeFormat)
		setDefault(&p.EventTime.MaxClockSkew, d.MaxClockSkew)
		setDefault(&p.EventTime.Fallback, EventTimeFallbackRecordTimestamp)
		setDefault(&p.Sampling.MaxRecordsPerSecond, d.Sampling.MaxRecordsPerSecond)
		setDefault(&p.Sampling.MaxBytesPerSecond, d.Sampling.MaxBytesPerSecond)
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
