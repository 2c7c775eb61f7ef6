package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// fleetConfig writes a sharded config with n products, one topic each.
func fleetConfig(t *testing.T, kc *kafkatest.Cluster, n int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `cluster: {brokers: [%s]}
http: {listen: "127.0.0.1:0", api_token_file: %s}
collector: {tick: 1s}
state: {backend: kafka, topic: __meshwatch_state_fleet, flush: 1s}
sharding: {group: meshwatch-fleet, topic: __meshwatch_shards_fleet, partitions: 12, session_timeout: 6s}
owners:
  team-a: {}
  team-b: {}
  team-c: {}
products:
`, strings.Join(kc.Addrs(), ", "), writeTokenFile(t))
	for i := range n {
		topic := fmt.Sprintf("fleet.item%02d.updated", i)
		kc.MustCreateTopic(t, topic, 1, 1, nil)
		fmt.Fprintf(&b, `  - name: %s
    domain: fleet
    owner: team-%c
    topics: [%s]
    slos:
      - {name: availability, sli: availability, objective: 99%%, window: 7d}
`, topic, 'a'+rune(i%3), topic)
	}
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// agent is one running App of the fleet.
type agent struct {
	app    *App
	cancel context.CancelFunc
	done   chan error
}

func (g *agent) stop() error {
	g.cancel()
	return <-g.done
}

// runAgent loads the config at path, lets tweak change it (nil: as it
// is), and runs an App on it, logging to log, until stop.
func runAgent(t *testing.T, path string, log *slog.Logger, tweak func(*config.Config)) *agent {
	t.Helper()
	app := loadApp(t, path, log, AppOptions{}, tweak)
	ctx, cancel := context.WithCancel(context.Background())
	g := &agent{app: app, cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- app.Run(ctx) }()
	return g
}

// windowValid returns, per product the agent monitors now, the largest
// count of valid events in an SLO's window: what its budget is counted
// over, continued from the state store when the product moves.
func windowValid(a *App) map[string]float64 {
	out := map[string]float64{}
	c := a.cur.Load()
	if c == nil {
		return out
	}
	for _, st := range c.slo.Statuses() {
		out[st.Product] = max(out[st.Product], float64(st.Valid))
	}
	return out
}

// gatherAll gathers every series of the agent's registries, as
// client_golang collects them.
func gatherAll(a *App) ([]*dto.MetricFamily, error) {
	var gs prometheus.Gatherers
	for _, r := range a.registries() {
		gs = append(gs, r)
	}
	return gs.Gather()
}

// productSeries returns, per product, the largest value of the family's
// series with the labels of match (all of them) on the agent's /metrics.
func productSeries(t *testing.T, a *App, family string, match map[string]string) map[string]float64 {
	t.Helper()
	mfs, err := gatherAll(a)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue series
				}
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			if old, ok := out[labels["product"]]; !ok || v > old {
				out[labels["product"]] = v
			}
		}
	}
	return out
}

