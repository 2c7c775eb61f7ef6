package lag

import (
	"fmt"
	"math/rand/v2"
	"sort"
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
			// reported at once (an escalation); caught up at i=15, the
			// de-escalation reported after 3 passes, at i=17.
			want: "OK*8 STOP*9 OK*8",
		},
		{
			name: "stalls: a member is assigned but the offset does not move",
			in: rows(25, func(i int) obs {
				if i <= 5 || i >= 15 {
					return obs{committed: keepUp(i), end: end(i), consuming: true}
				}
				return obs{committed: keepUp(5), end: end(i), consuming: true}
			}),
			want: "OK*8 STALL*9 OK*8",
		},
		{
			name: "stopped twenty minutes before the first pass",
			in: rows(8, func(i int) obs {
				return obs{committed: 100, end: 50_000 + end(i), record: -1200}
			}),
			// Not moving is known after 30 s of passes (i=3), reported then.
			want: "OK*3 STOP*5",
		},
		{
			name: "an old zero-lag pass does not hide a stop",
			in: rows(40, func(i int) obs {
				if i < 20 {
					return obs{committed: 100, end: 100} // idle and caught up
				}
				return obs{committed: 100, end: 100 + end(i-19)} // traffic resumes, the group is gone
			}),
			// Behind from i=20 with a lag from 0; 30 s of lag at i=23,
			// reported then.
			want: "OK*23 STOP*17",
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
			// Below 495 at i=6,7,8: REWIND reported at i=6; past it at
			// i=9, cleared at once.
			want: "OK*6 REWIND*3 OK*5",
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
			// LOST at once at i=6; moving again at i=10, OK reported after
			// 3 passes, at i=12.
			want: "OK*6 LOST*6 OK*4",
		},
		{
			name: "one lost pass is reported at once, and clears after 3 passes",
			in: rows(10, func(i int) obs {
				if i == 5 {
					return obs{committed: keepUp(4), end: end(i), logStart: keepUp(4) + 1}
				}
				return obs{committed: keepUp(i), end: end(i)}
			}),
			want: "OK*5 LOST*3 OK*2",
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
// reads OK at first, and says it is not settled until it has watched for
// the patience (StuckAfter while the cadence is unknown), when the STOP is
// reported; a caught-up group is settled OK after StuckAfter; a group
// whose cadence is known is settled after its patience.
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
	// raw from i=3 (30 s), reported at once; settled from then on only.
	st, set := fold(func(int) int64 { return 10 }, 8)
	if want := expect("OK*3 STOP*5"); strings.Join(st, " ") != strings.Join(want, " ") {
		t.Errorf("stopped group: statuses %v, want %v", st, want)
	}
	for i, ok := range set {
		if ok != (i >= 3) {
			t.Errorf("stopped group, pass %d (%s): settled %v, want %v", i, st[i], ok, i >= 3)
		}
	}
	// Caught up: OK throughout, settled once watched for 30 s (i=3).
	st, set = fold(func(i int) int64 { return int64(1000 + 100*i) }, 5)
	for i, ok := range set {
		if st[i] != StatusOK || ok != (i >= 3) {
			t.Errorf("caught-up group, pass %d: %s settled %v, want OK settled %v", i, st[i], ok, i >= 3)
		}
	}
	// A consumer committing every minute: its patience is 2 minutes once
	// its first gap is known (at 70 s), so it is settled after 2 minutes of
	// watching, not after StuckAfter.
	minute := Rules{Passes: 3, StuckAfter: 30 * time.Second, MinStuck: 20 * time.Second, MaxStuck: 10 * time.Minute, MinWarnLag: 20 * time.Second, WarnGrowth: 0.1}
	var s State
	for i := range 16 {
		now := at(float64(i * passEvery))
		c := int64(100 * ((i + 5) / 6)) // moves at 10 s, 70 s, 130 s
		s = Evaluate(s, Observation{Time: now, Committed: c, End: c + 50, TimeLag: 5 * time.Second}, minute)
		want := i >= 3 && i < 7 || i >= 12 // StuckAfter 30 s; then 2 minutes
		if s.Status != StatusOK || s.Settled(minute) != want {
			t.Errorf("minute committer, pass %d: %s settled %v (patience %v), want OK settled %v", i, s.Status, s.Settled(minute), s.Patience(minute), want)
		}
	}
	if (State{}).Settled(rules) {
		t.Error("a state without observations is settled")
	}
}

