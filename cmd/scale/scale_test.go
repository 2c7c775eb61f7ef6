package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

const sample = `# HELP meshwatch_tick_duration_seconds Time one collector tick took.
# TYPE meshwatch_tick_duration_seconds histogram
meshwatch_tick_duration_seconds_bucket{le="0.001"} 0
meshwatch_tick_duration_seconds_bucket{le="0.004"} 2
meshwatch_tick_duration_seconds_bucket{le="0.016"} 5
meshwatch_tick_duration_seconds_bucket{le="+Inf"} 6
meshwatch_tick_duration_seconds_sum 0.09
meshwatch_tick_duration_seconds_count 6
# TYPE meshwatch_sample_ratio gauge
meshwatch_sample_ratio{product="a.b.c"} 1
meshwatch_sample_ratio{product="x.y \"z\", {odd}"} 0.25 1700000000000
meshwatch_sample_ratio{product="d.e.f"} 0.5

meshwatch_product_info{owner="t",product="a.b.c"} 1
meshwatch_lag_pass_duration_seconds_bucket{group="g1",le="0.005"} 1
meshwatch_lag_pass_duration_seconds_bucket{group="g1",le="+Inf"} 1
meshwatch_lag_pass_duration_seconds_bucket{group="g2",le="0.005"} 0
meshwatch_lag_pass_duration_seconds_bucket{group="g2",le="+Inf"} 2
meshwatch_lag_pass_duration_seconds_sum{group="g1"} 0.004
meshwatch_lag_pass_duration_seconds_sum{group="g2"} 40
meshwatch_lag_pass_duration_seconds_count{group="g1"} 1
meshwatch_lag_pass_duration_seconds_count{group="g2"} 2
go_goroutines 42
# EOF
`

func TestParseMetrics(t *testing.T) {
	s, err := parseMetrics(strings.NewReader(sample), []string{tickHist, lagPassHist, sloEvalHist}, []string{sampleRatio, productInfo})
	if err != nil {
		t.Fatal(err)
	}
	if s.Series != 19 {
		t.Errorf("series = %d, want 19 (sample lines, no comments or blanks)", s.Series)
	}
	tick := s.Hists[tickHist]
	if tick.Count != 6 || tick.Sum != 0.09 || tick.Buckets[0.004] != 2 || tick.Buckets[math.Inf(1)] != 6 {
		t.Errorf("tick histogram = %+v", tick)
	}
	lag := s.Hists[lagPassHist]
	if lag.Count != 3 || lag.Sum != 40.004 || lag.Buckets[0.005] != 1 || lag.Buckets[math.Inf(1)] != 3 {
		t.Errorf("lag histogram not summed over its label sets: %+v", lag)
	}
	if _, ok := s.Hists[sloEvalHist]; ok {
		t.Errorf("an absent histogram was reported: %+v", s.Hists[sloEvalHist])
	}
	if g := s.Gauges[sampleRatio]; g.Min != 0.25 || g.Max != 1 || g.N != 3 {
		t.Errorf("sample ratio gauge = %+v, want min 0.25, max 1 over 3 series", g)
	}
	if g := s.Gauges[productInfo]; g.N != 1 {
		t.Errorf("product info series = %d, want 1", g.N)
	}
}

func TestParseMetricsErrors(t *testing.T) {
	for _, text := range []string{
		"meshwatch_tick_duration_seconds_bucket{le=\"0.1\"} x\n",
		"meshwatch_tick_duration_seconds_bucket{le=\"0.1\" 3\n",
		"meshwatch_tick_duration_seconds_bucket 3\n",
		"lonely_name\n",
	} {
		if _, err := parseMetrics(strings.NewReader(text), []string{tickHist}, nil); err == nil {
			t.Errorf("parseMetrics(%q) = nil error", text)
		}
	}
}

func hist(sum, count float64, buckets map[float64]float64) Hist {
	return Hist{Sum: sum, Count: count, Buckets: buckets}
}

