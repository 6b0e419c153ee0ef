#!/usr/bin/env bash
# Start or stop one moto server on a free 127.0.0.1 port for a whole test run.
#   scripts/moto.sh start DIR   -> prints the endpoint URL; writes DIR/moto.pid and DIR/moto.log
#   scripts/moto.sh stop DIR    -> stops the server by PID
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?state folder}
mkdir -p "$dir"
case "$cmd" in
start)
  bin=$(command -v moto_server || true)
  [ -z "$bin" ] && [ -x .venv/bin/moto_server ] && bin=.venv/bin/moto_server
  if [ -z "$bin" ]; then
    echo "moto_server is missing: the AWS adapter tests need it. Run 'make tools' (pip install 'moto[server]' into .venv)." >&2
    exit 1
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  setsid "$bin" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
      echo "http://127.0.0.1:$port"; exit 0
    fi
    sleep 0.2
  done
  echo "moto_server did not answer on 127.0.0.1:$port; its log:" >&2; tail -20 "$dir/moto.log" >&2
  exit 1 ;;
stop)
  if [ -f "$dir/moto.pid" ]; then
    pid=$(cat "$dir/moto.pid")
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    rm -f "$dir/moto.pid"
  fi ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
