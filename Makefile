# Aileron workspaces. `make dev` runs the system; `make test` runs every check.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

CACHE   ?= $(or $(AILERON_CACHE),$(HOME)/.cache/aileron)
TOOLBIN := $(CACHE)/bin
export PATH := $(TOOLBIN):$(PATH)
export GOBIN := $(TOOLBIN)

BUF_VERSION          := v1.75.0
PROTOC_GEN_GO        := v1.36.12
PROTOC_GEN_GO_GRPC   := v1.6.0
GRPC_GATEWAY_VERSION := v2.33.0

# Every module of go.work; `go test aileron.dev/...` covers them all.
PKGS := aileron.dev/...
BIN  := bin

.PHONY: help setup setup-dev tools generate lint check-generated breaking test test-go bench build images service-images helm-test dev clean

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: ## install what the tests need (Debian packages, Go tools, test kube-apiserver, helm); says what it cannot
	@bash hack/setup.sh test

setup-dev: ## check what `make dev` needs (Go, the Docker Engine, ca-certificates)
	@bash hack/setup.sh dev

tools: ## install the pinned code generators into $(TOOLBIN)
	@mkdir -p $(TOOLBIN)
	@test -x $(TOOLBIN)/buf && $(TOOLBIN)/buf --version | grep -qx '$(BUF_VERSION:v%=%)' || go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO)
	@go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC)
	@go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	@go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)

generate: tools ## regenerate gen/ from proto/, the CRD from the Go types, the chart's NATS permissions from pkg/bus
	rm -rf gen/aileron gen/openapi/*.json
	buf generate --path proto/aileron
	bash hack/generate-crd.sh
	bash deploy/hack/sync-crds.sh
	go run ./services/api/ui/gen
	go run ./pkg/bus/gen

lint: tools ## buf lint and go vet
	buf lint
	go vet $(PKGS)

check-generated: generate ## fail when committed generated code drifts
	@git diff --exit-code -- gen services/k8s-provisioner/config services/k8s-provisioner/api deploy/helm/aileron/crds deploy/helm/aileron/files/nats-permissions.json || \
		{ echo "generated code is stale: run 'make generate' and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- gen services/k8s-provisioner/config services/k8s-provisioner/api deploy/helm/aileron/crds deploy/helm/aileron/files/nats-permissions.json)" || \
		{ git status --porcelain -- gen services/k8s-provisioner; echo "untracked generated files" >&2; exit 1; }

breaking: tools ## buf breaking against the previous commit
	@if git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then buf breaking --against '.git#ref=HEAD~1'; else echo "no previous buf module: skip"; fi

# One package at a time (-p 1): the packages share one Docker Engine and one
# network stack, and Docker creating or removing a network makes headless
# Chromium abort the loads in flight (net::ERR_NETWORK_CHANGED, even on
# loopback), so a console test beside the provisioner's failed now and then.
test-go: ## go test every module (needs Docker, the test kube-apiserver and helm)
	KUBEBUILDER_ASSETS="$${KUBEBUILDER_ASSETS:-$$(bash hack/k8s-test-env.sh)}" \
	HELM="$${HELM:-$$(bash deploy/hack/helm.sh)}" \
	go test -p 1 -count=1 -timeout 30m $(PKGS)

test: setup lint check-generated breaking images service-images test-go ## set up, then every check CI runs

bench: ## benchmarks (ratios measured side by side)
	go test -run '^$$' -bench . -benchtime 200x aileron.dev/services/api/...

build: ## static binaries into bin/
	@mkdir -p $(BIN)
	CGO_ENABLED=0 go build -o $(BIN)/aileron ./cmd/aileron

images: ## local images of the workspaces (runtime from Debian packages, cached), the stand-in stub and the egress gateway
	@if [ -f services/docker-provisioner/hack/build-images.sh ]; then bash services/docker-provisioner/hack/build-images.sh; fi
	bash hack/workspace-images.sh

service-images: ## FROM scratch images of every service binary (aileron/<name>:dev), sizes printed
	bash deploy/hack/build-images.sh

helm-test: ## lint and render the chart and check it on the test kube-apiserver
	bash deploy/hack/test.sh

dev: setup-dev build images ## build and run everything in one process (REST :3001, gRPC :9090)
	$(BIN)/aileron dev

clean:
	rm -rf $(BIN) .aileron
