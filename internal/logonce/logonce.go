// Package logonce rate-limits log lines by key, so that a repeating error
// is logged at most once per interval (and counted in a metric by its
// caller) instead of flooding the log.
package logonce

import (
	"sync"
	"time"
)

// Limiter allows one log line per key per Interval. Its zero value allows
// every line (Interval 0); it is safe for concurrent use.
type Limiter struct {
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
}

// Allow reports whether a line for key may be logged now, and if so starts
// its interval.
func (l *Limiter) Allow(key string) bool {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.Interval {
		return false
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	l.last[key] = now
	return true
}
