# meshwatch — make targets. `make demo` and `make test` are the two commands
# a fresh machine needs (Go 1.26; `kcat` for the interop test, see .ci/run).

GO      ?= go
PKGS    ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 30s
# golangci-lint, pinned: `go run pkg@version` builds it outside this module
# (go.mod stays free of its dependencies) and caches the binary.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

.PHONY: all build test test-short stress e2e demo smoke bench fuzz lint clean scale

all: build

build: ## build bin/meshwatch
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/meshwatch ./cmd/meshwatch

test: ## vet, then the whole suite with the race detector (what CI runs)
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

test-short: ## the suite without the slow tests (agent fleets, restarts, kcat)
	$(GO) test -race -short -count=1 $(PKGS)

# The tests most exposed to timing — fleets of agents, restarts, the whole
# agent end to end, lag and freshness on a real clock, blind spots — five
# times each while two busy loops keep both cores busy, as on a loaded CI
# machine. A failure here is a defect of the test or the code, not bad luck.
STRESS_COUNT ?= 5
stress: ## the timing-exposed tests -count=$(STRESS_COUNT) while two busy loops keep both cores busy (about 12 minutes)
	@sh -c 'while :; do :; done' & b1=$$!; sh -c 'while :; do :; done' & b2=$$!; \
	trap 'kill $$b1 $$b2' EXIT; \
	$(GO) test -race -count=$(STRESS_COUNT) -timeout 90m \
		-run '^(TestScaleOut|TestStandbyAgent|TestHandoversContinueIncidents|TestRestartsContinueIncidents|TestAppEndToEnd|TestAgentTellsTheOwnerInSlack|TestReadyzSaysWhy)$$' ./cmd/meshwatch/ && \
	$(GO) test -race -count=$(STRESS_COUNT) -timeout 60m \
		-run '^(TestExactTimeLag|TestExactTimeLagRealClock|TestInterpolatedTimeLag|TestBurstDoesNotSpike|TestIdleCaughtUp|TestStatuses)$$' ./lag/ && \
	$(GO) test -race -count=$(STRESS_COUNT) -timeout 60m \
		-run '^(TestRecreatedTopicResumes|TestRebuiltClusterResumes|TestBlindIsReported|TestTransactionalTopicIsNotBlind|TestFreshnessGoesBadAndRecovers|TestLeaderMoveIsNotAnOutage|TestAvailabilityFaults)$$' ./collector/ && \
	$(GO) test -race -count=$(STRESS_COUNT) -timeout 30m -run '^(TestProducers|TestConsumers|TestConsumersRun)$$' ./internal/demo/

e2e: ## the dashboards' queries and the agent rules on a real Prometheus scraping the demo (needs prometheus)
	$(GO) test -tags e2e -count=1 -timeout 10m -run '^TestE2E' -v ./cmd/meshwatch/

# The demo's Kafka ports and HTTP address, for a machine where the defaults
# are taken: make demo DEMO_PORTS=29092,29093,29094 DEMO_HTTP=127.0.0.1:19477
DEMO_PORTS ?= 19092,19093,19094
DEMO_HTTP  ?= 127.0.0.1:9477
DEMO_ARGS  ?=

demo: ## the agent against an embedded Kafka with synthetic products (Ctrl-C stops it); DEMO_PORTS, DEMO_HTTP, DEMO_ARGS
	@echo "demo: building meshwatch (on a fresh machine the first build downloads modules and compiles for a few minutes)…"
	@mkdir -p bin && $(GO) build -ldflags '$(LDFLAGS)' -o bin/meshwatch ./cmd/meshwatch
	@echo "demo: starting: Kafka on $(DEMO_PORTS), the agent on http://$(DEMO_HTTP) (Ctrl-C stops it)"
	./bin/meshwatch demo -config-out demo.yaml -ports '$(DEMO_PORTS)' -http.listen '$(DEMO_HTTP)' $(DEMO_ARGS)

