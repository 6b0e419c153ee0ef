#!/usr/bin/env bash
# make fuzz: run every fuzz target of the repository for FUZZTIME each.
# Targets are found by name (func FuzzXxx in a _test.go file), so a new
# one is fuzzed without editing this script. Their seed corpora under
# testdata/fuzz/ also run as ordinary tests in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
		echo "== $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
