package kafkatest

import (
	"fmt"
	"testing"
	"time"
)

// pollInterval is how often WaitFor evaluates its condition.
const pollInterval = 20 * time.Millisecond

// WaitFor evaluates cond at once and then every 20 ms until it returns true,
// and fails the test with the message msgf formats from args if timeout
// passes first or the test's context is done. cond runs on the calling
// goroutine. WaitFor is the only way meshwatch's tests wait for something
// asynchronous; they never sleep to synchronise.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msgf string, args ...any) {
	t.Helper()
	if cond() {
		return
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return
			}
		case <-deadline.C:
			// One last look: the condition may have become true
			// between the last tick and the deadline.
			if cond() {
				return
			}
			t.Fatalf("timed out after %v: %s", timeout, fmt.Sprintf(msgf, args...))
			return
		case <-t.Context().Done():
			t.Fatalf("test context done while waiting: %s", fmt.Sprintf(msgf, args...))
			return
		}
	}
}
