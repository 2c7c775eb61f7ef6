package expo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

var (
	famCount = NewFamily("test_events_total", `Events, "quoted", with a \ and a`+"\nnewline.", Counter, "product", "owner")
	famGauge = NewFamily("test_ratio", "A ratio.", Gauge, "product")
	famEmpty = NewFamily("test_rare_total", "Never written.", Counter, "product")
	famBare  = NewFamily("test_bare", "No labels.", Gauge)
)

// source writes n products, in label order, with every value shape the
// text format spells out.
type source struct {
	Collector
	n int
}

func newSource(n int) *source {
	s := &source{n: n}
	s.Collector = Collector{Fams: []*Family{famCount, famGauge, famEmpty, famBare}, Write: s.write}
	return s
}

var created = time.Unix(1700000000, 500_000_000)

func (s *source) write(w Writer) {
	values := []float64{0, 1, -1, 0.25, 1e21, math.Inf(1), math.Inf(-1), math.NaN(), 12345}
	w.Begin(famCount)
	for i := range s.n {
		w.Counter(float64(i), created, fmt.Sprintf("p%05d", i), `team "a"\b`+"\n")
	}
	w.Begin(famGauge)
	for i := range s.n {
		w.Sample(values[i%len(values)], fmt.Sprintf("p%05d", i))
	}
	w.Begin(famEmpty)
	w.Begin(famBare)
	w.Sample(3)
}

// TestTextMatchesClientGolang checks the streamed text against
// client_golang's own encoding of the same series (Gather sorts them; the
// source writes them in that order).
func TestTextMatchesClientGolang(t *testing.T) {
	reg := NewRegistry()
	reg.MustRegister(newSource(20))
	var want bytes.Buffer
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	enc := expfmt.NewEncoder(&want, format)
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	// The source's family order, not client_golang's name order.
	for _, f := range []*Family{famCount, famGauge, famBare} {
		if err := enc.Encode(byName[f.Name]); err != nil {
			t.Fatal(err)
		}
	}
	var got bytes.Buffer
	if err := Write(&got, format, nil, []*Registry{reg}); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("streamed text differs from client_golang's:\n%s", diffLines(got.String(), want.String()))
	}
	if strings.Contains(got.String(), "test_rare_total") {
		t.Error("a family without series was written")
	}
}

// TestProtoMatchesClientGolang checks the streamed protobuf, created
// timestamps included, against what Gather builds.
func TestProtoMatchesClientGolang(t *testing.T) {
	reg := NewRegistry()
	reg.MustRegister(newSource(20))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	var buf bytes.Buffer
	if err := Write(&buf, format, nil, []*Registry{reg}); err != nil {
		t.Fatal(err)
	}
	dec := expfmt.NewDecoder(&buf, format)
	got := map[string]*dto.MetricFamily{}
	for {
		var f dto.MetricFamily
		if err := dec.Decode(&f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got[f.GetName()] = &f
	}
	if len(got) != len(fams) {
		t.Fatalf("%d families streamed, %d gathered", len(got), len(fams))
	}
	for _, want := range fams {
		g := got[want.GetName()]
		if !proto.Equal(g, want) {
			t.Errorf("family %s:\n got %v\nwant %v", want.GetName(), g, want)
		}
	}
	if got[famCount.Name].Metric[3].GetCounter().GetCreatedTimestamp().AsTime() != created.UTC() {
		t.Errorf("created timestamp %v, want %v", got[famCount.Name].Metric[3].GetCounter().GetCreatedTimestamp(), created)
	}
}

// TestHandler checks the negotiation, that client_golang collectors are
// served beside the Sources, and that a collector that fails costs only
// its own series.
func TestHandler(t *testing.T) {
	own, core := NewRegistry(), NewRegistry()
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_seconds", Help: "A histogram."})
	hist.Observe(0.2)
	own.MustRegister(hist)
	core.MustRegister(newSource(3), failing{})
	var errs []error
	srv := httptest.NewServer(Handler(func() []*Registry { return []*Registry{own, core} }, HandlerOpts{OnGatherError: func(err error) { errs = append(errs, err) }}))
	defer srv.Close()
	for _, tc := range []struct {
		accept, contentType string
	}{
		{"", "text/plain; version=0.0.4"},
		{"application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5", "text/plain; version=0.0.4"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3", "application/vnd.google.protobuf"},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("Accept %q: Content-Type %q, want %q", tc.accept, ct, tc.contentType)
		}
		names := map[string]bool{}
		dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(resp.Header))
		for {
			var f dto.MetricFamily
			if err := dec.Decode(&f); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("Accept %q: %v\n%s", tc.accept, err, body)
			}
			names[f.GetName()] = true
		}
		for _, n := range []string{"test_seconds", famCount.Name, famGauge.Name, famBare.Name, "test_ok"} {
			if !names[n] {
				t.Errorf("Accept %q: no %s in %v", tc.accept, n, names)
			}
		}
	}
	if len(errs) != 3 || !strings.Contains(errs[0].Error(), "test_broken") {
		t.Errorf("errors told: %v, want the broken collector's at each of 3 scrapes", errs)
	}
}

