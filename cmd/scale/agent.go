package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// agentConfig is what the scale run puts in an agent's config file.
type agentConfig struct {
	brokers    []string
	products   int
	groups     int
	tick       time.Duration
	stateDir   string // state.backend dir; "" with sharded
	sharded    bool
	owners     int
	configPath string
}

// writeConfig writes the agent's config: every product one topic in JSON
// with an event-time field, 2 SLOs (latency and freshness), 2 CEL rules
// and one declared consumer group; state in a directory, or in Kafka with
// sharding.
func writeConfig(c agentConfig) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# written by cmd/scale\ncluster: {name: scale, brokers: [%s]}\n", strings.Join(c.brokers, ", "))
	fmt.Fprintf(&b, "http: {listen: \"127.0.0.1:0\"}\n")
	fmt.Fprintf(&b, "collector: {tick: %s}\n", c.tick)
	if c.sharded {
		fmt.Fprintf(&b, "state: {backend: kafka, topic: __meshwatch_state_scale}\n")
		fmt.Fprintf(&b, "sharding: {group: meshwatch-scale, topic: __meshwatch_shards_scale, partitions: 12}\n")
	} else {
		fmt.Fprintf(&b, "state: {backend: dir, dir: %q}\n", c.stateDir)
	}
	b.WriteString("owners:\n")
	for o := range c.owners {
		fmt.Fprintf(&b, "  team-%02d: {}\n", o)
	}
	b.WriteString("products:\n")
	for i := range c.products {
		t := topicName(i)
		owner := fmt.Sprintf("team-%02d", i%c.owners)
		fmt.Fprintf(&b, `  - name: %s
    domain: scale
    owner: %s
    topics: [%s]
    format: json
    event_time: {field: ts, format: unix_ms}
    slos:
      - {name: latency, sli: latency, threshold: 1s, objective: 99%%}
      - {name: freshness, sli: freshness, threshold: 60s, objective: 99%%}
    quality:
      rules:
        - {name: positive_amount, expr: "message.amount > 0"}
        - {name: known_currency, expr: "message.currency in ['EUR', 'USD', 'GBP']"}
    consumers:
      - {group: %s, owner: %s}
`, t, owner, t, groupName(i%c.groups), owner)
	}
	return os.WriteFile(c.configPath, b.Bytes(), 0o600)
}

// agent is one running `meshwatch run`.
type agent struct {
	name    string // for messages: "agent" or "agent 2/3"
	cmd     *exec.Cmd
	started time.Time
	logPath string
	// metricsPath, when set, receives the last /metrics scrape of the
	// window (to count series by family afterwards, with -keep)
	metricsPath string

	addrOnce sync.Once
	addr     chan string   // the HTTP address, once it listens
	exited   chan struct{} // closed when the process has exited
	waitErr  error         // valid after exited
	client   *http.Client
}

// startAgent runs bin run -config path, its log in logPath; a /metrics
// scrape that takes longer than scrapeTimeout fails the measurement.
func startAgent(bin, path, logPath, name string, scrapeTimeout time.Duration, pprof bool) (*agent, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := []string{"run", "-config", path, "-log.format", "json"}
	if pprof {
		args = append(args, "-debug.pprof")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = logf.Close()
		return nil, err
	}
	dieWithParent(cmd)
	a := &agent{
		name: name, cmd: cmd, logPath: logPath,
		addr:   make(chan string, 1),
		exited: make(chan struct{}),
		client: &http.Client{
			Timeout:   scrapeTimeout,
			Transport: &http.Transport{DisableCompression: true}, // the scrape asks for gzip itself
		},
	}
	a.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		a.scanLog(stderr, logf)
	}()
	go func() {
		<-copied
		a.waitErr = cmd.Wait()
		_ = logf.Close()
		close(a.exited)
	}()
	return a, nil
}

// scanLog copies the agent's log to w and finds the address it listens
// on in its "meshwatch running" line.
func (a *agent) scanLog(r io.Reader, w io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = w.Write(append(line, '\n'))
		if !bytes.Contains(line, []byte(`"meshwatch running"`)) {
			continue
		}
		var rec struct {
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Addr != "" {
			a.addrOnce.Do(func() { a.addr <- rec.Addr })
		}
	}
	_, _ = io.Copy(w, r)
}