// TestStatusPatience: the patience is StuckAfter until a commit gap is
// known, then 2 × the longest of the last 4 gaps clamped to [MinStuck,
// MaxStuck]; gaps are recorded only between two observed changes, when the
// partition was behind and not stuck at the observation before the change.
func TestStatusPatience(t *testing.T) {
	rules := Rules{Passes: 3, StuckAfter: time.Minute, MinStuck: 20 * time.Second, MaxStuck: 10 * time.Minute, MinWarnLag: 20 * time.Second, WarnGrowth: 0.1}
	// step is one observation: at second x, committed c, end e, time lag
	// lag seconds.
	type step struct {
		x    float64
		c, e int64
		lag  float64
	}
	fold := func(r Rules, steps []step) State {
		var s State
		for _, st := range steps {
			s = Evaluate(s, Observation{Time: at(st.x), Committed: st.c, End: st.e, TimeLag: secs(st.lag), Consuming: true}, r)
		}
		return s
	}
	// every builds observations every d seconds from x=0, moving the
	// committed offset by one at each, always 10 behind.
	every := func(d float64, n int) []step {
		var out []step
		for i := range n {
			out = append(out, step{float64(i) * d, int64(i), int64(i) + 10, 1})
		}
		return out
	}
	tests := []struct {
		name  string
		rules Rules
		steps []step
		want  time.Duration
	}{
		{name: "no observation", rules: rules, want: time.Minute},
		{name: "one change is no gap: the first observation is not a change", rules: rules, steps: every(10, 2), want: time.Minute},
		{name: "moving every 10 s: 2 × 10 s", rules: rules, steps: every(10, 3), want: 20 * time.Second},
		{name: "moving every 5 s: MinStuck", rules: rules, steps: every(5, 6), want: 20 * time.Second},
		{name: "moving every 60 s: 2 minutes", rules: rules, steps: every(60, 3), want: 2 * time.Minute},
		{name: "moving every 15 min: MaxStuck", rules: rules, steps: every(900, 3), want: 10 * time.Minute},
		{
			name:  "no cap without MaxStuck",
			rules: Rules{StuckAfter: time.Minute, MinStuck: 20 * time.Second},
			steps: every(900, 3), want: 30 * time.Minute,
		},
		{
			name:  "MinStuck <= 0: always StuckAfter",
			rules: Rules{StuckAfter: time.Minute, MaxStuck: 10 * time.Minute},
			steps: every(10, 10), want: time.Minute,
		},
		{
			name:  "MinStuck wins over a smaller MaxStuck",
			rules: Rules{StuckAfter: time.Minute, MinStuck: 20 * time.Second, MaxStuck: 5 * time.Second},
			steps: every(10, 3), want: 20 * time.Second,
		},
		{
			name:  "the longest of the last 4 gaps: a 90 s gap then four of 10 s",
			rules: rules,
			steps: []step{{0, 0, 10, 1}, {10, 1, 20, 1}, {100, 2, 30, 1}, {110, 3, 40, 1}, {120, 4, 50, 1}, {130, 5, 60, 1}, {140, 6, 70, 1}},
			want:  20 * time.Second,
		},
		{
			name:  "a 90 s gap among the last 4",
			rules: rules,
			steps: []step{{0, 0, 10, 1}, {10, 1, 20, 1}, {100, 2, 30, 1}, {110, 3, 40, 1}, {120, 4, 50, 1}, {130, 5, 60, 1}},
			want:  3 * time.Minute,
		},
		{
			name:  "caught up before the change: one pass, not the idle time",
			rules: rules,
			// Moves at 10, caught up until 600, a record at 605 read at 610:
			// the gap is the 10 s between the last two passes (patience
			// 20 s), not the 590 s of idle time (which would give MaxStuck).
			steps: []step{{0, 0, 1, 1}, {10, 1, 1, 0}, {600, 1, 1, 0}, {610, 2, 2, 0}},
			want:  20 * time.Second,
		},
		{
			name:  "stuck before the change: a stall is no gap",
			rules: rules,
			// Moves at 10 and 20 (a 10 s gap), stuck at 50 (30 s, 40 s of
			// lag), moves at 60.
			steps: []step{{0, 0, 100, 1}, {10, 1, 100, 1}, {20, 2, 100, 1}, {50, 2, 100, 40}, {60, 3, 100, 1}},
			want:  20 * time.Second,
		},
		{
			name:  "behind, not yet stuck before the change: a gap",
			rules: rules,
			steps: []step{{0, 0, 100, 1}, {10, 1, 100, 1}, {20, 2, 100, 1}, {35, 2, 100, 10}, {40, 3, 100, 1}},
			want:  40 * time.Second,
		},
		{
			name:  "the topic recreated: the cadence is forgotten",
			rules: rules,
			steps: append(every(10, 5), step{50, 0, 0, 0}),
			want:  time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fold(tt.rules, tt.steps).Patience(tt.rules); got != tt.want {
				t.Errorf("Patience = %v, want %v", got, tt.want)
			}
		})
	}

	// The gaps are in the value: evaluating a copy leaves the original.
	s := fold(rules, every(10, 6))
	before := s.Patience(rules)
	_ = Evaluate(s, Observation{Time: at(900), Committed: 100, End: 200, TimeLag: time.Second}, rules)
	if s.Patience(rules) != before || before != 20*time.Second {
		t.Errorf("a copy's evaluation changed the original: patience %v, was %v", s.Patience(rules), before)
	}
	if c := fold(rules, every(10, 6)); c != s {
		t.Error("the same observations gave two states")
	}
}

