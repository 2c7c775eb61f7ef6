package alert

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshwatch/meshwatch"
)

// meshConfig is a small mesh: checkout.orders.placed (orders-team) read
// by fraud-team's group and by finance-team's group, and feeding
// fraud-team's payments.fraud.scored; search-team reads it too but has no
// channel.
func meshConfig() *meshwatch.Config {
	cfg := &meshwatch.Config{
		Cluster: meshwatch.Cluster{Name: "prod-eu"},
		Products: []meshwatch.Product{
			{
				Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team", Tier: 1,
				Topics: []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}},
				Consumers: []meshwatch.Consumer{
					{Group: "fraud-detector", Owner: "fraud-team"},
					{Group: "ledger-writer", Owner: "finance-team"},
					{Group: "search-indexer", Owner: "search-team"},
				},
			},
			{
				Name: "payments.fraud.scored", Domain: "payments", Owner: "fraud-team", Tier: 1,
				Topics: []meshwatch.TopicSelector{{Name: "payments.fraud.scored"}},
				Inputs: []string{"checkout.orders.placed"},
			},
		},
		Owners: map[string]meshwatch.Owner{
			"orders-team":  {SlackChannel: "#orders-data", Mention: "<!subteam^S123>"},
			"fraud-team":   {SlackChannel: "#fraud-alerts", Mention: "<!subteam^S456>"},
			"finance-team": {SlackChannel: "#finance"},
			"search-team":  {},
		},
	}
	return cfg
}

// meshAudiences is what package lineage finds in meshConfig (its own
// tests check that; cmd/meshwatch's wire them): who depends on what.
func meshAudiences(product string) []meshwatch.Audience {
	if product != "checkout.orders.placed" {
		return nil
	}
	return []meshwatch.Audience{
		{Team: "finance-team", Channel: "#finance", Groups: []string{"ledger-writer"}},
		{Team: "fraud-team", Channel: "#fraud-alerts", Groups: []string{"fraud-detector"}, Products: []string{"payments.fraud.scored"}},
	}
}

