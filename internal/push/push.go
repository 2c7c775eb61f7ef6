package push

import (
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
	expose   func(io.Writer) error
	log      *slog.Logger
	logs     logonce.Limiter
}

// New returns a Pusher, as cfg says, of the metrics expose writes in the
// Prometheus text format (the agent streams its registries, as /metrics
// does).
func New(cfg Config, expose func(io.Writer) error, log *slog.Logger) *Pusher {
	p := &Pusher{
		url:      cfg.URL,
		interval: cfg.Interval.Std(),
		expose:   expose,
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

// write renders the metrics in the Prometheus text format. What could not
// be gathered is left out and logged (at most once a minute); the rest is
// pushed.
func (p *Pusher) write(w io.Writer) {
	if err := p.expose(w); err != nil && p.logs.Allow("gather") {
		p.log.Warn("exposing metrics for push: some were left out", "err", err)
	}
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
