#!/usr/bin/env bash
# HTTP keep-alive throughput through each proxy in one run: the backend direct, nginx, HAProxy, Caddy
# (a Go reverse proxy like fabio) and, when PROJECT_CMD is set, fabio-ts. bench/run-all.ts runs it.
#
# PROJECT_CMD starts fabio-ts on 127.0.0.1:19999 routing Host bench.local to http://127.0.0.1:18080/:
#   PROJECT_CMD="node dist/cli.js -proxy.workers=1 -proxy.addr=127.0.0.1:19999 -ui.addr=127.0.0.1:19998 \
#     -registry.backend=static -registry.static.routes='route add bench bench.local/ http://127.0.0.1:18080/'" \
#     bash bench/side-by-side-http.sh
# D (seconds per measurement, 8), C (connections, 64), ROUNDS (2). The ports are fixed: run it in a
# network namespace of its own (bench/run-all.ts does, as root) when anything else may use them.
#
# Output, one line per measurement and a ratio line per peer and round:
#   round=1 nginx rps=41234.5 p50=1.40ms p99=3.10ms
#   round=1 ratio project/nginx=0.85
set -u
cd "$(dirname "$0")"
source ./side-by-side-lib.sh
need_peers wrk nginx haproxy caddy taskset curl
D=${D:-8}
C=${C:-64}
ROUNDS=${ROUNDS:-2}

# The backend: nginx answering a fixed body, keep-alive without a request limit.
cat >"$WORK/backend.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/backend.pid; error_log /dev/null;
events { worker_connections 8192; }
http {
  access_log off;
  server {
    listen 127.0.0.1:18080 reuseport;
    keepalive_requests 1000000;
    location / { return 200 "backend says hello\n"; }
  }
}
CONF
# nginx as a reverse proxy with a pool of kept-alive upstream connections.
cat >"$WORK/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/nginx.pid; error_log /dev/null;
events { worker_connections 8192; }
http {
  access_log off;
  upstream be { server 127.0.0.1:18080; keepalive 64; }
  server {
    listen 127.0.0.1:18081;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
CONF
# HAProxy in HTTP mode, one thread, reusing server connections.
cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  option forwardfor
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend in
  bind 127.0.0.1:18082
  default_backend be
backend be
  server b1 127.0.0.1:18080
CONF
# Caddy's reverse_proxy with one Go scheduler thread.
cat >"$WORK/Caddyfile" <<CONF
{
  admin off
  auto_https off
}
http://:18083 {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:18080
}
CONF

declare -A PORT=([direct]=18080 [nginx]=18081 [haproxy]=18082 [caddy]=18083)
NAMES=(direct nginx haproxy caddy)
spawn 0 "$WORK/backend.log" nginx -c "$WORK/backend.conf"
spawn 1 "$WORK/nginx.log" nginx -c "$WORK/nginx.conf"
spawn 1 "$WORK/haproxy.log" haproxy -f "$WORK/haproxy.cfg" -q
spawn 1 "$WORK/caddy.log" env GOMAXPROCS=1 caddy run --config "$WORK/Caddyfile" --adapter caddyfile
if [ -n "${PROJECT_CMD:-}" ]; then
  spawn 1 "$WORK/project.log" bash -c "$PROJECT_CMD"
  PORT[project]=19999
  NAMES+=(project)
fi
for n in "${NAMES[@]}"; do
  wait_port "${PORT[$n]}"
  # the proxies learn their routes after they listen: poll until the first proxied answer
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.local' "http://127.0.0.1:${PORT[$n]}/")
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ] || echo "WARN $n answers $code, not 200"
done

for r in $(seq 1 "$ROUNDS"); do
  declare -A RPS=()
  for n in "${NAMES[@]}"; do
    out=$(load -c"$C" -d"${D}s" --latency -H 'Host: bench.local' "http://127.0.0.1:${PORT[$n]}/")
    RPS[$n]=$(wrk_rps "$out")
    echo "round=$r $n rps=${RPS[$n]:-0} p50=$(wrk_pct "$out" 50%) p99=$(wrk_pct "$out" 99%) $(wrk_errors "$out")"
  done
  if [ -n "${PROJECT_CMD:-}" ]; then
    for peer in nginx haproxy caddy direct; do
      awk -v r="$r" -v peer="$peer" -v p="${RPS[project]:-0}" -v b="${RPS[$peer]:-0}" \
        'BEGIN { if (b > 0) printf "round=%s ratio project/%s=%.2f\n", r, peer, p / b }'
    done
  fi
done
