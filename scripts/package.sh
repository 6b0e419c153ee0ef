#!/usr/bin/env bash
# make package: build every Lambda (each folder of lambdas/) as a
# provided.al2023 bootstrap for arm64 and zip it into dist/lambdas/<name>.zip,
# the CodeUri of its function in infra/template.yaml.
#
# The build is reproducible (-trimpath, fixed file time, zip -X), so an
# unchanged function gives a byte-identical zip and `make deploy` does not
# update it. A zip over 10 MB fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v zip >/dev/null || { echo "package: zip is missing (apt-get install zip)" >&2; exit 1; }
out=dist/lambdas
max=$((10 * 1024 * 1024))
rm -rf "$out"
mkdir -p "$out"
status=0
for dir in lambdas/*/; do
  name=$(basename "$dir")
  mkdir -p "$out/$name"
  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags='-s -w' \
    -o "$out/$name/bootstrap" "./lambdas/$name"
  touch -t 198001010000 "$out/$name/bootstrap"
  (cd "$out/$name" && zip -q -X -9 "../$name.zip" bootstrap)
  bin=$(stat -c %s "$out/$name/bootstrap")
  zipped=$(stat -c %s "$out/$name.zip")
  printf '%-11s bootstrap %10d bytes   %s.zip %9d bytes\n' "$name" "$bin" "$name" "$zipped"
  if [ "$zipped" -gt "$max" ]; then
    echo "package: $out/$name.zip is over 10 MB" >&2
    status=1
  fi
done
exit $status
