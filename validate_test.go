package meshwatch

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// validConfig returns a complete, valid Config with its defaults set.
func validConfig() *Config {
	c := &Config{
		Products: []Product{{
			Name:   "checkout.orders.placed",
			Domain: "checkout",
			Owner:  "orders-team",
			Topics: []TopicSelector{{Name: "checkout.orders.placed"}, {Pattern: `^checkout\.orders\.v[0-9]+$`}},
			Format: FormatJSON,
			EventTime: EventTime{
				Field: "meta.placed_at",
			},
			SLOs: []SLO{
				{Name: "latency", SLI: SLILatency, Threshold: Duration(time.Second), Objective: 0.999},
				{Name: "lag", SLI: SLILag, Threshold: Duration(30 * time.Second), Objective: 0.99, ConsumerGroup: "fraud", Window: "month"},
				{Name: "volume", SLI: SLIVolume, Objective: 0.99, Window: "400d", MinEvents: 10},
			},
			Quality:   Quality{Volume: &Volume{MinPerMinute: 10}},
			Consumers: []Consumer{{Group: "fraud", Owner: "fraud-team"}},
		}},
		Owners: map[string]Owner{"orders-team": {SlackChannel: "#orders-data"}, "ops": {SlackChannel: "C0123ABCD"}},
	}
	c.SetDefaults()
	return c
}

func TestValidateValid(t *testing.T) {
	c := validConfig()
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("Validate() = %v, want no problems", ps)
	}
	tests := []struct {
		topic string
		want  bool
	}{
		{"checkout.orders.placed", true},
		{"checkout.orders.v2", true},
		{"checkout.orders.v2.dlq", false},
		{"checkout.orders", false},
	}
	for _, tt := range tests {
		got := c.Products[0].Topics[0].Matches(tt.topic) || c.Products[0].Topics[1].Matches(tt.topic)
		if got != tt.want {
			t.Errorf("topics match %q = %v, want %v", tt.topic, got, tt.want)
		}
	}
}

