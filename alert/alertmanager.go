package alert

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Alertmanager forwards alerts to a Prometheus Alertmanager's v2 API
// (POST /api/v2/alerts), for teams that already route there. It is a
// Forwarder: it gets every firing alert, re-sent while it fires, with an
// endsAt a few resend delays ahead, and each resolved alert with its end;
// Alertmanager groups, silences and routes them itself. The URL is treated
// as a secret (it may hold credentials): it never appears in an error.
type Alertmanager struct {
	url    meshwatch.Secret // may hold credentials: never print it
	client *http.Client
}

// NewAlertmanager returns a forwarder to the Alertmanager at url
// ("http://alertmanager:9093").
func NewAlertmanager(url string) *Alertmanager {
	return &Alertmanager{url: meshwatch.Secret(strings.TrimSuffix(url, "/") + "/api/v2/alerts"), client: &http.Client{Timeout: 10 * time.Second}}
}

// Name returns "alertmanager".
func (am *Alertmanager) Name() string { return "alertmanager" }

// postableAlert is Alertmanager's v2 PostableAlert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Forward posts alerts. Their labels gain owner, domain and cluster when
// they lack them; the numbers go into annotations.
func (am *Alertmanager) Forward(ctx context.Context, alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	out := make([]postableAlert, len(alerts))
	for i := range alerts {
		out[i] = postable(&alerts[i])
	}
	body, err := marshalJSON(out)
	if err != nil {
		return Permanent("encode", fmt.Errorf("alertmanager: encode: %w", err))
	}
	return postJSON(ctx, am.client, "alertmanager", am.url.Reveal(), http.Header{"Content-Type": {"application/json"}}, body)
}

// Notify forwards n's alerts, for an Alertmanager used as a plain notifier.
func (am *Alertmanager) Notify(ctx context.Context, n *Notification, _ *Thread) error {
	return am.Forward(ctx, n.Alerts)
}

func postable(a *Alert) postableAlert {
	labels := maps.Clone(a.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range map[string]string{"owner": a.Owner, "domain": a.Domain, "cluster": a.Cluster} {
		if v != "" && labels[k] == "" {
			labels[k] = v
		}
	}
	ann := maps.Clone(a.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	set := func(k, v string) {
		if v != "" && ann[k] == "" {
			ann[k] = v
		}
	}
	set("state", a.State)
	if a.Tier > 0 {
		set("tier", strconv.Itoa(a.Tier))
	}
	if a.Objective > 0 {
		set("objective", percent(a.Objective))
	}
	if a.ThresholdSeconds > 0 {
		set("threshold", meshwatch.Duration(a.ThresholdSeconds*float64(time.Second)).String())
	}
	set("promise", a.Promise)
	if a.SLI != nil {
		set("sli", percent(*a.SLI))
	}
	if a.BudgetRemaining != nil {
		set("budget_remaining", budgetLeft(*a.BudgetRemaining))
	}
	set("burn_rates", burnRates(a.BurnRates))
	set("time_to_exhaustion", exhaustion(a))
	set("topics", strings.Join(a.Topics, ","))
	set("window", a.Window)
	set("runbook_url", a.RunbookURL)
	set("dashboard_url", a.DashboardURL)
	p := postableAlert{Labels: labels, Annotations: ann, StartsAt: a.StartsAt.UTC(), GeneratorURL: a.DashboardURL}
	if !a.EndsAt.IsZero() {
		p.EndsAt = a.EndsAt.UTC()
	}
	return p
}

// Format prints the forwarder without its URL, which may hold credentials.
func (am *Alertmanager) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "alert.Alertmanager{url: <secret>}")
}
