package expo

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Registry is a prometheus.Registerer and Gatherer that keeps its Sources
// apart: Gather reads everything as client_golang does (tests, Check),
// while the /metrics Handler and WriteText (the push client) gather only
// the other collectors and stream the Sources.
type Registry struct {
	all, plain *prometheus.Registry

	mu      sync.Mutex
	sources []Source
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{all: prometheus.NewRegistry(), plain: prometheus.NewRegistry()}
}

// Register implements prometheus.Registerer. A Source is checked against
// every other collector like any collector.
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.all.Register(c); err != nil {
		return err
	}
	if s, ok := c.(Source); ok {
		r.mu.Lock()
		r.sources = append(r.sources, s)
		r.mu.Unlock()
		return nil
	}
	return r.plain.Register(c)
}

// MustRegister implements prometheus.Registerer.
func (r *Registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister implements prometheus.Registerer.
func (r *Registry) Unregister(c prometheus.Collector) bool {
	if !r.all.Unregister(c) {
		return false
	}
	if s, ok := c.(Source); ok {
		r.mu.Lock()
		r.sources = slices.DeleteFunc(r.sources, func(x Source) bool { return x == s })
		r.mu.Unlock()
		return true
	}
	r.plain.Unregister(c)
	return true
}

// Gather implements prometheus.Gatherer: every series, Sources included,
// sorted and checked as client_golang does.
func (r *Registry) Gather() ([]*dto.MetricFamily, error) { return r.all.Gather() }

func (r *Registry) streamed() []Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sources)
}

// HandlerOpts configure Handler.
type HandlerOpts struct {
	// OnGatherError is told of what a scrape could not gather (the rest
	// is served); OnWriteError of a response that could not be written
	// (the scraper went away). Either may be nil.
	OnGatherError, OnWriteError func(error)
}

// Handler serves the registries' series in the text format (0.0.4) or, as
// a scraper that prefers it asks, delimited protobuf (native histograms).
// The client_golang collectors are gathered as usual, each registry's
// names in order; the Sources are streamed after them, one family at a
// time, so a scrape of 10,000 products holds no message per series.
// registries is called at every scrape.
func Handler(registries func() []*Registry, o HandlerOpts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.NegotiateAccept(r.Header, expfmt.NewFormat(expfmt.TypeProtoDelim), expfmt.NewFormat(expfmt.TypeTextPlain))
		w.Header().Set("Content-Type", string(format))
		regs := registries()
		fams, err := gatherPlain(regs)
		if err != nil && o.OnGatherError != nil {
			o.OnGatherError(err)
		}
		if err := Write(w, format, fams, regs); err != nil && o.OnWriteError != nil {
			o.OnWriteError(err)
		}
	})
}

// WriteText writes every series of the registries to out in the text
// format, as Handler serves it: for a client that pushes them.
func WriteText(out io.Writer, regs []*Registry) error {
	fams, gerr := gatherPlain(regs)
	return errors.Join(gerr, Write(out, expfmt.NewFormat(expfmt.TypeTextPlain), fams, regs))
}

// Write writes fams and then the registries' Sources to out in format
// (text or delimited protobuf).
func Write(out io.Writer, format expfmt.Format, fams []*dto.MetricFamily, regs []*Registry) error {
	bw := bufio.NewWriterSize(out, 64<<10)
	enc := expfmt.NewEncoder(bw, format)
	var errs []error
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			errs = append(errs, err)
			break
		}
	}
	var sw Writer
	var failed func() bool // a write failed: the scraper went away
	var pw *protoWriter
	if format.FormatType() == expfmt.TypeProtoDelim {
		pw = &protoWriter{enc: enc}
		sw, failed = pw, func() bool { return pw.err != nil }
	} else {
		tw := &textWriter{w: bw}
		sw, failed = tw, func() bool { return tw.err != nil }
	}
	// Once a write failed, the next Sources are not asked for their
	// series: at 10,000 products a scrape that timed out would go on
	// formatting for seconds.
streams:
	for _, reg := range regs {
		for _, s := range reg.streamed() {
			if len(errs) > 0 || failed() {
				break streams
			}
			s.WriteTo(sw)
			if pw != nil {
				pw.flush() // a family never spans Sources: its error shows now
			}
		}
	}
	if pw != nil {
		errs = append(errs, pw.err) // each Source's last family is flushed in the loop
	}
	errs = append(errs, bw.Flush())
	return errors.Join(errs...)
}

// gatherPlain gathers the registries' client_golang collectors. When their
// names are disjoint, as they are, the families are only put in name
// order, rather than merged series by series, sorted and checked a second
// time by prometheus.Gatherers. A name in two falls back to that merge.
func gatherPlain(regs []*Registry) ([]*dto.MetricFamily, error) {
	var out []*dto.MetricFamily
	var errs []error
	names := map[string]bool{}
	dup := false
	for _, r := range regs {
		fams, err := r.plain.Gather()
		errs = append(errs, err)
		for _, f := range fams {
			dup = dup || names[f.GetName()]
			names[f.GetName()] = true
		}
		out = append(out, fams...)
	}
	if dup {
		gs := make(prometheus.Gatherers, len(regs))
		for i, r := range regs {
			gs[i] = r.plain
		}
		return gs.Gather()
	}
	slices.SortFunc(out, func(x, y *dto.MetricFamily) int { return strings.Compare(x.GetName(), y.GetName()) })
	return out, errors.Join(errs...)
}
