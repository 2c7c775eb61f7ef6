package meshwatch

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	yaml "go.yaml.in/yaml/v3"
)

func TestDurationYAML(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Duration
		out     string // MarshalYAML of want
		wantErr string
	}{
		{name: "seconds", in: "10s", want: Duration(10 * time.Second), out: "10s"},
		{name: "minutes and seconds", in: "1m30s", want: Duration(90 * time.Second), out: "1m30s"},
		{name: "minutes", in: "1m", want: Duration(time.Minute), out: "1m"},
		{name: "hours", in: "2h", want: Duration(2 * time.Hour), out: "2h"},
		{name: "hours and minutes", in: "1h30m", want: Duration(90 * time.Minute), out: "1h30m"},
		{name: "milliseconds", in: "500ms", want: Duration(500 * time.Millisecond), out: "500ms"},
		{name: "days", in: "28d", want: Duration(28 * 24 * time.Hour), out: "28d"},
		{name: "days and hours", in: "1d12h", want: Duration(36 * time.Hour), out: "1d12h"},
		{name: "hours over a day", in: "36h", want: Duration(36 * time.Hour), out: "1d12h"},
		{name: "days and a fraction", in: "1d0.5s", want: Duration(24*time.Hour + 500*time.Millisecond), out: "1d500ms"},
		{name: "zero", in: "0", want: 0, out: "0s"},
		{name: "negative", in: "-1d", want: Duration(-24 * time.Hour), out: "-1d"},
		{name: "null", in: "~", want: 0, out: "0s"},
		{name: "no unit", in: "10", wantErr: `must be a duration like 10s, 1m30s or 28d, got "10"`},
		{name: "words", in: "1 sec", wantErr: `must be a duration like 10s, 1m30s or 28d, got "1 sec"`},
		{name: "fraction of days", in: "1.5d", wantErr: `must be a duration like 10s, 1m30s or 28d, got "1.5d"`},
		{name: "sign after days", in: "1d-2h", wantErr: `must be a duration like 10s, 1m30s or 28d, got "1d-2h"`},
		{name: "too many days", in: "999999999d", wantErr: `must be a duration like 10s, 1m30s or 28d, got "999999999d"`},
		{name: "list", in: "[1s]", wantErr: `must be a duration like 10s, 1m30s or 28d, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Duration
			err := yaml.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Unmarshal(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Unmarshal(%q) = %v, want %v", tt.in, time.Duration(got), time.Duration(tt.want))
			}
			out, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.out+"\n" {
				t.Errorf("Marshal(%v) = %q, want %q", time.Duration(got), out, tt.out+"\n")
			}
			var back Duration
			if err := yaml.Unmarshal(out, &back); err != nil || back != got {
				t.Errorf("Unmarshal(Marshal(%v)) = %v, %v", time.Duration(got), time.Duration(back), err)
			}
		})
	}
}

func TestPercentYAML(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Percent
		out     string
		wantErr string
	}{
		{name: "percent", in: "99.9%", want: 0.999, out: "99.9%"},
		{name: "quoted percent", in: `"99.95%"`, want: 0.9995, out: "99.95%"},
		{name: "whole percent", in: "99%", want: 0.99, out: "99%"},
		{name: "hundred", in: "100%", want: 1, out: "100%"},
		{name: "small", in: "0.001%", want: 0.00001, out: "0.001%"},
		{name: "exponent", in: "9.99e1%", want: 0.999, out: "99.9%"},
		{name: "ratio", in: "0.999", want: 0.999, out: "99.9%"},
		{name: "one", in: "1", want: 1, out: "100%"},
		{name: "zero", in: "0", want: 0, out: "0%"},
		{name: "many nines", in: "0.99999", want: 0.99999, out: "99.999%"},
		{name: "over one", in: "99.9", wantErr: `must be a ratio from 0 to 1, got 99.9; write "99.9%" or 0.999`},
		{name: "over one, whole", in: "99", wantErr: `must be a ratio from 0 to 1, got 99; write "99%" or 0.99`},
		{name: "over a hundred", in: "250", wantErr: `must be a percentage like "99.9%" or a ratio from 0 to 1 like 0.999, got 250`},
		{name: "percent over a hundred", in: "250%", wantErr: `must be a percentage from 0% to 100% like "99.9%", got "250%"`},
		{name: "negative", in: "-1%", wantErr: `must be a percentage from 0% to 100% like "99.9%", got "-1%"`},
		{name: "negative ratio", in: "-0.5", wantErr: `must be a percentage like "99.9%" or a ratio from 0 to 1 like 0.999, got "-0.5"`},
		{name: "nan", in: ".nan", wantErr: `must be a percentage like "99.9%" or a ratio from 0 to 1 like 0.999, got ".nan"`},
		{name: "words", in: "three nines", wantErr: `must be a percentage like "99.9%" or a ratio from 0 to 1 like 0.999, got "three nines"`},
		{name: "mapping", in: "{a: 1}", wantErr: `must be a percentage like "99.9%", got a mapping`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Percent
			err := yaml.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Unmarshal(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Unmarshal(%q) = %v, want %v", tt.in, float64(got), float64(tt.want))
			}
			if s := got.String(); s != tt.out {
				t.Errorf("String() = %q, want %q", s, tt.out)
			}
			out, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var back Percent
			if err := yaml.Unmarshal(out, &back); err != nil || back != got {
				t.Errorf("Unmarshal(Marshal(%v)) = %v, %v; YAML %q", float64(got), float64(back), err, out)
			}
		})
	}
}

// TestPercentStringRoundTrip checks that String and parsing agree exactly on
// many ratios, not only on the ones written by hand.
func TestPercentStringRoundTrip(t *testing.T) {
	for i := 0; i <= 100000; i += 7 {
		p := Percent(float64(i) / 100000)
		back, err := ParsePercent(p.String())
		if err != nil || back != p {
			t.Fatalf("parsePercent(%q) = %v, %v; want %v", p.String(), float64(back), err, float64(p))
		}
	}
}

func TestTopicSelectorYAML(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    TopicSelector
		out     string
		wantErr string
	}{
		{name: "name", in: "checkout.orders", want: TopicSelector{Name: "checkout.orders"}, out: "checkout.orders\n"},
		{name: "name key", in: "{name: checkout.orders}", want: TopicSelector{Name: "checkout.orders"}, out: "checkout.orders\n"},
		{name: "pattern", in: `{pattern: "^checkout\\..*$"}`, want: TopicSelector{Pattern: `^checkout\..*$`}, out: "pattern: ^checkout\\..*$\n"},
		{name: "unknown key", in: "{topic: x}", wantErr: `line 1: unknown key "topic"; allowed: name, pattern`},
		{name: "list", in: "[a, b]", wantErr: `must be a topic name or a mapping like {pattern: "^orders\\..*$"}, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got TopicSelector
			err := yaml.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Unmarshal(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(TopicSelector{})); diff != "" {
				t.Errorf("Unmarshal(%q) (-want +got):\n%s", tt.in, diff)
			}
			out, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.out {
				t.Errorf("Marshal = %q, want %q", out, tt.out)
			}
		})
	}
}
