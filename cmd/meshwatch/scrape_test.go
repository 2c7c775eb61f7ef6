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

	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/expo"
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
	reg := expo.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "meshwatch_test_gauge", Help: "x"}, []string{"product"})
	reg.MustRegister(g)
	for i := range 500 {
		g.WithLabelValues(strings.Repeat("p", i%40) + "x").Set(float64(i))
	}
	h := gzipScrape(expo.Handler(func() []*expo.Registry { return []*expo.Registry{reg} }, expo.HandlerOpts{}))
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