// The scenario tests drive the evaluator with a simulated topic and group
// as the monitor sees them: a pass every 10 s from t0, exact time lags
// from the simulated record times, and the rules the monitor sets for a
// 10 s interval.
var scenarioRules = Rules{
	Passes: 3, StuckAfter: time.Minute, MinStuck: 20 * time.Second, MaxStuck: 10 * time.Minute,
	MinWarnLag: 20 * time.Second, WarnGrowth: 0.1,
}

// world is a scenario: a partition's records, a group's commits and
// membership, and the log start.
type world struct {
	writes    []time.Time // record k was written at writes[k]
	commits   []simCommit // the group's commits, in time order
	consuming func(t time.Time) bool
	logStart  func(t time.Time) int64
}

type simCommit struct {
	at     time.Time
	offset int64
}

// produce appends rate records a second from second from to second to.
func (w *world) produce(from, to, rate float64) {
	for k := range int((to - from) * rate) {
		w.writes = append(w.writes, at(from+(float64(k)+0.5)/rate))
	}
}

// end is the end offset at t: the records written by then.
func (w *world) end(t time.Time) int64 {
	return int64(sort.Search(len(w.writes), func(i int) bool { return w.writes[i].After(t) }))
}

// committed is the group's committed offset at t.
func (w *world) committed(t time.Time) int64 {
	i := sort.Search(len(w.commits), func(i int) bool { return w.commits[i].at.After(t) })
	if i == 0 {
		return NoOffset
	}
	return w.commits[i-1].offset
}

// commit appends a commit at second x.
func (w *world) commit(x float64, offset int64) {
	w.commits = append(w.commits, simCommit{at(x), offset})
}

// last is the last committed offset (0 before any commit).
func (w *world) last() int64 {
	if len(w.commits) == 0 {
		return 0
	}
	return w.commits[len(w.commits)-1].offset
}

// keepUp commits every second, at half past, from second from to second
// to, the position the group had 0 to 2 s (random) before: it keeps up.
func (w *world) keepUp(rng *rand.Rand, from, to float64) {
	for x := from + 0.5; x < to; x++ {
		w.commit(x, max(w.last(), w.end(at(x-2*rng.Float64()))))
	}
}

// pass is one observation and the state after it.
type pass struct {
	o Observation
	s State
}

