#!/usr/bin/env bash
# Instructions and syscalls per request of the HTTP plane (bench/README.md, "HTTP plane per
# request"): one nginx worker as the backend, fabio-ts (dist/, one process) routing Host bench.local
# to it, a fixed number of keep-alive GETs from bench/http-fixed-load.mjs. Load-independent figures
# for before/after comparisons on a shared machine.
#
#   npm run build && bash bench/http-instructions.sh [callgrind|strace|both]
#
# callgrind: valgrind with instrumentation off during start-up and WARM warm-up requests, on for
# exactly N requests; prints the main thread's instructions / N. strace: `strace -c -f` attached for
# N requests (no valgrind); prints each syscall's count / N. N (4000), WARM (8000), C (8 connections).
# NODE_FLAGS="--perf-basic-prof" names the JIT code in a kept profile (KEEP=FILE): /tmp/perf-PID.map.
set -u
cd "$(dirname "$0")/.."
MODE=${1:-both}
N=${N:-4000}
WARM=${WARM:-8000}
C=${C:-8}
# WORK, PIDS, cleanup on exit, wait_port.
source bench/side-by-side-lib.sh

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

BE=$(free_port)
cat >"$WORK/backend.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/backend.pid; error_log /dev/null;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$BE;
    keepalive_requests 1000000;
    location / { return 200 "hello from backend\n"; }
  }
}
CONF
nginx -c "$WORK/backend.conf" -p "$WORK" &
PIDS+=($!)
wait_port "$BE"

start_proxy() { # PORT PREFIX...
  local port=$1
  shift
  "$@" node ${NODE_FLAGS:-} dist/cli.js -proxy.workers=1 -proxy.addr="127.0.0.1:$port" -ui.addr="127.0.0.1:$(free_port)" \
    -registry.backend=static -registry.static.routes="route add bench bench.local/ http://127.0.0.1:$BE/" \
    >"$WORK/proxy.log" 2>&1 &
  PID=$!
  PIDS+=($PID)
  wait_port "$port"
}

if [ "$MODE" = callgrind ] || [ "$MODE" = both ]; then
  P=$(free_port)
  start_proxy "$P" valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
    --smc-check=all-non-file --callgrind-out-file="$WORK/cg.out"
  node bench/http-fixed-load.mjs "$P" "$WARM" "$C" >/dev/null
  callgrind_control -i on "$PID" >/dev/null 2>&1
  node bench/http-fixed-load.mjs "$P" "$N" "$C"
  callgrind_control -i off "$PID" >/dev/null 2>&1
  callgrind_control -d "$PID" >/dev/null 2>&1
  main=$(ls "$WORK"/cg.out*-01 2>/dev/null | tail -1)
  total=$(grep -h '^summary:\|^totals:' "$main" | tail -1 | awk '{print $2}')
  echo "callgrind main thread: $total instructions, $((total / N)) per request (N=$N)"
  [ -n "${KEEP:-}" ] && cp "$main" "$KEEP" && echo "profile kept in $KEEP"
  kill "$PID" 2>/dev/null
  wait "$PID" 2>/dev/null
fi

if [ "$MODE" = strace ] || [ "$MODE" = both ]; then
  P=$(free_port)
  start_proxy "$P" env
  node bench/http-fixed-load.mjs "$P" "$WARM" "$C" >/dev/null
  strace -c -f -p "$PID" -o "$WORK/strace.txt" 2>/dev/null &
  SP=$!
  sleep 1 # strace attaches asynchronously; the count below is per request of the load only
  node bench/http-fixed-load.mjs "$P" "$N" "$C"
  kill -INT "$SP"
  wait "$SP" 2>/dev/null
  awk -v n="$N" 'NR > 2 && $4 ~ /^[0-9]+$/ && $NF != "total" { printf "  %-16s %8d  %.3f/req\n", $NF, $4, $4 / n }' \
    "$WORK/strace.txt"
fi
