package cost

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler serves GET /api/v1/chargeback?from=&to=&format=json|csv|focus
// from the ledger, for Grafana's JSON and CSV data sources. from and to are
// RFC 3339 times, dates (2026-06-01) or Unix milliseconds (Grafana's
// ${__from} and ${__to}); from defaults to the start of the month, to to
// now. The open hour is included as an estimate. It is safe for concurrent
// use.
func (m *Meter) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		now := m.now()
		q := r.URL.Query()
		from, err := parseWhen(q.Get("from"), monthStart(now))
		if err != nil {
			http.Error(w, "from: "+err.Error(), http.StatusBadRequest)
			return
		}
		to, err := parseWhen(q.Get("to"), now)
		if err != nil {
			http.Error(w, "to: "+err.Error(), http.StatusBadRequest)
			return
		}
		format := q.Get("format")
		if format == "" {
			format = FormatJSON
		}
		ctype := map[string]string{FormatJSON: "application/json", FormatCSV: "text/csv; charset=utf-8", FormatFOCUS: "text/csv; charset=utf-8"}[format]
		if ctype == "" {
			http.Error(w, "format must be json, csv or focus", http.StatusBadRequest)
			return
		}
		var buf bytes.Buffer
		if err := Report(r.Context(), m.opts.Store, from, to, format, &buf); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, ErrRange) {
				status = http.StatusBadRequest
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	})
}

// parseWhen parses a time parameter: RFC 3339, a date, or Unix
// milliseconds; empty gives def.
func parseWhen(s string, def time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	if t, err := parseDate(s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New(`must be an RFC 3339 time, a date like 2026-06-01 or Unix milliseconds, got "` + s + `"`)
}
