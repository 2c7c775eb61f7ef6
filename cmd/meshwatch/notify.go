package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"time"

	"github.com/slack-go/slack"

	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/cost"
)

// notifiers builds the notifiers the alerting section asks for, plus the
// test's. Slack reports its requests in m.
func (a *App) notifiers(o AppOptions, m *alert.Metrics) []alert.Notifier {
	var ns []alert.Notifier
	al := a.set.Alerting
	if al != nil {
		if s := al.Slack; s != nil {
			ns = append(ns, alert.NewSlack(alert.SlackOptions{
				Token: s.Token, APIURL: s.APIURL, Logger: a.log, Metrics: m,
				PerChannelInterval: s.PerChannelInterval.Std(),
			}))
		}
		if w := al.Webhook; w != nil {
			ns = append(ns, alert.NewWebhook(w.URL.Reveal(), w.Secret))
		}
		if am := al.Alertmanager; am != nil {
			ns = append(ns, alert.NewAlertmanager(am.URL))
		}
		if al.Console {
			out := o.Stdout
			if out == nil {
				out = os.Stdout
			}
			ns = append(ns, alert.NewConsole(out))
		}
	}
	return append(ns, o.Notifiers...)
}

// summary posts a chargeback summary to the owner's Slack channel, or the
// finance channel, when Slack is configured; it is logged otherwise.
func (a *App) summary(s cost.Summary) {
	al := a.set.Alerting
	channel := ""
	if s.Finance {
		if al != nil {
			channel = al.FinanceChannel
		}
	} else if o, ok := a.cfg.Owners[s.Owner]; ok {
		channel = o.SlackChannel
	}
	if al == nil || al.Slack == nil || channel == "" {
		a.log.Info("chargeback summary (no Slack channel to send it to)", "owner", s.Owner, "finance", s.Finance, "period", s.Period, "total", s.Total.String(), "currency", s.Currency)
		return
	}
	opts := []slack.Option{}
	if al.Slack.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(al.Slack.APIURL))
	}
	api := slack.New(al.Slack.Token.Reveal(), opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText(s.Text(), false)); err != nil {
		a.log.Warn("posting a chargeback summary to Slack failed", "channel", channel, "err", err)
	}
}

// writeAPIError answers an API request with status and {"error": msg}:
// API errors are JSON, and msg never holds a credential.
func writeAPIError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// writeJSON writes v as indented JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
