package dashboards

import (
	"strings"
	"testing"
)

// TestSLOThresholdLines: the panels of an indicator with a time threshold
// draw each SLO's own threshold from meshwatch_slo_threshold_seconds, as a
// series of its own styled as a line, and no fixed threshold that would
// say 1 s or 60 s to an SLO that promised 5 s; the SLO tables show the
// threshold next to the objective.
func TestSLOThresholdLines(t *testing.T) {
	lines := []struct{ file, title, sli string }{
		{"product.json", "Latency quantiles (HDR, 5m window)", "latency"},
		{"product.json", "p50 and p99 from the native histogram", "latency"},
		{"product.json", "Freshness", "freshness"},
		{"product.json", "Time lag per group", "lag"},
	}
	for _, l := range lines {
		p := findPanel(t, l.file, l.title)
		ref := ""
		for _, tg := range anys(p["targets"]) {
			m, _ := tg.(map[string]any)
			if e := str(m, "expr"); strings.Contains(e, "meshwatch_slo_threshold_seconds{") && strings.Contains(e, `sli="`+l.sli+`"`) {
				ref = str(m, "refId")
			}
		}
		if ref == "" {
			t.Errorf("%s %q: no target of meshwatch_slo_threshold_seconds{sli=%q}", l.file, l.title, l.sli)
			continue
		}
		styled := false
		fc, _ := p["fieldConfig"].(map[string]any)
		for _, o := range anys(fc["overrides"]) {
			m, _ := o.(map[string]any)
			if str(m, "matcher", "id") == "byFrameRefID" && str(m, "matcher", "options") == ref {
				styled = true
			}
		}
		if !styled {
			t.Errorf("%s %q: the threshold series %s has no byFrameRefID override to draw it as a line", l.file, l.title, ref)
		}
		for _, s := range anys(steps(p)) {
			if m, _ := s.(map[string]any); m["value"] != nil {
				t.Errorf("%s %q: a fixed threshold at %v; the SLOs' own thresholds replace it", l.file, l.title, m["value"])
			}
		}
	}
	for _, tb := range []struct{ file, title string }{{"product.json", "SLOs"}, {"overview.json", "SLO status"}} {
		p := findPanel(t, tb.file, tb.title)
		found := false
		for _, tg := range anys(p["targets"]) {
			m, _ := tg.(map[string]any)
			found = found || strings.Contains(str(m, "expr"), "meshwatch_slo_threshold_seconds{")
		}
		if !found {
			t.Errorf("%s %q: no threshold column (meshwatch_slo_threshold_seconds)", tb.file, tb.title)
		}
	}
}

func findPanel(t *testing.T, file, title string) map[string]any {
	t.Helper()
	for _, p := range panels(decode(t, file)) {
		if str(p, "title") == title {
			return p
		}
	}
	t.Fatalf("%s: no panel %q", file, title)
	return nil
}

func anys(v any) []any { s, _ := v.([]any); return s }

func steps(p map[string]any) any {
	fc, _ := p["fieldConfig"].(map[string]any)
	d, _ := fc["defaults"].(map[string]any)
	th, _ := d["thresholds"].(map[string]any)
	return th["steps"]
}
