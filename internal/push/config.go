package push

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/secretfmt"
	"github.com/meshwatch/meshwatch/internal/urls"
)

// Config is the push: section. It sends every metric to a VictoriaMetrics or
// Prometheus text-import endpoint, for agents nobody scrapes (a sidecar,
// say).
type Config struct {
	// URL is the import endpoint, e.g.
	// http://victoria-metrics:8428/api/v1/import/prometheus.
	URL      string             `yaml:"url"`
	Interval meshwatch.Duration `yaml:"interval"` // default 15s
	Labels   map[string]string  `yaml:"labels"`   // added to every series, e.g. {instance: pod-1}
	Token    meshwatch.Secret   `yaml:"token"`    // bearer token, optional
}

// configFields is Config without its methods, to print its fields.
type configFields Config

// Format prints c as fmt prints a pointer to a struct, with the token as
// "<secret>" for every verb (see package secretfmt).
func (c *Config) Format(f fmt.State, verb rune) {
	secretfmt.Format(f, verb, "push.Config", "configFields", (*configFields)(c), c == nil)
}

// DefaultInterval is the default of push.interval.
const DefaultInterval = meshwatch.Duration(15 * time.Second)

// SetDefaults fills every setting left at zero with its default.
func (c *Config) SetDefaults() {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate checks the section after SetDefaults; its problems have paths
// under "push" for the loader to place. A nil Config has no problem.
func (c *Config) Validate() meshwatch.Problems {
	if c == nil {
		return nil
	}
	var ps meshwatch.Problems
	errf := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if !urls.IsHTTP(c.URL) {
		errf("push.url", "must be an http(s) URL of a text-import endpoint like http://victoria-metrics:8428/api/v1/import/prometheus, got %s", meshwatch.Quote(c.URL))
	} else if urls.HasCredentials(c.URL) {
		errf("push.url", "must not hold credentials; use push.token")
	}
	if c.Interval < meshwatch.Duration(time.Second) {
		errf("push.interval", "must be at least 1s, got %s", c.Interval)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			errf(meshwatch.JoinPath("push.labels", k), "must be a Prometheus label name (letters, digits, _; not starting with __), got %s", meshwatch.Quote(k))
		}
	}
	return ps
}
