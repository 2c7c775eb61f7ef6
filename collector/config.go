package collector

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Config is the collector: section, agent-wide collection settings.
type Config struct {
	// Tick is the evaluation interval of freshness, availability, throughput
	// and the SLI ticks (default 10s).
	Tick meshwatch.Duration `yaml:"tick"`
	// Discovery is how often topic names and patterns are resolved again
	// (default 1m).
	Discovery meshwatch.Duration `yaml:"discovery"`
	// Budget is the default sampling budget of a product (default 1000
	// records/s, 1 MiB/s): a product's sampling fields left at zero take it.
	Budget meshwatch.Budget `yaml:"budget"`
	// MaxClockSkew is the default of a product's event_time.max_clock_skew
	// (default meshwatch.DefaultMaxClockSkew, 1h): how far from the agent's
	// clock an event time may lie before the record counts as clock skew and
	// stays out of the latency histograms.
	MaxClockSkew meshwatch.Duration `yaml:"max_clock_skew"`
}

// Defaults of the collector: section.
const (
	DefaultTick      = meshwatch.Duration(10 * time.Second)
	DefaultDiscovery = meshwatch.Duration(time.Minute)
)

// SetDefaults fills every setting left at zero with its default.
func (c *Config) SetDefaults() {
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
	if c.Discovery == 0 {
		c.Discovery = DefaultDiscovery
	}
	if c.Budget.MaxRecordsPerSecond == 0 {
		c.Budget.MaxRecordsPerSecond = meshwatch.DefaultBudget.MaxRecordsPerSecond
	}
	if c.Budget.MaxBytesPerSecond == 0 {
		c.Budget.MaxBytesPerSecond = meshwatch.DefaultBudget.MaxBytesPerSecond
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = meshwatch.DefaultMaxClockSkew
	}
}

// ProductDefaults are the defaults the section sets for every product's
// sampling and event_time.max_clock_skew (meshwatch.Config.SetDefaultsWith).
func (c Config) ProductDefaults() meshwatch.ProductDefaults {
	return meshwatch.ProductDefaults{Sampling: c.Budget, MaxClockSkew: c.MaxClockSkew}
}

// Validate checks the section after SetDefaults; its problems have paths
// under "collector" for the loader to place.
func (c Config) Validate() meshwatch.Problems {
	var ps meshwatch.Problems
	errf := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Tick < meshwatch.Duration(time.Second) {
		errf("collector.tick", "must be at least 1s, got %s", c.Tick)
	}
	if c.Discovery < c.Tick {
		errf("collector.discovery", "must be at least collector.tick (%s), got %s", c.Tick, c.Discovery)
	}
	for _, r := range []struct {
		path string
		v    float64
	}{
		{"collector.budget.max_records_per_second", c.Budget.MaxRecordsPerSecond},
		{"collector.budget.max_bytes_per_second", c.Budget.MaxBytesPerSecond},
	} {
		switch {
		case math.IsNaN(r.v) || math.IsInf(r.v, 0):
			errf(r.path, "must be a finite number, got %v", r.v)
		case r.v <= 0:
			errf(r.path, "must be > 0, got %s", strconv.FormatFloat(r.v, 'g', -1, 64))
		}
	}
	if c.MaxClockSkew < meshwatch.Duration(time.Second) {
		errf("collector.max_clock_skew", "must be at least 1s (how far an event time may lie from the agent's clock, e.g. 1h), got %s", c.MaxClockSkew)
	}
	return ps
}