// failing exports one good series and one inconsistent one.
type failing struct{}

var (
	okDesc     = prometheus.NewDesc("test_ok", "Fine.", nil, nil)
	brokenDesc = prometheus.NewDesc("test_broken", "Wrong label count.", []string{"a"}, nil)
)

func (failing) Describe(ch chan<- *prometheus.Desc) { ch <- okDesc; ch <- brokenDesc }
func (failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(okDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.NewInvalidMetric(brokenDesc, errors.New("test_broken: inconsistent"))
}

// TestGatherPlain checks that the agent's and the core's registries are
// gathered as one exposition, in name order, and that a name both have is
// still merged.
func TestGatherPlain(t *testing.T) {
	own, core := NewRegistry(), NewRegistry()
	g := func(reg *Registry, name string, products ...string) {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: "x"}, []string{"product"})
		reg.MustRegister(v)
		for _, p := range products {
			v.WithLabelValues(p).Set(1)
		}
	}
	g(own, "meshwatch_ready", "")
	g(own, "meshwatch_zz_own", "a")
	g(core, "meshwatch_available", "b", "a")
	fams, err := gatherPlain([]*Registry{own, core})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			got = append(got, f.GetName()+"/"+m.GetLabel()[0].GetValue())
		}
	}
	if want := []string{"meshwatch_available/a", "meshwatch_available/b", "meshwatch_ready/", "meshwatch_zz_own/a"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("gathered %v, want %v", got, want)
	}
	// The same name in both registries: merged, one family.
	g(core, "meshwatch_zz_own", "b")
	fams, err = gatherPlain([]*Registry{own, core})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		if f.GetName() == "meshwatch_zz_own" {
			n++
			if len(f.GetMetric()) != 2 {
				t.Errorf("merged family has %d series, want 2", len(f.GetMetric()))
			}
		}
	}
	if n != 1 {
		t.Errorf("%d families named meshwatch_zz_own, want 1", n)
	}
}

// TestRegistry checks that a Source's names are checked against the
// other collectors', and that Unregister removes it from the stream.
func TestRegistry(t *testing.T) {
	reg := NewRegistry()
	s := newSource(1)
	reg.MustRegister(s)
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: famBare.Name, Help: "Other help."})
	if err := reg.Register(clash); err == nil {
		t.Error("a collector with a Source's name (other help) registered")
	}
	if !reg.Unregister(s) {
		t.Fatal("Unregister: false")
	}
	var buf bytes.Buffer
	if err := Write(&buf, expfmt.NewFormat(expfmt.TypeTextPlain), nil, []*Registry{reg}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("unregistered Source still streamed:\n%s", buf.String())
	}
	if reg.Unregister(s) {
		t.Error("second Unregister: true")
	}
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got %q\nwant %q", i+1, a, b)
		}
	}
	return ""
}

