package webauth

import (
	"fmt"
	"os"
	"regexp"

	"github.com/prometheus/exporter-toolkit/web"
	yaml "go.yaml.in/yaml/v3"
)

// WebConfig is what the Guard and the CLI read of an exporter-toolkit web
// configuration file; the toolkit reads the whole of it.
type WebConfig struct {
	// Users are basic_auth_users: user name → bcrypt hash.
	Users map[string]string `yaml:"basic_auth_users"`
	TLS   struct {
		Cert     string `yaml:"cert"`
		CertFile string `yaml:"cert_file"`
	} `yaml:"tls_server_config"`
}

// HasTLS reports whether the agent serves HTTPS with this configuration.
func (c *WebConfig) HasTLS() bool { return c.TLS.Cert != "" || c.TLS.CertFile != "" }

// ReadWebConfig reads path's users and whether it enables TLS. Its errors
// hold no value of the file.
func ReadWebConfig(path string) (*WebConfig, error) {
	b, err := readLimited(path, maxTokenFile)
	if err != nil {
		return nil, fmt.Errorf("web configuration: %w", err)
	}
	var c WebConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("web configuration %s: %s", path, redact(err.Error()))
	}
	return &c, nil
}

// ValidateWebConfig checks path as the toolkit will read it: the YAML, the
// bcrypt hashes, the headers, and the TLS certificate and key files. The
// error never quotes a value of the file (it may hold an inline key).
func ValidateWebConfig(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("web configuration: %w", err)
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("web configuration %s: %s", path, redact(err.Error()))
	}
	return nil
}

// quoted are the values YAML errors quote: "cannot unmarshal !!str `abc`".
var quoted = regexp.MustCompile("`[^`]*`")

func redact(msg string) string { return quoted.ReplaceAllString(msg, "`…`") }
