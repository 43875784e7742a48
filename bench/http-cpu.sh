#!/bin/bash
# CPU time per proxied request (user+sys of the proxy process / requests served) for nginx, caddy and
# fabio-ts behind the same nginx backend: a per-core efficiency figure that survives a noisy shared box
# better than req/s. Usage: bash bench/http-cpu.sh  (needs nginx, caddy, wrk).
# FABIO_CMD overrides how fabio-ts starts (default: the tsx standalone listener on 127.0.0.1:18484).
set -u
T=$(mktemp -d); trap 'rm -rf $T' EXIT
cd "$(dirname "$0")/.."
FABIO_CMD=${FABIO_CMD:-"node --import tsx bench/http-proxy-standalone.ts 127.0.0.1:18484 'route add bench bench.local/ http://127.0.0.1:18480/'"}
cat > $T/be.conf <<CONF
worker_processes 1; daemon off; pid $T/b.pid; error_log /dev/null;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:18480 reuseport; keepalive_requests 100000;
  location / { return 200 "hello from backend\n"; } } }
CONF
cat > $T/nx.conf <<CONF
worker_processes 1; daemon off; pid $T/n.pid; error_log /dev/null;
events { worker_connections 4096; }
http { access_log off; upstream b { server 127.0.0.1:18480; keepalive 64; }
  server { listen 127.0.0.1:18481; keepalive_requests 100000;
  location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host;
  proxy_set_header X-Forwarded-For \$remote_addr; } } }
CONF
cat > $T/Caddyfile <<CONF
{
  admin off
  auto_https off
}
http://:18483 {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:18480
}
CONF
measure() { # pid port seconds
  local t0 t1 out
  t0=$(awk '{print $14+$15}' /proc/$1/stat)
  out=$(wrk -t1 -c32 -d${3}s -H 'Host: bench.local' http://127.0.0.1:$2/ 2>&1)
  t1=$(awk '{print $14+$15}' /proc/$1/stat)
  echo "$out" | awk -v a=$t0 -v b=$t1 -v t=$(getconf CLK_TCK) '/requests in/{r=$1} /Requests\/sec/{rps=$2} END{printf "cpu_us_per_req=%.1f rps=%s\n", (b-a)/t*1e6/r, rps}'
}
nginx -c $T/be.conf & BEP=$!
nginx -c $T/nx.conf & NXP=$!
GOMAXPROCS=1 caddy run --config $T/Caddyfile --adapter caddyfile >/dev/null 2>&1 & CAP=$!
bash -c "exec $FABIO_CMD" >/dev/null 2>&1 & PXP=$!
sleep 4
NXW=$(pgrep -P $NXP)
wrk -t1 -c32 -d3s -H "Host: bench.local" http://127.0.0.1:18484/ >/dev/null 2>&1  # JIT warm-up of fabio-ts
for r in 1 2 3; do
  for pair in "nginx $NXW 18481" "caddy $CAP 18483" "fabio-ts $PXP 18484"; do
    set -- $pair
    printf "round=%s %-9s " $r $1; measure $2 $3 5
  done
done
kill $PXP $CAP $NXP $BEP 2>/dev/null
wait 2>/dev/null
