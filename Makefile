# codehub: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
BIN := bin
GO_LDFLAGS := -s -w
export CODEHUB_CACHE ?= $(HOME)/.cache/codehub

.PHONY: all help build run test test-unit bench lint manifests generate image image-gateway image-operator clean
.DEFAULT_GOAL := help

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build every binary into ./bin
	go build -trimpath -ldflags '$(GO_LDFLAGS)' -o $(BIN)/ ./cmd/...

run: ## Start the gateway with the local backend (installs code-server if missing, fetches the pinned extensions once)
	go build -trimpath -ldflags '$(GO_LDFLAGS)' -o $(BIN)/ ./cmd/codehub ./cmd/codehub-init
	CODEHUB_CODE_SERVER=$${CODEHUB_CODE_SERVER:-$$(scripts/install-code-server.sh)} \
	CODEHUB_BUILTIN_EXTENSIONS=$${CODEHUB_BUILTIN_EXTENSIONS:-$$(scripts/fetch-extensions.sh)} \
	  $(BIN)/codehub serve $(ARGS)

test: ## Install and cache every real component the tests use, lint, then run every test
	scripts/test.sh

test-unit: ## The fast lane: every test that needs no real component (go test -short), ~1 min warm
	go test -count=1 -short ./...

bench: build ## Benchmarks against the peer proxies; regenerates docs/benchmarks.md
	scripts/bench.sh

lint: ## gofmt, go vet, and go.mod/go.sum tidy
	scripts/lint.sh

manifests generate: ## Regenerate CRD YAML, RBAC and deepcopy with controller-gen
	scripts/generate.sh

image: ## Build the workspace image with buildah (no registry or daemon needed): scripts/build-images.sh
	scripts/build-images.sh workspace

image-gateway: ## Build the gateway image (the chart's gateway Deployment) with buildah
	scripts/build-images.sh gateway

image-operator: ## Build the operator image (the chart's operator Deployment) with buildah
	scripts/build-images.sh operator

clean: ## Remove ./bin
	rm -rf $(BIN)
