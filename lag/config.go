package lag

import (
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Config is the lag: section, the settings of the consumer-lag monitor.
type Config struct {
	// Interval is the time between two passes over every product's groups
	// (default collector.tick).
	Interval meshwatch.Duration `yaml:"interval"`
	// ExactFetches bounds the records read per pass to measure time lag
	// exactly; lagging partitions beyond it are interpolated (default 10000
	// when unset; 0 interpolates every time lag). Read it with Exact.
	ExactFetches *int `yaml:"exact_fetches"`
	// Passes is how many consecutive passes a new status must hold before it
	// is reported (default 3).
	Passes int `yaml:"passes"`
	// KafkaLagExporterMetrics also exports lag under kafka-lag-exporter's
	// metric names and labels (default true).
	KafkaLagExporterMetrics *bool `yaml:"kafka_lag_exporter_metrics"`
}

// Defaults of the lag: section; the interval defaults to collector.tick.
const (
	DefaultExactFetches = 10000
	DefaultPasses       = 3
)

// Exact returns lag.exact_fetches: the default when unset, and 0 when set
// to 0 (interpolate everything), which a plain int could not tell apart.
func (c Config) Exact() int {
	if c.ExactFetches == nil {
		return DefaultExactFetches
	}
	return *c.ExactFetches
}

// LagExporterMetrics reports whether kafka-lag-exporter's names are exported.
func (c Config) LagExporterMetrics() bool {
	return c.KafkaLagExporterMetrics == nil || *c.KafkaLagExporterMetrics
}

// SetDefaults fills every setting left at zero with its default; tick is
// collector.tick, the default interval.
func (c *Config) SetDefaults(tick meshwatch.Duration) {
	if c.Interval == 0 {
		c.Interval = tick
	}
	if c.ExactFetches == nil {
		n := DefaultExactFetches
		c.ExactFetches = &n
	}
	if c.Passes == 0 {
		c.Passes = DefaultPasses
	}
}

// Validate checks the section after SetDefaults(tick); its problems have
// paths under "lag" for the loader to place.
func (c Config) Validate(tick meshwatch.Duration) meshwatch.Problems {
	var ps meshwatch.Problems
	errf := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	// An interval taken from collector.tick is reported there.
	if c.Interval < meshwatch.Duration(time.Second) && c.Interval != tick {
		errf("lag.interval", "must be at least 1s, got %s", c.Interval)
	}
	if c.Exact() < 0 {
		errf("lag.exact_fetches", "must be >= 0 (0 interpolates every time lag), got %d", c.Exact())
	}
	if c.Passes < 1 || c.Passes > 100 {
		errf("lag.passes", "must be from 1 to 100 consecutive passes, got %d", c.Passes)
	}
	return ps
}
