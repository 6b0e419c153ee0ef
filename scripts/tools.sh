#!/usr/bin/env bash
# Make sure the Python tools the tests use (moto_server, cfn-lint) exist.
# On a machine that lacks them they are installed with pip into a
# project-local virtual environment, .venv, and the run says so.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in moto_server cfn-lint; do
  command -v "$tool" >/dev/null 2>&1 || [ -x ".venv/bin/$tool" ] || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} into .venv (pip install 'moto[server]' cfn-lint)"
python3 -m venv .venv
.venv/bin/pip install --quiet 'moto[server]' cfn-lint || {
  echo "could not install ${missing[*]}: the AWS adapter tests need moto_server. Install it with: pip install 'moto[server]' cfn-lint" >&2
  exit 1
}
