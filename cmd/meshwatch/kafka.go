package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/meshwatch/meshwatch/config"
)

// kafkaOpts turns the cluster section of the config into franz-go client
// options: seeds, client id, TLS and SASL. Errors name files and settings,
// never a secret. With SASL, a broker that closes the connection in answer
// to the credentials fails the request with an *authError (see saslDialer)
// instead of a bare EOF.
func kafkaOpts(c config.Kafka) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.ClientID)}
	var tc *tls.Config
	// TLS is on only when enabled, as the config's validation warns.
	if t := c.TLS; t != nil && t.Enabled {
		tc = &tls.Config{
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
	}
	if c.SASL == nil && tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if s := c.SASL; s != nil {
		var m sasl.Mechanism
		switch s.Mechanism {
		case config.SASLPlain:
			m = plain.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsMechanism()
		case config.SASLScramSHA256:
			m = scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha256Mechanism()
		case config.SASLScramSHA512:
			m = scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha512Mechanism()
		case config.SASLOAuthBearer:
			token := s.Token
			m = oauth.Oauth(func(context.Context) (oauth.Auth, error) { return oauth.Auth{Token: token.Reveal()}, nil })
		default:
			return nil, fmt.Errorf("cluster.sasl.mechanism: unsupported %q", s.Mechanism)
		}
		opts = append(opts, kgo.SASL(m), kgo.Dialer(saslDialer(tc, s)))
	}
	return opts, nil
}

// authError is the error of a request whose connection the broker closed
// right after the client sent its SASL credentials (a SaslAuthenticate
// request): some brokers and proxies (kfake among them) answer wrong
// credentials that way, and a bare EOF would not say what to fix. Kafka
// itself answers SASL_AUTHENTICATION_FAILED with its reason first, which
// franz-go returns as kerr.SaslAuthenticationFailed; authError matches it
// with errors.Is, so that callers can treat both alike. It names the user
// and the mechanism, never the password or the token.
type authError struct {
	broker, user, mechanism string
}

func (e *authError) Error() string {
	if e.mechanism == config.SASLOAuthBearer {
		return fmt.Sprintf("authentication failed: broker %s closed the connection in answer to the OAUTHBEARER token, "+
			"which is how brokers reject credentials; check cluster.sasl.token", e.broker)
	}
	return fmt.Sprintf("authentication failed: broker %s closed the connection in answer to the SASL credentials of user %q (mechanism %s), "+
		"which is how brokers reject credentials; check cluster.sasl (username, password or password_file, mechanism)",
		e.broker, e.user, e.mechanism)
}

func (e *authError) Is(target error) bool { return target == kerr.SaslAuthenticationFailed }

// saslDialer dials brokers as franz-go's own dialer does (10 s timeout;
// TLS with tc when it is not nil, the server name defaulting to the
// broker's host) and wraps each connection in a saslConn.
func saslDialer(tc *tls.Config, s *config.SASL) func(ctx context.Context, network, host string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		var (
			conn net.Conn
			err  error
		)
		if tc == nil {
			conn, err = d.DialContext(ctx, network, host)
		} else {
			c := tc.Clone()
			if c.ServerName == "" {
				if c.ServerName, _, err = net.SplitHostPort(host); err != nil {
					return nil, fmt.Errorf("broker address %s: %w", host, err)
				}
			}
			conn, err = (&tls.Dialer{NetDialer: d, Config: c}).DialContext(ctx, network, host)
		}
		if err != nil {
			return nil, err
		}
		return &saslConn{Conn: conn, rejected: &authError{broker: host, user: s.Username, mechanism: s.Mechanism}}, nil
	}
}

// saslAuthenticateKey is the API key of SaslAuthenticate requests.
const saslAuthenticateKey = 36

// saslConn is a broker connection that follows the requests written to it
// (each a 4-byte size, then the 2-byte API key) and turns the end of the
// connection while the last request is a SaslAuthenticate into rejected:
// the broker hung up on the credentials. An end after any later request is
// left as it is.
type saslConn struct {
	net.Conn
	rejected *authError

	// The request being written, by Write; franz-go writes from one
	// goroutine at a time.
	head  [6]byte
	nhead int
	left  int64 // bytes of the request after its head still to come

	lastKey atomic.Int32 // read by Read, from another goroutine
}

func (c *saslConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.follow(p[:n])
	return n, err
}

// follow reads the heads of the requests in the bytes written.
func (c *saslConn) follow(p []byte) {
	for len(p) > 0 {
		if c.left > 0 {
			k := min(int64(len(p)), c.left)
			p, c.left = p[k:], c.left-k
			continue
		}
		k := copy(c.head[c.nhead:], p)
		p, c.nhead = p[k:], c.nhead+k
		if c.nhead < len(c.head) {
			return
		}
		c.lastKey.Store(int32(int16(binary.BigEndian.Uint16(c.head[4:]))))
		c.left = max(int64(binary.BigEndian.Uint32(c.head[:4]))-2, 0)
		c.nhead = 0
	}
}

func (c *saslConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.lastKey.Load() == saslAuthenticateKey &&
		(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		return n, c.rejected
	}
	return n, err
}
