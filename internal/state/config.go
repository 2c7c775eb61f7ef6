package state

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Backends of the state: section.
const (
	BackendDir   = "dir"
	BackendKafka = "kafka"
)

// Config is the state: section: where SLO budgets, the alert outbox and the
// cost ledger are kept.
type Config struct {
	Backend string             `yaml:"backend"` // dir (default) | kafka
	Dir     string             `yaml:"dir"`     // default ./meshwatch-state
	Topic   string             `yaml:"topic"`   // default __meshwatch_state
	Flush   meshwatch.Duration `yaml:"flush"`   // how often state is written (default 30s)
}

// Defaults of the state: section (and DefaultTopic).
const (
	DefaultDir   = "meshwatch-state"
	DefaultFlush = meshwatch.Duration(30 * time.Second)
)

// SetDefaults fills every setting left at zero with its default.
func (c *Config) SetDefaults() {
	if c.Backend == "" {
		c.Backend = BackendDir
	}
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Flush == 0 {
		c.Flush = DefaultFlush
	}
}

// topicName is what Kafka accepts as a topic name.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// IsTopicName reports whether s is a valid Kafka topic name.
func IsTopicName(s string) bool { return topicName.MatchString(s) }

// Validate checks the section after SetDefaults; its problems have paths
// under "state" for the loader to place.
func (c Config) Validate() meshwatch.Problems {
	var ps meshwatch.Problems
	errf := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	backends := []string{BackendDir, BackendKafka}
	switch {
	case slices.Contains(backends, c.Backend):
	case c.Backend == "":
		errf("state.backend", "is required; one of %s", strings.Join(backends, ", "))
	default:
		errf("state.backend", "must be one of %s; got %s%s", strings.Join(backends, ", "), meshwatch.Quote(c.Backend), meshwatch.DidYouMean(c.Backend, backends))
	}
	if c.Backend == BackendKafka && !IsTopicName(c.Topic) {
		errf("state.topic", "must be a Kafka topic name (letters, digits, '.', '_', '-'), got %s", meshwatch.Quote(c.Topic))
	}
	if c.Flush < meshwatch.Duration(time.Second) {
		errf("state.flush", "must be at least 1s, got %s", c.Flush)
	}
	return ps
}
