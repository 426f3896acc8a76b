# codehub: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
BIN := bin
GO_LDFLAGS := -s -w
export CODEHUB_CACHE ?= $(HOME)/.cache/codehub

.PHONY: all build run test bench lint manifests generate image clean

all: build

build: ## Build every binary into ./bin
	go build -trimpath -ldflags '$(GO_LDFLAGS)' -o $(BIN)/ ./cmd/...

run: ## Start the gateway with the local backend (installs code-server if missing)
	go build -trimpath -ldflags '$(GO_LDFLAGS)' -o $(BIN)/ ./cmd/codehub ./cmd/codehub-init
	CODEHUB_CODE_SERVER=$${CODEHUB_CODE_SERVER:-$$(scripts/install-code-server.sh)} \
	  $(BIN)/codehub serve --state-dir $${CODEHUB_STATE_DIR:-$(HOME)/.local/share/codehub} $(ARGS)

test: ## Install/caches every real component the tests use, then run every test
	scripts/test.sh

bench: build ## Benchmarks against the peer proxies; regenerates docs/benchmarks.md
	scripts/bench.sh

lint: ## gofmt + go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

manifests generate: ## Regenerate CRD YAML, RBAC and deepcopy with controller-gen
	scripts/generate.sh

image: ## Build the workspace image (needs a Docker engine and internet)
	docker build -f images/workspace/Dockerfile -t codehub-workspace:latest .

clean:
	rm -rf $(BIN)

image-gateway: ## Build the gateway image (the chart's gateway Deployment)
	docker build -f images/gateway/Dockerfile -t codehub-gateway:$$(sed -n 's/^appVersion: "\(.*\)"/\1/p' charts/codehub/Chart.yaml) .

image-operator: ## Build the operator image (the chart's operator Deployment)
	docker build -f images/operator/Dockerfile -t codehub-operator:$$(sed -n 's/^appVersion: "\(.*\)"/\1/p' charts/codehub/Chart.yaml) .
