package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.uber.org/goleak"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/collector"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/demo"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
)

func runCmd(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e syncBuffer
	code = run(ctx, args, &o, &e)
	return code, o.String(), e.String()
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestValidateCommand(t *testing.T) {
	t.Setenv("KAFKA_PASSWORD", "not-shown-anywhere")
	code, out, _ := runCmd(t, context.Background(), "validate", "-config", "../../config.example.yaml")
	if code != exitOK || !strings.HasPrefix(strings.TrimSpace(lastLine(out)), "ok") {
		t.Fatalf("validate config.example.yaml: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "not-shown-anywhere") {
		t.Error("validate printed the password")
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("cluster:\n  brokers: [localhost:9092]\nproducts:\n  - name: x\n    tpoics: [a]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd(t, context.Background(), "validate", "-config", bad)
	if code != exitFailed {
		t.Errorf("validate of a bad config exited %d, want %d", code, exitFailed)
	}
	for _, want := range []string{bad + ":5:5: products[0].tpoics: unknown key", "invalid"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}

	// A product name too long for a state file name (sla.CheckStateKeys).
	long := "cluster: {brokers: [localhost:9092]}\nproducts:\n  - {name: " + strings.Repeat("x", 250) +
		", domain: d, owner: o, topics: [t], slos: [{name: freshness, sli: freshness, threshold: 1m, objective: 99%}]}\nowners: {o: {}}\n"
	if err := os.WriteFile(bad, []byte(long), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd(t, context.Background(), "validate", "-config", bad)
	if want := bad + ":3:12: products[0].name: is too long to keep state for (the state file name would be 309 bytes, at most 255): shorten it to at most 196 characters"; code != exitFailed || !strings.Contains(out, want) {
		t.Errorf("validate of a long product name: exit %d, output lacks %q:\n%s", code, want, out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"run", "validate", "demo"} {
		code, _, errOut := runCmd(t, context.Background(), cmd, "-h")
		if code != exitOK || !strings.Contains(errOut, "meshwatch "+cmd) || !strings.Contains(errOut, "Flags:") {
			t.Errorf("%s -h: exit %d\n%s", cmd, code, errOut)
		}
	}
	if code, out, _ := runCmd(t, context.Background(), "help"); code != exitOK || !strings.Contains(out, "Commands:") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCmd(t, context.Background(), "frobnicate"); code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d\n%s", code, errOut)
	}
	if code, _, _ := runCmd(t, context.Background(), "run", "-no-such-flag"); code != exitUsage {
		t.Errorf("bad flag: exit %d, want %d", code, exitUsage)
	}
	if code, _, errOut := runCmd(t, context.Background(), "demo", "-log.level", "loud"); code != exitUsage || !strings.Contains(errOut, "-log.level") {
		t.Errorf("bad log level: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return apiCall(t, nil, http.MethodGet, url, "", "")
}

// TestAppEndToEnd boots the whole agent in-process against kfake with the
// demo's products and producers and reads what an SRE would read.
func TestAppEndToEnd(t *testing.T) {
	kc := kafkatest.New(t)
	ignore := goleak.IgnoreCurrent()
	set := &config.Config{
		Config:    demo.Catalog(),
		Kafka:     config.Kafka{Brokers: kc.Addrs()},
		HTTP:      config.HTTP{Listen: "127.0.0.1:0"},
		Collector: collector.Config{Tick: meshwatch.Duration(demo.Tick)},
	}
	if err := validateSettings(set); err != nil {
		t.Fatal(err)
	}
	set.Collector.Tick = meshwatch.Duration(300 * time.Millisecond)
	cfg := set.Config

	// Break a product: the flapping scanners fall silent for 2s every 3s,
	// and their freshness promise is tightened to 1s to notice.
	for i := range cfg.Products {
		if cfg.Products[i].Name != demo.ParcelsScanned {
			continue
		}
		for j := range cfg.Products[i].SLOs {
			if cfg.Products[i].SLOs[j].SLI == meshwatch.SLIFreshness {
				cfg.Products[i].SLOs[j].Threshold = meshwatch.Duration(time.Second)
			}
		}
	}
	prod, err := demo.NewProducers(kc.Addrs(), slog.New(slog.DiscardHandler), demo.WithFlapping(3*time.Second, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := prod.CreateTopics(ctx); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	set.State.Dir = t.TempDir()
	app, err := NewApp(set, slog.New(slog.NewTextHandler(&logs, nil)), AppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + app.Addr()
	var wg sync.WaitGroup
	var runErr, prodErr error
	wg.Go(func() { runErr = app.Run(ctx) })
	wg.Go(func() { prodErr = prod.Run(ctx) })

	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %s", code, body)
	}
	kafkatest.WaitFor(t, time.Minute, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }, "/readyz never became ready")

	// Wait until every product has been measured and ticked: each of these
	// series must appear; what is still missing after the deadline fails.
	wants := []string{
		`meshwatch_product_info{domain="checkout",owner="orders-team",product="checkout.orders.placed",tier="1"} 1`,
		`meshwatch_available{domain="checkout",owner="orders-team",product="checkout.orders.placed"} 1`,
		`meshwatch_available{domain="payments",owner="payments-team",product="payments.transactions.settled"} 1`,
		`meshwatch_freshness_seconds{domain="payments",owner="payments-team",product="payments.transactions.settled"}`,
		`meshwatch_latency_seconds_count{domain="payments",owner="payments-team",product="payments.transactions.settled"}`,
		`meshwatch_latency_hdr_seconds{domain="payments",owner="payments-team",product="payments.transactions.settled",quantile="0.99",window="5m"}`,
		`meshwatch_slo_good_total{domain="checkout",owner="orders-team",product="checkout.orders.placed",sli="latency",slo="latency"}`,
		`meshwatch_slo_valid_total{domain="logistics",owner="logistics-team",product="logistics.parcels.scanned",sli="freshness",slo="freshness"}`,
		`meshwatch_sample_ratio{domain="checkout",owner="orders-team",product="checkout.carts.updated"}`,
		`meshwatch_records_produced_total{domain="checkout",owner="orders-team",product="checkout.orders.placed"}`,
		`meshwatch_product_partitions{domain="logistics",owner="logistics-team",product="logistics.parcels.scanned"} 6`,
		`meshwatch_build_info{`,
		`meshwatch_ready 1`,
	}
	var missing []string
	deadline := time.Now().Add(time.Minute) // a hang guard
	for {
		_, metrics := get(t, base+"/metrics")
		missing = missing[:0]
		for _, w := range wants {
			if !strings.Contains(metrics, w) {
				missing = append(missing, w)
			}
		}
		for _, s := range demo.Scenarios() {
			if strings.Contains(metrics, `meshwatch_records_sampled_total{domain="`+strings.Split(s.Product, ".")[0]+`",owner=`+ownerOf(cfg, s.Product)+`,product="`+s.Product+`"} 0`) {
				missing = append(missing, "a sampled record of "+s.Product)
			}
		}
		// A healthy product exports no zero-valued error or problem
		// series: they appear at the first event (cardinality by design).
		for _, never := range []string{
			`meshwatch_fetch_errors_total{domain="checkout",owner="orders-team",product="checkout.orders.placed"}`,
			`meshwatch_event_time_errors_total{domain="checkout",owner="orders-team",product="checkout.orders.placed",`,
			`meshwatch_availability_problem{domain="checkout",owner="orders-team",product="checkout.orders.placed",`,
		} {
			if strings.Contains(metrics, never) {
				missing = append(missing, "no "+never+" series")
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	for _, m := range missing {
		t.Errorf("/metrics never showed %s", m)
	}

	// The numbers say what the demo does: the late product is 2–5 s late,
	// the healthy one is fresh on every tick, the flapping one is not.
	value := func(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
		for _, m := range fams[name].GetMetric() {
			match := 0
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] == lp.GetValue() {
					match++
				}
			}
			if match == len(labels) {
				switch {
				case m.Gauge != nil:
					return m.GetGauge().GetValue()
				case m.Counter != nil:
					return m.GetCounter().GetValue()
				case m.Histogram != nil:
					return float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		t.Fatalf("no %s%v in /metrics", name, labels)
		return 0
	}
	scrape := func() map[string]*dto.MetricFamily {
		_, body := get(t, base+"/metrics")
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		return fams
	}
	fresh := func(fams map[string]*dto.MetricFamily, product, kind string) float64 {
		return value(fams, "meshwatch_slo_"+kind+"_total", map[string]string{"product": product, "slo": "freshness"})
	}
	var fams map[string]*dto.MetricFamily
	kafkatest.WaitFor(t, time.Minute, func() bool {
		fams = scrape()
		return fresh(fams, demo.ParcelsScanned, "valid")-fresh(fams, demo.ParcelsScanned, "good") >= 2 &&
			value(fams, "meshwatch_latency_seconds", map[string]string{"product": demo.TransactionsSettled}) >= 20
	}, "the flapping product's silences never turned freshness ticks bad")
	// The late product's events are 2–5 s old when produced: its latency is
	// at least 2 s (measured from the event time, not the record's
	// timestamp), plus however long the machine took to produce and read
	// it — bounded here only against a mistake of units.
	if p50 := value(fams, "meshwatch_latency_hdr_seconds", map[string]string{"product": demo.TransactionsSettled, "window": "5m", "quantile": "0.5"}); p50 < 2 || p50 > 60 {
		t.Errorf("late product: HDR p50 = %vs in /metrics, want 2–5 s plus the time to read it", p50)
	}
	// A scrape is not atomic across families: a tick may count between
	// good_total and valid_total. A tick adds to good before valid, so for
	// a product whose every tick is good, good read after valid is never
	// less.
	if v, g := fresh(fams, demo.OrdersPlaced, "valid"), fresh(scrape(), demo.OrdersPlaced, "good"); v < 3 || g < v {
		t.Errorf("healthy product: %v of %v freshness ticks good, want all of at least 3", g, v)
	}
	lat := map[string]string{"product": demo.TransactionsSettled, "slo": "latency"}
	if v, g := value(fams, "meshwatch_slo_valid_total", lat), value(fams, "meshwatch_slo_good_total", lat); v == 0 || g/v > 0.1 {
		t.Errorf("late product: %v of %v latency events good against a 1s threshold, want almost none", g, v)
	}
	// The late product's latency is measured as late: 2–5 s.
	st, _ := app.Collector().Status(demo.TransactionsSettled)
	if !st.Available {
		t.Errorf("late product unavailable: %+v", st)
	}
	p50, n, _ := app.Collector().Latency(demo.TransactionsSettled, "1m", 0.5)
	if n == 0 || p50 < 2*time.Second || p50 > time.Minute {
		t.Errorf("late product p50 = %v over %d records, want 2–5 s plus the time to read it", p50, n)
	}

	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownTimeout + 30*time.Second):
		// The shutdown is bounded by shutdownTimeout in the code (what does
		// not stop in time is abandoned); the margin is the machine's.
		t.Fatal("the agent did not stop within its shutdown timeout")
	}
	if runErr != nil {
		t.Errorf("Run: %v", runErr)
	}
	if prodErr != nil && ctx.Err() == nil {
		t.Errorf("producers: %v", prodErr)
	}
	if code, _ := get(t, base+"/healthz"); code != 0 {
		t.Errorf("HTTP server still answers after shutdown: %d", code)
	}
	// The agent's goroutines must all be gone. The test cluster's own
	// per-connection goroutines end when kfake notices a closed connection,
	// asynchronously; the cluster is not the agent, so they are not checked.
	goleak.VerifyNone(t, ignore,
		goleak.IgnoreTopFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).read"),
		goleak.IgnoreTopFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).write"))
}

// TestRunCommand runs `meshwatch run` as an operator would, stops it as
// SIGTERM would (the context main derives from signals), and checks that no
// secret reaches the logs, the metrics or an error — also when the broker
// rejects the credentials.
func TestRunCommand(t *testing.T) {
	const password = "pa55-w0rd-do-not-leak"
	kc := kafkatest.New(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "meshwatch", password))
	admin := kc.Client(t, kgo.SASL(scramAuth("meshwatch", password)))
	if _, err := kadm.NewClient(admin).CreateTopic(context.Background(), 1, 3, nil, "checkout.orders.placed"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, password string
		wantReady      bool
	}{{"good credentials", password, true}, {"rejected credentials", password + "-wrong", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pwFile := filepath.Join(dir, "kafka-password")
			if err := os.WriteFile(pwFile, []byte(tc.password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfgFile := filepath.Join(dir, "config.yaml")
			yaml := `cluster:
  brokers: [` + strings.Join(kc.Addrs(), ", ") + `]
  sasl: {mechanism: SCRAM-SHA-256, username: meshwatch, password_file: kafka-password}
state: {dir: ` + filepath.Join(dir, "state") + `}
products:
  - name: checkout.orders.placed
    domain: checkout
    owner: orders-team
    topics: [checkout.orders.placed]
    slos:
      - {name: freshness, sli: freshness, threshold: 60s, objective: 99%}
owners:
  orders-team: {slack_channel: "#orders-data"}
`
			if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var code int
			var out, errOut syncBuffer
			var wg sync.WaitGroup
			addr := freeAddr(t)
			wg.Go(func() {
				code = run(ctx, []string{"run", "-config", cfgFile, "-http.listen", addr, "-log.level", "debug"}, &out, &errOut)
			})
			var metrics string
			kafkatest.WaitFor(t, 15*time.Second, func() bool {
				status, body := get(t, "http://"+addr+"/readyz")
				_, metrics = get(t, "http://"+addr+"/metrics")
				if tc.wantReady {
					return status == http.StatusOK
				}
				// With rejected credentials, discovery fails and says so, and
				// the log says why (not a bare EOF) and what to fix.
				return status == http.StatusServiceUnavailable && strings.Contains(body, "not ready") &&
					strings.Contains(metrics, `meshwatch_discovery_runs_total{result="error"} `) &&
					!strings.Contains(metrics, `meshwatch_discovery_runs_total{result="error"} 0`) &&
					strings.Contains(errOut.String(), `authentication failed: broker `) &&
					strings.Contains(errOut.String(), `SASL credentials of user \"meshwatch\" (mechanism SCRAM-SHA-256)`) &&
					strings.Contains(errOut.String(), `check cluster.sasl`)
			}, "agent never reached the expected state; logs:\n%s", &errOut)
			cancel()
			wg.Wait()
			if code != exitOK {
				t.Errorf("run exited %d\n%s", code, errOut.String())
			}
			for what, s := range map[string]string{"logs": errOut.String() + out.String(), "metrics": metrics} {
				if strings.Contains(s, tc.password) || strings.Contains(s, password) {
					t.Errorf("the password appears in the %s", what)
				}
			}
			if !strings.Contains(errOut.String(), "stopped") {
				t.Errorf("no orderly shutdown in the logs:\n%s", errOut.String())
			}
		})
	}
}

func scramAuth(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

func ownerOf(cfg *meshwatch.Config, product string) string {
	for _, p := range cfg.Products {
		if p.Name == product {
			return `"` + p.Owner + `"`
		}
	}
	return `""`
}

// TestGCPercent checks that the agent collects at GOGC=75 unless GOGC is
// set, whatever it is set to (off included).
func TestGCPercent(t *testing.T) {
	for env, want := range map[string]int{"": defaultGCPercent, "100": -1, "off": -1, "50": -1} {
		if got := gcPercent(func(k string) string {
			if k == "GOGC" {
				return env
			}
			return ""
		}); got != want {
			t.Errorf("GOGC=%q: %d, want %d", env, got, want)
		}
	}
}