// observe runs n passes, every 10 s from t0.
func (w *world) observe(n int, r Rules) []pass {
	var s State
	out := make([]pass, n)
	for i := range out {
		t := at(float64(i * passEvery))
		o := Observation{Time: t, Committed: w.committed(t), End: w.end(t)}
		if o.Committed < o.End {
			o.TimeLag = t.Sub(w.writes[o.Committed]) // exact: the record at the committed offset
		}
		if w.logStart != nil {
			o.LogStart = w.logStart(t)
		}
		if w.consuming != nil {
			o.Consuming = w.consuming(t)
		}
		s = Evaluate(s, o, r)
		out[i] = pass{o, s}
	}
	return out
}

// reported returns how long after second x the passes first report st,
// and whether they do.
func reported(ps []pass, st string, x float64) (time.Duration, bool) {
	for _, p := range ps {
		if !p.o.Time.Before(at(x)) && p.s.Status == st {
			return p.o.Time.Sub(at(x)), true
		}
	}
	return 0, false
}

// only checks that every pass from second from to second to (excluded)
// reports st.
func only(t *testing.T, ps []pass, st string, from, to float64) {
	t.Helper()
	for _, p := range ps {
		if !p.o.Time.Before(at(from)) && p.o.Time.Before(at(to)) && p.s.Status != st {
			t.Errorf("%v: %s, want %s (committed %d, end %d, time lag %v, patience %v)",
				p.o.Time.Sub(t0), p.s.Status, st, p.o.Committed, p.o.End, p.o.TimeLag, p.s.Patience(scenarioRules))
			return
		}
	}
}

// within checks that st is reported at most d after second x.
func within(t *testing.T, ps []pass, st string, x float64, d time.Duration) {
	t.Helper()
	got, ok := reported(ps, st, x)
	switch {
	case !ok:
		t.Errorf("%s never reported after %vs", st, x)
	case got > d:
		t.Errorf("%s reported %v after the event at %vs, want at most %v", st, got, x, d)
	default:
		t.Logf("%s reported %v after the event", st, got)
	}
}

const passSecs = float64(passEvery)

