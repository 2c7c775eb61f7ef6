package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The agent's metrics that the scale run reads (collector/metrics.go,
// lag/metrics.go, sla/metrics.go).
const (
	tickHist    = "meshwatch_tick_duration_seconds"
	lagPassHist = "meshwatch_lag_pass_duration_seconds"
	sloEvalHist = "meshwatch_slo_evaluation_duration_seconds"
	sampleRatio = "meshwatch_sample_ratio"
	productInfo = "meshwatch_product_info"
	// scrapeAccept is the Accept header of a Prometheus scrape.
	scrapeAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)

// Hist is one histogram family of a scrape, summed over its label sets:
// the sum and count of the observations and the cumulative count of each
// bucket by its upper bound (le).
type Hist struct {
	Sum     float64
	Count   float64
	Buckets map[float64]float64 // le → cumulative count; +Inf included
}

// Gauge is what a scrape says of a gauge family: its lowest and highest
// value over every series, and how many series it has.
type Gauge struct {
	Min, Max float64
	N        int
}

// Scrape is what the scale run takes from one /metrics answer.
type Scrape struct {
	Series int             // sample lines: every line that is neither empty nor a comment
	Hists  map[string]Hist // the families asked for, by name
	Gauges map[string]Gauge
}

// parseMetrics reads a Prometheus text (0.0.4) or OpenMetrics exposition
// and returns its series count, the histograms named in hists and the
// gauges named in gauges (those absent from the text are absent from the
// result). It fails on a sample line it cannot read.
func parseMetrics(r io.Reader, hists, gauges []string) (Scrape, error) {
	s := Scrape{Hists: map[string]Hist{}, Gauges: map[string]Gauge{}}
	wantHist := map[string]bool{}
	for _, h := range hists {
		wantHist[h] = true
	}
	wantGauge := map[string]bool{}
	for _, g := range gauges {
		wantGauge[g] = true
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		s.Series++
		name, labels, value, err := parseSample(text)
		if err != nil {
			return Scrape{}, fmt.Errorf("metrics line %d: %w", line, err)
		}
		if wantGauge[name] {
			g, ok := s.Gauges[name]
			if !ok {
				g = Gauge{Min: value, Max: value}
			}
			g.Min, g.Max, g.N = math.Min(g.Min, value), math.Max(g.Max, value), g.N+1
			s.Gauges[name] = g
			continue
		}
		base, suffix := splitHistName(name)
		if suffix == "" || !wantHist[base] {
			continue
		}
		h := s.Hists[base]
		if h.Buckets == nil {
			h.Buckets = map[float64]float64{}
		}
		switch suffix {
		case "_sum":
			h.Sum += value
		case "_count":
			h.Count += value
		case "_bucket":
			le, ok := labels["le"]
			if !ok {
				return Scrape{}, fmt.Errorf("metrics line %d: %s without le", line, name)
			}
			b, err := parseFloat(le)
			if err != nil {
				return Scrape{}, fmt.Errorf("metrics line %d: le: %w", line, err)
			}
			h.Buckets[b] += value
		}
		s.Hists[base] = h
	}
	if err := sc.Err(); err != nil {
		return Scrape{}, fmt.Errorf("reading metrics: %w", err)
	}
	return s, nil
}

func splitHistName(name string) (base, suffix string) {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, suf); ok {
			return b, suf
		}
	}
	return name, ""
}

// parseSample splits a sample line into its metric name, labels and value
// (a timestamp after the value is ignored).
func parseSample(line string) (name string, labels map[string]string, value float64, err error) {
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return "", nil, 0, fmt.Errorf("no value in %q", truncate(line))
	}
	name, rest := line[:i], line[i:]
	if rest[0] == '{' {
		labels, rest, err = parseLabels(rest[1:])
		if err != nil {
			return "", nil, 0, err
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", nil, 0, fmt.Errorf("no value in %q", truncate(line))
	}
	value, err = parseFloat(fields[0])
	if err != nil {
		return "", nil, 0, fmt.Errorf("value of %s: %w", name, err)
	}
	return name, labels, value, nil
}

// parseLabels reads `a="x",b="y"}` and returns the labels and the text after
// the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return nil, "", fmt.Errorf("unterminated label set")
		}
		if s[0] == '}' {
			return labels, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, "", fmt.Errorf("malformed label in %q", truncate(s))
		}
		key := strings.TrimSpace(s[:eq])
		var val strings.Builder
		j := eq + 2
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
				switch s[j] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[j])
				}
				continue
			}
			val.WriteByte(s[j])
		}
		if j >= len(s) {
			return nil, "", fmt.Errorf("unterminated value of label %s", key)
		}
		labels[key] = val.String()
		s = s[j+1:]
	}
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Durations is what a histogram of durations says over a window between
// two scrapes: how many observations, their mean, and the upper bound of
// the bucket that holds the largest one (+Inf when it is beyond every
// finite bucket; then Above is the largest finite bound).
type Durations struct {
	N     float64
	Mean  float64 // seconds
	Max   float64 // seconds: the largest one is ≤ Max
	Above float64 // when Max is +Inf: the largest one is > Above
}

// window returns what the histogram observed between a (earlier) and b
// (later). A histogram that reset in between (count went down) is taken
// as b alone.
func window(a, b Hist) Durations {
	if b.Count < a.Count {
		a = Hist{}
	}
	d := Durations{N: b.Count - a.Count}
	if d.N <= 0 {
		return Durations{}
	}
	d.Mean = (b.Sum - a.Sum) / d.N
	les := make([]float64, 0, len(b.Buckets))
	for le := range b.Buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	// The largest observation lies in the lowest bucket whose cumulative
	// increase already holds every observation of the window.
	d.Max = math.Inf(1)
	for _, le := range les {
		if b.Buckets[le]-a.Buckets[le] >= d.N {
			d.Max = le
			break
		}
		if !math.IsInf(le, 1) {
			d.Above = le
		}
	}
	return d
}
