package logonce

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	l := &Limiter{Interval: time.Minute, Now: func() time.Time { return now }}
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true},
		{0, "a", false},
		{0, "b", true},
		{59 * time.Second, "a", false},
		{time.Second, "a", true},
		{0, "b", true}, // a minute after its first line
		{0, "b", false},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := l.Allow(s.key); got != s.want {
			t.Errorf("step %d: Allow(%q) = %v, want %v", i, s.key, got, s.want)
		}
	}
}