func TestWindow(t *testing.T) {
	inf := math.Inf(1)
	a := hist(1, 10, map[float64]float64{0.001: 2, 0.004: 8, 0.016: 10, 0.064: 10, inf: 10})
	b := hist(1.5, 20, map[float64]float64{0.001: 2, 0.004: 12, 0.016: 19, 0.064: 20, inf: 20})
	d := window(a, b)
	if d.N != 10 || math.Abs(d.Mean-0.05) > 1e-12 || d.Max != 0.064 {
		t.Errorf("window = %+v, want 10 observations, mean 0.05, max ≤ 0.064", d)
	}
	// The largest observation beyond every finite bucket.
	c := hist(101.5, 21, map[float64]float64{0.001: 2, 0.004: 12, 0.016: 19, 0.064: 20, inf: 21})
	if d := window(b, c); !math.IsInf(d.Max, 1) || d.Above != 0.064 || d.N != 1 {
		t.Errorf("window = %+v, want max > 0.064", d)
	}
	// Nothing observed in between.
	if d := window(b, b); d.N != 0 || d.Mean != 0 {
		t.Errorf("window of an idle histogram = %+v", d)
	}
	// A reset (the agent restarted): the later scrape alone.
	r := hist(0.002, 1, map[float64]float64{0.001: 0, 0.004: 1, 0.016: 1, 0.064: 1, inf: 1})
	if d := window(b, r); d.N != 1 || d.Max != 0.004 || d.Mean != 0.002 {
		t.Errorf("window after a reset = %+v", d)
	}
}

func rowAt(products int, tick, cpu float64) Row {
	return Row{
		Products: products, Partitions: 4, Rate: 2,
		Ready: 500 * time.Millisecond, RSS: 100 << 20, CPUPerMin: cpu,
		Scrapes: 10, ScrapeTime: 100 * time.Millisecond, ScrapeGzip: 100 << 10, ScrapeRaw: 2 << 20, Series: products * 200,
		Tick:      Durations{N: 6, Mean: tick, Max: 0.016},
		Lag:       Durations{N: 6, Mean: 0.03, Max: math.Inf(1), Above: 10.935},
		SLO:       Durations{}, // none observed
		MinSample: 0.5, Samples: products,
		Stop: 120 * time.Millisecond,
	}
}

func TestGrowth(t *testing.T) {
	g := growth(rowAt(1000, 0.01, 3), rowAt(10000, 0.1, 30))
	if g.Ratio != 10 || math.Abs(g.Factors["tick"]-10) > 1e-9 || math.Abs(g.Factors["CPU"]-10) > 1e-9 || g.Factors["series"] != 10 || g.Factors["RSS"] != 1 {
		t.Errorf("growth = %+v", g)
	}
	if _, ok := g.Factors["SLO eval"]; ok {
		t.Errorf("a figure with no observations has a factor: %v", g.Factors)
	}
	if ok, _, _ := g.Linear(1.2); !ok {
		t.Errorf("×10 at ×10 products is linear: %s", g.Verdict(1.2))
	}
	g = growth(rowAt(1000, 0.01, 3), rowAt(10000, 0.13, 30))
	ok, worst, f := g.Linear(1.2)
	if ok || worst != "tick" || math.Abs(f-13) > 1e-9 {
		t.Errorf("×13 at ×10 products: Linear = %v, %s, %v; want false, tick, 13", ok, worst, f)
	}
	if v := g.Verdict(1.2); !strings.Contains(v, "MORE than linear") || !strings.Contains(v, "1,000 → 10,000") {
		t.Errorf("verdict = %q", v)
	}
}

func TestFormatTable(t *testing.T) {
	rows := []Row{rowAt(100, 0.001, 1), rowAt(1000, 0.008, 6)}
	sh := rowAt(1000, 0.004, 2)
	sh.Agent, sh.Owned, sh.StopNote = "2/3", 333, "exit status 1"
	rows = append(rows, sh)
	got := formatTable(rows)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	// header, separator, 100, growth, 1,000, agent 2/3 (no growth row
	// between a lone agent and a sharded one).
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6:\n%s", len(lines), got)
	}
	for i, l := range lines {
		if n := strings.Count(l, "|"); n != len(header)+1 {
			t.Errorf("line %d has %d cells, want %d: %s", i, n-1, len(header), l)
		}
	}
	for i, want := range []string{
		"| 100 (4 p, 2 rec/s) | 500 ms | 100 MiB | 1.0 | 100 ms | 100 KiB / 2 MiB | 20,000 | 1 ms / ≤ 16 ms | 30 ms / > 10.9 s | n/a | 0.500 | 120 ms |",
		"| *growth ×10* | ×1 | ×1 | ×6 | ×1 | ×1 | ×10 | ×8 | ×1 | – |  |  |",
		"| 1,000, agent 2/3: 333 | ",
		"(exit status 1) |",
	} {
		if !strings.Contains(lines[[]int{2, 3, 5, 5}[i]], want) {
			t.Errorf("line %d lacks %q:\n%s", []int{2, 3, 5, 5}[i], want, got)
		}
	}
	if v := verdicts(rows, 1.2, [2]int{1000, 10000}); len(v) != 1 || !strings.Contains(v[0], "at most linear") {
		t.Errorf("verdicts = %q", v)
	}
}

