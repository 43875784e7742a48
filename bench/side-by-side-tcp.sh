#!/usr/bin/env bash
# Raw TCP and TLS-SNI passthrough through each proxy in one run: direct, nginx (stream module),
# HAProxy (mode tcp) and, when PROJECT_CMD is set, fabio-ts. bench/run-all.ts runs it.
#
# PROJECT_CMD starts fabio-ts with three listeners and three static routes:
#   127.0.0.1:19997 proto=tcp      route add a :19997 tcp://127.0.0.1:15201       (iperf3: bulk throughput)
#   127.0.0.1:19998 proto=tcp      route add b :19998 tcp://127.0.0.1:18080       (HTTP backend: a new
#                                                                                  connection per request)
#   127.0.0.1:19996 proto=tcp+sni  route add c sni-a.test tcp://127.0.0.1:18443   (TLS backend: a handshake
#                                                                                  per request)
# D (seconds per measurement, 5), C (connections, 32). wrk sends the SNI name of its URL, so sni-a.test
# must resolve to 127.0.0.1: the script adds it to /etc/hosts when it can (root) and it is missing.
#
# Output:
#   bulk nginx gbps=21.3
#   conn haproxy rps=9876.5 p99=8.10ms
#   sni project rps=1234.5 p99=40.00ms
set -u
cd "$(dirname "$0")"
source ./side-by-side-lib.sh
need_peers wrk nginx haproxy iperf3 openssl python3 taskset
D=${D:-5}
C=${C:-32}
STREAM_MODULE=${STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}
[ -f "$STREAM_MODULE" ] || {
  echo "missing the nginx stream module ($STREAM_MODULE): apt-get install -y libnginx-mod-stream" >&2
  exit 2
}
if ! grep -qw 'sni-a.test' /etc/hosts; then
  if [ -w /etc/hosts ]; then echo '127.0.0.1 sni-a.test' >>/etc/hosts; else echo "WARN sni-a.test does not resolve: add it to /etc/hosts" >&2; fi
fi

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sni-a.test -addext 'subjectAltName=DNS:sni-a.test' \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# Backends: a TLS server and a plain HTTP server (nginx), and iperf3.
cat >"$WORK/backend.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/backend.pid; error_log /dev/null;
events { worker_connections 8192; }
http {
  access_log off;
  server {
    listen 127.0.0.1:18443 ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    location / { return 200 "tls backend\n"; }
  }
  server { listen 127.0.0.1:18080; location / { return 200 "plain backend\n"; } }
}
CONF
# nginx stream: two plain TCP forwards, and one routed by the ClientHello's server name.
cat >"$WORK/nginx.conf" <<CONF
load_module $STREAM_MODULE;
daemon off; worker_processes 1; pid $WORK/nginx.pid; error_log /dev/null;
events { worker_connections 8192; }
stream {
  server { listen 127.0.0.1:18091; proxy_pass 127.0.0.1:15201; }
  server { listen 127.0.0.1:18093; proxy_pass 127.0.0.1:18080; }
  map \$ssl_preread_server_name \$by_sni { sni-a.test 127.0.0.1:18443; default 127.0.0.1:1; }
  server { listen 127.0.0.1:18096; ssl_preread on; proxy_pass \$by_sni; }
}
CONF
# HAProxy mode tcp: the same three.
cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen bulk
  bind 127.0.0.1:18092
  server s 127.0.0.1:15201
listen perconn
  bind 127.0.0.1:18094
  server s 127.0.0.1:18080
frontend sni
  bind 127.0.0.1:18097
  tcp-request inspect-delay 5s
  tcp-request content accept if { req_ssl_hello_type 1 }
  use_backend tls_a if { req_ssl_sni -i sni-a.test }
backend tls_a
  server s 127.0.0.1:18443
CONF

spawn 0 "$WORK/backend.log" nginx -c "$WORK/backend.conf"
spawn 0 "$WORK/iperf3.log" iperf3 -s -p 15201 -B 127.0.0.1
spawn 1 "$WORK/nginx.log" nginx -c "$WORK/nginx.conf"
spawn 1 "$WORK/haproxy.log" haproxy -f "$WORK/haproxy.cfg" -q
declare -A BULK=([direct]=15201 [nginx]=18091 [haproxy]=18092)
declare -A CONN=([direct]=18080 [nginx]=18093 [haproxy]=18094)
declare -A SNI=([direct]=18443 [nginx]=18096 [haproxy]=18097)
NAMES=(direct nginx haproxy)
if [ -n "${PROJECT_CMD:-}" ]; then
  spawn 1 "$WORK/project.log" bash -c "$PROJECT_CMD"
  BULK[project]=19997
  CONN[project]=19998
  SNI[project]=19996
  NAMES+=(project)
fi
for n in "${NAMES[@]}"; do for p in "${BULK[$n]}" "${CONN[$n]}" "${SNI[$n]}"; do wait_port "$p"; done; done
# fabio-ts listens before its first table: wait for a routed answer on the plain path
if [ -n "${PROJECT_CMD:-}" ]; then
  for _ in $(seq 1 100); do curl -sf -o /dev/null http://127.0.0.1:19998/ && break; sleep 0.1; done
fi

echo "# bulk throughput (iperf3, one stream, ${D}s)"
for n in "${NAMES[@]}"; do
  g=$(taskset -c 0 iperf3 -c 127.0.0.1 -p "${BULK[$n]}" -t "$D" -J 2>/dev/null |
    python3 -c 'import json, sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9, 2))' 2>/dev/null)
  echo "bulk $n gbps=$g"
done
echo "# a new TCP connection per request (wrk, Connection: close, to the plain HTTP backend)"
for n in "${NAMES[@]}"; do
  out=$(load -c"$C" -d"${D}s" --latency -H 'Connection: close' "http://127.0.0.1:${CONN[$n]}/")
  echo "conn $n rps=$(wrk_rps "$out") p99=$(wrk_pct "$out" 99%) $(wrk_errors "$out")"
done
echo "# a TLS handshake per request through SNI passthrough (wrk https, Connection: close, SNI sni-a.test)"
for n in "${NAMES[@]}"; do
  out=$(load -c"$C" -d"${D}s" --latency -H 'Connection: close' "https://sni-a.test:${SNI[$n]}/")
  echo "sni $n rps=$(wrk_rps "$out") p99=$(wrk_pct "$out" 99%) $(wrk_errors "$out")"
done
