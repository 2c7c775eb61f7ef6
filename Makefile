# meshwatch — make targets. `make demo` and `make test` are the two commands
# a fresh machine needs (Go 1.26; `kcat` for the interop test, see .ci/run).

GO      ?= go
PKGS    ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: all build test test-short demo bench fuzz lint clean

all: build

build: ## build bin/meshwatch
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/meshwatch ./cmd/meshwatch

test: ## the whole suite with the race detector, then the load tests without it (what CI runs)
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -timeout 5m -run '^TestBudget' ./collector/

test-short: ## the suite without the slow load tests
	$(GO) test -race -short -count=1 $(PKGS)

demo: ## the agent against an embedded Kafka with synthetic products (Ctrl-C stops it)
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/meshwatch demo -config-out demo.yaml

bench: ## benchmarks that hold the performance budgets (run twice; compare ratios)
	$(GO) test -run '^$$' -bench . -benchmem -count 2 -timeout 30m ./collector/

fuzz: ## each fuzz target for FUZZTIME (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzExtractHeader$$' -fuzztime $(FUZZTIME) ./collector/
	$(GO) test -run '^$$' -fuzz '^FuzzExtractField$$' -fuzztime $(FUZZTIME) ./collector/

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)

clean:
	rm -rf bin demo.yaml
