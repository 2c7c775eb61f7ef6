package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/state"
)

// readyApp runs an agent on one product of one topic with a fast tick,
// its state in dir, until the test ends.
func readyApp(t *testing.T, kc *kafkatest.Cluster, topic, dir string) *App {
	t.Helper()
	kc.MustCreateTopic(t, topic, 1, 1, nil)
	cfg := &meshwatch.Config{
		Products: []meshwatch.Product{{
			Name: topic, Domain: "checkout", Owner: "orders-team", Tier: 1,
			Topics: []meshwatch.TopicSelector{{Name: topic}},
		}},
		Owners: map[string]meshwatch.Owner{"orders-team": {}},
	}
	set := &config.Config{Config: cfg,
		Kafka: config.Kafka{Brokers: kc.Addrs()},
		HTTP:  config.HTTP{Listen: "127.0.0.1:0"},
		State: state.Config{Dir: dir, Flush: meshwatch.Duration(time.Second)},
	}
	if err := validateSettings(set); err != nil {
		t.Fatal(err)
	}
	set.Collector.Tick = meshwatch.Duration(200 * time.Millisecond) // faster than a config may tick
	var logs syncBuffer
	app, err := NewApp(set, slog.New(slog.NewTextHandler(&logs, nil)), AppOptions{})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, app, &logs)
	return app
}

// readyz returns /readyz's status and body, and meshwatch_ready.
func readyz(t *testing.T, app *App) (int, string, string) {
	t.Helper()
	code, body := get(t, "http://"+app.Addr()+"/readyz")
	_, metrics := get(t, "http://"+app.Addr()+"/metrics")
	ready := ""
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "meshwatch_ready ") {
			if ready != "" {
				t.Errorf("meshwatch_ready exported twice:\n%s", metrics)
			}
			ready = strings.TrimPrefix(l, "meshwatch_ready ")
		}
	}
	return code, body, ready
}

// TestReadyzSaysWhy: /readyz and meshwatch_ready agree, and are not green
// while the state directory cannot be written or a product cannot be read;
// both come back when the cause goes.
func TestReadyzSaysWhy(t *testing.T) {
	kc := kafkatest.New(t)
	const topic = "checkout.orders.placed"
	dir := t.TempDir() + "/state"
	app := readyApp(t, kc, topic, dir)
	isReady := func() bool { code, _, ready := readyz(t, app); return code == http.StatusOK && ready == "1" }
	kafkatest.WaitFor(t, 30*time.Second, isReady, "the agent never became ready")

	// The state directory goes away (a volume unmounted, say).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() bool {
		code, body, ready := readyz(t, app)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "cannot write to the directory "+dir) && ready == "0"
	}, "/readyz stayed green with its state directory gone")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, 30*time.Second, isReady, "the agent did not become ready again once its state directory was back")

	// The product's fetches fail as if the broker did not know the topic
	// while records keep coming: blind, so not ready, and it says which.
	fault := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: topic, Err: kerr.UnknownTopicID, Count: -1})
	ctx, cancel := context.WithCancel(context.Background())
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		kc.ProduceEvery(ctx, 20*time.Millisecond, func() *kgo.Record { return &kgo.Record{Topic: topic, Timestamp: time.Now()} })
	}()
	defer func() { cancel(); <-prodDone }()
	kafkatest.WaitFor(t, 60*time.Second, func() bool {
		code, body, ready := readyz(t, app)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "blind on 1 of 1 products") &&
			strings.Contains(body, topic+" (fetch_errors)") && ready == "0"
	}, "/readyz stayed green while the product could not be read")
	fault.Remove()
	kafkatest.WaitFor(t, 60*time.Second, isReady, "the agent did not become ready again once the product could be read")
}

// failing is a collector that cannot be collected: it sends the same
// series twice.
type failing struct{ d *prometheus.Desc }

func (f failing) Describe(ch chan<- *prometheus.Desc) { ch <- f.d }
func (f failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(f.d, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(f.d, prometheus.GaugeValue, 2) // a duplicate series
}

// TestMetricsSurviveABrokenCollector: a collector that fails costs its own
// series, not the scrape: /metrics answers 200 with everything else, and
// counts the failure.
func TestMetricsSurviveABrokenCollector(t *testing.T) {
	kc := kafkatest.New(t)
	app := readyApp(t, kc, "checkout.orders.placed", t.TempDir())
	kafkatest.WaitFor(t, 30*time.Second, func() bool { return app.cur.Load() != nil }, "no core")
	app.cur.Load().reg.MustRegister(failing{prometheus.NewDesc("meshwatch_test_broken", "A broken collector.", nil, nil)})
	code, body := get(t, "http://"+app.Addr()+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d with one broken collector, want 200:\n%s", code, body)
	}
	if !strings.Contains(body, "meshwatch_product_info{") {
		t.Error("/metrics lost the other series")
	}
	_, body = get(t, "http://"+app.Addr()+"/metrics")
	if !strings.Contains(body, `promhttp_metric_handler_errors_total{cause="gathering"} `) ||
		strings.Contains(body, `promhttp_metric_handler_errors_total{cause="gathering"} 0`) {
		t.Errorf("the gathering error was not counted:\n%s", grepLines(body, "promhttp_metric_handler_errors_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestHTTPServerTimeouts: nothing holds a connection forever — a slow
// body, a reader that does not read, an idle keep-alive.
func TestHTTPServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s is %v: a client can hold a connection forever", name, d)
		}
	}
	if srv.ReadTimeout < srv.ReadHeaderTimeout {
		t.Errorf("ReadTimeout %v < ReadHeaderTimeout %v", srv.ReadTimeout, srv.ReadHeaderTimeout)
	}
}
