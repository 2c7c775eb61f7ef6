package expo

import (
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// protoWriter writes the delimited protobuf format, one MetricFamily
// message per family: only one family's series are held at a time.
type protoWriter struct {
	enc expfmt.Encoder
	mf  *dto.MetricFamily
	cur *Family
	err error
}

func (p *protoWriter) Begin(f *Family) {
	p.flush()
	t := dto.MetricType_GAUGE
	switch f.Type {
	case Counter:
		t = dto.MetricType_COUNTER
	case Histogram:
		t = dto.MetricType_HISTOGRAM
	}
	p.mf = &dto.MetricFamily{Name: &f.Name, Help: &f.Help, Type: &t, Metric: p.mf.GetMetric()[:0]}
	p.cur = f
}

func (p *protoWriter) Sample(v float64, lv ...string) { p.Counter(v, time.Time{}, lv...) }

func (p *protoWriter) Histogram(h *HistogramValue, lv ...string) {
	if p.err != nil {
		return // the scraper went away: nothing more is built
	}
	m := p.metric(lv)
	m.Histogram = h.proto()
	p.mf.Metric = append(p.mf.Metric, m)
}

// metric returns a metric with the current family's labels.
func (p *protoWriter) metric(lv []string) *dto.Metric {
	m := &dto.Metric{Label: make([]*dto.LabelPair, len(p.cur.Labels))}
	for n, i := range p.cur.order {
		var v string // a copy: the caller may reuse its slice before the family is flushed
		if i < len(lv) {
			v = lv[i]
		}
		m.Label[n] = &dto.LabelPair{Name: &p.cur.Labels[i], Value: &v}
	}
	return m
}

func (p *protoWriter) Counter(v float64, created time.Time, lv ...string) {
	if p.err != nil {
		return
	}
	m := p.metric(lv)
	if p.cur.Type == Counter {
		m.Counter = &dto.Counter{Value: &v}
		if !created.IsZero() {
			m.Counter.CreatedTimestamp = timestamppb.New(created)
		}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
	p.mf.Metric = append(p.mf.Metric, m)
}

// flush encodes the current family, if it has a series.
func (p *protoWriter) flush() {
	if p.mf == nil || len(p.mf.Metric) == 0 || p.err != nil {
		return
	}
	p.err = p.enc.Encode(p.mf)
	clear(p.mf.Metric)
	p.mf.Metric = p.mf.Metric[:0] // flushed: a second flush writes nothing
}
