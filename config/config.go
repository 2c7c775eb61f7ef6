package config

import (
	"path/filepath"
	"strings"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/collector"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/push"
	"github.com/meshwatch/meshwatch/internal/shard"
	"github.com/meshwatch/meshwatch/internal/state"
	"github.com/meshwatch/meshwatch/internal/tlsconf"
	"github.com/meshwatch/meshwatch/lag"
	"github.com/meshwatch/meshwatch/policy"
	"github.com/meshwatch/meshwatch/quality"
	"github.com/meshwatch/meshwatch/sla"
)

// Config is the whole configuration of the agent: the data-product model
// (the products, their owners, the cluster's name) and the section of
// config.yaml that each package using it owns. Load reads it; SetDefaults
// and Validate complete and check one built in code as Load does.
type Config struct {
	// Config is the model: naming:, the name of cluster:, products:,
	// owners: and contracts:.
	*meshwatch.Config
	// Kafka is how the agent reaches the cluster: the other keys of
	// cluster: (brokers, client_id, tls, sasl).
	Kafka          Kafka
	HTTP           HTTP                    // http:
	Metrics        Metrics                 // metrics:
	Collector      collector.Config        // collector:
	Lag            lag.Config              // lag:
	SchemaRegistry *quality.RegistryConfig // schema_registry:; nil: none
	State          state.Config            // state:
	Push           *push.Config            // push:; nil: metrics are only scraped
	Sharding       *shard.Config           // sharding:; nil: one agent monitors every product
	Cost           *cost.Config            // cost:; nil: no chargeback
	Alerting       *alert.Config           // alerting:; nil: alerts only on /api/v1/alerts
	Web            *Web                    // web:; nil: plain HTTP, no basic auth
	Policies       *policy.Config          // policies:; nil: no governance policy

	// Dir is the directory of the configuration file, that the relative
	// paths of web: and http.api_token_file are relative to ("" for a
	// configuration built in code: the working directory).
	Dir string

	positions map[string]meshwatch.Position // set by Load: path → position of its value
	// offline is set by Load with Options.Offline: unreadable secrets are
	// warnings, not errors.
	offline bool
}

// Position returns where the setting at path (e.g.
// "products[0].quality.rules[1].expr") is in the configuration file, or
// the nearest enclosing setting that is; the zero Position for a
// configuration built in code. Load places every problem with it.
func (c *Config) Position(path string) meshwatch.Position {
	for {
		if pos, ok := c.positions[path]; ok {
			return pos
		}
		if path == "" {
			return meshwatch.Position{}
		}
		path = meshwatch.ParentPath(path)
	}
}

// ForgetPositions drops where each setting was in the file, after which
// Position finds none. An agent that has loaded and checked its file calls
// it: at 10,000 products the positions (a path and a line:col for every
// value) hold about 45 MB that nothing reads again.
func (c *Config) ForgetPositions() { c.positions = nil }

// file is the shape of config.yaml without the sections that Load decodes
// apart (cost:, alerting:, web:, policies:): its keys in the order problems
// list them.
type file struct {
	Naming         string                     `yaml:"naming"`
	Cluster        cluster                    `yaml:"cluster"`
	HTTP           HTTP                       `yaml:"http"`
	Metrics        Metrics                    `yaml:"metrics"`
	Collector      collector.Config           `yaml:"collector"`
	Lag            lag.Config                 `yaml:"lag"`
	SchemaRegistry *quality.RegistryConfig    `yaml:"schema_registry"`
	State          state.Config               `yaml:"state"`
	Push           *push.Config               `yaml:"push"`
	Sharding       *shard.Config              `yaml:"sharding"`
	Products       []meshwatch.Product        `yaml:"products"`
	Owners         map[string]meshwatch.Owner `yaml:"owners"`
	Contracts      []string                   `yaml:"contracts"`
}

// cluster is the cluster: section: the model's name of the cluster and the
// agent's connection to it.
type cluster struct {
	Name     string       `yaml:"name"`
	Brokers  []string     `yaml:"brokers"`
	ClientID string       `yaml:"client_id"`
	TLS      *tlsconf.TLS `yaml:"tls"`
	SASL     *SASL        `yaml:"sasl"`
}

// fill sets c from the decoded document f.
func (f *file) fill(c *Config) {
	c.Naming, c.Cluster.Name = f.Naming, f.Cluster.Name
	c.Products, c.Owners, c.Contracts = f.Products, f.Owners, f.Contracts
	c.Kafka = Kafka{Brokers: f.Cluster.Brokers, ClientID: f.Cluster.ClientID, TLS: f.Cluster.TLS, SASL: f.Cluster.SASL}
	c.HTTP, c.Metrics, c.Collector, c.Lag, c.SchemaRegistry = f.HTTP, f.Metrics, f.Collector, f.Lag, f.SchemaRegistry
	c.State, c.Push, c.Sharding = f.State, f.Push, f.Sharding
}

