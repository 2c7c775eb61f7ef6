package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/tlsconf"
)

// connect builds a client from the cluster config and lists topics with it.
func connect(t *testing.T, c config.Kafka) error {
	t.Helper()
	opts, err := kafkaOpts(c)
	if err != nil {
		t.Fatalf("kafkaOpts: %v", err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(1), kgo.RetryTimeout(3*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).ListTopics(ctx)
	return err
}

func TestKafkaOptsSASL(t *testing.T) {
	for _, mech := range []string{config.SASLPlain, config.SASLScramSHA256, config.SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			kc := kafkatest.New(t, kfake.EnableSASL(), kfake.Superuser(mech, "agent", "right-password"))
			c := config.Kafka{Brokers: kc.Addrs(), ClientID: "meshwatch",
				SASL: &config.SASL{Mechanism: mech, Username: "agent", Password: "right-password"}}
			if err := connect(t, c); err != nil {
				t.Fatalf("with the right password: %v", err)
			}
			c.SASL.Password = "wrong-password"
			err := connect(t, c)
			if err == nil {
				t.Fatal("the wrong password was accepted")
			}
			checkAuthError(t, err, mech, "wrong-password")
		})
	}
}

// checkAuthError checks that err says the credentials were rejected, whose
// and what to fix, and not the password.
func checkAuthError(t *testing.T, err error, mech, password string) {
	t.Helper()
	want := `authentication failed: broker 127.0.0.1:`
	want2 := `closed the connection in answer to the SASL credentials of user "agent" (mechanism ` + mech + `), ` +
		`which is how brokers reject credentials; check cluster.sasl (username, password or password_file, mechanism)`
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), want2) {
		t.Errorf("error:\n%v\nwant one with %q and %q", err, want, want2)
	}
	if !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("error %v is not kerr.SaslAuthenticationFailed", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestKafkaOptsSASLOverTLS: with SASL the client dials through
// saslDialer, which must do TLS as franz-go would.
func TestKafkaOptsSASLOverTLS(t *testing.T) {
	dir := t.TempDir()
	caPEM, serverCert := selfSignedCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	kc := kafkatest.New(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser(config.SASLScramSHA512, "agent", "right-password"))
	c := config.Kafka{Brokers: kc.Addrs(), ClientID: "meshwatch", TLS: &tlsconf.TLS{Enabled: true, CAFile: caFile},
		SASL: &config.SASL{Mechanism: config.SASLScramSHA512, Username: "agent", Password: "right-password"}}
	if err := connect(t, c); err != nil {
		t.Fatalf("TLS and SASL with the right password: %v", err)
	}
	c.SASL.Password = "wrong-password"
	err := connect(t, c)
	if err == nil {
		t.Fatal("the wrong password was accepted")
	}
	checkAuthError(t, err, config.SASLScramSHA512, "wrong-password")
	// The server is still verified.
	c.TLS.CAFile = ""
	c.SASL.Password = "right-password"
	if err := connect(t, c); err == nil || errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("an untrusted server certificate: %v, want a TLS error", err)
	}
}

// TestSASLConnFollowsRequests: the request heads are found however the
// bytes are split across writes.
func TestSASLConnFollowsRequests(t *testing.T) {
	req := func(key int16, body int) []byte {
		b := make([]byte, 6+body)
		binary.BigEndian.PutUint32(b, uint32(2+body))
		binary.BigEndian.PutUint16(b[4:], uint16(key))
		return b
	}
	// A SaslHandshake, a SaslAuthenticate, then a Metadata request.
	stream := append(append(req(17, 20), req(saslAuthenticateKey, 33)...), req(3, 7)...)
	// Chunks no longer than the shortest request (13 bytes) show each key;
	// franz-go writes one whole request at a time.
	for _, chunk := range []int{1, 2, 5, 6, 7, 13} {
		var c saslConn
		var keys []int32
		for p := stream; len(p) > 0; {
			k := min(chunk, len(p))
			before := c.lastKey.Load()
			c.follow(p[:k])
			if after := c.lastKey.Load(); after != before {
				keys = append(keys, after)
			}
			p = p[k:]
		}
		if got, want := keys, []int32{17, saslAuthenticateKey, 3}; !slices.Equal(got, want) {
			t.Errorf("writes of %d bytes: keys %v, want %v", chunk, got, want)
		}
	}
	var c saslConn
	c.follow(stream)
	if got := c.lastKey.Load(); got != 3 {
		t.Errorf("after one write of every request the last key is %d, want 3", got)
	}
}

func TestKafkaOptsOAuthBearer(t *testing.T) {
	// kfake does not speak OAUTHBEARER: check the mechanism is built and
	// sends the configured token.
	opts, err := kafkaOpts(config.Kafka{Brokers: []string{"127.0.0.1:1"}, ClientID: "meshwatch",
		SASL: &config.SASL{Mechanism: config.SASLOAuthBearer, Token: "tok-123"}})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	mechs := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
	if len(mechs) != 1 || mechs[0].Name() != "OAUTHBEARER" {
		t.Fatalf("mechanisms %v, want OAUTHBEARER", mechs)
	}
	_, msg, err := mechs[0].Authenticate(context.Background(), "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg), "auth=Bearer tok-123") {
		t.Errorf("OAUTHBEARER first message %q lacks the token", msg)
	}
}

func TestKafkaOptsTLS(t *testing.T) {
	dir := t.TempDir()
	caPEM, serverCert := selfSignedCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	kc := kafkatest.New(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))
	c := config.Kafka{Brokers: kc.Addrs(), ClientID: "meshwatch", TLS: &tlsconf.TLS{Enabled: true, CAFile: caFile}}
	if err := connect(t, c); err != nil {
		t.Fatalf("TLS with the CA: %v", err)
	}
	// Without the CA the server is not trusted.
	c.TLS.CAFile = ""
	if err := connect(t, c); err == nil {
		t.Fatal("an untrusted server certificate was accepted")
	}
	// Unless the operator says so.
	c.TLS.InsecureSkipVerify = true
	if err := connect(t, c); err != nil {
		t.Fatalf("insecure_skip_verify: %v", err)
	}
	// A CA file that holds no certificate is a clear error.
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kafkaOpts(config.Kafka{TLS: &tlsconf.TLS{Enabled: true, CAFile: bad}}); err == nil || !strings.Contains(err.Error(), "cluster.tls.ca_file") {
		t.Errorf("bad CA file: %v", err)
	}
}

// selfSignedCA returns a CA certificate (PEM) and a server certificate for
// 127.0.0.1 signed by it.
func selfSignedCA(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	p := newPKI(t)
	caPEM, err := os.ReadFile(p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	return caPEM, cert
}