func newMeshManager(t *testing.T, cfg *meshwatch.Config, clk *fakeClock, st Store, reg prometheus.Registerer, ns ...Notifier) *Manager {
	t.Helper()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := New(cfg, Options{
		Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(reg),
		Store: st, Now: clk.Now, Notifiers: ns,
		Routing:   Routing{DefaultChannel: "#data-alerts"},
		Audiences: meshAudiences,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// productAlert is an SLO burn-rate alert of product.
func productAlert(product, slo, sli string) Alert {
	a := sloAlert(slo, sli, SeverityPage)
	a.Labels[LabelProduct] = product
	return a
}

// byChannel summarises notifications as "channel kind: alerts", in order.
func byChannel(ns []*Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Channel+" "+summary([]*Notification{n})[0])
	}
	return out
}

func wantChannels(t *testing.T, rec *recorder, at string, want ...string) []*Notification {
	t.Helper()
	got := rec.take()
	if s := byChannel(got); !slices.Equal(s, want) {
		t.Fatalf("%s:\ngot  %q\nwant %q", at, s, want)
	}
	return got
}

// TestConsumerCopies: every consuming team with a channel gets one copy of
// an upstream incident in its channel, updated with its changes and its
// resolve, never paged, never repeated; a consumer's lag and a restart
// tell nobody anything new.
func TestConsumerCopies(t *testing.T) {
	cfg := meshConfig()
	clk := newClock()
	rec := &recorder{name: "rec"}
	st := newTestStore()
	m := newMeshManager(t, cfg, clk, st, nil, rec)
	lat := productAlert("checkout.orders.placed", "latency", meshwatch.SLILatency)

	m.Update(t0, []Alert{lat})
	step(t, m, clk, t0.Add(30*time.Second))
	got := wantChannels(t, rec, "fire",
		"#orders-data fire: latency/firing/new",
		"#finance fire: latency/firing/new",
		"#fraud-alerts fire: latency/firing/new")
	if !got[0].Page || got[0].Audience != nil {
		t.Errorf("owner's notification: page %v audience %v, want a page without audience", got[0].Page, got[0].Audience)
	}
	for _, n := range got[1:] {
		if n.Page || n.Mention != "" || n.Audience == nil {
			t.Fatalf("consumer copy to %s: page %v mention %q audience %v; want no page, no mention, an audience", n.Channel, n.Page, n.Mention, n.Audience)
		}
		if n.Incident == got[0].Incident {
			t.Errorf("consumer copy to %s shares the owner's incident ID: one Slack thread for two channels", n.Channel)
		}
	}
	if a := got[2].Audience; a.Team != "fraud-team" || !slices.Equal(a.Groups, []string{"fraud-detector"}) || !slices.Equal(a.Products, []string{"payments.fraud.scored"}) {
		t.Errorf("fraud-team's audience = %+v, want its group fraud-detector and its product payments.fraud.scored", *a)
	}

	// A second alert joins: every copy changes.
	val := productAlert("checkout.orders.placed", "validity", meshwatch.SLIValidity)
	m.Update(t0.Add(time.Minute), []Alert{lat, val})
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	wantChannels(t, rec, "change",
		"#orders-data change: latency/firing validity/firing/new",
		"#finance change: latency/firing validity/firing/new",
		"#fraud-alerts change: latency/firing validity/firing/new")

	// Each copy keeps its thread while its incident is open.
	m.mu.Lock()
	for _, n := range got[1:] {
		if m.st.Threads[n.Incident+"/rec"] == nil {
			t.Errorf("the thread of %s's copy was dropped while the incident is open", n.Channel)
		}
	}
	m.mu.Unlock()

	// A consumer's lag joins the owner's incident: its team hears of it
	// through routing, the copies do not change.
	lagA := Alert{Labels: map[string]string{LabelAlertname: NameConsumerLag, LabelProduct: "checkout.orders.placed", LabelGroup: "ledger-writer", LabelSLI: "lag", LabelSeverity: SeverityTicket}, Active: true, State: "STALL"}
	m.Update(t0.Add(6*time.Minute), []Alert{lat, val, lagA})
	step(t, m, clk, t0.Add(10*time.Minute+30*time.Second))
	for _, n := range rec.take() {
		if n.Audience != nil {
			t.Fatalf("a consumer's lag changed %s's copy: %q", n.Channel, byChannel([]*Notification{n}))
		}
	}

	// A restart in the middle: nothing new to anybody.
	m2 := newMeshManager(t, cfg, clk, st, nil, rec)
	m2.Update(t0.Add(11*time.Minute), []Alert{lat, val, lagA})
	step(t, m2, clk, t0.Add(15*time.Minute+30*time.Second))
	wantChannels(t, rec, "after a restart")

	// The owner is reminded after repeat_interval; the consumers are not.
	at := t0.Add(10*time.Minute + 30*time.Second + 4*time.Hour)
	m2.Update(at, []Alert{lat, val, lagA})
	step(t, m2, clk, at)
	wantChannels(t, rec, "repeat", "#orders-data repeat: latency/firing validity/firing lag of ledger-writer/firing")

	// Everything resolves: each copy resolves, with the same incident ID
	// as its fire (the same thread).
	m2.Update(at.Add(time.Minute), nil)
	step(t, m2, clk, at.Add(5*time.Minute))
	res := wantChannels(t, rec, "resolve",
		"#orders-data resolve: latency/resolved/resolved validity/resolved/resolved lag of ledger-writer/resolved/resolved",
		"#finance resolve: latency/resolved/resolved validity/resolved/resolved",
		"#fraud-alerts resolve: latency/resolved/resolved validity/resolved/resolved")
	for i := range res {
		if res[i].Incident != got[i].Incident {
			t.Errorf("%s: resolve in incident %s, fired in %s", res[i].Channel, res[i].Incident, got[i].Incident)
		}
	}
	m2.mu.Lock()
	threads := len(m2.st.Threads)
	m2.mu.Unlock()
	if threads != 0 {
		t.Errorf("threads left after every incident resolved: %d", threads)
	}
}

// TestConsumerCopiesOff: an incident of only a consumer's lag makes no
// copy (its team hears of it through routing), and a team whose channel
// is the incident's gets none. (Who subscribes is package lineage's.)
func TestConsumerCopiesOff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*meshwatch.Config)
		alerts []Alert
		want   []string
	}{
		{"same channel as the owner", func(c *meshwatch.Config) {
			o := c.Owners["orders-team"]
			o.SlackChannel = "#finance"
			c.Owners["orders-team"] = o
		}, []Alert{productAlert("checkout.orders.placed", "latency", meshwatch.SLILatency)},
			[]string{"#finance fire: latency/firing/new", "#fraud-alerts fire: latency/firing/new"}},
		{"only a consumer's lag", func(*meshwatch.Config) {}, []Alert{{
			Labels: map[string]string{LabelAlertname: NameConsumerLag, LabelProduct: "checkout.orders.placed", LabelGroup: "ledger-writer", LabelSLI: "lag", LabelSeverity: SeverityTicket},
			Active: true, State: "STOP",
		}}, []string{"#orders-data fire: lag of ledger-writer/firing/new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := meshConfig()
			tc.edit(cfg)
			clk := newClock()
			rec := &recorder{name: "rec"}
			m := newMeshManager(t, cfg, clk, newTestStore(), nil, rec)
			m.Update(t0, tc.alerts)
			step(t, m, clk, t0.Add(30*time.Second))
			wantChannels(t, rec, tc.name, tc.want...)
		})
	}
}

