package sla_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch/config"
)

// TestCheckStateKeys loads configurations as the agent does: the loader
// runs CheckStateKeys and places its problems.
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
			_, ps, _ := config.Load("c.yaml", []byte(cfg), nil)
			if diff := cmp.Diff(tt.want, ps.Error()); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nconfig:\n%s", diff, cfg)
			}
		})
	}
}
