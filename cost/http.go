package cost

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler serves GET
// /api/v1/chargeback?from=&to=&month=&owner=&decimals=&format=json|csv|focus|summary
// from the ledger, for Grafana's JSON and CSV data sources and for people
// (summary: the table of `meshwatch report chargeback -format summary`, as
// text/plain). from and to are RFC 3339 times, dates (2026-06-01) or Unix
// milliseconds (Grafana's ${__from} and ${__to}); from defaults to the
// start of the month, to to now. month (2026-06) stands for the whole
// month, UTC, instead. owner keeps one team's charges. decimals (2 to 9,
// default 2) is what the summary rounds to. The open hour is included as an
// estimate. It is safe for concurrent use.
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
		if month := q.Get("month"); month != "" {
			if q.Get("from") != "" || q.Get("to") != "" {
				http.Error(w, "month: give month, or from and to, not both", http.StatusBadRequest)
				return
			}
			if from, err = ParseMonth(month); err != nil {
				http.Error(w, "month: "+err.Error(), http.StatusBadRequest)
				return
			}
			to = from.AddDate(0, 1, 0)
		}
		format := q.Get("format")
		if format == "" {
			format = FormatJSON
		}
		ctype := map[string]string{FormatJSON: "application/json", FormatCSV: "text/csv; charset=utf-8",
			FormatFOCUS: "text/csv; charset=utf-8", FormatSummary: "text/plain; charset=utf-8"}[format]
		if ctype == "" {
			http.Error(w, "format must be json, csv, focus or summary", http.StatusBadRequest)
			return
		}
		var buf bytes.Buffer
		o := ReportOptions{From: from, To: to, Format: format, Owner: q.Get("owner"), Currency: m.cc.Currency}
		if d := q.Get("decimals"); d != "" {
			n, err := strconv.Atoi(d)
			quantum, ok := DecimalsQuantum(n)
			if err != nil || !ok || n < 2 || format != FormatSummary {
				http.Error(w, "decimals: 2 (cents) to 9, with format=summary", http.StatusBadRequest)
				return
			}
			o.Quantum = quantum
		}
		if _, err := WriteReport(r.Context(), m.opts.Store, o, &buf); err != nil {
			status := http.StatusInternalServerError
			switch {
			case errors.Is(err, ErrRange):
				status = http.StatusBadRequest
			case errors.Is(err, ErrCurrencies):
				status = http.StatusUnprocessableEntity
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

// ParseMonth parses a month written 2026-06 and returns its first instant,
// UTC.
func ParseMonth(s string) (time.Time, error) {
	t, err := time.Parse("2006-01", strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, errors.New(`want a month like 2026-06, got "` + s + `"`)
	}
	return t, nil
}