// TestUpstreamCause: a downstream incident that opens while its input is
// in trouble names the upstream incident; its freshness and latency
// alerts are inhibited (shown, caused upstream, not paging) while the
// upstream fires, and page once it resolved.
func TestUpstreamCause(t *testing.T) {
	cfg := meshConfig()
	clk := newClock()
	rec := &recorder{name: "rec"}
	reg := prometheus.NewRegistry()
	m := newMeshManager(t, cfg, clk, newTestStore(), reg, rec)
	up := productAlert("checkout.orders.placed", "freshness", meshwatch.SLIFreshness)
	downFresh := productAlert("payments.fraud.scored", "freshness", meshwatch.SLIFreshness)

	m.Update(t0, []Alert{up})
	step(t, m, clk, t0.Add(30*time.Second))
	rec.take()

	m.Update(t0.Add(time.Minute), []Alert{up, downFresh})
	step(t, m, clk, t0.Add(time.Minute+30*time.Second))
	got := wantChannels(t, rec, "downstream fire", "#fraud-alerts fire: freshness/firing/new")
	n := got[0]
	if n.Page || n.Mention != "" {
		t.Errorf("downstream incident caused upstream pages (mention %q)", n.Mention)
	}
	if len(n.Upstream) != 1 || n.Upstream[0].Product != "checkout.orders.placed" || !n.Upstream[0].Since.Equal(t0) || n.Upstream[0].What != "freshness" {
		t.Fatalf("upstream = %+v, want checkout.orders.placed (freshness) since %v", n.Upstream, t0)
	}
	if n.Alerts[0].CausedBy != "checkout.orders.placed" {
		t.Errorf("downstream freshness caused_by = %q, want checkout.orders.placed", n.Alerts[0].CausedBy)
	}
	if v := testutil.ToFloat64(m.metrics.muted.WithLabelValues(MutedInhibited)); v != 1 {
		t.Errorf("muted{reason=inhibited} = %v, want 1", v)
	}
	views := m.Alerts()
	i := slices.IndexFunc(views, func(v AlertView) bool { return v.Product == "payments.fraud.scored" })
	if views[i].CausedBy != "checkout.orders.placed" || views[i].Muted != MutedInhibited {
		t.Errorf("/api/v1/alerts: caused_by %q muted %q, want checkout.orders.placed, inhibited", views[i].CausedBy, views[i].Muted)
	}
	incs := m.Incidents()
	j := slices.IndexFunc(incs, func(v IncidentView) bool { return v.Product == "payments.fraud.scored" })
	if j < 0 || len(incs[j].Upstream) != 1 || incs[j].Upstream[0].Product != "checkout.orders.placed" {
		t.Fatalf("/api/v1/incidents: %+v, want payments.fraud.scored with upstream checkout.orders.placed", incs)
	}
	k := slices.IndexFunc(incs, func(v IncidentView) bool { return v.Product == "checkout.orders.placed" })
	if teams := len(incs[k].Consumers); teams != 2 {
		t.Errorf("/api/v1/incidents: the upstream incident was told to %d teams, want 2", teams)
	}

	// The upstream resolves while the downstream still fires: its own
	// problem now, it pages.
	m.Update(t0.Add(3*time.Minute), []Alert{downFresh})
	step(t, m, clk, t0.Add(6*time.Minute+30*time.Second))
	for _, n := range rec.take() {
		if n.Channel != "#fraud-alerts" || n.Audience != nil {
			continue
		}
		if n.Kind != KindChange || !n.Page || n.Alerts[0].CausedBy != "" || n.Alerts[0].Change != ChangeState {
			t.Fatalf("after the upstream resolved: %s page %v caused_by %q change %q; want a paging change", n.Kind, n.Page, n.Alerts[0].CausedBy, n.Alerts[0].Change)
		}
		return
	}
	t.Fatal("after the upstream resolved: the downstream owner was not told")
}

