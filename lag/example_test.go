package lag_test

import (
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch/lag"
)

// A group has committed offset 150 on a partition whose end offset is 300:
// 150 records wait for it. How long has record 150 waited?
func ExampleCompute() {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(30 * time.Second)
	// The partition's end offset as the passes sampled it every 10 s: a
	// steady 10 records/s.
	history := []lag.Point{
		{Offset: 0, Time: t0},
		{Offset: 100, Time: t0.Add(10 * time.Second)},
		{Offset: 200, Time: t0.Add(20 * time.Second)},
		{Offset: 300, Time: now},
	}
	o := lag.Offsets{Committed: 150, End: 300, LogStart: 0}

	// Record 150 was not read: when it was appended is interpolated from
	// the history (the end offset passed 151 about 15.1 s after t0).
	l := lag.Compute(o, history, time.Time{}, now)
	fmt.Println(l.Records, "records,", l.Time, l.Method)

	// Record 150 was read and carries its timestamp: the lag is exact.
	l = lag.Compute(o, history, t0.Add(15250*time.Millisecond), now)
	fmt.Println(l.Records, "records,", l.Time, l.Method)

	// A caught-up group waits for nothing, however old the last record.
	l = lag.Compute(lag.Offsets{Committed: 300, End: 300}, history, time.Time{}, now.Add(time.Hour))
	fmt.Println(l.Records, "records,", l.Time, l.Method)

	// A group that never committed the partition has no lag at all, not 0.
	l = lag.Compute(lag.Offsets{Committed: lag.NoOffset, End: 300}, history, time.Time{}, now)
	fmt.Println("committed:", l.Committed)

	// Output:
	// 150 records, 14.9s interpolated
	// 150 records, 14.75s exact
	// 0 records, 0s exact
	// committed: false
}
