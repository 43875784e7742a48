#!/usr/bin/env bash
# TCP / SNI passthrough: rate AND proxy CPU per unit of work, haproxy vs fabio-ts, interleaved per
# round so both see the same background load. CPU per unit (utime+stime of the proxy process from
# /proc, divided by the work done) survives a noisy shared box better than rates do.
#
#   bash bench/tcp-cpu.sh                        # fabio-ts = node dist/cli.js (npm run build first)
#   ROUNDS=3 D=5 C=32 DIST=/tmp/x/dist bash bench/tcp-cpu.sh
#   FABIO_CMD="node --cpu-prof --cpu-prof-dir=/tmp/prof dist/cli.js ..." bash bench/tcp-cpu.sh
#
# Same layout as bench/side-by-side-tcp.sh: core 0 runs clients and backends (nginx, iperf3), core 1
# the proxy under test alone. As root it re-runs itself in a private network namespace (fixed ports
# never collide with another run) at nice -15. Output: one line per proxy, test and round, then the
# medians and the fabio-ts/haproxy ratios.
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && [ -z "${TCP_CPU_INNER:-}" ] && unshare -n true 2>/dev/null; then
  exec nice -n -15 unshare -n env TCP_CPU_INNER=1 bash -c 'ip link set lo up; exec bash "$0"' "$0"
fi
command -v wrk >/dev/null && command -v nginx >/dev/null && command -v haproxy >/dev/null && command -v iperf3 >/dev/null ||
  { echo "install first: apt-get install -y nginx-light haproxy wrk iperf3 openssl"; exit 2; }
D=${D:-5}; C=${C:-32}; ROUNDS=${ROUNDS:-3}; DIST=${DIST:-dist}
grep -q 'sni-a.test' /etc/hosts || echo '127.0.0.1 sni-a.test sni-b.test' >> /etc/hosts
ROUTES='route add a :19997 tcp://127.0.0.1:15201
route add b :19998 tcp://127.0.0.1:18080
route add c sni-a.test tcp://127.0.0.1:18443'
FABIO_CMD=${FABIO_CMD:-"exec node $DIST/cli.js -proxy.workers=1 -ui.addr=127.0.0.1:19990 -log.level=WARN -registry.backend=static -proxy.addr='127.0.0.1:19997;proto=tcp,127.0.0.1:19998;proto=tcp,127.0.0.1:19996;proto=tcp+sni' -registry.static.routes=\"\$ROUTES\""}
export ROUTES
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; sleep 0.5; rm -rf $T' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout $T/k.pem -out $T/c.pem -days 2 -subj /CN=sni-a.test -addext "subjectAltName=DNS:sni-a.test" 2>/dev/null
cat > $T/backend.conf <<CONF
worker_processes 1; daemon off; pid $T/b.pid; error_log /dev/null;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:18443 ssl; ssl_certificate $T/c.pem; ssl_certificate_key $T/k.pem;
  location / { return 200 "tls backend\n"; } }
  server { listen 127.0.0.1:18080; location / { return 200 "plain backend\n"; } } }
CONF
cat > $T/haproxy.cfg <<CONF
global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen raw
  bind 127.0.0.1:18092
  server s 127.0.0.1:15201
listen rawhttp
  bind 127.0.0.1:18094
  server s 127.0.0.1:18080
frontend sni
  bind 127.0.0.1:18097
  tcp-request inspect-delay 5s
  tcp-request content accept if { req_ssl_hello_type 1 }
  use_backend a if { req_ssl_sni -i sni-a.test }
backend a
  server s 127.0.0.1:18443
CONF
taskset -c 0 nginx -c $T/backend.conf &
taskset -c 0 iperf3 -s -p 15201 -B 127.0.0.1 >/dev/null 2>&1 &
taskset -c 1 haproxy -f $T/haproxy.cfg -q & HAP=$!
taskset -c 1 bash -c "$FABIO_CMD" > $T/fabio.log 2>&1 & FAP=$!
sleep 3
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
HZ=$(getconf CLK_TCK)
# warm-up: JIT of fabio-ts on every path, haproxy for symmetry
for p in 19998 18094; do taskset -c 0 wrk -t1 -c$C -d2s -H 'Connection: close' http://127.0.0.1:$p/ >/dev/null 2>&1; done
for p in 19996 18097; do taskset -c 0 wrk -t1 -c$C -d2s -H 'Connection: close' https://sni-a.test:$p/ >/dev/null 2>&1; done
for p in 19997 18092; do taskset -c 0 iperf3 -c 127.0.0.1 -p $p -t 1 >/dev/null 2>&1; done
# one measurement: prints "<rate> <cpu per unit>"; bulk: Gbit/s and ms CPU per GB; wrk: req/s and us CPU per request
bulk() { local a b j; a=$(ticks $1)
  j=$(taskset -c 0 iperf3 -c 127.0.0.1 -p $2 -t $D -J 2>/dev/null); b=$(ticks $1)
  echo "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin)["end"]["sum_received"]; a,b,hz=map(float,sys.argv[1:4]); print("%.2f %.0f" % (d["bits_per_second"]/1e9, (b-a)/hz*1e3/(d["bytes"]/1e9)))' $a $b $HZ; }
reqs() { local a b out; a=$(ticks $1)
  out=$(taskset -c 0 wrk -t1 -c$C -d${D}s -H 'Connection: close' $2 2>&1); b=$(ticks $1)
  echo "$out" | awk -v a=$a -v b=$b -v hz=$HZ '/requests in/{n=$1} /Requests\/sec/{r=$2} /Socket errors|Non-2xx/{e=e" "$0} END{printf "%.0f %.0f%s\n", r, (b-a)/hz*1e6/n, e}'; }
R=$T/results
for r in $(seq 1 $ROUNDS); do
  for n in haproxy fabio-ts; do
    if [ $n = haproxy ]; then pid=$HAP; pb=18092; pc=18094; ps=18097; else pid=$FAP; pb=19997; pc=19998; ps=19996; fi
    echo "round=$r $n bulk $(bulk $pid $pb)" | tee -a $R
    echo "round=$r $n conn $(reqs $pid http://127.0.0.1:$pc/)" | tee -a $R
    echo "round=$r $n sni $(reqs $pid https://sni-a.test:$ps/)" | tee -a $R
  done
done
python3 - "$R" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
unit = {'bulk': ('Gbit/s', 'ms CPU/GB'), 'conn': ('conn/s', 'us CPU/conn'), 'sni': ('handshakes/s', 'us CPU/conn')}
print('\nmedians (%d rounds); ratio = fabio-ts/haproxy for rates, haproxy/fabio-ts for CPU (higher is better)' % max(int(r[0].split('=')[1]) for r in rows))
for t in ('bulk', 'conn', 'sni'):
    m = {}
    for n in ('haproxy', 'fabio-ts'):
        v = [r for r in rows if r[1] == n and r[2] == t and len(r) > 4]
        m[n] = (st.median(float(r[3]) for r in v), st.median(float(r[4]) for r in v)) if v else (float('nan'),) * 2
    h, f = m['haproxy'], m['fabio-ts']
    print('%-5s haproxy %9.2f %-12s %7.0f %-12s | fabio-ts %9.2f %7.0f | rate ratio %.2f  cpu ratio %.2f' % (t, h[0], unit[t][0], h[1], unit[t][1], f[0], f[1], f[0] / h[0] if h[0] else 0, h[1] / f[1] if f[1] else 0))
PY
echo "fabio-ts log (last lines):"; tail -3 $T/fabio.log