// A size whose scrapes fail still gets its row: the failures are a
// figure, and the growth row has no factor for what was not measured.
func TestFailedScrapes(t *testing.T) {
	some := rowAt(10000, 0.1, 30)
	some.ScrapeFails, some.ScrapeErr = 3, "agent /metrics: unexpected EOF"
	all := rowAt(10000, 0.1, 30)
	all.ScrapeFails, all.ScrapeErr = all.Scrapes, "agent /metrics: unexpected EOF"
	got := formatTable([]Row{rowAt(1000, 0.01, 3), all})
	if !strings.Contains(got, "| all 10 failed: agent /metrics: unexpected EOF | n/a | n/a |") {
		t.Errorf("a size whose scrapes all failed:\n%s", got)
	}
	g := growth(rowAt(1000, 0.01, 3), all)
	for _, f := range []string{"/metrics time", "/metrics bytes", "series"} {
		if _, ok := g.Factors[f]; ok {
			t.Errorf("growth has a %s factor from a size that was never scraped: %v", f, g.Factors)
		}
	}
	if _, ok := g.Factors["tick"]; !ok {
		t.Errorf("growth lost the tick factor: %v", g.Factors)
	}
	if got := formatTable([]Row{some}); !strings.Contains(got, "| 100 ms (3 of 10 failed: agent /metrics: unexpected EOF) | 100 KiB / 2 MiB | 2,000,000 |") {
		t.Errorf("a size with some failed scrapes:\n%s", got)
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{thousands(0), "0"}, {thousands(999), "999"}, {thousands(1000), "1,000"}, {thousands(1234567), "1,234,567"}, {thousands(-10000), "-10,000"},
		{fmtDuration(1.25), "1.25 s"}, {fmtDuration(0.0123), "12.3 ms"}, {fmtDuration(0.0001), "100 µs"}, {fmtDuration(130), "130 s"},
		{fmtBytes(512), "512 B"}, {fmtBytes(1536), "1.5 KiB"}, {fmtBytes(3 << 30), "3 GiB"},
		{trimFloat(9.8), "9.8"}, {trimFloat(12.34), "12.3"}, {trimFloat(0.1234), "0.123"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-sizes", "100, 1_000", "-sharded", "3"}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.sizes) != 2 || o.sizes[1] != 1000 || o.shardedProducts != 1000 {
		t.Errorf("sizes %v, sharded products %d", o.sizes, o.shardedProducts)
	}
	for _, args := range [][]string{
		{"-sizes", "100,x"}, {"-sizes", "", "-sharded", "0"}, {"-sharded", "1"}, {"-measure", "0s"}, {"extra"},
	} {
		if _, err := parseFlags(args, new(strings.Builder)); err == nil {
			t.Errorf("parseFlags(%q) = nil error", args)
		}
	}
}

// The acceptance's span (1,000 → 10,000) gets its own verdict when other
// sizes ran between, and none of its own when the two are adjacent.
func TestVerdictSpan(t *testing.T) {
	span := [2]int{1000, 10000}
	rows := []Row{rowAt(100, 0.001, 1), rowAt(1000, 0.01, 3), rowAt(3000, 0.03, 9), rowAt(10000, 0.2, 30)}
	v := verdicts(rows, 1.2, span)
	if len(v) != 4 {
		t.Fatalf("verdicts = %q, want 3 consecutive and the span", v)
	}
	if !strings.HasPrefix(v[3], "1,000 → 10,000 products (×10): MORE than linear — the per-tick figure that grew most is tick, ×20") {
		t.Errorf("span verdict = %q", v[3])
	}
	if v := verdicts([]Row{rowAt(1000, 0.01, 3), rowAt(10000, 0.1, 30)}, 1.2, span); len(v) != 1 {
		t.Errorf("adjacent span: verdicts = %q, want one", v)
	}
	if v := verdicts([]Row{rowAt(100, 0.001, 1), rowAt(1000, 0.01, 3)}, 1.2, span); len(v) != 1 {
		t.Errorf("no 10,000 row: verdicts = %q, want one", v)
	}
}
