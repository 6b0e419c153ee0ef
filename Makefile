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