smoke: ## the demo for 30s on free ports, then validate and report on what it wrote
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(GO) build -o "$$d/meshwatch" ./cmd/meshwatch && \
	"$$d/meshwatch" demo -for 30s -ports 0,0,0 -http.listen 127.0.0.1:0 \
		-state "$$d/state" -config-out "$$d/demo.yaml" >"$$d/out" 2>"$$d/log" && \
	{ grep -q FIRE "$$d/out" || { echo "smoke: the demo fired no alert"; cat "$$d/out"; exit 1; }; } && \
	"$$d/meshwatch" validate -config "$$d/demo.yaml" && \
	"$$d/meshwatch" report chargeback -config "$$d/demo.yaml" -format focus >/dev/null && \
	echo "smoke ok"

# The benchmarks hold the performance budgets; compare the ratios they report
# (agent/plain, ms/pass, ns/event), not absolute times. The Kafka-backed ones
# set up an in-process cluster and run a fixed number of iterations.
bench: ## the benchmarks of collector, lag, quality and sla (about a minute; cost has none)
	$(GO) test -run '^$$' -bench . -benchmem -count 2 -timeout 30m ./collector/
	$(GO) test -run '^$$' -bench '^BenchmarkLagPass$$' -benchtime 10x -timeout 30m ./lag/
	$(GO) test -run '^$$' -bench '^BenchmarkLagCompute$$' -benchmem ./lag/
	$(GO) test -run '^$$' -bench '^BenchmarkPipeline$$' -benchtime 2x -timeout 30m ./quality/
	$(GO) test -run '^$$' -bench '^BenchmarkRules$$' -benchmem ./quality/
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./sla/

# The real agent binary against a kfake cluster (in the scale program's
# process) at each of SIZES products, MEASURE each; prints a Markdown table
# (README "Scale"), then the largest size on SHARDED sharded agents, one row
# per agent (SHARDED=0 skips it). The full run takes about 20 minutes.
SIZES   ?= 100,1000,3000,10000
MEASURE ?= 2m
SHARDED ?= 3
scale: ## the agent at SIZES products (default 100,1000,3000,10000), MEASURE each (default 2m), then on SHARDED (3) sharded agents; about 20 minutes
	$(GO) run ./cmd/scale -sizes '$(SIZES)' -measure '$(MEASURE)' -sharded '$(SHARDED)'

fuzz: ## each fuzz target for FUZZTIME (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./config/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadContract$$' -fuzztime $(FUZZTIME) ./odcs/
	$(GO) test -run '^$$' -fuzz '^FuzzExtractHeader$$' -fuzztime $(FUZZTIME) ./collector/
	$(GO) test -run '^$$' -fuzz '^FuzzExtractField$$' -fuzztime $(FUZZTIME) ./collector/
	$(GO) test -run '^$$' -fuzz '^FuzzParseWire$$' -fuzztime $(FUZZTIME) ./quality/
	$(GO) test -run '^$$' -fuzz '^FuzzParseMessageIndexes$$' -fuzztime $(FUZZTIME) ./quality/
	$(GO) test -run '^$$' -fuzz '^FuzzJSON$$' -fuzztime $(FUZZTIME) ./quality/
	$(GO) test -run '^$$' -fuzz '^FuzzAvro$$' -fuzztime $(FUZZTIME) ./quality/
	$(GO) test -run '^$$' -fuzz '^FuzzAvroRoundTrip$$' -fuzztime $(FUZZTIME) ./quality/
	$(GO) test -run '^$$' -fuzz '^FuzzProtobuf$$' -fuzztime $(FUZZTIME) ./quality/
	$(GO) test -run '^$$' -fuzz '^FuzzSilenceRequest$$' -fuzztime $(FUZZTIME) ./alert/

lint: ## gofmt, go vet and golangci-lint (.golangci.yml)
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)
	$(GOLANGCI_LINT) run $(PKGS)

clean:
	rm -rf bin demo.yaml meshwatch-demo-state