// TestUpstreamNotCause: an incident that opens with no input in trouble
// names no cause, and a validity alert is never explained upstream.
func TestUpstreamNotCause(t *testing.T) {
	cfg := meshConfig()
	clk := newClock()
	rec := &recorder{name: "rec"}
	m := newMeshManager(t, cfg, clk, newTestStore(), nil, rec)
	up := productAlert("checkout.orders.placed", "latency", meshwatch.SLILatency)
	val := productAlert("payments.fraud.scored", "validity", meshwatch.SLIValidity)
	m.Update(t0, []Alert{val})
	step(t, m, clk, t0.Add(30*time.Second))
	got := wantChannels(t, rec, "downstream alone", "#fraud-alerts fire: validity/firing/new")
	if len(got[0].Upstream) != 0 || !got[0].Page {
		t.Errorf("downstream alone: upstream %+v page %v, want none and a page", got[0].Upstream, got[0].Page)
	}
	m.Update(t0.Add(time.Minute), []Alert{val, up})
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	for _, n := range rec.take() {
		if n.Channel == "#fraud-alerts" && n.Audience == nil {
			t.Fatalf("the downstream incident changed when its input got into trouble: %q", byChannel([]*Notification{n}))
		}
	}
}

// TestConsumerSlackMessage: a consumer's copy says whose product it is,
// what the team has at stake and that it is for information; an
// upstream cause is named; none of it mentions anyone.
func TestConsumerSlackMessage(t *testing.T) {
	opened := t0
	a := productAlert("checkout.orders.placed", "latency", meshwatch.SLILatency)
	a.Status = StatusFiring
	n := &Notification{
		Kind: KindFire, Status: StatusFiring, Channel: "#fraud-alerts", Opened: opened, Time: opened,
		GroupLabels: map[string]string{"owner": "orders-team", LabelProduct: "checkout.orders.placed"},
		Alerts:      []Alert{a},
		Audience:    &meshwatch.Audience{Team: "fraud-team", Channel: "#fraud-alerts", Groups: []string{"fraud-detector"}, Products: []string{"payments.fraud.scored"}},
		Upstream:    []Upstream{{Product: "checkout.cart.updated", Since: opened.Add(-time.Minute), What: "freshness"}},
	}
	text, blocks := rootMessage(n)
	b, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	all := text + string(b)
	for _, want := range []string{
		"UPSTREAM checkout.orders.placed",
		"which your team depends on, is in an incident since Mar 2 10:00 UTC",
		"Yours: group fraud-detector; product payments.fraud.scored",
		"Upstream: *checkout.cart.updated* (freshness) since Mar 2 09:59 UTC",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("message lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "<!subteam") || strings.Contains(all, "<!channel") {
		t.Errorf("a consumer's copy mentions someone:\n%s", all)
	}
	n.Status = StatusResolved
	_, blocks = rootMessage(n)
	b, _ = json.Marshal(blocks)
	if !strings.Contains(string(b), "is back to normal") {
		t.Errorf("resolved copy does not say the product is back to normal:\n%s", b)
	}
}

// TestUpstreamWhatCounts: an upstream trouble that a silence mutes, or
// one that started after the downstream alert, or that does not delay
// data (validity), is no cause; a policy ticket that opened the
// downstream incident first does not stop the cause being named when
// the first alert its consumers hear of joins.
func TestUpstreamWhatCounts(t *testing.T) {
	down := productAlert("payments.fraud.scored", "freshness", meshwatch.SLIFreshness)
	for _, tc := range []struct {
		name     string
		upstream Alert
		silence  bool
		later    bool // the upstream trouble starts after the downstream alert
		caused   bool
	}{
		{name: "freshness upstream", upstream: productAlert("checkout.orders.placed", "freshness", meshwatch.SLIFreshness), caused: true},
		{name: "silenced upstream", upstream: productAlert("checkout.orders.placed", "freshness", meshwatch.SLIFreshness), silence: true},
		{name: "upstream started later", upstream: productAlert("checkout.orders.placed", "freshness", meshwatch.SLIFreshness), later: true},
		{name: "invalid records upstream", upstream: productAlert("checkout.orders.placed", "validity", meshwatch.SLIValidity)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			rec := &recorder{name: "rec"}
			m := newMeshManager(t, meshConfig(), clk, newTestStore(), nil, rec)
			if tc.silence {
				if _, err := m.AddSilence(t.Context(), SilenceRequest{
					Matchers: []Matcher{{Name: LabelProduct, Value: "checkout.orders.placed"}},
					Duration: "1h", CreatedBy: "test", Comment: "known",
				}); err != nil {
					t.Fatal(err)
				}
			}
			first, second := []Alert{tc.upstream}, []Alert{tc.upstream, down}
			if tc.later {
				first, second = []Alert{down}, []Alert{down, tc.upstream}
			}
			m.Update(t0, first)
			m.Update(t0.Add(time.Minute), second)
			step(t, m, clk, t0.Add(2*time.Minute))
			var got *Notification
			for _, n := range rec.take() {
				if n.Channel == "#fraud-alerts" && n.Audience == nil {
					got = n
				}
			}
			if got == nil {
				t.Fatal("the downstream owner was not told")
			}
			if caused := got.Alerts[0].CausedBy != ""; caused != tc.caused || (len(got.Upstream) > 0) != tc.caused || got.Page == tc.caused {
				t.Errorf("caused_by %q, upstream %+v, page %v; want caused %v", got.Alerts[0].CausedBy, got.Upstream, got.Page, tc.caused)
			}
		})
	}

	t.Run("a policy ticket first", func(t *testing.T) {
		clk := newClock()
		rec := &recorder{name: "rec"}
		m := newMeshManager(t, meshConfig(), clk, newTestStore(), nil, rec)
		ticket := Alert{Labels: map[string]string{LabelAlertname: NamePolicyViolation, LabelProduct: "payments.fraud.scored", LabelPolicy: "naming", LabelSeverity: SeverityTicket}, Active: true, State: "error"}
		m.Update(t0, []Alert{ticket})
		step(t, m, clk, t0.Add(30*time.Second))
		if got := rec.take(); len(got) != 1 || len(got[0].Upstream) != 0 {
			t.Fatalf("the policy ticket: %q upstream %+v", byChannel(got), got[0].Upstream)
		}
		up := productAlert("checkout.orders.placed", "freshness", meshwatch.SLIFreshness)
		m.Update(t0.Add(time.Hour), []Alert{ticket, up})
		m.Update(t0.Add(time.Hour+time.Minute), []Alert{ticket, up, down})
		step(t, m, clk, t0.Add(time.Hour+2*time.Minute))
		for _, n := range rec.take() {
			if n.Channel == "#fraud-alerts" && n.Audience == nil {
				if len(n.Upstream) != 1 || n.Upstream[0].Product != "checkout.orders.placed" {
					t.Errorf("the downstream breach in an incident a policy ticket opened names upstream %+v", n.Upstream)
				}
				return
			}
		}
		t.Fatal("the downstream owner was not told of the breach")
	})
}

