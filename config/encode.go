package config

import (
	"fmt"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/yamlconf"
	"github.com/meshwatch/meshwatch/policy"
)

// YAML returns c as a YAML document that Load reads back into the same
// Config. Settings at their zero value are left out, secrets are written as
// "<secret>" (and left out when they come from a *_file key), and a literal
// "${" is written as "$${" so that it is not expanded on the way back.
// Products and owners that data contracts made are left out: loading the
// output reads the same contracts again. The sections decoded apart
// (alerting:, cost:, web:, policies:) come last. YAML only reads c.
func YAML(c *Config) ([]byte, error) {
	out := fileOf(c)
	if s := c.Kafka.SASL; s != nil {
		sasl := *s
		if sasl.PasswordFile != "" {
			sasl.Password = ""
		}
		if sasl.TokenFile != "" {
			sasl.Token = ""
		}
		out.Cluster.SASL = &sasl
	}
	// Products and owners made from data contracts are read again from
	// the files that contracts: names.
	out.Products = nil
	for _, p := range c.Products {
		if p.Contract == "" {
			out.Products = append(out.Products, p)
		}
	}
	out.Owners = nil
	for k, o := range c.Owners {
		if o.Contract == "" {
			if out.Owners == nil {
				out.Owners = make(map[string]meshwatch.Owner)
			}
			out.Owners[k] = o
		}
	}
	b, err := yamlconf.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if c.Cost == nil && c.Alerting == nil && c.Web == nil && c.Policies == nil {
		return b, nil
	}
	// The same encoder, so that the sections leave out zero values, hide
	// secrets and escape "${" like the rest; a second mapping of top-level
	// keys appended to the first is one document.
	more, err := yamlconf.Marshal(struct {
		Cost     *cost.Config   `yaml:"cost"`
		Alerting *alert.Config  `yaml:"alerting"`
		Web      *Web           `yaml:"web"`
		Policies *policy.Config `yaml:"policies"`
	}{c.Cost, c.Alerting, c.Web, c.Policies})
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if string(b) == "{}\n" {
		return more, nil
	}
	return append(b, more...), nil
}
