#!/usr/bin/env bash
# make test: every check and test, with one moto server for the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
state=$(mktemp -d)
log=${TEST_LOG:-$state/test.log}
cleanup() { scripts/moto.sh stop "$state"; }
trap cleanup EXIT

scripts/tools.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go') $(git ls-files --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt-ed:"; echo "$unformatted"; exit 1; fi
echo "== go vet"
go vet ./...

echo "== moto_server"
STREAMER_TEST_AWS_ENDPOINT=$(scripts/moto.sh start "$state")
export STREAMER_TEST_AWS_ENDPOINT
echo "moto at $STREAMER_TEST_AWS_ENDPOINT"

# Packages whose tests talk to moto run one at a time: when a DynamoDB
# transaction fails, moto restores a copy of ALL its tables taken before the
# transaction, which silently undoes what another package's tests created or
# wrote meanwhile (a known moto divergence: AWS isolates transactions per
# item). The other packages run in parallel first.
# The end-to-end and load tests (./tests) run without the race detector: the
# 1,000-client load test holds more goroutines than its 8,128 limit. Every
# package they exercise runs its own tests with -race above.
e2e_pkgs=$(go list ./tests/...)
aws_pkgs=$(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | awk '/internal\/testenv/ {print $1}' | grep -vxF -f <(printf '%s\n' $e2e_pkgs))
local_pkgs=$(go list ./... | grep -vxF -f <(printf '%s\n' $aws_pkgs $e2e_pkgs))

echo "== go test -race (full log: $log)"
set +e
go test -race -count=1 -timeout 30m -v $local_pkgs >"$log" 2>&1
rc=$?
go test -race -count=1 -timeout 30m -v -p 1 $aws_pkgs >>"$log" 2>&1
rc2=$?
[ $rc -eq 0 ] && rc=$rc2
go test -count=1 -timeout 30m -v -p 1 $e2e_pkgs >>"$log" 2>&1
rc3=$?
[ $rc -eq 0 ] && rc=$rc3
set -e
# Show the per-backend conformance trees, every failure, and the package results.
grep -E '^(ok|FAIL|PASS|panic:|--- FAIL|    --- (PASS|FAIL): TestConformance/[^/]+ )|^--- PASS: TestConformance|^\s+--- FAIL|_test\.go:[0-9]+:' "$log" || true
if [ $rc -ne 0 ]; then echo "go test failed (exit $rc); full log in $log"; exit $rc; fi
echo "all tests passed"
