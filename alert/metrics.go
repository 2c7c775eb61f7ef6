package alert

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the alert package's Prometheus metrics. Create them once with
// NewMetrics and pass them to New and NewSlack.
type Metrics struct {
	notifications *prometheus.CounterVec
	firing        *prometheus.GaugeVec
	pending       prometheus.Gauge
	unknown       prometheus.Gauge
	muted         *prometheus.GaugeVec
	incidents     prometheus.Gauge
	outbox        *prometheus.GaugeVec
	latency       *prometheus.HistogramVec
	silences      prometheus.Gauge
	stateErrors   *prometheus.CounterVec
	slackRequests *prometheus.CounterVec
	announcements *prometheus.CounterVec
}

// Results of a Slack API call, the result label of
// meshwatch_alert_slack_requests_total.
const (
	slackOK          = "ok"
	slackRateLimited = "rate_limited"
	slackServerError = "server_error"
	slackNetwork     = "network_error"
	slackAPIError    = "api_error"
)

// NewMetrics creates the alert metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_alert_notifications_total", Help: "Notification delivery attempts, by integration and outcome.",
		}, []string{"integration", "outcome"}),
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_alerts_firing", Help: "Alerts firing, muted or not, by severity.",
		}, []string{"severity"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_alerts_pending", Help: "Alerts active but not yet for their for duration.",
		}),
		unknown: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_alerts_unknown", Help: "Alerts whose condition could not be evaluated at the last update (just started, or the source cannot see the product): kept as last known, never resolved meanwhile.",
		}),
		muted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_alerts_muted", Help: "Firing alerts muted by a silence or by inhibition.",
		}, []string{"reason"}),
		incidents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_alert_incidents_open", Help: "Incidents notified and not yet resolved.",
		}),
		outbox: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshwatch_alert_outbox_depth", Help: "Notifications waiting for delivery, by integration.",
		}, []string{"integration"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "meshwatch_alert_delivery_latency_seconds", Help: "Time from a notification's creation to its delivery, retries included.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"integration"}),
		silences: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshwatch_alert_silences_active", Help: "Silences in force.",
		}),
		stateErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_alert_state_errors_total", Help: "Failed reads (load) and writes (save) of the alert state in the store.",
		}, []string{"op"}),
		slackRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_alert_slack_requests_total", Help: "Slack Web API calls, by method and result.",
		}, []string{"method", "result"}),
		announcements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshwatch_alert_announcements_total", Help: "Announcement delivery attempts (Manager.Announce: chargeback summaries…), by integration, kind and outcome; they are counted in meshwatch_alert_notifications_total too.",
		}, []string{"integration", "kind", "outcome"}),
	}
	reg.MustRegister(m.notifications, m.firing, m.pending, m.unknown, m.muted, m.incidents, m.outbox,
		m.latency, m.silences, m.stateErrors, m.slackRequests, m.announcements)
	for _, s := range []string{SeverityPage, SeverityTicket} {
		m.firing.WithLabelValues(s)
	}
	for _, r := range []string{MutedSilenced, MutedInhibited} {
		m.muted.WithLabelValues(r)
	}
	for _, op := range []string{"load", "save"} {
		m.stateErrors.WithLabelValues(op)
	}
	for _, method := range []string{"chat.postMessage", "chat.update"} {
		for _, r := range []string{slackOK, slackRateLimited, slackServerError, slackNetwork, slackAPIError} {
			m.slackRequests.WithLabelValues(method, r)
		}
	}
	return m
}

// initIntegration creates an integration's series at 0.
func (m *Metrics) initIntegration(name string) {
	for _, o := range outcomes {
		m.notifications.WithLabelValues(name, o)
	}
	m.outbox.WithLabelValues(name)
	m.latency.WithLabelValues(name)
}