// TestScaleOut runs three agents on one sharded config of 30 products: each
// product is monitored (and exported) by exactly one of them; when one
// stops, the other two take its products over, and every moved product's
// error budget continues from the state topic.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three agents")
	}
	kc := kafkatest.New(t)
	const nProducts = 30
	path := fleetConfig(t, kc, nProducts)

	var agents []*agent
	var logs []*syncBuffer
	for i := range 3 {
		var static func(*config.Config)
		if i == 1 {
			// A static member: it does not leave the group when it stops,
			// so its products move only when its session times out, as
			// when an agent crashes.
			static = func(set *config.Config) { set.Sharding.InstanceID = "agent-1" }
		}
		var buf syncBuffer
		logs = append(logs, &buf)
		agents = append(agents, runAgent(t, path, slog.New(slog.NewTextHandler(&buf, nil)), static))
	}
	stopped := map[int]bool{}
	defer func() {
		for i, g := range agents {
			if !stopped[i] {
				if err := g.stop(); err != nil {
					t.Errorf("agent %d: %v", i, err)
				}
			}
		}
		if t.Failed() {
			for i, l := range logs {
				t.Logf("agent %d log:\n%s", i, l.String())
			}
		}
	}()

	// owners maps each product to the agents that export it.
	owners := func(family string, match map[string]string) map[string][]int {
		out := map[string][]int{}
		for i, g := range agents {
			if stopped[i] {
				continue
			}
			for p := range productSeries(t, g.app, family, match) {
				out[p] = append(out[p], i)
			}
		}
		return out
	}
	exactlyOnce := func(o map[string][]int) bool {
		if len(o) != nProducts {
			return false
		}
		for _, as := range o {
			if len(as) != 1 {
				return false
			}
		}
		return true
	}
	families := []string{"meshwatch_product_info", "meshwatch_available", "meshwatch_slo_error_budget_remaining_ratio"}
	// spread says whether each product is exported by exactly one agent,
	// in every family, and every live agent has a share.
	spread := func() bool {
		busy := map[int]bool{}
		for _, as := range owners("meshwatch_slo_valid_total", nil) {
			busy[as[0]] = true
		}
		if len(busy) != 3-len(stopped) || !exactlyOnce(owners("meshwatch_slo_valid_total", nil)) {
			return false
		}
		for _, f := range families {
			if !exactlyOnce(owners(f, nil)) {
				return false
			}
		}
		return true
	}
	kafkatest.WaitFor(t, 60*time.Second, spread, "the 30 products were never each exported by exactly one of the 3 agents: %v", owners("meshwatch_slo_valid_total", nil))

	// Cost and cluster-wide work belong to partition 0's owner: one agent.
	zero := 0
	for i, g := range agents {
		if stopped[i] {
			continue
		}
		if slices.Contains(g.app.member.Owned(), 0) {
			zero++
		}
	}
	if zero != 1 {
		t.Errorf("%d agents own partition 0, want 1", zero)
	}

	// A silence added through one agent reaches the others through the
	// state topic.
	body := `{"matchers":[{"name":"product","value":"fleet.item01.updated"}],"duration":"1h","created_by":"sre","comment":"broker upgrade"}`
	code, resp := apiCall(t, nil, http.MethodPost, "http://"+agents[1].app.Addr()+"/api/v1/silences", testToken, body)
	var added struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(resp), &added); err != nil || code != http.StatusCreated {
		t.Fatalf("adding a silence: %d %s", code, resp)
	}
	kafkatest.WaitFor(t, 10*time.Second, func() bool {
		_, got := get(t, "http://"+agents[2].app.Addr()+"/api/v1/silences")
		return strings.Contains(got, added.ID)
	}, "the silence added through agent 1 never reached agent 2")

	// takeover stops agent i once its products counted a few more events,
	// and checks that the survivors take them over (how long it took is
	// logged), that the first value each shows on its new owner continues
	// its budget (read from the state topic) rather than restarting from
	// zero, and that no product ever has two sources.
	takeover := func(i int, how string) {
		t.Helper()
		before := windowValid(agents[i].app)
		kafkatest.WaitFor(t, 20*time.Second, func() bool {
			now := windowValid(agents[i].app)
			for p, v := range now {
				if v < before[p]+3 {
					return false
				}
			}
			return len(now) > 0
		}, "agent %d's products never counted 3 more availability events", i)
		counted := windowValid(agents[i].app)
		moved := slices.Sorted(maps.Keys(counted))
		stoppedAt := time.Now()
		if err := agents[i].stop(); err != nil {
			t.Errorf("agent %d: %v", i, err)
		}
		stopped[i] = true

		// first is each moved product's first value on its new owner, read
		// in the same scrape that finds it there: a budget that continues
		// is at least what the old owner counted (and flushed as it
		// stopped); one that restarted is below it.
		first := map[string]float64{}
		twice := map[string][]int{}
		var tookOver time.Duration
		kafkatest.WaitFor(t, 60*time.Second, func() bool {
			seen := map[string][]int{}
			for j, g := range agents {
				if stopped[j] {
					continue
				}
				for p, v := range windowValid(g.app) {
					seen[p] = append(seen[p], j)
					if _, ok := first[p]; !ok && slices.Contains(moved, p) {
						first[p] = v
					}
				}
			}
			for p, as := range seen {
				if len(as) > 1 {
					twice[p] = as
				}
			}
			if len(seen) == nProducts && spread() {
				tookOver = time.Since(stoppedAt)
				return true
			}
			return false
		}, "the survivors never took agent %d's products over: %v", i, owners("meshwatch_slo_valid_total", nil))
		// A figure, not an assertion: the group moves the partitions after
		// the session timeout (a static member that stops) or at once (one
		// that leaves), and a busy machine adds its own delay.
		t.Logf("agent %d stopped: its %d products were taken over in %s (%s)", i, len(moved), tookOver.Round(time.Millisecond), how)
		if len(twice) > 0 {
			t.Errorf("during the takeover these products were exported by two agents: %v", twice)
		}
		for _, p := range moved {
			if v, ok := first[p]; !ok || v < counted[p] {
				t.Errorf("%s: budget restarted on its new owner: %v valid events, had %v", p, v, counted[p])
			}
		}
	}
	// Agent 0 leaves the group when it stops: the rebalance is at once.
	takeover(0, "left the group")
	// Agent 1 is static and does not leave: the group waits for its
	// session to time out, like for a crashed agent.
	takeover(1, "static member: after the 6s session timeout")

}

