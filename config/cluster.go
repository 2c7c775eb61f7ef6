package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/secretfmt"
	"github.com/meshwatch/meshwatch/internal/tlsconf"
)

// Kafka is how the agent reaches the Kafka cluster the products live on:
// the keys of the cluster: section besides name, which is the model's
// (meshwatch.Cluster).
type Kafka struct {
	Brokers  []string     `yaml:"brokers"`
	ClientID string       `yaml:"client_id"` // default "meshwatch"
	TLS      *tlsconf.TLS `yaml:"tls"`
	SASL     *SASL        `yaml:"sasl"`
}

// DefaultClientID is the default of cluster.client_id.
const DefaultClientID = "meshwatch"

// SASL mechanisms meshwatch speaks.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	SASLOAuthBearer = "OAUTHBEARER"
)

// SASL configures SASL authentication. Password and Token may be given inline
// (usually as ${ENV}) or read from PasswordFile / TokenFile at load time.
type SASL struct {
	Mechanism    string           `yaml:"mechanism"`
	Username     string           `yaml:"username"`
	Password     meshwatch.Secret `yaml:"password"`
	PasswordFile string           `yaml:"password_file"`
	Token        meshwatch.Secret `yaml:"token"` // OAUTHBEARER
	TokenFile    string           `yaml:"token_file"`
}

func (k *Kafka) setDefaults() {
	if k.ClientID == "" {
		k.ClientID = DefaultClientID
	}
}

// validate checks the connection; its problems have paths under "cluster".
func (k *Kafka) validate() meshwatch.Problems {
	var ps meshwatch.Problems
	errf := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if len(k.Brokers) == 0 {
		errf("cluster.brokers", "at least one broker is required, e.g. [kafka-1:9092]")
	}
	for i, b := range k.Brokers {
		if err := checkHostPort(b, true); err != nil {
			errf(meshwatch.IndexPath("cluster.brokers", i), "must be host:port like kafka-1:9092, got %s", meshwatch.Quote(b))
		}
	}
	if t := k.TLS; t != nil {
		if t.CertFile != "" && t.KeyFile == "" {
			errf("cluster.tls.key_file", "is required when cert_file is set")
		}
		if t.KeyFile != "" && t.CertFile == "" {
			errf("cluster.tls.cert_file", "is required when key_file is set")
		}
		if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
			ps = append(ps, meshwatch.Problem{Path: "cluster.tls.enabled", Warning: true,
				Msg: "is false, so the other tls settings are not used; set enabled: true to use TLS"})
		}
	}
	if s := k.SASL; s != nil {
		ps = append(ps, s.validate()...)
	}
	return ps
}

func (s *SASL) validate() meshwatch.Problems {
	var ps meshwatch.Problems
	errf := func(key, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: meshwatch.JoinPath("cluster.sasl", key), Msg: fmt.Sprintf(format, args...)})
	}
	mechanisms := []string{SASLPlain, SASLScramSHA256, SASLScramSHA512, SASLOAuthBearer}
	switch {
	case slices.Contains(mechanisms, s.Mechanism):
	case s.Mechanism == "":
		errf("mechanism", "is required; one of %s", strings.Join(mechanisms, ", "))
		return ps
	default:
		errf("mechanism", "must be one of %s; got %s%s", strings.Join(mechanisms, ", "), meshwatch.Quote(s.Mechanism), meshwatch.DidYouMean(s.Mechanism, mechanisms))
		return ps
	}
	password, token := "password", "token"
	if s.Password == "" {
		password = "password_file"
	}
	if s.Token == "" {
		token = "token_file"
	}
	if s.Mechanism == SASLOAuthBearer {
		if s.Token == "" && s.TokenFile == "" {
			errf("token", "is required for OAUTHBEARER; set token (e.g. ${KAFKA_TOKEN}) or token_file")
		}
		if s.Username != "" {
			errf("username", "is not used by OAUTHBEARER; remove it")
		}
		if s.Password != "" || s.PasswordFile != "" {
			errf(password, "is not used by OAUTHBEARER; remove it or use mechanism PLAIN or SCRAM")
		}
	} else {
		if s.Username == "" {
			errf("username", "is required for %s", s.Mechanism)
		}
		if s.Password == "" && s.PasswordFile == "" {
			errf("password", "is required for %s; set password (e.g. ${KAFKA_PASSWORD}) or password_file", s.Mechanism)
		}
		if s.Token != "" || s.TokenFile != "" {
			errf(token, "is only used by OAUTHBEARER, not %s; remove it", s.Mechanism)
		}
	}
	// A config written out by YAML holds the placeholder instead of the
	// secret; loading it back must not try to log in with "<secret>".
	if string(s.Password) == placeholder {
		errf("password", `is the placeholder "<secret>" of a written-out config; set the real password, e.g. ${KAFKA_PASSWORD}`)
	}
	if string(s.Token) == placeholder {
		errf("token", `is the placeholder "<secret>" of a written-out config; set the real token, e.g. ${KAFKA_TOKEN}`)
	}
	return ps
}

// saslFields is SASL without its methods, to print its fields.
type saslFields SASL

// Format prints s as fmt prints a pointer to a struct, with the secrets as
// "<secret>" for every verb (see package secretfmt).
func (s *SASL) Format(f fmt.State, verb rune) {
	secretfmt.Format(f, verb, "config.SASL", "saslFields", (*saslFields)(s), s == nil)
}

// checkHostPort checks that s is host:port with a numeric port. With
// needHost the host must not be empty and the port not 0.
func checkHostPort(s string, needHost bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if needHost && host == "" {
		return errors.New("missing host")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (needHost && n == 0) {
		return errors.New("bad port")
	}
	return nil
}
