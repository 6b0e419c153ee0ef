# streamer — see README.md. `make run` and `make test` are the two commands.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
GO ?= go
PKGS := ./...

.PHONY: all build run test bench lint tables tools fuzz clean

all: build

build:
	$(GO) build -o bin/streamer ./cmd/streamer

## run: the local stack on the embedded store
run: build
	./bin/streamer dev

## test: everything, including the AWS adapters against a local moto server
test:
	scripts/test.sh

## bench: benchmarks with their raw baselines (see docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 3 ./events/sqlite/
	$(GO) test -run '^$$' -bench . -benchtime 5x -count 3 ./projections/sqlite/
	$(GO) test -run '^$$' -bench . -count 3 ./processor/ ./fanout/
	$(GO) test -run '^$$' -bench BenchmarkDelivery -benchtime 10x -count 1 ./tests/

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

## tables: create the DynamoDB tables at $(ENDPOINT) (e.g. make tables ENDPOINT=http://127.0.0.1:5000)
tables: build
	./bin/streamer tables create $(if $(ENDPOINT),--endpoint $(ENDPOINT))

tools:
	scripts/tools.sh

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

clean:
	rm -rf bin dist .data

.PHONY: package deploy lint-infra

## package: build every Lambda into dist/lambdas/<name>.zip (provided.al2023, arm64; see docs/deploy.md)
package:
	scripts/package.sh

## deploy: upload the zips and deploy the stack with the AWS CLI
##   make deploy STACK=streamer-prod BUCKET=my-artifacts [PARAMS=infra/parameters.env] [REGION=eu-west-1] [ROLE_ARN=...] [NO_EXECUTE=1]
deploy: package
	STACK='$(STACK)' BUCKET='$(BUCKET)' PARAMS='$(PARAMS)' REGION='$(REGION)' PREFIX='$(PREFIX)' ROLE_ARN='$(ROLE_ARN)' NO_EXECUTE='$(NO_EXECUTE)' scripts/deploy.sh

## lint-infra: cfn-lint the SAM template (errors fail; a missing cfn-lint fails too)
lint-infra:
	@command -v cfn-lint >/dev/null || { echo "cfn-lint is missing: run make tools" >&2; exit 1; }
	cfn-lint infra/template.yaml