// TestValidate changes a valid config in one way and checks the problems.
// Validate gives no positions: only paths and messages.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string // Problem.String() of each problem
	}{
		{
			name:   "no products",
			change: func(c *Config) { c.Products = nil },
			want:   []string{"products: at least one product is required"},
		},
		{
			name:   "name missing",
			change: func(c *Config) { c.Products[0].Name = "" },
			want:   []string{"products[0].name: is required, e.g. checkout.orders.placed"},
		},
		{
			name:   "name in another domain, warned",
			change: func(c *Config) { c.Products[0].Domain = "payments" },
			want:   []string{`products[0].name: warning: "checkout.orders.placed" does not follow <domain>.<entity>.<event>: the first segment must be the domain "payments", got "checkout"`},
		},
		{
			name:   "name with naming off",
			change: func(c *Config) { c.Naming = NamingOff; c.Products[0].Name = "Orders" },
		},
		{
			name:   "domain missing",
			change: func(c *Config) { c.Products[0].Domain = "" },
			want:   []string{"products[0].domain: is required, e.g. checkout"},
		},
		{
			name:   "owner missing",
			change: func(c *Config) { c.Products[0].Owner = "" },
			want:   []string{"products[0].owner: is required; one of owners: ops, orders-team"},
		},
		{
			name:   "no owners",
			change: func(c *Config) { c.Owners = nil },
			want:   []string{`products[0].owner: must be a team declared under owners, got "orders-team", but owners is empty`},
		},
		{
			name:   "tier 0",
			change: func(c *Config) { c.Products[0].Tier = 0 },
			want:   []string{"products[0].tier: must be 1, 2 or 3 (1 pages, 2 business hours, 3 best effort), got 0"},
		},
		{
			name:   "no topics",
			change: func(c *Config) { c.Products[0].Topics = nil },
			want:   []string{`products[0].topics: at least one topic is required: a name, or {pattern: "^regex$"}`},
		},
		{
			name:   "bad topic name",
			change: func(c *Config) { c.Products[0].Topics[0].Name = "orders/placed" },
			want:   []string{`products[0].topics[0]: must be a Kafka topic name (letters, digits, ".", "_" and "-", at most 249), got "orders/placed"`},
		},
		{
			name:   "record not timestamp",
			change: func(c *Config) { c.Products[0].EventTime = EventTime{Record: "create_time", Format: "auto"} },
			want:   []string{`products[0].event_time.record: must be "timestamp" (the record timestamp), got "create_time"`},
		},
		{
			name:   "field with empty segment",
			change: func(c *Config) { c.Products[0].EventTime.Field = "meta..at" },
			want:   []string{`products[0].event_time.field: must be keys separated by single dots like meta.placed_at, got "meta..at"`},
		},
		{
			name:   "bad time format",
			change: func(c *Config) { c.Products[0].EventTime.Format = "epoch" },
			want:   []string{`products[0].event_time.format: must be one of auto, rfc3339, unix_s, unix_ms, unix_us, unix_ns; got "epoch"`},
		},
		{
			name: "clock skew under a second",
			change: func(c *Config) {
				c.Products[0].EventTime.MaxClockSkew = Duration(-time.Second)
			},
			want: []string{
				"products[0].event_time.max_clock_skew: must be at least 1s (0 takes collector.max_clock_skew), got -1s",
			},
		},
		{
			name:   "negative sampling",
			change: func(c *Config) { c.Products[0].Sampling.MaxRecordsPerSecond = -1 },
			want:   []string{"products[0].sampling.max_records_per_second: must be >= 0 (0 takes collector.budget), got -1"},
		},
		{
			name:   "slo name missing",
			change: func(c *Config) { c.Products[0].SLOs[1].Name = "" },
			want:   []string{"products[0].slos[1].name: is required, e.g. latency"},
		},
		{
			name:   "sli missing",
			change: func(c *Config) { c.Products[0].SLOs[2].SLI = "" },
			want:   []string{"products[0].slos[2].sli: is required; one of latency, freshness, availability, completeness, validity, lag, volume"},
		},
		{
			name:   "negative threshold",
			change: func(c *Config) { c.Products[0].SLOs[0].Threshold = Duration(-time.Second) },
			want:   []string{"products[0].slos[0].threshold: must be > 0, got -1s"},
		},
		{
			name:   "freshness without threshold",
			change: func(c *Config) { c.Products[0].SLOs[0].SLI = SLIFreshness; c.Products[0].SLOs[0].Threshold = 0 },
			want:   []string{"products[0].slos[0].threshold: is required for sli freshness, e.g. threshold: 60s"},
		},
		{
			name:   "negative objective",
			change: func(c *Config) { c.Products[0].SLOs[0].Objective = -0.5 },
			want:   []string{"products[0].slos[0].objective: must be above 0% and below 100%, got -50%"},
		},
		{
			name:   "window missing",
			change: func(c *Config) { c.Products[0].SLOs[0].Window = "" },
			want:   []string{"products[0].slos[0].window: is required: Nd (e.g. 28d) or month"},
		},
		{
			name:   "window of 0 days",
			change: func(c *Config) { c.Products[0].SLOs[0].Window = "0d" },
			want:   []string{`products[0].slos[0].window: must be Nd with N from 1 to 400 (e.g. 28d) or month, got "0d"`},
		},
		{
			name:   "window over 400 days",
			change: func(c *Config) { c.Products[0].SLOs[0].Window = "401d" },
			want:   []string{`products[0].slos[0].window: must be Nd with N from 1 to 400 (e.g. 28d) or month, got "401d"`},
		},
		{
			name:   "slack channel",
			change: func(c *Config) { c.Owners["ops"] = Owner{SlackChannel: "c0123abcd"} },
			want:   []string{`owners.ops.slack_channel: must be a channel name like "#orders-data" or a channel ID like C0123456789, got "c0123abcd" (did you mean "#c0123abcd"?)`},
		},
		{
			name:   "owner key that is not a word",
			change: func(c *Config) { c.Owners["data platform"] = Owner{SlackChannel: "data"} },
			want:   []string{`owners["data platform"].slack_channel: must be a channel name like "#orders-data" or a channel ID like C0123456789, got "data" (did you mean "#data"?)`},
		},
		{
			name: "deprecation",
			change: func(c *Config) {
				c.Products[0].Deprecated = &Deprecation{Sunset: "31/01/2027", Replacement: "checkout.orders.v2"}
			},
			want: []string{
				`products[0].deprecated.sunset: must be the day the product stops, YYYY-MM-DD, got "31/01/2027"`,
				`products[0].deprecated.replacement: warning: names no product of this configuration: "checkout.orders.v2" (consumers are told the name as it is)`,
			},
		},
		{
			name: "deprecation replaced by itself",
			change: func(c *Config) {
				c.Products[0].Deprecated = &Deprecation{Sunset: "2027-01-31", Replacement: "checkout.orders.placed"}
			},
			want: []string{`products[0].deprecated.replacement: must name another product: "checkout.orders.placed" cannot replace itself`},
		},
		{
			name: "inputs in a cycle",
			change: func(c *Config) {
				c.Products = append(c.Products, Product{
					Name: "checkout.orders.enriched", Domain: "checkout", Owner: "orders-team",
					Topics: []TopicSelector{{Name: "checkout.orders.enriched"}}, Inputs: []string{"checkout.orders.placed"},
				})
				c.Products[0].Inputs = []string{"checkout.orders.enriched"}
				c.SetDefaults()
			},
			want: []string{`products[0].inputs: inputs form a cycle: "checkout.orders.placed" feeds "checkout.orders.enriched" feeds "checkout.orders.placed"; a product cannot be made from itself, even through others`},
		},
		{
			name: "kind, replay window, pii",
			change: func(c *Config) {
				c.Products[0].Kind = "changelog"
				c.Products[0].ReplayWindow = Duration(-time.Hour)
				c.Products[0].PII = []string{"customer.email", ""}
			},
			want: []string{
				`products[0].kind: must be one of events, state; got "changelog"`,
				`products[0].replay_window: must not be negative, got -1h0m0s`,
				`products[0].pii[1]: is required: a field that holds personal data, e.g. customer.email`,
			},
		},
		{
			name: "owner's group patterns",
			change: func(c *Config) {
				o := c.Owners["ops"]
				o.Groups = []string{"^fraud-", "(", ""}
				o.Clients = []string{"[a-"}
				c.Owners["ops"] = o
			},
			want: []string{
				`owners.ops.groups[1]: must be a regular expression over consumer group IDs (RE2 syntax), got "(": missing closing )`,
				`owners.ops.groups[2]: is required: a regular expression over consumer group IDs, e.g. "^fraud-"`,
				`owners.ops.clients[0]: must be a regular expression over client IDs (RE2 syntax), got "[a-": missing closing ]`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(c)
			var got []string
			for _, p := range c.Validate() {
				if p.Pos != (Position{}) {
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

// TestValidateAll checks that Validate reports every problem at once.
func TestValidateAll(t *testing.T) {
	c := &Config{Products: []Product{{}, {}}}
	got := c.Validate()
	paths := map[string]bool{}
	for _, p := range got {
		paths[p.Path] = true
	}
	for _, want := range []string{
		"naming",
		"products[0].name", "products[0].domain", "products[0].owner", "products[0].tier", "products[0].topics",
		"products[0].format", "products[0].event_time.format", "products[1].name",
	} {
		if !paths[want] {
			t.Errorf("no problem at %s; got:\n%v", want, got)
		}
	}
}

func TestValidateSelectorRecompiles(t *testing.T) {
	c := validConfig()
	_ = c.Validate()
	c.Products[0].Topics[1].Pattern = "^other$"
	_ = c.Validate()
	if !c.Products[0].Topics[1].Matches("other") || c.Products[0].Topics[1].Matches("checkout.orders.v1") {
		t.Error("Validate did not recompile a changed pattern")
	}
	c.Products[0].Topics[1].Pattern = "("
	_ = c.Validate()
	if c.Products[0].Topics[1].Matches("other") {
		t.Error("an invalid pattern still matches with its old regexp")
	}
}

func TestSetDefaultsKeepsValues(t *testing.T) {
	c := validConfig()
	c.Products = append(c.Products, Product{Sampling: Budget{MaxBytesPerSecond: 7}, EventTime: EventTime{Header: "x-ts"}},
		Product{EventTime: EventTime{MaxClockSkew: Duration(3 * time.Hour)}})
	before := *c
	c.SetDefaultsWith(ProductDefaults{Sampling: Budget{MaxRecordsPerSecond: 50}, MaxClockSkew: Duration(5 * time.Minute)})
	p := c.Products[1]
	if p.Sampling != (Budget{MaxRecordsPerSecond: 50, MaxBytesPerSecond: 7}) {
		t.Errorf("sampling = %+v, want records from collector.budget and bytes kept", p.Sampling)
	}
	if p.EventTime != (EventTime{Header: "x-ts", Format: "auto", MaxClockSkew: Duration(5 * time.Minute), Fallback: EventTimeFallbackRecordTimestamp}) {
		t.Errorf("event_time = %+v, want the header kept, no record added and max_clock_skew from the collector", p.EventTime)
	}
	if got := c.Products[2].EventTime.MaxClockSkew; got != Duration(3*time.Hour) {
		t.Errorf("event_time.max_clock_skew = %s, want the product's 3h kept", got)
	}
	if c.Naming != before.Naming || c.Products[0].Tier != 2 || c.Products[0].SLOs[1].Window != "month" {
		t.Error("SetDefaults changed a value that was set")
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"full", Problem{Pos: Position{"c.yaml", 4, 5}, Path: "products[0].tier", Msg: "must be 1, 2 or 3"}, "c.yaml:4:5: products[0].tier: must be 1, 2 or 3"},
		{"warning", Problem{Pos: Position{"c.yaml", 4, 5}, Path: "products[0].name", Msg: "bad", Warning: true}, "c.yaml:4:5: products[0].name: warning: bad"},
		{"no column", Problem{Pos: Position{"c.yaml", 8, 0}, Msg: "invalid YAML"}, "c.yaml:8: invalid YAML"},
		{"no line", Problem{Pos: Position{File: "c.yaml"}, Path: "products", Msg: "required"}, "c.yaml: products: required"},
		{"no position", Problem{Path: "products", Msg: "required"}, "products: required"},
		{"line without file", Problem{Pos: Position{Line: 3, Col: 1}, Path: "a", Msg: "m"}, "3:1: a: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	ps := Problems{
		{Path: "a", Msg: "bad"},
		{Path: "b", Msg: "odd", Warning: true},
	}
	if got, want := ps.Error(), "a: bad\nb: warning: odd"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := ps.Errors(); len(got) != 1 || got[0].Path != "a" {
		t.Errorf("Errors() = %v", got)
	}
	if got := ps.Warnings(); len(got) != 1 || got[0].Path != "b" {
		t.Errorf("Warnings() = %v", got)
	}
	if ps.Err() == nil || ps.Warnings().Err() != nil || Problems(nil).Err() != nil {
		t.Error("Err() is nil with errors, or non-nil without")
	}
}

func TestPaths(t *testing.T) {
	tests := []struct {
		path, parent string
	}{
		{"products[2].slos[0].threshold", "products[2].slos[0]"},
		{"products[2].slos[0]", "products[2].slos"},
		{"products", ""},
		{`owners["a.b"].slack_channel`, `owners["a.b"]`},
		{`owners["a.b"]`, "owners"},
		{`owners["x\"]"]`, "owners"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ParentPath(tt.path); got != tt.parent {
			t.Errorf("parentPath(%q) = %q, want %q", tt.path, got, tt.parent)
		}
	}
	if got := JoinPath(JoinPath("owners", "orders-team"), "slack_channel"); got != "owners.orders-team.slack_channel" {
		t.Errorf("join = %q", got)
	}
	if got := JoinPath("owners", `x"]`); !strings.HasPrefix(got, `owners["`) || ParentPath(got) != "owners" {
		t.Errorf("join of a quoted key = %q", got)
	}
}
