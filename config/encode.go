package config

import (
	"fmt"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/yamlconf"
)

// YAML returns c as a YAML document that Load reads back into the same
// Config. Settings at their zero value are left out, secrets are written as
// "<secret>" (and left out when they come from a *_file key), and a literal
// "${" is written as "$${" so that it is not expanded on the way back.
// Products and owners that data contracts made are left out: loading the
// output reads the same contracts again. YAML only reads c.
func YAML(c *meshwatch.Config) ([]byte, error) {
	out := *c
	if s := c.Cluster.SASL; s != nil {
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
	return b, nil
}
