package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/cost"
)

// notifiers builds the notifiers the alerting section asks for, plus the
// test's. Slack reports its requests in m.
func (a *App) notifiers(o AppOptions, m *alert.Metrics) []alert.Notifier {
	ns := a.set.Alerting.Notifiers(alert.NotifierOptions{Logger: a.log, Metrics: m, Stdout: o.Stdout})
	return append(ns, o.Notifiers...)
}

// costShard is the alert shard of the cost meter's core (alertShards): a
// chargeback summary waits in its state, which moves with the meter.
const costShard = "cost"

// summary announces a chargeback summary through the alert manager m: to
// the owner's Slack channel, or the finance channel, with the outbox's
// pacing, retries, metrics and durability. It is logged instead when there
// is no channel to send it to, or no integration that posts it (Slack,
// the console).
func (a *App) summary(m *alert.Manager, s cost.Summary) {
	al := a.set.Alerting
	channel := ""
	if s.Finance {
		if al != nil {
			channel = al.FinanceChannel
		}
	} else if o, ok := a.cfg.Owners[s.Owner]; ok {
		channel = o.SlackChannel
	}
	if channel != "" {
		who := "owner/" + s.Owner
		if s.Finance {
			who = "finance"
		}
		ann := alert.Announcement{
			Kind: "chargeback", Channel: channel, Text: s.Text(),
			// One summary per period and recipient: a close retried
			// while its announcement still waits in the outbox does
			// not queue it twice.
			Key: s.Period + "/" + s.From.UTC().Format(time.RFC3339) + "/" + who,
		}
		if a.set.Sharding != nil {
			ann.Shard = costShard
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := m.Announce(ctx, ann)
		if err == nil {
			return
		}
		if !errors.Is(err, alert.ErrNoAnnouncer) {
			a.log.Warn("a chargeback summary could not be queued for Slack; it is logged here instead", "owner", s.Owner, "finance", s.Finance, "channel", channel, "err", err)
			a.log.Info("chargeback summary", "owner", s.Owner, "finance", s.Finance, "period", s.Period, "total", s.Total.String(), "currency", s.Currency)
			return
		}
	}
	a.log.Info("chargeback summary (no Slack channel to send it to)", "owner", s.Owner, "finance", s.Finance, "period", s.Period, "total", s.Total.String(), "currency", s.Currency)
}

// writeAPIError answers an API request with status and {"error": msg}:
// API errors are JSON, and msg never holds a credential.
func writeAPIError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // a message reads as written: "a > b", not "a \u003e b"
	_ = enc.Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// writeJSON writes v as indented JSON, without HTML escaping: an API for
// people and scripts, where a rule reads "total > 0", not "total \u003e 0".
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
