package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

// envRunMain makes the test binary run meshwatch's main instead of the
// tests, so that a test can run the agent as a process of its own and stop
// it as an operator or the kernel would: SIGTERM, or SIGKILL (a crash).
const envRunMain = "MESHWATCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// process is the agent running as a child process of the test.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	addr   string
	done   chan error
}

var runningAddr = regexp.MustCompile(`msg="meshwatch running" addr=(\S+)`)

// startAgent runs `meshwatch run -config path` as a child process and waits
// until it serves HTTP.
func startAgent(t *testing.T, path string) *process {
	t.Helper()
	p := &process{stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], "run", "-config", path)
	p.cmd.Env = append(os.Environ(), envRunMain+"=1")
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done //nolint:errcheck // killed: its exit error says nothing
		if t.Failed() {
			t.Logf("agent (pid %d) log:\n%s", p.cmd.Process.Pid, p.stderr.String())
		}
	})
	kafkatest.WaitFor(t, 60*time.Second, func() bool {
		m := runningAddr.FindStringSubmatch(p.stderr.String())
		if m == nil {
			return false
		}
		p.addr = m[1]
		return true
	}, "the agent never said it was running")
	return p
}

// stop sends sig and waits for the process to exit.
func (p *process) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if sig == syscall.SIGTERM && err != nil {
			t.Errorf("the agent stopped by SIGTERM exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the agent did not exit after %v", sig)
	}
}

// alertView is what the test reads of /api/v1/alerts.
type alertView struct {
	Labels  map[string]string `json:"labels"`
	Status  string            `json:"status"`
	Unknown bool              `json:"unknown"`
}

// firingKnown reports whether the agent has, for each product, a firing
// alert whose condition it evaluated since it started (not held as last
// known).
func (p *process) firingKnown(t *testing.T, products ...string) bool {
	t.Helper()
	return firingKnown(t, []string{p.addr}, products...)
}

