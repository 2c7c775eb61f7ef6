package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// gzipScrape serves h (the /metrics handler, which never compresses)
// gzip-compressed at the fastest level when the scraper accepts gzip, as
// Prometheus does. At 10,000 products the exposition is tens of MB: the
// standard library's default level spends more time compressing it than
// the agent spends writing it, and a scrape must finish within
// Prometheus's scrape timeout. klauspost/compress at BestSpeed compresses
// several times faster for a few percent more bytes on the wire.
func gzipScrape(h http.Handler) http.Handler {
	pool := sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
		return w
	}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.ServeHTTP(w, r)
			return
		}
		gz := pool.Get().(*gzip.Writer)
		gz.Reset(w)
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Del("Content-Length")
		h.ServeHTTP(gzipWriter{ResponseWriter: w, w: gz}, r)
		_ = gz.Close()       // the client went away: nothing to tell it
		gz.Reset(io.Discard) // the pool keeps no response writer alive
		pool.Put(gz)
	})
}

// gzipWriter is a ResponseWriter whose body goes through a gzip writer.
type gzipWriter struct {
	http.ResponseWriter
	w io.Writer
}

func (g gzipWriter) Write(b []byte) (int, error) { return g.w.Write(b) }

// WriteHeader drops a Content-Length the inner handler may have set for the
// uncompressed body.
func (g gzipWriter) WriteHeader(code int) {
	g.Header().Del("Content-Length")
	g.ResponseWriter.WriteHeader(code)
}

// acceptsGzip reads Accept-Encoding headers: gzip listed with a q above 0,
// or * without gzip being refused (gzip;q=0 wins over *).
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = q
			case "*":
				starQ = q
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}