// logTail returns the last lines of the agent's log, for an error.
func (a *agent) logTail(n int) string {
	b, err := os.ReadFile(a.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady waits until /readyz answers 200 and returns the time since
// the agent started, with the agent's base URL.
func (a *agent) waitReady(ctx context.Context, timeout time.Duration) (string, time.Duration, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var addr string
	addrCh := a.addr
	last := "nothing yet: the agent does not listen"
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", 0, ctx.Err()
		case <-a.exited:
			return "", 0, fmt.Errorf("%s exited before it was ready (%s); its log ends:\n%s", a.name, exitStatus(a.waitErr), a.logTail(15))
		case <-deadline.C:
			return "", 0, fmt.Errorf("%s not ready after %v: last /readyz said %s", a.name, timeout, last)
		case addr = <-addrCh:
			addrCh = nil
			continue
		case <-tk.C:
		}
		if addr == "" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		code, body, err := a.get(rctx, "http://"+addr+"/readyz")
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case code == http.StatusOK:
			return "http://" + addr, time.Since(a.started), nil
		default:
			last = fmt.Sprintf("%d %s", code, strings.TrimSpace(truncate(string(body))))
		}
	}
}

func (a *agent) get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// save writes what url answers to path (a profile).
func (a *agent) save(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s (an agent without -debug.pprof?)", a.name, url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s %s: %w", a.name, url, err)
	}
	return f.Close()
}

// scrapeResult is one /metrics scrape.
type scrapeResult struct {
	took      time.Duration // request to last byte, as Prometheus times it
	wire, raw int           // bytes on the wire (gzip) and uncompressed
	parsed    Scrape
	body      []byte // the uncompressed exposition
}

// scrape reads /metrics as Prometheus does (its Accept header, gzip).
func (a *agent) scrape(ctx context.Context, baseURL string) (scrapeResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return scrapeResult{}, err
	}
	req.Header.Set("Accept", scrapeAccept)
	req.Header.Set("Accept-Encoding", "gzip")
	start := time.Now()
	resp, err := a.client.Do(req)
	if err != nil {
		return scrapeResult{}, fmt.Errorf("%s /metrics: %w", a.name, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return scrapeResult{}, fmt.Errorf("%s /metrics: %w", a.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return scrapeResult{}, fmt.Errorf("%s /metrics: %s", a.name, resp.Status)
	}
	raw := body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return scrapeResult{}, fmt.Errorf("%s /metrics: gzip: %w", a.name, err)
		}
		raw, err = io.ReadAll(zr)
		if err != nil {
			return scrapeResult{}, fmt.Errorf("%s /metrics: gzip: %w", a.name, err)
		}
	}
	parsed, err := parseMetrics(bytes.NewReader(raw), []string{tickHist, lagPassHist, sloEvalHist}, []string{sampleRatio, productInfo})
	if err != nil {
		return scrapeResult{}, fmt.Errorf("%s /metrics: %w", a.name, err)
	}
	return scrapeResult{took: took, wire: len(body), raw: len(raw), parsed: parsed, body: raw}, nil
}

