package meshwatch

import (
	"strconv"
	"time"
)

// TimeThreshold returns the time threshold of s — latency, freshness and lag
// take one — and false for an indicator without one (availability,
// completeness, validity, volume).
func (s *SLO) TimeThreshold() (time.Duration, bool) {
	switch s.SLI {
	case SLILatency, SLIFreshness, SLILag:
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
func (s *SLO) Promise(p *Product) string {
	obj := s.Objective.String()
	th, hasTh := s.TimeThreshold()
	thr := Duration(th).String()
	switch s.SLI {
	case SLILatency:
		if hasTh {
			return obj + " of records within " + thr
		}
		return obj + " of records on time"
	case SLIFreshness:
		if hasTh {
			return "fresher than " + thr + " " + obj + " of the time"
		}
		return "fresh " + obj + " of the time"
	case SLILag:
		who := "consumers"
		if s.ConsumerGroup != "" {
			who = "group " + s.ConsumerGroup
		}
		if hasTh {
			return who + " at most " + thr + " behind " + obj + " of the time"
		}
		return who + " keeping up " + obj + " of the time"
	case SLIAvailability:
		return "available " + obj + " of the time"
	case SLICompleteness:
		return obj + " of records complete"
	case SLIValidity:
		return obj + " of records valid"
	case SLIVolume:
		if p != nil && p.Quality.Volume != nil && p.Quality.Volume.MinPerMinute > 0 {
			return "at least " + strconv.FormatFloat(p.Quality.Volume.MinPerMinute, 'f', -1, 64) + " records a minute in " + obj + " of minutes"
		}
		return obj + " of minutes with the promised volume"
	}
	return obj
}