// TestCheckStaysOutOfTheFleet: meshwatch check on a sharded config measures
// the product itself and never joins the agents' group, where it would take
// products away from the running agents.
func TestCheckStaysOutOfTheFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("samples for a few seconds")
	}
	kc := kafkatest.New(t)
	kc.MustCreateTopic(t, "checkout.orders.placed", 1, 1, nil)
	path := writeConfig(t, kc, "checkout.orders.placed", "sharding: {group: fleet-check, topic: __fleet_check_shards}\n")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := regexp.MustCompile(`(?m)^state: .*$`).ReplaceAllString(string(b), "state: {backend: kafka, topic: __fleet_check_state}")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go kc.ProduceEvery(ctx, 50*time.Millisecond, func() *kgo.Record {
		return &kgo.Record{Topic: "checkout.orders.placed", Value: []byte(`{"total": 3}`), Timestamp: time.Now()}
	})
	code, out, errOut := runCmd(t, context.Background(), "check", "-config", path, "-for", "3s")
	if code != exitOK {
		t.Errorf("check on a sharded config: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	groups, err := kc.Admin(t).ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(groups.Groups(), "fleet-check") {
		t.Errorf("check joined the agents' group: groups %v", groups.Groups())
	}
}

// TestStandbyAgent: with more agents than coordination partitions, the
// extra agent stands by: ready once it joined, exporting meshwatch_ready
// and no product, and it still takes silences, which reach the owner.
func TestStandbyAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two agents")
	}
	kc := kafkatest.New(t)
	path := fleetConfig(t, kc, 3)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), "partitions: 12", "partitions: 1", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var agents []*agent
	for range 2 {
		g := runAgent(t, path, slog.New(slog.DiscardHandler), nil)
		agents = append(agents, g)
		defer func() {
			if err := g.stop(); err != nil {
				t.Error(err)
			}
		}()
	}
	var owner, standby *App
	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		for i, g := range agents {
			if len(productSeries(t, g.app, "meshwatch_product_info", nil)) == 3 && g.app.member.Joined() && agents[1-i].app.member.Joined() {
				owner, standby = g.app, agents[1-i].app
				return true
			}
		}
		return false
	}, "no agent came to own the 3 products with the other one joined")

	code, body := get(t, "http://"+standby.Addr()+"/readyz")
	if code != http.StatusOK || !strings.Contains(body, "standby") {
		t.Errorf("standby /readyz = %d %q, want 200 and standby", code, body)
	}
	mfs, err := gatherAll(standby)
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	for _, mf := range mfs {
		if mf.GetName() == "meshwatch_ready" && len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetGauge().GetValue() == 1 {
			ready = true
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "product" {
					t.Errorf("the standby agent exports %s for product %s", mf.GetName(), l.GetValue())
				}
			}
		}
	}
	if !ready {
		t.Error("the standby agent does not export meshwatch_ready 1")
	}
	if _, err := gatherAll(owner); err != nil {
		t.Errorf("the owner's metrics do not gather: %v", err)
	}

	body = `{"matchers":[{"name":"product","value":"fleet.item01.updated"}],"duration":"1h","created_by":"sre","comment":"maintenance"}`
	code, resp := apiCall(t, nil, http.MethodPost, "http://"+standby.Addr()+"/api/v1/silences", testToken, body)
	var added struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(resp), &added); err != nil || code != http.StatusCreated {
		t.Fatalf("adding a silence on the standby agent: %d %s", code, resp)
	}
	kafkatest.WaitFor(t, 10*time.Second, func() bool {
		_, got := get(t, "http://"+owner.Addr()+"/api/v1/silences")
		return strings.Contains(got, added.ID)
	}, "the silence added on the standby agent never reached the owner")
}
