package sla

import (
	"encoding/json"
	"net/http"
	"time"
)

// Response is the body of GET /api/v1/slos.
type Response struct {
	EvaluatedAt time.Time `json:"evaluated_at"` // zero before the first evaluation
	SLOs        []Status  `json:"slos"`
}

// Handler serves GET /api/v1/slos: the statuses of the last evaluation as
// JSON (Response), optionally only those of ?product=NAME. It reads the
// snapshot only. Safe for concurrent use.
func (e *Evaluator) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		resp := Response{SLOs: []Status{}}
		if s := e.snap.Load(); s != nil {
			resp.EvaluatedAt = s.at.UTC()
			product := r.URL.Query().Get("product")
			for i, t := range s.trackers {
				if product == "" || t.key.product == product {
					resp.SLOs = append(resp.SLOs, s.status(i, true))
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // "p99 > 1s" and "&" as written, not \u003e and \u0026
		enc.SetIndent("", "  ")
		_ = enc.Encode(resp) // the client went away; nothing to do
	})
}