// measure watches the agent for span: its highest RSS (every second),
// its CPU time, a scrape every scrapeEvery and at both ends, and what the
// histograms observed between the first and the last scrape that
// succeeded. A scrape that fails (too slow, cut by the agent) is a figure,
// not an abort: the row counts it and keeps its error.
func (a *agent) measure(ctx context.Context, baseURL string, span, scrapeEvery time.Duration) (Row, error) {
	pid := a.cmd.Process.Pid
	var r Row
	var ok []scrapeResult // the scrapes that succeeded, in order
	var last scrapeResult // the last one that succeeded, with its body
	scrapeOnce := func() error {
		s, err := a.scrape(ctx, baseURL)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			r.ScrapeFails++
			r.ScrapeErr = err.Error()
			return nil
		}
		last = s
		s.body = nil
		ok = append(ok, s)
		return nil
	}
	if err := scrapeOnce(); err != nil {
		return r, err
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return r, fmt.Errorf("%s CPU: %w", a.name, err)
	}
	t0 := time.Now()
	sampleRSS := func() error {
		rss, err := procRSS(pid)
		if err != nil {
			return fmt.Errorf("%s RSS: %w", a.name, err)
		}
		r.RSS = max(r.RSS, rss)
		return nil
	}
	if err := sampleRSS(); err != nil {
		return r, err
	}
	end := time.NewTimer(span)
	defer end.Stop()
	rssTk := time.NewTicker(time.Second)
	defer rssTk.Stop()
	scrapeTk := time.NewTicker(scrapeEvery)
	defer scrapeTk.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-a.exited:
			return r, fmt.Errorf("%s exited while measured (%s); its log ends:\n%s", a.name, exitStatus(a.waitErr), a.logTail(15))
		case <-rssTk.C:
			if err := sampleRSS(); err != nil {
				return r, err
			}
		case <-scrapeTk.C:
			if err := scrapeOnce(); err != nil {
				return r, err
			}
		case <-end.C:
			done = true
		}
	}
	if err := scrapeOnce(); err != nil {
		return r, err
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return r, fmt.Errorf("%s CPU: %w", a.name, err)
	}
	if err := sampleRSS(); err != nil {
		return r, err
	}
	elapsed := time.Since(t0)
	r.CPUPerMin = (cpu1 - cpu0).Seconds() / elapsed.Minutes()
	r.Scrapes = len(ok) + r.ScrapeFails
	if len(ok) == 0 {
		return r, nil // every figure read from /metrics is missing; the row says why
	}
	if a.metricsPath != "" {
		if err := os.WriteFile(a.metricsPath, last.body, 0o600); err != nil {
			return r, err
		}
	}
	var took time.Duration
	for _, s := range ok {
		took += s.took
	}
	first, final := ok[0].parsed, last.parsed
	r.ScrapeTime = took / time.Duration(len(ok))
	r.ScrapeGzip, r.ScrapeRaw = last.wire, last.raw
	r.Series = final.Series
	r.Tick = window(first.Hists[tickHist], final.Hists[tickHist])
	r.Lag = window(first.Hists[lagPassHist], final.Hists[lagPassHist])
	r.SLO = window(first.Hists[sloEvalHist], final.Hists[sloEvalHist])
	if g, ok := final.Gauges[sampleRatio]; ok {
		r.MinSample, r.Samples = g.Min, g.N
	}
	r.Owned = final.Gauges[productInfo].N
	return r, nil
}

// owned returns how many products the agent exports now.
func (a *agent) owned(ctx context.Context, baseURL string) (int, error) {
	s, err := a.scrape(ctx, baseURL)
	if err != nil {
		return 0, err
	}
	return s.parsed.Gauges[productInfo].N, nil
}

// stop sends SIGTERM and waits for the agent to exit, killing it after
// timeout. It returns how long the exit took and a note unless it exited
// 0 in time. It does nothing more once the agent has exited.
func (a *agent) stop(timeout time.Duration) (time.Duration, string) {
	start := time.Now()
	select {
	case <-a.exited:
		return 0, exitNote(a.waitErr, "had exited")
	default:
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = a.cmd.Process.Kill()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-a.exited:
		return time.Since(start), exitNote(a.waitErr, "")
	case <-t.C:
		_ = a.cmd.Process.Kill()
		<-a.exited
		return time.Since(start), fmt.Sprintf("killed after %v", timeout)
	}
}

// exitStatus says how the agent exited, for an error message.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func exitNote(err error, prefix string) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return prefix
	case errors.As(err, &ee):
		return strings.TrimSpace(prefix + " " + ee.String())
	default:
		return strings.TrimSpace(prefix + " " + err.Error())
	}
}

// buildAgent builds cmd/meshwatch of the module in the working directory
// into dir.
func buildAgent(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the meshwatch module: run from the repository (or pass -bin)")
	}
	bin := filepath.Join(dir, "meshwatch")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/meshwatch")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/meshwatch: %w\n%s", err, out)
	}
	return bin, nil
}
