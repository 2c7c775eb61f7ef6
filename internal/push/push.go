package push

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/meshwatch/meshwatch/internal/logonce"
)

// Pusher pushes every metric of the agent's registry to a VictoriaMetrics
// (/api/v1/import/prometheus) or any Prometheus text-import endpoint, for
// sidecars that nobody scrapes. It pushes every interval and once more on
// shutdown, so the final numbers arrive too.
type Pusher struct {
	url      string
	interval time.Duration
	opts     metrics.PushOptions
	gather   prometheus.Gatherer
	log      *slog.Logger
	logs     logonce.Limiter
}

// New returns a Pusher of the metrics gather gives, as cfg says.
func New(cfg Config, gather prometheus.Gatherer, log *slog.Logger) *Pusher {
	p := &Pusher{
		url:      cfg.URL,
		interval: cfg.Interval.Std(),
		gather:   gather,
		log:      log.With("component", "push"),
		opts:     metrics.PushOptions{Method: http.MethodPost},
	}
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(cfg.Labels)) {
		labels = append(labels, k+"="+strconv.Quote(cfg.Labels[k]))
	}
	p.opts.ExtraLabels = strings.Join(labels, ",")
	if cfg.Token != "" {
		p.opts.Headers = []string{"Authorization: Bearer " + cfg.Token.Reveal()}
	}
	p.logs.Interval = time.Minute
	return p
}

// write renders the registry in the Prometheus text format.
func (p *Pusher) write(w io.Writer) {
	mfs, err := p.gather.Gather()
	if err != nil && p.logs.Allow("gather") {
		p.log.Warn("gathering metrics for push", "err", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil && p.logs.Allow("encode") {
			p.log.Warn("encoding a metric family for push", "metric", mf.GetName(), "err", err)
		}
	}
	_, _ = w.Write(buf.Bytes())
}

// Run pushes every interval until ctx is done, then once more within a
// short deadline.
func (p *Pusher) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			p.push(final)
			cancel()
			return nil
		case <-t.C:
			p.push(ctx)
		}
	}
}

func (p *Pusher) push(ctx context.Context) {
	if err := metrics.PushMetricsExt(ctx, p.url, p.write, &p.opts); err != nil && p.logs.Allow("push") {
		// The error names the URL with its credentials redacted by the library.
		p.log.Warn("pushing metrics failed; retried at the next interval (logged at most once a minute)", "err", err)
	}
}
