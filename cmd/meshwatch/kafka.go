package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/meshwatch/meshwatch"
)

// kafkaOpts turns the cluster section of the config into franz-go client
// options: seeds, client id, TLS and SASL. Errors name files and settings,
// never a secret.
func kafkaOpts(c meshwatch.Cluster) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.ClientID)}
	// TLS is on only when enabled, as the config's validation warns.
	if t := c.TLS; t != nil && t.Enabled {
		tc := &tls.Config{
			MinVersion:         tls.VersionTLS12,
			ServerName:         t.ServerName,
			InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the operator asked for it in cluster.tls
		}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("cluster.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("cluster.tls.ca_file: %s holds no PEM certificate", t.CAFile)
			}
			tc.RootCAs = pool
		}
		if t.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("cluster.tls.cert_file/key_file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if s := c.SASL; s != nil {
		var m sasl.Mechanism
		switch s.Mechanism {
		case meshwatch.SASLPlain:
			m = plain.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsMechanism()
		case meshwatch.SASLScramSHA256:
			m = scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha256Mechanism()
		case meshwatch.SASLScramSHA512:
			m = scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha512Mechanism()
		case meshwatch.SASLOAuthBearer:
			token := s.Token
			m = oauth.Oauth(func(context.Context) (oauth.Auth, error) { return oauth.Auth{Token: token.Reveal()}, nil })
		default:
			return nil, fmt.Errorf("cluster.sasl.mechanism: unsupported %q", s.Mechanism)
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}
