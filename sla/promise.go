package sla

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Threshold returns the time threshold of s (meshwatch.SLO.TimeThreshold):
// latency, freshness and lag take one; false for an indicator without one.
func Threshold(s *meshwatch.SLO) (time.Duration, bool) { return s.TimeThreshold() }

// Promise returns what s of p promises in words (meshwatch.SLO.Promise):
// "99.9% of records within 1s", "fresher than 1m 99% of the time".
func Promise(p *meshwatch.Product, s *meshwatch.SLO) string { return s.Promise(p) }

// EnoughData reports whether valid events over an SLO's window are enough to
// show its budget: at least one, and at least min_events.
func EnoughData(valid, minEvents int64) bool { return valid > 0 && valid >= minEvents }

// NotEnoughData is what every display shows instead of a budget over fewer
// valid events than min_events: "not enough data (12 of 100 events)".
func NotEnoughData(valid, minEvents int64) string {
	return fmt.Sprintf("not enough data (%d of %d events)", valid, minEvents)
}

// BudgetDisplay is budget remaining as people read it: "not enough data (n
// of m events)" below min_events, "no data" without a valid event, "spent"
// at or below 0 (the raw, possibly far negative, value is for machines),
// else the percentage left truncated to 0.1 % — a budget that lost
// anything never reads 100 % — or "<0.1%".
func BudgetDisplay(remaining float64, valid, minEvents int64) string {
	switch {
	case valid <= 0 && minEvents <= 0:
		return "no data"
	case !EnoughData(valid, minEvents):
		return NotEnoughData(valid, minEvents)
	case remaining <= 0 || math.IsNaN(remaining):
		return "spent"
	case remaining >= 1:
		return "100%"
	}
	// A hair above the float's error, so that 0.72 reads 72%, not 71.9%.
	tenths := math.Floor(remaining*1000 + 1e-9) // of a percent
	if tenths <= 0 {
		return "<0.1%"
	}
	return strconv.FormatFloat(tenths/10, 'f', -1, 64) + "%"
}
