# Loyalty engine. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BUF       := $(GO) tool -modfile=tools/go.mod buf
SQLC      := $(GO) tool -modfile=tools/go.mod sqlc

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: postgres
postgres: ## Install what is missing: PostgreSQL server binaries, curl, jq (Debian packages)
	@scripts/ensure-postgres.sh

.PHONY: build
build: ## Build loyaltyd and loyaltyctl into bin/
	$(GO) build -o bin/ ./cmd/...

.PHONY: run
run: postgres build ## Start PostgreSQL under .data/, migrate, serve with demo data (webhooks may go to loopback: demo only)
	./bin/loyaltyd --demo --webhook-allow 127.0.0.0/8

.PHONY: generate
generate: postgres ## Regenerate protobuf, gateway, OpenAPI, sqlc code, sql/schema.sql and the console (API client, assets)
	$(BUF) generate
	@scripts/console.sh build
	$(SQLC) generate -f sql/sqlc.yaml
	$(GO) run ./internal/schemadump -o sql/schema.sql

.PHONY: schema
schema: postgres ## Regenerate sql/schema.sql: the migrated schema, dumped by pg_dump from a throwaway cluster
	$(GO) run ./internal/schemadump -o sql/schema.sql

.PHONY: check-generated
check-generated: postgres console-check ## Fail if any generated file is stale (sqlc diff for every sql/sqlc.yaml package, buf for api/, sql/schema.sql, the console)
	@GO='$(GO)' BUF='$(BUF)' SQLC='$(SQLC)' scripts/check-generated.sh

.PHONY: lint
lint: ## go vet, gofmt and buf lint
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(BUF) lint

.PHONY: console
console: ## Build the web console: npm ci, the typed API client from the OpenAPI document, the assets in console/dist
	@scripts/console.sh build

.PHONY: console-check
console-check: ## Fail if console/dist or its API client is stale or two builds differ; the console's unit tests
	@scripts/console.sh check

.PHONY: console-e2e
console-e2e: postgres ## The console's browser tests alone: headless Chromium against a real loyaltyd and PostgreSQL
	@scripts/console.sh tools browser
	LOYALTY_CONSOLE_E2E=1 $(GO) test -count=1 -run TestConsole ./console/

.PHONY: test
test: postgres check-generated lint ## Everything CI runs: generated-code check, vet, the race-enabled suite on a real PostgreSQL, the console in Chromium
	@scripts/console.sh tools browser
	LOYALTY_CONSOLE_E2E=1 $(GO) test -race -count=1 -timeout 20m ./...

.PHONY: test-short
test-short: ## The suite without the race detector (faster while developing)
	$(GO) test -count=1 ./...

FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: postgres ## Run every fuzz target for FUZZTIME (60s) each, one after another; fail on a finding
	@FUZZTIME=$(FUZZTIME) FUZZPARALLEL=$(FUZZPARALLEL) scripts/fuzz.sh

.PHONY: bench
bench: postgres build ## Load-test REST and gRPC next to pgbench (tpcb-like for writes, select-only for reads) on one PostgreSQL (docs/BENCHMARKS.md)
	@scripts/bench.sh

.PHONY: chaos
chaos: postgres ## Crash test, longer: kill loyaltyd and PostgreSQL under load for CHAOS_DURATION (60s), then prove nothing was lost
	@scripts/chaos.sh

.PHONY: clean
clean: ## Remove build output (keeps .data/)
	rm -rf bin/