func TestStatusScenario(t *testing.T) {
	const warm = 300.0 // 5 minutes keeping up before the event
	member := func(time.Time) bool { return true }
	until := func(x float64) func(time.Time) bool {
		return func(t time.Time) bool { return t.Before(at(x)) }
	}

	// stopped: keeps up until second x, then commits no more; with the
	// member still assigned (stall) or not (stop), or re-committing the
	// same offset every second (recommit).
	stopped := func(x float64, assigned, recommit bool) *world {
		w := &world{consuming: until(x)}
		if assigned {
			w.consuming = member
		}
		w.produce(-10, 3000, 10)
		w.keepUp(rand.New(rand.NewPCG(1, 2)), -5, x)
		if recommit {
			c := w.last()
			for y := x + 0.5; y < 3000; y++ {
				w.commit(y, c)
			}
		}
		return w
	}

	type scenario struct {
		name  string
		world func() *world
		n     int // passes
		check func(t *testing.T, ps []pass)
	}
	var tests []scenario

	tests = append(tests, scenario{
		name: "keeps up committing every second: OK throughout, 30 minutes",
		world: func() *world {
			w := &world{consuming: member}
			w.produce(-10, 1900, 10)
			w.keepUp(rand.New(rand.NewPCG(5, 6)), -5, 1900)
			return w
		},
		n: 181,
		check: func(t *testing.T, ps []pass) {
			only(t, ps, StatusOK, 0, 1e9)
			last := ps[len(ps)-1].s
			if p := last.Patience(scenarioRules); p != 20*time.Second || !last.Settled(scenarioRules) {
				t.Errorf("at the end: patience %v, settled %v; want 20s, settled", p, last.Settled(scenarioRules))
			}
		},
	})

	// Half speed: the lag reaches MinWarnLag, then WARN within a few
	// minutes and for good.
	halfSpeed := func(t *testing.T, ps []pass) {
		reach := -1.0
		for _, p := range ps {
			if p.o.TimeLag >= scenarioRules.MinWarnLag {
				reach = p.o.Time.Sub(t0).Seconds()
				break
			}
		}
		if reach < 0 {
			t.Fatal("the lag never reached MinWarnLag")
		}
		only(t, ps, StatusOK, 0, reach)
		within(t, ps, StatusWarn, reach, 2*time.Minute)
		if d, ok := reported(ps, StatusWarn, reach); ok {
			only(t, ps, StatusWarn, reach+d.Seconds(), 1e9)
		}
	}
	tests = append(tests, scenario{
		name: "half speed committing every second: WARN, never back to OK",
		world: func() *world {
			w := &world{consuming: member}
			w.produce(-10, 1900, 10)
			for x := -9.5; x < 1900; x++ {
				w.commit(x, int64(5*(x+10))) // 5 records a second from the start
			}
			return w
		},
		n:     181,
		check: halfSpeed,
	}, scenario{
		// A batch of 200 records every 40 s: the lag drops once a batch,
		// one raw OK observation in four that the hysteresis rides out.
		name: "half speed in batches of 40 s: WARN, never back to OK",
		world: func() *world {
			w := &world{consuming: member}
			w.produce(-10, 1900, 10)
			for k := 0; -9.5+40*float64(k) < 1900; k++ {
				w.commit(-9.5+40*float64(k), int64(200*k))
			}
			return w
		},
		n: 181,
		check: func(t *testing.T, ps []pass) {
			halfSpeed(t, ps)
			raw := 0
			for _, p := range ps {
				if p.s.candidate != StatusWarn {
					raw++
				}
			}
			if raw < 10 {
				t.Errorf("only %d raw non-WARN observations: the scenario does not test flapping", raw)
			}
		},
	})

	// Stops, stalls, re-commits: at a phase just after a pass (the worst:
	// the last commit is seen one pass later) and mid-pass.
	for _, phase := range []float64{0.6, 5.6} {
		x := warm + phase
		tests = append(tests, scenario{
			name:  fmt.Sprintf("stops (leaves) at %vs: STOP within 30 s", x),
			world: func() *world { return stopped(x, false, false) },
			n:     60,
			check: func(t *testing.T, ps []pass) {
				only(t, ps, StatusOK, 0, x)
				within(t, ps, StatusStop, x, 30*time.Second)
			},
		}, scenario{
			name:  fmt.Sprintf("stalls with a member at %vs: STALL within 30 s", x),
			world: func() *world { return stopped(x, true, false) },
			n:     60,
			check: func(t *testing.T, ps []pass) {
				only(t, ps, StatusOK, 0, x)
				within(t, ps, StatusStall, x, 30*time.Second)
			},
		}, scenario{
			// Re-committing the same offset changes nothing the evaluator
			// sees: the observations are those of the stall above.
			name:  fmt.Sprintf("stalls re-committing the same offset at %vs: STALL within 30 s", x),
			world: func() *world { return stopped(x, true, true) },
			n:     60,
			check: func(t *testing.T, ps []pass) {
				stall := stopped(x, true, false).observe(60, scenarioRules)
				for i := range ps {
					if ps[i].o != stall[i].o {
						t.Fatalf("pass %d: %+v, the stall saw %+v", i, ps[i].o, stall[i].o)
					}
				}
				only(t, ps, StatusOK, 0, x)
				within(t, ps, StatusStall, x, 30*time.Second)
			},
		})
	}

	tests = append(tests, scenario{
		name: "falls behind at half speed, then stops: WARN, then STOP within 30 s",
		world: func() *world {
			w := &world{consuming: until(warm + 0.6)}
			w.produce(-10, 1000, 10)
			for x := -9.5; x < warm+0.6; x++ {
				w.commit(x, int64(5*(x+10)))
			}
			return w
		},
		n: 60,
		check: func(t *testing.T, ps []pass) {
			if _, ok := reported(ps, StatusWarn, 0); !ok {
				t.Error("never WARN before the stop")
			}
			only(t, ps, StatusWarn, warm-passSecs, warm+0.6)
			within(t, ps, StatusStop, warm+0.6, 30*time.Second)
		},
	})

	tests = append(tests, scenario{
		name: "stalls, resumes for 30 s, stalls again: the stall is not taken for the cadence",
		world: func() *world {
			w := &world{consuming: member}
			w.produce(-10, 1000, 10)
			rng := rand.New(rand.NewPCG(7, 8))
			w.keepUp(rng, -5, warm+0.6)
			w.keepUp(rng, 600, 630.6)
			return w
		},
		n: 80,
		check: func(t *testing.T, ps []pass) {
			within(t, ps, StatusStall, warm+0.6, 30*time.Second)
			within(t, ps, StatusOK, 600, 30*time.Second)
			within(t, ps, StatusStall, 630.6, 30*time.Second)
		},
	})

	tests = append(tests, scenario{
		name: "a record every 5 minutes, then busy for 30 s and stops: the idle time is not taken for the cadence",
		world: func() *world {
			w := &world{consuming: until(1830.6)}
			w.produce(-10, 0, 10)
			w.commit(-5, w.end(at(-5)))
			for k := range 6 {
				x := 300*float64(k) + 2
				w.writes = append(w.writes, at(x))
				w.commit(x+0.5, int64(len(w.writes)))
			}
			w.produce(1800, 2000, 10)
			w.keepUp(rand.New(rand.NewPCG(9, 10)), 1800, 1830.6)
			return w
		},
		n: 200,
		check: func(t *testing.T, ps []pass) {
			only(t, ps, StatusOK, 0, 1830.6)
			within(t, ps, StatusStop, 1830.6, 30*time.Second)
		},
	})

	// Rewinds 60 s at 304.5: REWIND at the next pass, cleared at the first
	// pass back at or past the highest offset seen before.
	const rewindAt = 304.5
	tests = append(tests, scenario{
		name: "rewinds 60 s: REWIND at the next pass, cleared at the first pass back past the old high",
		world: func() *world {
			w := &world{consuming: member}
			w.produce(-10, 1000, 10)
			w.keepUp(rand.New(rand.NewPCG(11, 12)), -5, rewindAt-0.5)
			base := w.end(at(rewindAt - 60))
			w.commit(rewindAt, base)
			// Catches up at 20 records a second, then keeps up.
			for x := rewindAt + 1; x < 1000; x++ {
				w.commit(x, min(base+int64(20*(x-rewindAt)), w.end(at(x-0.5))))
			}
			return w
		},
		n: 60,
		check: func(t *testing.T, ps []pass) {
			only(t, ps, StatusOK, 0, rewindAt)
			d, ok := reported(ps, StatusRewind, rewindAt)
			if !ok || d > 10*time.Second {
				t.Fatalf("REWIND reported %v after the rewind (reported: %v), want at the next pass", d, ok)
			}
			high := int64(0)
			back := -1.0
			for _, p := range ps {
				x := p.o.Time.Sub(t0).Seconds()
				switch {
				case x < rewindAt:
					high = max(high, p.o.Committed)
				case p.o.Committed >= high:
					back = x
				}
				if back >= 0 {
					break
				}
			}
			if back < 0 {
				t.Fatal("never back past the old high")
			}
			t.Logf("back past %d at %vs", high, back)
			only(t, ps, StatusRewind, rewindAt+d.Seconds(), back)
			only(t, ps, StatusOK, back, 1e9)
		},
	})

	// A group 30 s behind; at 303 s the records up to 293 s are deleted.
	const deleteAt = 303.0
	tests = append(tests, scenario{
		name: "records deleted past the committed offset: LOST within 20 s",
		world: func() *world {
			w := &world{consuming: member}
			w.produce(-100, 1000, 10)
			for x := -99.5; x < 1000; x++ {
				w.commit(x, w.end(at(x-30)))
			}
			w.logStart = func(t time.Time) int64 {
				if t.Before(at(deleteAt)) {
					return 0
				}
				return w.end(at(deleteAt - 10))
			}
			return w
		},
		n: 60,
		check: func(t *testing.T, ps []pass) {
			only(t, ps, StatusOK, 0, deleteAt)
			within(t, ps, StatusLost, deleteAt, 20*time.Second)
			if last := ps[len(ps)-1].s.Status; last != StatusOK {
				t.Errorf("past the hole, status %s, want OK", last)
			}
		},
	})

	// A group that stopped at 300.6 s; at 603 s retention deletes past its
	// offset: LOST takes precedence over STOP.
	tests = append(tests, scenario{
		name: "stops, then records deleted past its offset: STOP, then LOST within 20 s, for good",
		world: func() *world {
			w := stopped(warm+0.6, false, false)
			w.logStart = func(t time.Time) int64 {
				if t.Before(at(2*warm + 3)) {
					return 0
				}
				return w.end(at(2*warm - 10))
			}
			return w
		},
		n: 90,
		check: func(t *testing.T, ps []pass) {
			within(t, ps, StatusStop, warm+0.6, 30*time.Second)
			only(t, ps, StatusStop, warm+30, 2*warm+3)
			within(t, ps, StatusLost, 2*warm+3, 20*time.Second)
			only(t, ps, StatusLost, 2*warm+passSecs, 1e9)
		},
	})

	tests = append(tests, scenario{
		name: "idle caught-up group on an idle topic for 30 minutes, then one record read in 4 s: OK throughout",
		world: func() *world {
			w := &world{consuming: member}
			w.produce(-3600, -3590, 10)
			w.commit(-3580, w.end(at(-3580)))
			w.writes = append(w.writes, at(1807))
			w.commit(1811, int64(len(w.writes)))
			return w
		},
		n: 211,
		check: func(t *testing.T, ps []pass) {
			behind := false
			for _, p := range ps {
				behind = behind || p.o.Committed < p.o.End
			}
			if !behind {
				t.Fatal("no pass saw the record waiting: the scenario tests nothing")
			}
			only(t, ps, StatusOK, 0, 1e9)
			if !ps[len(ps)-1].s.Settled(scenarioRules) {
				t.Error("not settled at the end")
			}
		},
	})

	// A standalone consumer commits every 60 s, caught up to then, until
	// its last commit at 1805 s.
	const lastCommit = 1805.0
	tests = append(tests, scenario{
		name: "standalone committer every 60 s: OK for 30 minutes, STOP within 2 × 60 s + a pass after it stops",
		world: func() *world {
			w := &world{}
			w.produce(-100, 2200, 10)
			for x := -55.0; x <= lastCommit; x += 60 {
				w.commit(x, w.end(at(x)))
			}
			return w
		},
		n: 211,
		check: func(t *testing.T, ps []pass) {
			only(t, ps, StatusOK, 0, lastCommit+60)
			within(t, ps, StatusStop, lastCommit, 2*time.Minute+10*time.Second)
			for _, p := range ps {
				if x := p.o.Time.Sub(t0).Seconds(); x >= 100 && x <= lastCommit {
					if got := p.s.Patience(scenarioRules); got != 2*time.Minute {
						t.Fatalf("at %vs: patience %v, want 2m", x, got)
					}
				}
			}
		},
	})

	tests = append(tests, scenario{
		// Its time lag grows 1 s a second under the monitor's eyes: the
		// growth rule has it WARN (unsettled) from the fifth pass, until
		// the STOP.
		name: "after a restart, a group stopped an hour ago: OK unsettled, then STOP settled after StuckAfter",
		world: func() *world {
			w := &world{}
			w.produce(-3700, 200, 10)
			w.commit(-3600, w.end(at(-3600)))
			return w
		},
		n: 12,
		check: func(t *testing.T, ps []pass) {
			for i, p := range ps {
				st, settled := p.s.Status, p.s.Settled(scenarioRules)
				x := p.o.Time.Sub(t0)
				want, wantSettled := StatusOK, false
				switch {
				case x >= scenarioRules.StuckAfter:
					want, wantSettled = StatusStop, true
				case i > 0 && st == StatusWarn:
					want = StatusWarn // the lag grows: WARN may rise after 3 passes
				}
				if st != want || settled != wantSettled {
					t.Errorf("pass %d (%v): %s settled %v, want %s settled %v", i, x, st, settled, want, wantSettled)
				}
			}
		},
	})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, tt.world().observe(tt.n, scenarioRules))
		})
	}
}