// firingKnown reports whether, for each product, one of the agents at
// addrs has a firing alert whose condition it evaluated since it started
// or took the product over (not held as last known).
func firingKnown(t *testing.T, addrs []string, products ...string) bool {
	t.Helper()
	var as []alertView
	for _, addr := range addrs {
		code, body := get(t, "http://"+addr+"/api/v1/alerts")
		var got []alertView
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil {
			continue // a standby agent answers 503
		}
		as = append(as, got...)
	}
	for _, prod := range products {
		ok := false
		for _, a := range as {
			if a.Labels["product"] == prod && a.Status == "firing" && !a.Unknown {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestRestartsContinueIncidents restarts the agent three times — SIGTERM,
// a crash (SIGKILL), SIGTERM — while two incidents burn, against a fake
// Slack: each incident has exactly one root message, nothing is resolved
// or re-posted across the restarts, and when one condition really clears
// its message turns resolved, in place, once.
func TestRestartsContinueIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the agent as a process four times")
	}
	kc := kafkatest.New(t)
	slack := newFakeSlack(t)
	dir := t.TempDir()
	path := burningConfig(t, kc, slack, "state: {dir: "+filepath.Join(dir, "state")+", flush: 1s}")
	b := startBurning(t, kc)
	defer b.stop()

	agent := startAgent(t, path)
	kafkatest.WaitFor(t, 60*time.Second, func() bool { return len(slack.roots()) == 2 },
		"the two incidents never reached Slack: %+v", slack.snapshot())
	first := slack.roots()
	posted := len(slack.snapshot())

	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL, syscall.SIGTERM} {
		agent.stop(t, sig)
		agent = startAgent(t, path)
		// Every source has evaluated again and found both conditions.
		kafkatest.WaitFor(t, 60*time.Second, func() bool { return agent.firingKnown(t, burningLate, burningQuiet) },
			"restart %d (%v): the agent never found both incidents burning again", i+1, sig)
		// Give a wrong resolve, repeat or re-post every chance to go out:
		// a few group intervals and ticks more.
		waitTicks(t, agent.addr, 4)
		if calls := slack.snapshot(); len(calls) != posted {
			t.Fatalf("restart %d (%v): Slack was called again although nothing changed: %+v", i+1, sig, calls[posted:])
		}
	}

	b.resume(t, []string{agent.addr}, slack, first, posted)
	agent.stop(t, syscall.SIGTERM)
}

// The two products of the burning config.
const (
	burningLate  = "checkout.orders.placed"    // every record 10 s late: its latency SLO burns
	burningQuiet = "logistics.parcels.scanned" // no record: stale
)

// burningConfig writes a config of two tier-1 products that burn as soon
// as the agent watches them — burningLate's latency SLO, burningQuiet's
// freshness (stale; its SLO never pages) — alerting to slack; extra holds
// the state section and more.
func burningConfig(t *testing.T, kc *kafkatest.Cluster, slack *fakeSlack, extra string) string {
	t.Helper()
	for _, topic := range []string{burningLate, burningQuiet} {
		kc.MustCreateTopic(t, topic, 1, 1, nil)
	}
	cfg := fmt.Sprintf(`cluster: {brokers: [%s]}
http: {listen: "127.0.0.1:0"}
collector: {tick: 1s}
lag: {interval: 1s}
%s
owners:
  orders-team: {slack_channel: "#orders-data", mention: "<!subteam^S0ORD>"}
  logistics-team: {slack_channel: "#logistics-data", mention: "<!subteam^S0LOG>"}
alerting:
  slack: {token: xoxb-test-restarts, api_url: "%s/"}
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 4h
products:
  - name: %s
    domain: checkout
    owner: orders-team
    tier: 1
    topics: [%s]
    slos:
      - {name: latency, sli: latency, threshold: 1s, objective: 99%%, min_events: 1}
  - name: %s
    domain: logistics
    owner: logistics-team
    tier: 1
    topics: [%s]
    slos:
      - {name: freshness, sli: freshness, threshold: 3s, objective: 99%%, min_events: 1000000000}
`, strings.Join(kc.Addrs(), ", "), extra, slack.srv.URL, burningLate, burningLate, burningQuiet, burningQuiet)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// burning produces the burning config's traffic: late records to
// burningLate all along, and to burningQuiet once resumed.
type burning struct {
	kc     *kafkatest.Cluster
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startBurning(t *testing.T, kc *kafkatest.Cluster) *burning {
	b := &burning{kc: kc}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.wg.Go(func() { b.produce(burningLate, 10*time.Second) })
	return b
}

func (b *burning) stop() { b.cancel(); b.wg.Wait() }

func (b *burning) produce(topic string, age time.Duration) {
	b.kc.ProduceEvery(b.ctx, 50*time.Millisecond, func() *kgo.Record {
		return &kgo.Record{Topic: topic, Value: []byte(`{}`), Timestamp: time.Now().Add(-age)}
	})
}

// resume makes the quiet product produce and checks that its incident, and
// only it, turns resolved in its one root message (first) and says so in its
// thread, with no other call after the first posted ones.
func (b *burning) resume(t *testing.T, addrs []string, slack *fakeSlack, first map[string]slackCall, posted int) {
	t.Helper()
	b.wg.Go(func() { b.produce(burningQuiet, 0) })
	root := first["#logistics-data"]
	kafkatest.WaitFor(t, 60*time.Second, func() bool {
		for _, c := range slack.snapshot() {
			if c.Method == "chat.update" && c.TS == root.TS && strings.Contains(c.Text, "RESOLVED") {
				return true
			}
		}
		return false
	}, "the quiet product's incident never turned resolved once it produced again")
	for _, addr := range addrs {
		waitTicks(t, addr, 3)
	}
	var updates, replies int
	for _, c := range slack.snapshot()[posted:] {
		switch {
		case c.Method == "chat.update" && c.TS == root.TS && strings.Contains(c.Text, "RESOLVED"):
			updates++
		case c.Method == "chat.postMessage" && c.Thread && c.TS == root.TS && strings.Contains(c.Text, "Resolved"):
			replies++
		default:
			t.Errorf("a call other than the quiet product's resolve: %+v", c)
		}
	}
	if updates != 1 || replies != 1 {
		t.Errorf("the resolve updated the root %d times and replied %d times, want once each", updates, replies)
	}
	if got := slack.roots(); len(got) != 2 || got["#orders-data"].TS != first["#orders-data"].TS {
		t.Errorf("root messages: %+v, want the first two", got)
	}
}

// waitTicks waits until the agent at addr has evaluated its SLOs n more
// times; an agent that evaluates none (a standby) is not waited for.
func waitTicks(t *testing.T, addr string, n int) {
	t.Helper()
	last := func() string {
		_, body := get(t, "http://"+addr+"/metrics")
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "meshwatch_slo_last_evaluation_timestamp_seconds ") {
				return l
			}
		}
		return ""
	}
	prev := last()
	if prev == "" {
		return
	}
	for range n {
		kafkatest.WaitFor(t, 60*time.Second, func() bool {
			cur := last()
			if cur != "" && cur != prev {
				prev = cur
				return true
			}
			return false
		}, "the agent stopped evaluating")
	}
}

// TestHandoversContinueIncidents: the products of two burning incidents
// move between sharded agents three times — a second agent joins and takes
// some over, the first leaves, a third joins and the second leaves — and
// each incident keeps its one root message, is never resolved or re-posted
// on the way, and turns resolved in place once its condition clears.
func TestHandoversContinueIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four sharded agents")
	}
	kc := kafkatest.New(t)
	slack := newFakeSlack(t)
	path := burningConfig(t, kc, slack, `state: {backend: kafka, topic: __meshwatch_state_handover, flush: 1s}
sharding: {group: meshwatch-handover, topic: __meshwatch_shards_handover, partitions: 12, session_timeout: 6s}`)
	b := startBurning(t, kc)
	defer b.stop()

	live := map[*agent]bool{}
	start := func() *agent {
		t.Helper()
		g := runAgent(t, path, slog.New(slog.DiscardHandler), nil)
		live[g] = true
		kafkatest.WaitFor(t, 60*time.Second, func() bool { return g.app.member.Joined() }, "an agent never joined the group")
		return g
	}
	stop := func(g *agent) {
		t.Helper()
		delete(live, g)
		if err := g.stop(); err != nil {
			t.Errorf("agent: %v", err)
		}
	}
	defer func() {
		for g := range live {
			_ = g.stop()
		}
	}()
	addrs := func() []string {
		var out []string
		for g := range live {
			out = append(out, g.app.Addr())
		}
		return out
	}
	// owned says whether the live agents own every coordination
	// partition between them: the handover is over.
	owned := func() bool {
		n := 0
		for g := range live {
			n += len(g.app.member.Owned())
		}
		return n == 12
	}

	a := start()
	kafkatest.WaitFor(t, 60*time.Second, func() bool { return len(slack.roots()) == 2 },
		"the two incidents never reached Slack: %+v", slack.snapshot())
	first := slack.roots()
	posted := len(slack.snapshot())

	check := func(step string) {
		t.Helper()
		kafkatest.WaitFor(t, 60*time.Second, func() bool { return owned() && firingKnown(t, addrs(), burningLate, burningQuiet) },
			"%s: the agents never found both incidents burning again", step)
		for _, addr := range addrs() {
			waitTicks(t, addr, 4)
		}
		if calls := slack.snapshot(); len(calls) != posted {
			t.Fatalf("%s: Slack was called again although nothing changed: %+v", step, calls[posted:])
		}
	}
	bAgent := start()
	check("a second agent joined")
	stop(a)
	check("the first agent left")
	c := start()
	stop(bAgent)
	check("a third agent joined and the second left")

	b.resume(t, addrs(), slack, first, posted)
	_ = c
}
