package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/meshwatch/meshwatch"
)

// SignatureHeader carries the webhook body's HMAC-SHA256 under the shared
// secret: "sha256=" and the hex digest.
const SignatureHeader = "X-Meshwatch-Signature"

// Sign returns the SignatureHeader value of body under secret.
func Sign(secret meshwatch.Secret, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret.Reveal()))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Webhook posts every notification as JSON (WebhookPayload) to a URL,
// signed with SignatureHeader when it has a secret. The URL is treated as a
// secret too: it never appears in an error or a log line.
type Webhook struct {
	url    meshwatch.Secret // a webhook URL often holds a secret: never print it
	secret meshwatch.Secret
	client *http.Client
}

// NewWebhook returns a webhook notifier posting to url.
func NewWebhook(url string, secret meshwatch.Secret) *Webhook {
	return &Webhook{url: meshwatch.Secret(url), secret: secret, client: &http.Client{Timeout: 10 * time.Second}}
}

// Name returns "webhook".
func (w *Webhook) Name() string { return "webhook" }

// WebhookPayload is the body a Webhook posts.
type WebhookPayload struct {
	Version     string            `json:"version"` // "1"
	Kind        string            `json:"kind"`
	Status      string            `json:"status"`
	Incident    string            `json:"incident"`
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels"`
	Page        bool              `json:"page"`
	Opened      time.Time         `json:"opened"`
	Time        time.Time         `json:"time"`
	Alerts      []AlertView       `json:"alerts"`
	// Note is the text of a notification of kind "note" (KindNote), which
	// has no alerts: a silence added or removed. It is plain text as
	// people typed it, for the receiver to escape.
	Note string `json:"note,omitempty"`
	// Upstream are the incidents of the products that fed the incident's
	// product when it opened: its probable cause.
	Upstream []Upstream `json:"upstream,omitempty"`
	// Audience is set on a consuming team's copy of an incident: the team
	// it is for and what the team has at stake.
	Audience *meshwatch.Audience `json:"audience,omitempty"`
}

// AlertView is an alert as the webhook and /api/v1/alerts show it.
type AlertView struct { //nolint:revive // the API's name since the first release; a rename breaks callers for style alone
	Labels                  map[string]string `json:"labels"`
	Annotations             map[string]string `json:"annotations,omitempty"`
	Fingerprint             string            `json:"fingerprint"`
	Status                  string            `json:"status"`
	StartsAt                time.Time         `json:"starts_at,omitzero"`
	EndsAt                  time.Time         `json:"ends_at,omitzero"`
	Change                  string            `json:"change,omitempty"`
	State                   string            `json:"state,omitempty"`
	Product                 string            `json:"product,omitempty"`
	Domain                  string            `json:"domain,omitempty"`
	Owner                   string            `json:"owner,omitempty"`
	Tier                    int               `json:"tier,omitempty"`
	SLO                     string            `json:"slo,omitempty"`
	Objective               float64           `json:"objective,omitempty"`
	ThresholdSeconds        float64           `json:"threshold_seconds,omitempty"`
	Promise                 string            `json:"promise,omitempty"`
	SLI                     *float64          `json:"sli,omitempty"`
	BudgetRemaining         *float64          `json:"budget_remaining,omitempty"`
	BurnRates               []BurnRate        `json:"burn_rates,omitempty"`
	TimeToExhaustionSeconds float64           `json:"time_to_exhaustion_seconds,omitempty"`
	Topics                  []string          `json:"topics,omitempty"`
	Cluster                 string            `json:"cluster,omitempty"`
	Window                  string            `json:"window,omitempty"`
	RunbookURL              string            `json:"runbook_url,omitempty"`
	DashboardURL            string            `json:"dashboard_url,omitempty"`
	// CausedBy names the upstream product whose incident explains this
	// freshness or latency alert: it is inhibited (muted "inhibited"),
	// shown in its incident, and does not page.
	CausedBy string `json:"caused_by,omitempty"`
	// Muted, SilencedBy and Unknown are set by /api/v1/alerts. Unknown
	// says the condition could not be evaluated at the last update (the
	// agent just started, or its source cannot see the product): the alert
	// is kept as it was last known.
	Muted      string   `json:"muted,omitempty"`
	SilencedBy []string `json:"silenced_by,omitempty"`
	Unknown    bool     `json:"unknown,omitempty"`
}

func viewOf(a *Alert) AlertView {
	return AlertView{
		Labels: a.Labels, Annotations: a.Annotations, Fingerprint: a.Fingerprint, Status: a.Status,
		StartsAt: a.StartsAt, EndsAt: a.EndsAt, Change: a.Change, State: a.State,
		Product: a.Product, Domain: a.Domain, Owner: a.Owner, Tier: a.Tier,
		SLO: a.SLO, Objective: a.Objective, ThresholdSeconds: a.ThresholdSeconds, Promise: a.Promise, SLI: a.SLI, BudgetRemaining: a.BudgetRemaining,
		BurnRates: a.BurnRates, TimeToExhaustionSeconds: a.TimeToExhaustion.Seconds(),
		Topics: a.Topics, Cluster: a.Cluster, Window: a.Window,
		RunbookURL: a.RunbookURL, DashboardURL: a.DashboardURL, CausedBy: a.CausedBy,
	}
}

// Notify posts n. A 2xx is success; 408, 429 and 5xx are retried (429
// after its Retry-After); any other status is permanent.
func (w *Webhook) Notify(ctx context.Context, n *Notification, _ *Thread) error {
	p := WebhookPayload{
		Version: "1", Kind: n.Kind, Status: n.Status, Incident: n.Incident, GroupKey: n.GroupKey,
		GroupLabels: n.GroupLabels, Page: n.Page, Opened: n.Opened, Time: n.Time,
		Alerts: make([]AlertView, len(n.Alerts)), Note: n.Note, Upstream: n.Upstream, Audience: n.Audience,
	}
	for i := range n.Alerts {
		p.Alerts[i] = viewOf(&n.Alerts[i])
	}
	body, err := marshalJSON(p)
	if err != nil {
		return Permanent("encode", fmt.Errorf("webhook: encode: %w", err))
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if w.secret != "" {
		h.Set(SignatureHeader, Sign(w.secret, body))
	}
	return postJSON(ctx, w.client, "webhook", w.url.Reveal(), h, body)
}

// marshalJSON encodes v like json.Marshal, but without HTML escaping:
// "<", ">" and "&" of a description or a link reach the receiver as
// written, not as \u003c, \u003e and \u0026.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// postJSON posts body to url and classifies the outcome. Neither the URL nor
// the response body appear in its errors.
func postJSON(ctx context.Context, c *http.Client, what, url string, h http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Permanent("bad_url", fmt.Errorf("%s: invalid URL", what))
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, cleanURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests:
		after := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
		return &RetryAfterError{After: after, Err: fmt.Errorf("%s: HTTP 429", what)}
	case code == http.StatusRequestTimeout || code >= 500:
		return fmt.Errorf("%s: HTTP %d", what, code)
	default:
		return Permanent(fmt.Sprintf("http_%d", code), fmt.Errorf("%s: HTTP %d", what, code))
	}
}

// Format prints the webhook without its URL or secret, for every verb:
// fmt would otherwise print the unexported fields by reflection.
func (w *Webhook) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "alert.Webhook{url: <secret>}")
}
