package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Row is what one agent measured at one size.
type Row struct {
	Products   int     // products of the run (all agents)
	Agent      string  // "" for a lone agent, else "2/3"
	Owned      int     // products the agent exports (meshwatch_product_info series)
	Partitions int     // per product topic
	Rate       float64 // records per second per product

	Ready       time.Duration // start to /readyz 200
	RSS         int64         // highest VmRSS over the window, bytes
	CPUPerMin   float64       // CPU seconds (user+system) per minute of the window
	ScrapeTime  time.Duration // mean /metrics time of the scrapes that succeeded (gzip, as Prometheus asks)
	Scrapes     int           // scrapes tried over the window
	ScrapeFails int           // of which failed (timeout, cut by the agent)
	ScrapeErr   string        // the last failure
	ScrapeGzip  int           // bytes on the wire, last scrape
	ScrapeRaw   int           // bytes uncompressed, last scrape
	Series      int
	Tick        Durations // collector tick
	Lag         Durations // lag pass
	SLO         Durations // SLO evaluation
	MinSample   float64   // lowest meshwatch_sample_ratio
	Samples     int       // series of meshwatch_sample_ratio (0: none)
	Stop        time.Duration
	StopNote    string // "" when it exited 0 in time
}

// figure is one column of the table that the growth row compares.
type figure struct {
	name     string
	perTick  bool // held against the product ratio for "at most linear"
	value    func(Row) float64
	hasValue func(Row) bool
}

func always(Row) bool { return true }

// scraped says whether a scrape of the row succeeded at all.
func scraped(r Row) bool { return r.Scrapes > r.ScrapeFails }

var figures = []figure{
	{"ready", false, func(r Row) float64 { return r.Ready.Seconds() }, always},
	{"RSS", false, func(r Row) float64 { return float64(r.RSS) }, always},
	{"CPU", true, func(r Row) float64 { return r.CPUPerMin }, always},
	{"/metrics time", true, func(r Row) float64 { return r.ScrapeTime.Seconds() }, scraped},
	{"/metrics bytes", false, func(r Row) float64 { return float64(r.ScrapeRaw) }, scraped},
	{"series", false, func(r Row) float64 { return float64(r.Series) }, scraped},
	{"tick", true, func(r Row) float64 { return r.Tick.Mean }, func(r Row) bool { return r.Tick.N > 0 }},
	{"lag pass", true, func(r Row) float64 { return r.Lag.Mean }, func(r Row) bool { return r.Lag.N > 0 }},
	{"SLO eval", true, func(r Row) float64 { return r.SLO.Mean }, func(r Row) bool { return r.SLO.N > 0 }},
}

// Growth is how each figure grew from one size to the next.
type Growth struct {
	From, To int                // products
	Ratio    float64            // To/From
	Factors  map[string]float64 // figure name → factor; absent when either side has none
}

// growth compares two rows of consecutive sizes.
func growth(a, b Row) Growth {
	g := Growth{From: a.Products, To: b.Products, Factors: map[string]float64{}}
	if a.Products > 0 {
		g.Ratio = float64(b.Products) / float64(a.Products)
	}
	for _, f := range figures {
		if !f.hasValue(a) || !f.hasValue(b) {
			continue
		}
		if va := f.value(a); va > 0 {
			g.Factors[f.name] = f.value(b) / va
		}
	}
	return g
}

// Linear says whether every per-tick figure grew by at most limit times
// the product ratio, and names the one that grew most relative to it.
func (g Growth) Linear(limit float64) (ok bool, worst string, factor float64) {
	ok = true
	for _, f := range figures {
		v, has := g.Factors[f.name]
		if !f.perTick || !has {
			continue
		}
		if worst == "" || v > factor {
			worst, factor = f.name, v
		}
		if v > limit*g.Ratio {
			ok = false
		}
	}
	return ok, worst, factor
}

// Verdict is a sentence saying whether the growth was at most linear.
func (g Growth) Verdict(limit float64) string {
	ok, worst, factor := g.Linear(limit)
	head := fmt.Sprintf("%s → %s products (×%s)", thousands(g.From), thousands(g.To), trimFloat(g.Ratio))
	if worst == "" {
		return head + ": no per-tick figure to compare"
	}
	verdict := "at most linear"
	if !ok {
		verdict = "MORE than linear"
	}
	return fmt.Sprintf("%s: %s — the per-tick figure that grew most is %s, ×%s (limit %s× the product ratio: ×%s)",
		head, verdict, worst, trimFloat(factor), trimFloat(limit), trimFloat(limit*g.Ratio))
}

var header = []string{
	"products", "ready", "RSS (max)", "CPU s/min", "/metrics time", "/metrics gzip / raw", "series",
	"tick mean / max", "lag pass mean / max", "SLO eval mean / max", "min sample ratio", "stop",
}

