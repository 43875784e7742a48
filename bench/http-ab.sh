#!/bin/bash
# A/B of fabio-ts builds in ONE run, side by side with nginx and caddy: req/s, p50, p99 and CPU µs per request
# of each proxy process (all proxies pinned to core 1; wrk + nginx backend on core 0; own ports 186xx so it does not
# collide with bench/side-by-side-http.sh). VARIANTS="name:TREE:ENV=V[,ENV=V] ..." where TREE holds a built dist/
# (e.g. a `git archive` of a commit with node_modules symlinked), e.g.
#   VARIANTS="lean:/tmp/tree:FABIO_TS_LEAN=1 undici:/tmp/tree:FABIO_TS_LEAN=0" D=8 ROUNDS=3 bash bench/http-ab.sh
# A/B in one run: nginx, caddy and fabio-ts variants (env-selected) pinned to core 1; wrk + backend on core 0.
# Reports req/s, p50, p99 and CPU µs per request of the proxy process.
set -u
D=${D:-8}; C=${C:-64}; ROUNDS=${ROUNDS:-3}
T=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf $T' EXIT
cat > $T/backend.conf <<CONF
worker_processes 1; daemon off; pid $T/b.pid; error_log /dev/null;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:18680 reuseport; keepalive_requests 100000;
  location / { return 200 "hello from backend\n"; } } }
CONF
cat > $T/nginx.conf <<CONF
worker_processes 1; daemon off; pid $T/n.pid; error_log /dev/null;
events { worker_connections 4096; }
http { access_log off; upstream b { server 127.0.0.1:18680; keepalive 64; }
  server { listen 127.0.0.1:18681; keepalive_requests 100000;
  location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host;
  proxy_set_header X-Forwarded-For \$remote_addr; } } }
CONF
cat > $T/Caddyfile <<CONF
{
  admin off
  auto_https off
}
http://:18683 {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:18680
}
CONF
cd "$(dirname "$0")/.."
taskset -c 0 nginx -c $T/backend.conf &
taskset -c 1 nginx -c $T/nginx.conf & NXP=$!
GOMAXPROCS=1 taskset -c 1 caddy run --config $T/Caddyfile --adapter caddyfile >/dev/null 2>&1 & CAP=$!
declare -A PID PORT=([nginx]=18681 [caddy]=18683)
NAMES="nginx caddy"
i=0
for v in ${VARIANTS:-lean:.:FABIO_TS_LEAN=1 undici:.:FABIO_TS_LEAN=0}; do
  name=${v%%:*}; rest=${v#*:}; tree=${rest%%:*}; envs=${rest#*:}; port=$((18690+i)); i=$((i+1))
  env ${envs//,/ } taskset -c 1 node $tree/dist/cli.js -proxy.addr=127.0.0.1:$port -ui.addr=127.0.0.1:$((port+20)) -proxy.workers=1 -registry.backend=static "-registry.static.routes=route add bench bench.local/ http://127.0.0.1:18680/" -log.level=WARN > $T/$name.log 2>&1 &
  PID[$name]=$!; PORT[$name]=$port; NAMES="$NAMES $name"
done
sleep 4
PID[nginx]=$(pgrep -P $NXP); PID[caddy]=$CAP
for n in $NAMES; do
  curl -s -o /dev/null -w "%{http_code}" -H 'Host: bench.local' http://127.0.0.1:${PORT[$n]}/ | grep -q 200 || echo "WARN $n not answering 200"
  taskset -c 0 wrk -t1 -c$C -d2s -H 'Host: bench.local' http://127.0.0.1:${PORT[$n]}/ >/dev/null 2>&1
done
for r in $(seq $ROUNDS); do
 for n in $NAMES; do
  t0=$(awk '{print $14+$15}' /proc/${PID[$n]}/stat)
  out=$(taskset -c 0 wrk -t1 -c$C -d${D}s --latency -H 'Host: bench.local' http://127.0.0.1:${PORT[$n]}/ 2>&1)
  t1=$(awk '{print $14+$15}' /proc/${PID[$n]}/stat)
  echo "$out" | awk -v n=$n -v r=$r -v a=$t0 -v b=$t1 -v t=$(getconf CLK_TCK) '/requests in/{q=$1} /Requests\/sec/{rps=$2} $1=="50%"{p50=$2} $1=="99%"{p99=$2} /Non-2xx|Socket errors/{e=e" "$0} END{printf "round=%s %-8s rps=%s p50=%s p99=%s cpu_us_per_req=%.1f%s\n", r, n, rps, p50, p99, (b-a)/t*1e6/q, e}'
 done
done
