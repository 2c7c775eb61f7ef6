package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		h    []string
		want bool
	}{
		{nil, false},
		{[]string{"gzip"}, true},
		{[]string{"identity"}, false},
		{[]string{"deflate, GZIP;q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"*"}, true},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"br", "x-gzip"}, true},
		{[]string{"*;q=0"}, false},
	} {
		if got := acceptsGzip(c.h); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.h, got, c.want)
		}
	}
}

// The /metrics handler compresses itself when asked for gzip, and the body
// is the exposition the plain request gets.
func TestGzipScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "meshwatch_test_gauge", Help: "x"}, []string{"product"})
	reg.MustRegister(g)
	for i := range 500 {
		g.WithLabelValues(strings.Repeat("p", i%40) + "x").Set(float64(i))
	}
	h := gzipScrape(promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true}))
	get := func(enc string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	plain := get("")
	if plain.Header().Get("Content-Encoding") != "" || !strings.Contains(plain.Body.String(), "meshwatch_test_gauge{") {
		t.Fatalf("plain scrape: encoding %q, body %.100q", plain.Header().Get("Content-Encoding"), plain.Body.String())
	}
	zipped := get("gzip")
	if zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip scrape headers: %v", zipped.Header())
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, plain.Body.Bytes()) {
		t.Errorf("gzip body differs from the plain one (%d vs %d bytes)", len(body), plain.Body.Len())
	}
	if zipped.Body.Len() >= plain.Body.Len()/2 {
		t.Errorf("gzip body %d bytes for %d plain: not compressed", zipped.Body.Len(), plain.Body.Len())
	}
	if refused := get("gzip;q=0"); refused.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got Content-Encoding %q", refused.Header().Get("Content-Encoding"))
	}
}

// Go's profiles are served only with -debug.pprof.
func TestPprofOnlyWhenAsked(t *testing.T) {
	kc := kafkatest.New(t)
	for _, on := range []bool{false, true} {
		yaml := fmt.Sprintf(seriesConfig, strings.Join(kc.Addrs(), ", "), t.TempDir())
		set, _, err := config.Load("pprof.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		app, err := NewApp(set, slog.New(slog.DiscardHandler), AppOptions{Pprof: on})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		app.srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		app.Close()
		if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; rec.Code != want {
			t.Errorf("Pprof %v: /debug/pprof/ = %d, want %d", on, rec.Code, want)
		}
	}
}

// gatherBoth serves the agent's and the core's registries as one
// exposition, in name order, and still merges a name both have.
func TestGatherBoth(t *testing.T) {
	own, core := prometheus.NewRegistry(), prometheus.NewRegistry()
	g := func(reg *prometheus.Registry, name string, products ...string) {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: "x"}, []string{"product"})
		reg.MustRegister(v)
		for _, p := range products {
			v.WithLabelValues(p).Set(1)
		}
	}
	g(own, "meshwatch_ready", "")
	g(own, "meshwatch_zz_own", "a")
	g(core, "meshwatch_available", "b", "a")
	fams, err := gatherBoth(own, core)
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
	fams, err = gatherBoth(own, core)
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

// BenchmarkGather compares the agent's gatherBoth with
// prometheus.Gatherers on 100,000 product series (2,500 products' worth)
// and a few of the agent's own.
func BenchmarkGather(b *testing.B) {
	own, core := prometheus.NewRegistry(), prometheus.NewRegistry()
	own.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "meshwatch_ready", Help: "x"}))
	for i := range 40 {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: fmt.Sprintf("meshwatch_series_%02d", i), Help: "x"}, []string{"product", "domain", "owner"})
		core.MustRegister(v)
		for p := range 2500 {
			v.WithLabelValues(fmt.Sprintf("domain%d.entity%05d.event", p%20, p), fmt.Sprintf("domain%d", p%20), fmt.Sprintf("team-%02d", p%20)).Set(float64(p))
		}
	}
	for _, c := range []struct {
		name   string
		gather func() ([]*dto.MetricFamily, error)
	}{
		{"gatherers", prometheus.Gatherers{own, core}.Gather},
		{"gatherBoth", func() ([]*dto.MetricFamily, error) { return gatherBoth(own, core) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
