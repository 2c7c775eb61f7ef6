package demo

import (
	"slices"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
)

func TestCatalogValidates(t *testing.T) {
	cfg := Catalog()
	cfg.SetDefaults()
	if ps := cfg.Validate(); len(ps) > 0 {
		t.Fatalf("Catalog does not validate cleanly:\n%v", ps)
	}
	if Listen != "127.0.0.1:9477" || Tick != 5*time.Second || cfg.Cluster.Name != "demo" {
		t.Errorf("http.listen %q, collector.tick %v, cluster %q; want 127.0.0.1:9477, 5s and demo", Listen, Tick, cfg.Cluster.Name)
	}

	// Each topic the producers write is selected by its own product and
	// by no other (checked after Validate compiled the patterns).
	for _, s := range Scenarios() {
		for _, topic := range s.Topics {
			var by []string
			for _, p := range cfg.Products {
				if slices.ContainsFunc(p.Topics, func(sel meshwatch.TopicSelector) bool { return sel.Matches(topic) }) {
					by = append(by, p.Name)
				}
			}
			if !slices.Equal(by, []string{s.Product}) {
				t.Errorf("topic %s is selected by %v, want only %s", topic, by, s.Product)
			}
		}
	}
}

func TestCatalogShape(t *testing.T) {
	cfg := Catalog()
	mutated := Catalog()
	mutated.Products[0].SLOs[0].Name = "mutated"
	mutated.Owners["orders-team"] = meshwatch.Owner{}
	if cfg.Products[0].SLOs[0].Name == "mutated" || Catalog().Owners["orders-team"].SlackChannel == "" {
		t.Fatal("Catalog returned state shared between calls")
	}

	domains := map[string]bool{}
	sources := map[string]bool{}
	patterns := 0
	for _, p := range cfg.Products {
		domains[p.Domain] = true
		sources[p.EventTime.Source()] = true
		if o, ok := cfg.Owners[p.Owner]; !ok || o.SlackChannel == "" {
			t.Errorf("%s: owner %q has no slack channel", p.Name, p.Owner)
		}
		if p.Description == "" || p.Format != meshwatch.FormatJSON {
			t.Errorf("%s: description %q, format %q; want a description and json", p.Name, p.Description, p.Format)
		}
		for _, sel := range p.Topics {
			if sel.Pattern != "" {
				patterns++
			}
		}
		want := map[string]bool{meshwatch.SLILatency: false, meshwatch.SLIFreshness: false, meshwatch.SLIAvailability: false}
		for _, s := range p.SLOs {
			want[s.SLI] = true
			switch s.SLI {
			case meshwatch.SLILatency:
				if s.Threshold.Std() != time.Second || s.Objective != 0.99 {
					t.Errorf("%s: latency SLO %+v, want 1s at 99%%", p.Name, s)
				}
			case meshwatch.SLIFreshness:
				if s.Threshold.Std() != 30*time.Second {
					t.Errorf("%s: freshness SLO %+v, want 30s", p.Name, s)
				}
			case meshwatch.SLIAvailability:
				if s.Objective != 0.999 {
					t.Errorf("%s: availability SLO %+v, want 99.9%%", p.Name, s)
				}
			}
		}
		for sli, ok := range want {
			if !ok {
				t.Errorf("%s has no %s SLO", p.Name, sli)
			}
		}
	}
	if len(cfg.Products) < 4 || len(domains) < 3 {
		t.Errorf("%d products in %d domains, want at least 4 in 3", len(cfg.Products), len(domains))
	}
	if patterns != 1 {
		t.Errorf("%d topic patterns, want 1", patterns)
	}
	for _, src := range []string{meshwatch.EventTimeRecord, meshwatch.EventTimeHeader, meshwatch.EventTimeField} {
		if !sources[src] {
			t.Errorf("no product reads its event time from the %s", src)
		}
	}

	scenarios := Scenarios()
	if len(scenarios) != len(cfg.Products) {
		t.Fatalf("%d scenarios for %d products", len(scenarios), len(cfg.Products))
	}
	for i, s := range scenarios {
		if s.Product != cfg.Products[i].Name {
			t.Errorf("scenario %d is %s, product %d is %s", i, s.Product, i, cfg.Products[i].Name)
		}
	}
}
