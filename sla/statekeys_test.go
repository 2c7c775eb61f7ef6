package sla

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/state"
)

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
