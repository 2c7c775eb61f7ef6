package quality

import (
	"encoding/json"
	"net/http"
	"time"
)

// Report is a product's data quality since the agent started: counts,
// rule results and the places of the last failing records. It never holds
// a payload value, key or header value.
type Report struct {
	Product      string            `json:"product"`
	Format       string            `json:"format"`
	Records      int64             `json:"records"`
	Undecodable  map[string]int64  `json:"undecodable"`
	Completeness Ratio             `json:"completeness"`
	Validity     Ratio             `json:"validity"`
	Required     []FieldReport     `json:"required,omitempty"`
	Rules        []RuleReport      `json:"rules"`
	Sequence     *SequenceReport   `json:"sequence,omitempty"`
	Volume       *VolumeReport     `json:"volume,omitempty"`
	DLQ          *DLQReport        `json:"dlq,omitempty"`
	Subjects     []SubjectMetadata `json:"subjects,omitempty"`
}

// Ratio is good over valid events; Ratio is absent (nil) while there were
// none, since a product with no data is silent, not perfect.
type Ratio struct {
	Good  int64    `json:"good"`
	Valid int64    `json:"valid"`
	Ratio *float64 `json:"ratio,omitempty"`
}

func ratio(good, valid int64) Ratio {
	r := Ratio{Good: good, Valid: valid}
	if valid > 0 {
		f := float64(good) / float64(valid)
		r.Ratio = &f
	}
	return r
}

// FieldReport counts the records a required field was missing from.
type FieldReport struct {
	Field   string `json:"field"`
	Missing int64  `json:"missing"`
}

// RuleReport is one rule's results and its last failing records.
type RuleReport struct {
	Name         string      `json:"name"`
	Expr         string      `json:"expr"`
	Source       string      `json:"source,omitempty"`
	Pass         int64       `json:"pass"`
	Fail         int64       `json:"fail"`
	Error        int64       `json:"error"`
	LastFailures []RecordRef `json:"last_failures,omitempty"`
}

// SequenceReport counts what the producers' sequence numbers showed.
type SequenceReport struct {
	Missing    int64 `json:"missing"`
	Duplicates int64 `json:"duplicates"`
	Resets     int64 `json:"resets"`
	Evicted    int64 `json:"evicted"`
	Keys       int   `json:"keys"`
}

// VolumeReport is the traffic over the last volume window.
type VolumeReport struct {
	MinPerMinute     float64 `json:"min_per_minute"`
	LastPerMinute    float64 `json:"last_per_minute"`
	WindowStartedAt  string  `json:"window_started_at,omitempty"`
	PartitionsSilent int     `json:"partitions_silent"`
}

// DLQReport counts the product's dead-lettered records.
type DLQReport struct {
	Topics  []string         `json:"topics"`
	Records int64            `json:"records"`
	Reasons map[string]int64 `json:"reasons"`
}

// Quality returns the product's report and whether the product exists. It
// is safe for concurrent use.
func (e *Engine) Quality(product string) (Report, bool) {
	p := e.byName[product]
	if p == nil {
		return Report{}, false
	}
	now := e.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	r := Report{
		Product:      p.p.Name,
		Format:       p.format,
		Records:      p.total.records,
		Undecodable:  map[string]int64{},
		Completeness: ratio(p.total.complGood.n+p.tick.completeGood, p.total.complGood.n+p.total.complBad.n+p.tick.completeGood+p.tick.completeBad),
		Validity:     ratio(p.total.validGood.n+p.tick.validGood, p.total.validGood.n+p.total.validBad.n+p.tick.validGood+p.tick.validBad),
		Rules:        []RuleReport{},
		Subjects:     p.subjectMetadata(),
	}
	for reason := ReasonOK + 1; reason < numReasons; reason++ {
		r.Undecodable[reason.String()] = p.total.undecodable[reason].n
	}
	for i, f := range p.p.Quality.Required {
		r.Required = append(r.Required, FieldReport{Field: f, Missing: p.total.missing[i].n})
	}
	add := func(ru *rule) {
		rr := RuleReport{Name: ru.name, Expr: ru.expr, Source: ru.source, Pass: ru.counts[0], Fail: ru.counts[1], Error: ru.counts[2]}
		// Newest first.
		for i := range min(ru.lastN, lastFailures) {
			rr.LastFailures = append(rr.LastFailures, ru.last[(ru.lastN-1-i)%lastFailures])
		}
		r.Rules = append(r.Rules, rr)
	}
	for _, ru := range p.rules {
		add(ru)
	}
	for _, sm := range r.Subjects {
		for _, ru := range p.subjects[sm.Topic].rules {
			add(ru)
		}
	}
	if p.seq != nil {
		r.Sequence = &SequenceReport{Missing: p.total.seqMissing.n, Duplicates: p.total.seqDup.n, Resets: p.total.seqReset.n, Evicted: p.total.seqEvicted.n, Keys: p.seq.len()}
	}
	if v := p.p.Quality.Volume; v != nil {
		vr := &VolumeReport{MinPerMinute: v.MinPerMinute, LastPerMinute: p.volume.lastRate}
		if !p.volume.start.IsZero() {
			vr.WindowStartedAt = p.volume.start.UTC().Format(time.RFC3339)
		}
		for _, t := range p.volume.moved {
			if now.Sub(t) >= volumeWindow {
				vr.PartitionsSilent++
			}
		}
		r.Volume = vr
	}
	if len(p.p.DLQTopics) > 0 {
		d := &DLQReport{Topics: p.p.DLQTopics, Records: p.dlq.records.n, Reasons: map[string]int64{}}
		for _, r := range p.dlq.reasons {
			d.Reasons[r.reason] = r.n
		}
		r.DLQ = d
	}
	return r, true
}

// Handler serves GET /api/v1/products/{name}/quality with the product's
// Report as JSON, 404 for an unknown product. Mount it at that pattern.
func (e *Engine) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/products/{name}/quality", func(w http.ResponseWriter, r *http.Request) {
		rep, ok := e.Quality(r.PathValue("name"))
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "no such product on this agent"})
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // rules read "total > 0 && ...", not "total \u003e 0 \u0026\u0026 ..."
		_ = enc.Encode(rep)
	})
	return mux
}