// BenchmarkScrape writes 10,000 products × 40 series (the per-product
// budget) as text, streamed and as client_golang would (Gather, then
// encode): the ratio is what a scrape saves.
func BenchmarkScrape(b *testing.B) {
	fams := make([]*Family, 40)
	for i := range fams {
		fams[i] = NewFamily(fmt.Sprintf("bench_series_%02d", i), "A series.", Gauge, "product", "domain", "owner")
	}
	products := make([][]string, 10_000)
	for i := range products {
		products[i] = []string{fmt.Sprintf("domain%d.entity%d.updated", i%50, i), fmt.Sprintf("domain%d", i%50), fmt.Sprintf("team-%d", i%20)}
	}
	reg := NewRegistry()
	reg.MustRegister(&Collector{Fams: fams, Write: func(w Writer) {
		for i, f := range fams {
			w.Begin(f)
			for _, lv := range products {
				w.Sample(float64(i), lv...)
			}
		}
	}})
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Write(io.Discard, format, nil, []*Registry{reg}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client_golang", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fams, err := reg.Gather()
			if err != nil {
				b.Fatal(err)
			}
			enc := expfmt.NewEncoder(io.Discard, format)
			for _, f := range fams {
				if err := enc.Encode(f); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestCheck checks that Check finds each mistake a Source can make.
func TestCheck(t *testing.T) {
	if err := Check(newSource(5)); err != nil {
		t.Errorf("a good source: %v", err)
	}
	unlisted := NewFamily("test_unlisted", "Unlisted.", Gauge)
	for name, tc := range map[string]struct {
		write func(w Writer)
		want  string
	}{
		"unlisted":    {func(w Writer) { w.Begin(unlisted); w.Sample(1) }, "not in Families()"},
		"twice":       {func(w Writer) { w.Begin(famBare); w.Sample(1); w.Begin(famGauge); w.Begin(famBare) }, "begun twice"},
		"no family":   {func(w Writer) { w.Sample(1) }, "before any family"},
		"label count": {func(w Writer) { w.Begin(famGauge); w.Sample(1, "a", "b") }, "2 label values"},
		"duplicate":   {func(w Writer) { w.Begin(famGauge); w.Sample(1, "a"); w.Sample(2, "a") }, "two series"},
	} {
		err := Check(&Collector{Fams: []*Family{famGauge, famBare}, Write: tc.write})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestRegistryCheck checks that Registry.Check passes a good registry and
// finds a Source whose stream differs from what it collects.
func TestRegistryCheck(t *testing.T) {
	reg := NewRegistry()
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_seconds", Help: "A histogram."})
	reg.MustRegister(newSource(7), hist)
	if err := reg.Check(); err != nil {
		t.Errorf("a good registry: %v", err)
	}
	bad := NewRegistry()
	bad.MustRegister(&twoFaced{Collector: Collector{Fams: []*Family{famGauge}, Write: func(w Writer) {
		w.Begin(famGauge)
		w.Sample(1, "a")
	}}})
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "test_ratio") {
		t.Errorf("a source that streams other values than it collects: %v", err)
	}
}

// twoFaced collects another value than it streams.
type twoFaced struct{ Collector }

func (t *twoFaced) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(famGauge.Desc(), prometheus.GaugeValue, 2, "a")
}

// brokenPipe fails every write, as a scraper that went away.
type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

// TestWriteStopsWhenTheScraperIsGone checks that once a write failed, the
// Sources after the one that was writing are not asked for their series,
// in either format, and that the error is returned.
func TestWriteStopsWhenTheScraperIsGone(t *testing.T) {
	for _, format := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
		asked := 0
		reg := NewRegistry()
		// Each writes well over the 64 KiB buffer.
		for i := range 3 {
			f := NewFamily(fmt.Sprintf("test_%d_total", i), "Events.", Counter, "product", "owner")
			reg.MustRegister(&Collector{Fams: []*Family{f}, Write: func(w Writer) {
				asked++
				w.Begin(f)
				for j := range 5000 {
					w.Counter(float64(j), created, fmt.Sprintf("p%05d", j), "orders-team")
				}
			}})
		}
		err := Write(brokenPipe{}, format, nil, []*Registry{reg})
		if err == nil || !strings.Contains(err.Error(), "broken pipe") {
			t.Errorf("%s: Write returned %v, want the broken pipe", format, err)
		}
		if asked != 1 {
			t.Errorf("%s: %d Sources asked for their series after the scraper went away in the first, want 1", format, asked)
		}
	}
}
