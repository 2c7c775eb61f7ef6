package sla

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/state"
)

func TestCheckStateKeys(t *testing.T) {
	// A state file name is 41 bytes of suffix (.state.corrupt-<time>), 9
	// of "sla/" and "/" (escaped) and the two names: 255 at most leaves
	// 205 bytes for the names, 198 beside "latency".
	a := func(n int) string { return strings.Repeat("a", n) }
	const why = `; in a state file name a letter, digit, "_" or "-" takes 1 byte and any other byte 3`
	tests := []struct {
		name    string
		product string
		slo     string
		backend string
		want    string
	}{
		{name: "fits", product: a(198), slo: "latency", backend: "dir"},
		{name: "one byte too long", product: a(199), slo: "latency", backend: "dir",
			want: "c.yaml:5:12: products[0].name: is too long to keep state for (the state file name would be 256 bytes, at most 255): shorten it to at most 198 characters" + why},
		{name: "dots take 3 bytes", product: strings.Repeat("d.", 60), slo: "latency", backend: "dir",
			// 240 bytes; 198 hold 49 "d." and a "d".
			want: "c.yaml:5:12: products[0].name: is too long to keep state for (the state file name would be 297 bytes, at most 255): shorten it to at most 99 characters" + why},
		{name: "the SLO name is the longer", product: "checkout.orders.placed", slo: a(200), backend: "dir",
			// 205 bytes less the product name's 26.
			want: "c.yaml:6:20: products[0].slos[0].name: is too long to keep state for (the state file name would be 276 bytes, at most 255): shorten it to at most 179 characters" + why},
		{name: "whatever the backend", product: a(199), slo: "latency", backend: "kafka",
			want: "c.yaml:5:12: products[0].name: is too long to keep state for (the state file name would be 256 bytes, at most 255): shorten it to at most 198 characters" + why},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := "naming: off\ncluster: {brokers: [\"k:9092\"]}\nstate: {backend: " + tt.backend + "}\nproducts:\n" +
				"  - {name: " + tt.product + ", domain: d, owner: o, topics: [t],\n" +
				"     slos: [{name: " + tt.slo + ", sli: latency, threshold: 1s, objective: 99%}]}\nowners: {o: {}}\n"
			_, ps, _ := config.LoadWith("c.yaml", []byte(cfg), nil, config.Extension{Check: CheckStateKeys})
			if diff := cmp.Diff(tt.want, ps.Error()); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nconfig:\n%s", diff, cfg)
			}
		})
	}
}

// TestCheckStateKeysAdvice checks the advice: the name cut to the number
// of characters the problem gives fits, one character more does not.
func TestCheckStateKeysAdvice(t *testing.T) {
	atMost := regexp.MustCompile(`at most (\d+) characters`)
	for _, name := range []string{strings.Repeat("x", 300), strings.Repeat("ü.", 80), strings.Repeat("ab-c.", 50)} {
		cfg := &meshwatch.Config{Products: []meshwatch.Product{{Name: name, SLOs: []meshwatch.SLO{{Name: "freshness"}, {Name: "latency"}}}}}
		ps := CheckStateKeys(cfg)
		if len(ps) != 1 || ps[0].Path != "products[0].name" {
			t.Fatalf("problems for a %d-byte name: %v, want one at products[0].name", len(name), ps)
		}
		m := atMost.FindStringSubmatch(ps[0].Msg)
		if m == nil {
			t.Fatalf("no length in %q", ps[0].Msg)
		}
		n, _ := strconv.Atoi(m[1])
		runes := []rune(name)
		// "freshness" is the longest SLO name: the advice is for it.
		if got := state.FileNameLen(StateKey(string(runes[:n]), "freshness")); got > state.MaxFileName {
			t.Errorf("%q cut to %d characters is %d bytes, more than %d", name, n, got, state.MaxFileName)
		}
		if got := state.FileNameLen(StateKey(string(runes[:n+1]), "freshness")); got <= state.MaxFileName {
			t.Errorf("%q cut to %d characters still fits (%d bytes): the advice is too strict", name, n+1, got)
		}
	}
}
