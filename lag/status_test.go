package lag

import (
	"strings"
	"testing"
	"time"
)

// obs is one pass of a status table test: offsets at 10 s × its index.
type obs struct {
	committed, end, logStart int64
	consuming                bool
	record                   float64 // seconds since t0 of the committed record when read; 0 interpolates
}

const passEvery = 10 // seconds between passes in the tables

// rows builds n passes with f(i).
func rows(n int, f func(i int) obs) []obs {
	out := make([]obs, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// statuses evaluates a table: the end offsets feed the history, Compute
// gives each pass its time lag, Evaluate its status.
func statuses(tb testing.TB, in []obs, r Rules) []string {
	tb.Helper()
	var h history
	var s State
	out := make([]string, len(in))
	for i, o := range in {
		now := at(float64(i * passEvery))
		h.add(o.end, now)
		var rec time.Time
		if o.record != 0 {
			rec = at(o.record)
		}
		l := Compute(Offsets{Committed: o.committed, End: o.end, LogStart: o.logStart}, h.points, rec, now)
		s = Evaluate(s, Observation{
			Time: now, Committed: o.committed, End: o.end, LogStart: o.logStart,
			TimeLag: l.Time, Consuming: o.consuming,
		}, r)
		out[i] = s.Status
	}
	return out
}

// expect spells a status sequence: "OK*10 STOP*5" is ten OKs then five STOPs.
func expect(spec string) []string {
	var out []string
	for _, f := range strings.Fields(spec) {
		st, n := f, 1
		if i := strings.IndexByte(f, '*'); i > 0 {
			st = f[:i]
			n = 0
			for _, c := range f[i+1:] {
				n = n*10 + int(c-'0')
			}
		}
		for range n {
			out = append(out, st)
		}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	rules := Rules{Passes: 3, StuckAfter: 30 * time.Second, MinWarnLag: 20 * time.Second, WarnGrowth: 0.1}
	// Production: 10 records/s, 100 per pass, from offset 0 at t0.
	end := func(i int) int64 { return int64(100 * i) }
	keepUp := func(i int) int64 { return max(end(i)-5, 0) }
	tests := []struct {
		name  string
		rules Rules
		in    []obs
		want  string
	}{
		{
			name: "idle topic, caught-up group: OK forever",
			in:   rows(60, func(int) obs { return obs{committed: 100, end: 100} }),
			want: "OK*60",
		},
		{
			name: "keeping up with steady traffic",
			in:   rows(30, func(i int) obs { return obs{committed: keepUp(i), end: end(i)} }),
			want: "OK*30",
		},
		{
			name: "stops while behind, then resumes",
			in: rows(25, func(i int) obs {
				switch {
				case i <= 5 || i >= 15:
					return obs{committed: keepUp(i), end: end(i)}
				default:
					return obs{committed: keepUp(5), end: end(i)} // nobody commits
				}
			}),
			// Stuck from i=8 (30 s without progress and 30.4 s of lag),
			// reported at i=10; caught up at i=15, reported at i=17.
			want: "OK*10 STOP*7 OK*8",
		},
		{
			name: "stalls: a member is assigned but the offset does not move",
			in: rows(25, func(i int) obs {
				if i <= 5 || i >= 15 {
					return obs{committed: keepUp(i), end: end(i), consuming: true}
				}
				return obs{committed: keepUp(5), end: end(i), consuming: true}
			}),
			want: "OK*10 STALL*7 OK*8",
		},
		{
			name: "stopped twenty minutes before the first pass",
			in: rows(8, func(i int) obs {
				return obs{committed: 100, end: 50_000 + end(i), record: -1200}
			}),
			// Not moving is known after 30 s of passes (i=3), reported at i=5.
			want: "OK*5 STOP*3",
		},
		{
			name: "an old zero-lag pass does not hide a stop",
			in: rows(40, func(i int) obs {
				if i < 20 {
					return obs{committed: 100, end: 100} // idle and caught up
				}
				return obs{committed: 100, end: 100 + end(i-19)} // traffic resumes, the group is gone
			}),
			// Behind from i=20 with a lag from 0; 30 s of lag at i=23;
			// reported at i=25.
			want: "OK*25 STOP*15",
		},
		{
			name: "one new record on an idle topic is not a stop",
			in: rows(20, func(i int) obs {
				switch {
				case i < 10:
					return obs{committed: 100, end: 100}
				case i == 10:
					return obs{committed: 100, end: 101}
				default:
					return obs{committed: 101, end: 101}
				}
			}),
			want: "OK*20",
		},
		{
			name: "rewinds, then catches up past where it was",
			in: rows(14, func(i int) obs {
				switch {
				case i <= 5:
					return obs{committed: keepUp(i), end: end(i)}
				case i <= 8:
					return obs{committed: 200 + int64(110*(i-6)), end: end(i)}
				default:
					return obs{committed: 530 + int64(110*(i-9)), end: end(i)}
				}
			}),
			// Below 495 at i=6,7,8: REWIND reported at i=8; past it at
			// i=9, OK reported at i=11.
			want: "OK*8 REWIND*3 OK*3",
		},
		{
			name: "lost: the log start passed the committed offset",
			in: rows(16, func(i int) obs {
				switch {
				case i <= 5:
					return obs{committed: keepUp(i), end: end(i)}
				case i < 10:
					return obs{committed: keepUp(5), end: end(i), logStart: 550}
				default:
					return obs{committed: keepUp(i), end: end(i), logStart: 550}
				}
			}),
			want: "OK*8 LOST*4 OK*4",
		},
		{
			name: "one lost pass is not reported",
			in: rows(10, func(i int) obs {
				if i == 5 {
					return obs{committed: keepUp(4), end: end(i), logStart: keepUp(4) + 1}
				}
				return obs{committed: keepUp(i), end: end(i)}
			}),
			want: "OK*10",
		},
		{
			name: "falls behind at 80 % of the production rate, then catches up",
			in: rows(30, func(i int) obs {
				if i < 20 {
					return obs{committed: int64(80 * i), end: end(i)}
				}
				return obs{committed: end(i), end: end(i)}
			}),
			// The time lag grows 0.2 s/s: 20 s at i=11, reported at i=13;
			// caught up at i=20, reported at i=22.
			want: "OK*13 WARN*9 OK*8",
		},
		{
			name:  "passes 1 reports every change at once",
			rules: Rules{Passes: 1, StuckAfter: 30 * time.Second, MinWarnLag: 20 * time.Second, WarnGrowth: 0.1},
			in: rows(10, func(i int) obs {
				if i == 5 {
					return obs{committed: keepUp(4), end: end(i), logStart: keepUp(4) + 1}
				}
				return obs{committed: keepUp(i), end: end(i)}
			}),
			want: "OK*5 LOST OK*4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rules
			if r.Passes == 0 {
				r = rules
			}
			got := statuses(t, tt.in, r)
			want := expect(tt.want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("statuses\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	r := Rules{Passes: 2, StuckAfter: time.Minute}
	var hist []Observation
	for i := range 5 {
		hist = append(hist, Observation{Time: at(float64(i)), Committed: 5, End: 10, LogStart: 7, TimeLag: time.Second})
	}
	if got := StatusOf(hist, r); got != StatusLost {
		t.Errorf("StatusOf = %q, want LOST", got)
	}
	if got := StatusOf(nil, r); got != "" {
		t.Errorf("StatusOf(nil) = %q, want no status", got)
	}
	if got := Evaluate(State{Status: StatusOK}, Observation{Committed: NoOffset}, r); got.Status != "" {
		t.Errorf("a never-committed partition has status %q, want none", got.Status)
	}
}

func TestWorse(t *testing.T) {
	for _, tt := range []struct{ a, b, want string }{
		{"", StatusOK, StatusOK},
		{StatusOK, StatusWarn, StatusWarn},
		{StatusStop, StatusWarn, StatusStop},
		{StatusLost, StatusStop, StatusLost},
		{StatusRewind, StatusStall, StatusStall},
	} {
		if got := worse(tt.a, tt.b); got != tt.want {
			t.Errorf("worse(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestSettled: a monitor that starts on a group that stopped long ago
// reads OK at first, and says so is not settled until it has watched for
// StuckAfter and the STOP has passed its hysteresis; a caught-up group is
// settled OK after StuckAfter.
func TestSettled(t *testing.T) {
	rules := Rules{Passes: 3, StuckAfter: 30 * time.Second, MinWarnLag: 20 * time.Second, WarnGrowth: 0.1}
	fold := func(committed func(i int) int64, n int) (statuses []string, settled []bool) {
		var s State
		for i := range n {
			now := at(float64(i * passEvery))
			end := int64(1000 + 100*i)
			c := committed(i)
			// The committed record was written an hour ago for the stopped
			// group; a caught-up group has no lag.
			lag := time.Duration(0)
			if c < end {
				lag = time.Hour
			}
			s = Evaluate(s, Observation{Time: now, Committed: c, End: end, TimeLag: lag}, rules)
			statuses = append(statuses, s.Status)
			settled = append(settled, s.Settled(rules))
		}
		return statuses, settled
	}
	// Stopped at offset 10 an hour before the monitor started: STOP is
	// raw from i=3 (30 s), reported at i=5; settled from then on only.
	st, set := fold(func(int) int64 { return 10 }, 8)
	if want := expect("OK*5 STOP*3"); strings.Join(st, " ") != strings.Join(want, " ") {
		t.Errorf("stopped group: statuses %v, want %v", st, want)
	}
	for i, ok := range set {
		if ok != (i >= 5) {
			t.Errorf("stopped group, pass %d (%s): settled %v, want %v", i, st[i], ok, i >= 5)
		}
	}
	// Caught up: OK throughout, settled once watched for 30 s (i=3).
	st, set = fold(func(i int) int64 { return int64(1000 + 100*i) }, 5)
	for i, ok := range set {
		if st[i] != StatusOK || ok != (i >= 3) {
			t.Errorf("caught-up group, pass %d: %s settled %v, want OK settled %v", i, st[i], ok, i >= 3)
		}
	}
	if (State{}).Settled(rules) {
		t.Error("a state without observations is settled")
	}
}