// fileOf returns c as the document that YAML writes.
func fileOf(c *Config) file {
	return file{
		Naming: c.Naming,
		Cluster: cluster{
			Name: c.Cluster.Name, Brokers: c.Kafka.Brokers, ClientID: c.Kafka.ClientID,
			TLS: c.Kafka.TLS, SASL: c.Kafka.SASL,
		},
		HTTP: c.HTTP, Metrics: c.Metrics, Collector: c.Collector, Lag: c.Lag, SchemaRegistry: c.SchemaRegistry,
		State: c.State, Push: c.Push, Sharding: c.Sharding,
		Products: c.Products, Owners: c.Owners, Contracts: c.Contracts,
	}
}

// HTTP is the http: section: the agent's HTTP server (/metrics, /healthz,
// /readyz and the API), which cmd/meshwatch runs. TLS and basic
// authentication come from the web configuration file (Web).
type HTTP struct {
	Listen string `yaml:"listen"` // default ":9477"
	// APITokenFile holds the bearer tokens that may change the agent's
	// state (silences), one per line, optionally after a name:
	// "ci-bot 9f3c…". Relative to the configuration file's directory.
	// Without it, and without basic_auth_users in the web configuration,
	// writes are refused.
	APITokenFile string `yaml:"api_token_file"`
}

// DefaultListen is the default of http.listen.
const DefaultListen = ":9477"

// Web is the web: section: the Prometheus exporter-toolkit web
// configuration file (TLS, client certificates, basic auth, headers), as
// exporters read it with --web.config.file.
type Web struct {
	ConfigFile string `yaml:"config_file"`
}

// SetDefaults fills every setting of c left at its zero value with its
// default, the model's and every section's. It never overwrites a value
// that is set.
func (c *Config) SetDefaults() {
	c.Collector.SetDefaults()
	c.SetDefaultsWith(c.Collector.ProductDefaults())
	c.Kafka.setDefaults()
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	c.Metrics.SetDefaults()
	c.Lag.SetDefaults(c.Collector.Tick)
	c.State.SetDefaults()
	if c.Push != nil {
		c.Push.SetDefaults()
	}
	if c.Sharding != nil {
		c.Sharding.SetDefaults()
	}
	if c.Cost != nil {
		c.Cost.SetDefaults()
	}
}

// Validate checks c after SetDefaults as Load does, and returns every
// problem at once with its Path set but no position: the model's, each
// section's, and what packages check of the model (CEL rules, names too
// long for the state store). It reads the files that secure the HTTP
// server (web.config_file, http.api_token_file) and no other.
//
// Problems at the same place come in the order of the document's keys, as
// they always have: the model's naming and cluster, the sections, the
// model's products and owners, then the sections decoded apart (cost,
// alerting, web, policies) and the checks of packages.
func (c *Config) Validate() meshwatch.Problems {
	model := c.Config.Validate()
	var ps meshwatch.Problems
	for _, p := range model {
		if top := topKey(p.Path); top == "naming" || top == "cluster" {
			ps = append(ps, p)
		}
	}
	ps = append(ps, c.Kafka.validate()...)
	if err := checkHostPort(c.HTTP.Listen, false); err != nil {
		ps = append(ps, meshwatch.Problem{Path: "http.listen", Msg: "must be host:port like :9477 or 127.0.0.1:9477, got " + meshwatch.Quote(c.HTTP.Listen)})
	}
	ps = append(ps, c.Metrics.Validate()...)
	ps = append(ps, c.Collector.Validate()...)
	ps = append(ps, c.Lag.Validate(c.Collector.Tick)...)
	ps = append(ps, c.SchemaRegistry.Validate()...)
	ps = append(ps, c.State.Validate()...)
	ps = append(ps, c.Push.Validate()...)
	ps = append(ps, c.Sharding.Validate(c.State.Backend)...)
	for _, p := range model {
		if top := topKey(p.Path); top != "naming" && top != "cluster" {
			ps = append(ps, p)
		}
	}
	if c.Cost != nil {
		names := make([]string, len(c.Products))
		for i, p := range c.Products {
			names[i] = p.Name
		}
		ps = append(ps, c.Cost.Validate(names)...)
	}
	ps = append(ps, c.Alerting.Validate()...)
	ps = append(ps, c.checkHTTP()...)
	ps = append(ps, c.checkPolicies()...)
	ps = append(ps, quality.Check(c.Config)...)
	ps = append(ps, sla.CheckStateKeys(c.Config)...)
	return ps
}

// topKey returns the top-level key of a setting's path.
func topKey(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

// Path returns p, a path of the configuration, relative to its directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// WebConfigFile is the web configuration file to serve with, "" for none.
func (c *Config) WebConfigFile() string {
	if c.Web == nil {
		return ""
	}
	return c.Path(c.Web.ConfigFile)
}

// checkPolicies checks policies: against the model, and warns of a schema
// policy without a schema registry to read subjects from.
func (c *Config) checkPolicies() meshwatch.Problems {
	if c.Policies == nil {
		return nil
	}
	ps := c.Policies.Validate(c.Config)
	for i, p := range *c.Policies {
		if p.Policy == policy.Schema && c.SchemaRegistry == nil {
			ps = append(ps, meshwatch.Problem{Path: meshwatch.JoinPath(meshwatch.IndexPath("policies", i), "policy"), Warning: true,
				Msg: "schema needs schema_registry: to read the products' subjects from; without it, the policy checks nothing"})
		}
	}
	return ps
}