// TestConsumerCopyIdentity: a team's copy has a group key of its own (a
// webhook keyed on group_key never takes its resolve for the owner's) and
// a new incident ID each time it opens again (a new Slack root, not an
// edit of the old one).
func TestConsumerCopyIdentity(t *testing.T) {
	clk := newClock()
	rec := &recorder{name: "rec"}
	m := newMeshManager(t, meshConfig(), clk, newTestStore(), nil, rec)
	lat := productAlert("checkout.orders.placed", "latency", meshwatch.SLILatency)
	lagA := Alert{Labels: map[string]string{LabelAlertname: NameConsumerLag, LabelProduct: "checkout.orders.placed", LabelGroup: "ledger-writer", LabelSLI: "lag", LabelSeverity: SeverityTicket}, Active: true, State: "STALL"}
	fraudCopy := func(at string) *Notification {
		t.Helper()
		for _, n := range rec.take() {
			if n.Channel == "#fraud-alerts" {
				return n
			}
		}
		t.Fatalf("%s: no copy to #fraud-alerts", at)
		return nil
	}
	m.Update(t0, []Alert{lat, lagA})
	step(t, m, clk, t0.Add(30*time.Second))
	first := fraudCopy("first")
	if first.GroupKey == "" || strings.HasSuffix(first.GroupKey, "checkout.orders.placed") {
		t.Errorf("the copy's group key %q is the owner's", first.GroupKey)
	}
	// Latency resolves (the lag keeps the owner's incident open), then
	// comes back: the copy resolves, then opens anew.
	m.Update(t0.Add(time.Minute), []Alert{lagA})
	step(t, m, clk, t0.Add(5*time.Minute+30*time.Second))
	if n := fraudCopy("resolve"); n.Kind != KindResolve || n.Incident != first.Incident || n.Status != StatusResolved {
		t.Fatalf("copy after its alerts resolved: %s %s %s, want a resolve of %s", n.Kind, n.Incident, n.Status, first.Incident)
	}
	m.Update(t0.Add(6*time.Minute), []Alert{lat, lagA})
	step(t, m, clk, t0.Add(10*time.Minute+30*time.Second))
	if n := fraudCopy("again"); n.Kind != KindFire || n.Incident == first.Incident {
		t.Errorf("the copy opened again as %s %s; want a fire with a new incident ID", n.Kind, n.Incident)
	}
}

// BenchmarkUpstreamMetrics measures a metrics update (run after every
// update and delivery) at 10,000 products, each made from three others,
// all with a firing latency alert: the causes are computed once per
// product, not once per alert per ancestor.
func BenchmarkUpstreamMetrics(b *testing.B) {
	const n = 10000
	cfg := &meshwatch.Config{Owners: map[string]meshwatch.Owner{"team": {SlackChannel: "#team"}}}
	var alerts []Alert
	for i := range n {
		name := fmt.Sprintf("d.p%05d.e", i)
		p := meshwatch.Product{Name: name, Domain: "d", Owner: "team", Tier: 1, Topics: []meshwatch.TopicSelector{{Name: name}}}
		for k := 1; k <= 3 && i-k*7 >= 0; k++ {
			p.Inputs = append(p.Inputs, fmt.Sprintf("d.p%05d.e", i-k*7))
		}
		cfg.Products = append(cfg.Products, p)
		alerts = append(alerts, productAlert(name, "latency", meshwatch.SLILatency))
	}
	clk := newClock()
	m, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Store: newTestStore(), Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	m.Update(t0, alerts)
	b.ResetTimer()
	for b.Loop() {
		m.updateMetrics(t0)
	}
}
