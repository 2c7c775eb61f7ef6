// Package tlsconf is the TLS setting of a server the agent connects to: the
// brokers (cluster.tls) and the schema registry (schema_registry.tls).
package tlsconf

// TLS configures TLS to a server. An empty CAFile means the system roots.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}
