package quality

import (
	"fmt"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/secretfmt"
	"github.com/meshwatch/meshwatch/internal/tlsconf"
	"github.com/meshwatch/meshwatch/internal/urls"
)

// RegistryConfig is the schema_registry: section: how to reach the
// Confluent-compatible schema registry that avro and protobuf products are
// decoded with. Username and Password are basic auth; Token is a bearer
// token. The loader reads PasswordFile and TokenFile into Password and
// Token.
type RegistryConfig struct {
	URL          string           `yaml:"url"`
	Username     string           `yaml:"username"`
	Password     meshwatch.Secret `yaml:"password"`
	PasswordFile string           `yaml:"password_file"`
	Token        meshwatch.Secret `yaml:"token"`
	TokenFile    string           `yaml:"token_file"`
	TLS          *tlsconf.TLS     `yaml:"tls"`
}

// registryFields is RegistryConfig without its methods, to print its fields.
type registryFields RegistryConfig

// Format prints r as fmt prints a pointer to a struct, with the password
// and token as "<secret>" for every verb (see package secretfmt).
func (r *RegistryConfig) Format(f fmt.State, verb rune) {
	secretfmt.Format(f, verb, "quality.RegistryConfig", "registryFields", (*registryFields)(r), r == nil)
}

// Validate checks the section; its problems have paths under
// "schema_registry" for the loader to place. A nil RegistryConfig has no
// problem. The secrets of *_file keys count as given when the file name is
// set.
func (r *RegistryConfig) Validate() meshwatch.Problems {
	if r == nil {
		return nil
	}
	var ps meshwatch.Problems
	errf := func(key, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: meshwatch.JoinPath("schema_registry", key), Msg: fmt.Sprintf(format, args...)})
	}
	if r.URL == "" {
		errf("url", "is required, e.g. http://schema-registry:8081")
	} else if !urls.IsHTTP(r.URL) {
		errf("url", "must be an http:// or https:// URL like http://schema-registry:8081, got %s", meshwatch.Quote(r.URL))
	} else if urls.HasCredentials(r.URL) {
		errf("url", "must not hold credentials; use username and password (or password_file)")
	}
	hasPassword := r.Password != "" || r.PasswordFile != ""
	hasToken := r.Token != "" || r.TokenFile != ""
	switch {
	case r.Username != "" && !hasPassword:
		errf("password", "is required with username; set password (e.g. ${SR_PASSWORD}) or password_file")
	case r.Username == "" && hasPassword:
		errf("username", "is required with a password")
	}
	if hasToken && (r.Username != "" || hasPassword) {
		errf("token", "cannot be used together with username and password; choose basic or bearer auth")
	}
	if t := r.TLS; t != nil {
		if (t.CertFile == "") != (t.KeyFile == "") {
			errf("tls", "cert_file and key_file go together; set both or neither")
		}
	}
	return ps
}