// formatTable writes rows as a Markdown table; between consecutive rows of
// lone agents (Agent == "") of growing size it adds a growth row.
func formatTable(rows []Row) string {
	var b strings.Builder
	writeRow := func(cells []string) {
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	writeRow(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
		if i > 0 {
			sep[i] = "--:"
		}
	}
	writeRow(sep)
	var prev *Row
	for i := range rows {
		r := rows[i]
		if r.Agent == "" && prev != nil && prev.Agent == "" && prev.Products < r.Products {
			writeRow(growthCells(growth(*prev, r)))
		}
		writeRow(rowCells(r))
		prev = &rows[i]
	}
	return b.String()
}

// verdicts returns one Verdict line per growth row of formatTable, and one
// comparing the sizes span names directly when both ran and others ran
// between them.
func verdicts(rows []Row, limit float64, span [2]int) []string {
	var out []string
	var from, to *Row
	adjacent := false
	for i := range rows {
		if rows[i].Agent != "" {
			continue
		}
		switch rows[i].Products {
		case span[0]:
			from = &rows[i]
		case span[1]:
			to = &rows[i]
			adjacent = i > 0 && from == &rows[i-1]
		}
		if i == 0 {
			continue
		}
		a, b := rows[i-1], rows[i]
		if a.Agent == "" && b.Agent == "" && a.Products < b.Products {
			out = append(out, growth(a, b).Verdict(limit))
		}
	}
	if from != nil && to != nil && !adjacent && from.Products < to.Products {
		out = append(out, growth(*from, *to).Verdict(limit))
	}
	return out
}

func rowCells(r Row) []string {
	products := fmt.Sprintf("%s (%d p, %s rec/s)", thousands(r.Products), r.Partitions, trimFloat(r.Rate))
	if r.Agent != "" {
		products = fmt.Sprintf("%s, agent %s: %s", thousands(r.Products), r.Agent, thousands(r.Owned))
	}
	sample := "n/a"
	if r.Samples > 0 {
		sample = strconv.FormatFloat(r.MinSample, 'f', 3, 64)
	}
	stop := fmtDuration(r.Stop.Seconds())
	if r.StopNote != "" {
		stop += " (" + r.StopNote + ")"
	}
	scrape, size, series := fmtDuration(r.ScrapeTime.Seconds()), fmtBytes(int64(r.ScrapeGzip))+" / "+fmtBytes(int64(r.ScrapeRaw)), thousands(r.Series)
	switch {
	case r.Scrapes > 0 && r.ScrapeFails == r.Scrapes:
		scrape, size, series = fmt.Sprintf("all %d failed: %s", r.Scrapes, r.ScrapeErr), "n/a", "n/a"
	case r.ScrapeFails > 0:
		scrape += fmt.Sprintf(" (%d of %d failed: %s)", r.ScrapeFails, r.Scrapes, r.ScrapeErr)
	}
	return []string{
		products,
		fmtDuration(r.Ready.Seconds()),
		fmtBytes(r.RSS),
		strconv.FormatFloat(r.CPUPerMin, 'f', 1, 64),
		scrape,
		size,
		series,
		fmtDurations(r.Tick),
		fmtDurations(r.Lag),
		fmtDurations(r.SLO),
		sample,
		stop,
	}
}

func growthCells(g Growth) []string {
	f := func(name string) string {
		v, ok := g.Factors[name]
		if !ok {
			return "–"
		}
		return "×" + trimFloat(v)
	}
	return []string{
		fmt.Sprintf("*growth ×%s*", trimFloat(g.Ratio)),
		f("ready"), f("RSS"), f("CPU"), f("/metrics time"), f("/metrics bytes"), f("series"),
		f("tick"), f("lag pass"), f("SLO eval"), "", "",
	}
}

func fmtDurations(d Durations) string {
	if d.N <= 0 {
		return "n/a"
	}
	hi := "≤ " + fmtDuration(d.Max)
	if math.IsInf(d.Max, 1) {
		hi = "> " + fmtDuration(d.Above)
	}
	return fmtDuration(d.Mean) + " / " + hi
}

// fmtDuration prints seconds with three significant digits at most, in s,
// ms or µs.
func fmtDuration(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s >= 1:
		return trimFloat(s) + " s"
	case s >= 1e-3:
		return trimFloat(s*1e3) + " ms"
	default:
		return trimFloat(s*1e6) + " µs"
	}
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return trimFloat(float64(n)/(1<<30)) + " GiB"
	case n >= 1<<20:
		return trimFloat(float64(n)/(1<<20)) + " MiB"
	case n >= 1<<10:
		return trimFloat(float64(n)/(1<<10)) + " KiB"
	default:
		return strconv.FormatInt(n, 10) + " B"
	}
}

// trimFloat prints v with three significant digits (all the integer
// digits when there are more).
func trimFloat(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100 || v == math.Trunc(v) && a < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return trimZeros(strconv.FormatFloat(v, 'f', 1, 64))
	case a >= 1:
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64))
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// thousands prints n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
