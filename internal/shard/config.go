package shard

import (
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/state"
)

// Config is the sharding: section. It spreads the products over several
// agents through Kafka group membership: agents join Group on Topic
// (Partitions partitions), and the agent that owns partition Of(product,
// Partitions) monitors it. It needs the kafka state backend, from which a
// new owner reads a product's state.
type Config struct {
	Group      string `yaml:"group"`      // default meshwatch
	Topic      string `yaml:"topic"`      // default __meshwatch_shards
	Partitions int    `yaml:"partitions"` // default 12
	// SessionTimeout is how long the group waits for an agent that stopped
	// heartbeating before its products move to the others (default 10s).
	SessionTimeout meshwatch.Duration `yaml:"session_timeout"`
	// InstanceID makes the agent a static group member (KIP-345), so a
	// restart within the session timeout keeps its products without a
	// rebalance; it must be unique per agent, e.g. the pod name. Optional.
	InstanceID string `yaml:"instance_id"`
}

// SetDefaults fills every setting left at zero with its default.
func (c *Config) SetDefaults() {
	if c.Group == "" {
		c.Group = "meshwatch"
	}
	if c.Topic == "" {
		c.Topic = "__meshwatch_shards"
	}
	if c.Partitions == 0 {
		c.Partitions = 12
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = meshwatch.Duration(10 * time.Second)
	}
}

// Validate checks the section after SetDefaults; stateBackend is
// state.backend, which must be kafka. Its problems have paths under
// "sharding" for the loader to place. A nil Config has no problem.
func (c *Config) Validate(stateBackend string) meshwatch.Problems {
	if c == nil {
		return nil
	}
	var ps meshwatch.Problems
	errf := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if stateBackend != state.BackendKafka {
		errf("sharding", "needs state.backend: kafka, so that the agent that takes a product over reads its budgets and incidents; got state.backend: %s", stateBackend)
	}
	if c.Group == "" {
		errf("sharding.group", "must name the consumer group the agents share")
	}
	if c.SessionTimeout < meshwatch.Duration(time.Second) || c.SessionTimeout > meshwatch.Duration(5*time.Minute) {
		errf("sharding.session_timeout", "must be from 1s to 5m, got %s", c.SessionTimeout)
	}
	if !state.IsTopicName(c.Topic) {
		errf("sharding.topic", "must be a Kafka topic name, got %s", meshwatch.Quote(c.Topic))
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		errf("sharding.partitions", "must be from 1 to 1000, got %d", c.Partitions)
	}
	return ps
}

// Options returns the Options of Join for the section, without Logger and
// OnChange.
func (c *Config) Options() Options {
	return Options{Group: c.Group, Topic: c.Topic, Partitions: c.Partitions, SessionTimeout: c.SessionTimeout.Std(), InstanceID: c.InstanceID}
}
