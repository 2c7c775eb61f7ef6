package sla

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Threshold returns the time threshold of s — latency, freshness and lag
// take one — and false for an indicator without one (availability,
// completeness, validity, volume).
func Threshold(s *meshwatch.SLO) (time.Duration, bool) {
	switch s.SLI {
	case meshwatch.SLILatency, meshwatch.SLIFreshness, meshwatch.SLILag:
		return s.Threshold.Std(), s.Threshold > 0
	}
	return 0, false
}

// Promise returns what s promises, objective and threshold in one phrase
// for people: "99.9% of records within 1s", "fresher than 1m 99% of the
// time", "group fraud-detector at most 30s behind 99% of the time",
// "available 99.9% of the time", "99% of records complete", "99.5% of
// records valid", "at least 100 records a minute in 99% of minutes". p,
// the SLO's product, may be nil: a volume SLO then says "99% of minutes
// with the promised volume".
func Promise(p *meshwatch.Product, s *meshwatch.SLO) string {
	obj := s.Objective.String()
	th, hasTh := Threshold(s)
	thr := meshwatch.Duration(th).String()
	switch s.SLI {
	case meshwatch.SLILatency:
		if hasTh {
			return obj + " of records within " + thr
		}
		return obj + " of records on time"
	case meshwatch.SLIFreshness:
		if hasTh {
			return "fresher than " + thr + " " + obj + " of the time"
		}
		return "fresh " + obj + " of the time"
	case meshwatch.SLILag:
		who := "consumers"
		if s.ConsumerGroup != "" {
			who = "group " + s.ConsumerGroup
		}
		if hasTh {
			return who + " at most " + thr + " behind " + obj + " of the time"
		}
		return who + " keeping up " + obj + " of the time"
	case meshwatch.SLIAvailability:
		return "available " + obj + " of the time"
	case meshwatch.SLICompleteness:
		return obj + " of records complete"
	case meshwatch.SLIValidity:
		return obj + " of records valid"
	case meshwatch.SLIVolume:
		if p != nil && p.Quality.Volume != nil && p.Quality.Volume.MinPerMinute > 0 {
			return "at least " + strconv.FormatFloat(p.Quality.Volume.MinPerMinute, 'f', -1, 64) + " records a minute in " + obj + " of minutes"
		}
		return obj + " of minutes with the promised volume"
	}
	return obj
}

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
