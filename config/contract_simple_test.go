package config

import (
	"testing"

	"github.com/meshwatch/meshwatch"
)

// TestLoadSimpleContract: the simple contract of the data-mesh literature,
// listed under contracts:, loads through the loader as one product with
// its three SLOs (availability, latency, freshness), completeness, and its
// two validity rules.
func TestLoadSimpleContract(t *testing.T) {
	cfg, ps, err := LoadFileWith("../odcs/testdata/contracts/simple/config.yaml", Options{})
	if err != nil {
		t.Fatalf("load: %v\n%v", err, ps)
	}
	if len(cfg.Products) != 1 {
		t.Fatalf("%d products, want 1", len(cfg.Products))
	}
	p := cfg.Products[0]
	if p.Name != "order-events-v1" || p.Owner != "orders-domain-team" || len(p.Topics) != 1 || p.Topics[0].Name != "order-events-v1" {
		t.Errorf("product %q owner %q topics %v", p.Name, p.Owner, p.Topics)
	}
	slis := map[string]bool{}
	for _, s := range p.SLOs {
		slis[s.SLI] = true
	}
	for _, want := range []string{meshwatch.SLIAvailability, meshwatch.SLILatency, meshwatch.SLIFreshness, meshwatch.SLICompleteness} {
		if !slis[want] {
			t.Errorf("no %s SLO among %v", want, p.SLOs)
		}
	}
	if len(p.Quality.Rules) != 2 {
		t.Fatalf("quality %+v, want 2 validity rules", p.Quality)
	}
}
