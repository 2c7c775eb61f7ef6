package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/tlsconf"
)

// validConfig returns a complete, valid Config with its defaults set.
func validConfig() *Config {
	c := &Config{
		Config: &meshwatch.Config{
			Products: []meshwatch.Product{{
				Name:   "checkout.orders.placed",
				Domain: "checkout",
				Owner:  "orders-team",
				Topics: []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}},
				SLOs:   []meshwatch.SLO{{Name: "latency", SLI: meshwatch.SLILatency, Threshold: meshwatch.Duration(time.Second), Objective: 0.999}},
			}},
			Owners: map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders-data"}},
		},
		Kafka: Kafka{
			Brokers: []string{"kafka-1:9092", "[::1]:9093"},
			SASL:    &SASL{Mechanism: SASLScramSHA512, Username: "meshwatch", Password: "pw"},
		},
	}
	c.SetDefaults()
	return c
}

// TestValidate changes a valid config in one of its sections and checks
// the problems. Validate gives no positions: only paths and messages.
func TestValidate(t *testing.T) {
	if ps := validConfig().Validate(); len(ps) != 0 {
		t.Fatalf("Validate() = %v, want no problems", ps)
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string // Problem.String() of each problem
	}{
		{
			name:   "no brokers",
			change: func(c *Config) { c.Kafka.Brokers = nil },
			want:   []string{"cluster.brokers: at least one broker is required, e.g. [kafka-1:9092]"},
		},
		{
			name:   "broker without a host",
			change: func(c *Config) { c.Kafka.Brokers = []string{":9092", "k:0"} },
			want: []string{
				`cluster.brokers[0]: must be host:port like kafka-1:9092, got ":9092"`,
				`cluster.brokers[1]: must be host:port like kafka-1:9092, got "k:0"`,
			},
		},
		{
			name:   "key without cert",
			change: func(c *Config) { c.Kafka.TLS = &tlsconf.TLS{Enabled: true, KeyFile: "k.pem"} },
			want:   []string{"cluster.tls.cert_file: is required when key_file is set"},
		},
		{
			name:   "tls settings but disabled",
			change: func(c *Config) { c.Kafka.TLS = &tlsconf.TLS{CAFile: "ca.pem"} },
			want:   []string{"cluster.tls.enabled: warning: is false, so the other tls settings are not used; set enabled: true to use TLS"},
		},
		{
			name:   "unknown mechanism",
			change: func(c *Config) { c.Kafka.SASL.Mechanism = "SCRAM-SHA-1" },
			want:   []string{`cluster.sasl.mechanism: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER; got "SCRAM-SHA-1" (did you mean "SCRAM-SHA-512"?)`},
		},
		{
			name:   "scram without username, with token",
			change: func(c *Config) { c.Kafka.SASL.Username = ""; c.Kafka.SASL.TokenFile = "/t" },
			want: []string{
				"cluster.sasl.username: is required for SCRAM-SHA-512",
				"cluster.sasl.token_file: is only used by OAUTHBEARER, not SCRAM-SHA-512; remove it",
			},
		},
		{
			name:   "password from a file",
			change: func(c *Config) { c.Kafka.SASL.Password = ""; c.Kafka.SASL.PasswordFile = "/p" },
		},
		{
			name:   "oauthbearer without token",
			change: func(c *Config) { c.Kafka.SASL = &SASL{Mechanism: SASLOAuthBearer} },
			want:   []string{"cluster.sasl.token: is required for OAUTHBEARER; set token (e.g. ${KAFKA_TOKEN}) or token_file"},
		},
		{
			name:   "listen without port",
			change: func(c *Config) { c.HTTP.Listen = "localhost" },
			want:   []string{`http.listen: must be host:port like :9477 or 127.0.0.1:9477, got "localhost"`},
		},
		{
			name: "discovery faster than tick",
			change: func(c *Config) {
				c.Collector.Tick = meshwatch.Duration(time.Minute)
				c.Collector.Discovery = meshwatch.Duration(30 * time.Second)
			},
			want: []string{"collector.discovery: must be at least collector.tick (1m), got 30s"},
		},
		{
			name:   "zero budget",
			change: func(c *Config) { c.Collector.Budget.MaxBytesPerSecond = 0 },
			want:   []string{"collector.budget.max_bytes_per_second: must be > 0, got 0"},
		},
		{
			name: "clock skew under a second",
			change: func(c *Config) {
				c.Collector.MaxClockSkew = meshwatch.Duration(500 * time.Millisecond)
			},
			want: []string{
				"collector.max_clock_skew: must be at least 1s (how far an event time may lie from the agent's clock, e.g. 1h), got 500ms",
			},
		},
		{
			name:   "placeholder password",
			change: func(c *Config) { c.Kafka.SASL.Password = "<secret>" },
			want:   []string{`cluster.sasl.password: is the placeholder "<secret>" of a written-out config; set the real password, e.g. ${KAFKA_PASSWORD}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(c)
			var got []string
			for _, p := range c.Validate() {
				if p.Pos != (meshwatch.Position{}) {
					t.Errorf("Validate gave a position: %v", p)
				}
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateAll checks that Validate reports every problem at once, the
// sections' with the model's.
func TestValidateAll(t *testing.T) {
	c := &Config{Config: &meshwatch.Config{Products: []meshwatch.Product{{}}}}
	paths := map[string]bool{}
	for _, p := range c.Validate() {
		paths[p.Path] = true
	}
	for _, want := range []string{"naming", "cluster.brokers", "http.listen", "collector.tick", "collector.budget.max_records_per_second", "products[0].name"} {
		if !paths[want] {
			t.Errorf("no problem at %s", want)
		}
	}
}
