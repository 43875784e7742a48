#!/usr/bin/env bash
# Builds the single executable (npm run binary) and smoke-tests it the way it is deployed: copied alone
# into an empty directory and run with an empty environment (env -i PATH=/nonexistent), so it can
# reach no node, no node_modules and no file of the checkout.
#
#   bash scripts/smoke-binary.sh            build, then test release/fabio-ts-<platform>-<arch>
#   BIN=path/to/exe bash scripts/smoke-binary.sh   test that executable, no build
#
# Checks: -v, a route tool, the proxy with -proxy.workers=2 (cluster workers started from the
# executable) answering requests through static routes (the lean GET path, undici for a POST, the raw
# TCP splice), /health, merged /metrics (prom-client), a UI page and an embedded UI asset,
# SIGTERM -> exit 0. One PASS/FAIL line per check; exits 1 when any check failed. Needs curl.
set -uo pipefail
cd "$(dirname "$0")/.."

fails=0
pass() { echo "PASS $*"; }
fail() {
  echo "FAIL $*"
  fails=$((fails + 1))
}

if [ -z "${BIN:-}" ]; then
  npm run -s binary || {
    echo "FAIL build (npm run binary)"
    exit 1
  }
  BIN="release/fabio-ts-$(node -p 'process.platform + "-" + process.arch')"
fi
[ -x "$BIN" ] || {
  echo "FAIL no executable at $BIN"
  exit 1
}
echo "executable: $BIN ($(du -m "$BIN" | cut -f1) MB)"

dir=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT
cp "$BIN" "$dir/fabio-ts"
run() { (cd "$dir" && env -i PATH=/nonexistent ./fabio-ts "$@"); }

# 1. -v: fabio's `<version> <runtime>` shape, the version carrying the build commit.
v=$(run -v 2>&1)
if [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+\+[0-9a-z-]+\ node[0-9.]+$ ]]; then pass "-v: $v"; else fail "-v printed: $v"; fi

# 2. A route tool reads stdin and prints the table.
t=$(echo 'route add svc example.com/ http://127.0.0.1:1/' | run route table 2>&1)
if [[ "$t" == *"route add svc example.com/ http://127.0.0.1:1/"* ]]; then pass "route table"; else fail "route table printed: $t"; fi

# 3. The proxy with two workers. Free ports come from the kernel (a port 0 listen, closed again).
read -r P T UI < <(node -e '
  const net = require("node:net"); const ps = [];
  const next = () => { const s = net.createServer().listen(0, "127.0.0.1", () => { ps.push(s.address().port);
    if (ps.length < 3) next(); else { console.log(ps.join(" ")); process.exit(0); } }); };
  next();')
# The routes send /health (HTTP on $P) and every connection (TCP on $T) to the admin server's own
# /health: no other process needed.
routes="route add smoke /health http://127.0.0.1:$UI/
route add smoketcp :$T tcp://127.0.0.1:$UI"
(cd "$dir" && exec env -i PATH=/nonexistent ./fabio-ts -proxy.workers=2 \
  "-proxy.addr=127.0.0.1:$P;proto=http,127.0.0.1:$T;proto=tcp" "-ui.addr=127.0.0.1:$UI" \
  -registry.backend=static "-registry.static.routes=$routes" -metrics.target=prometheus -metrics.prefix=smoke \
  >"$dir/out.log" 2>&1) &
pid=$!
start=$(date +%s%N)
up=""
for _ in $(seq 1 300); do # deadline: 300 polls of 0.1 s
  if curl -sf "http://127.0.0.1:$UI/health" >/dev/null 2>&1; then up=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$up" ]; then
  pass "/health OK after $((($(date +%s%N) - start) / 1000000)) ms"
else
  fail "/health never answered"
  sed 's/^/  | /' "$dir/out.log" | tail -20
fi

# The workers listen after the admin server: poll the proxied request under a deadline too.
body=""
for _ in $(seq 1 300); do
  body=$(curl -s "http://127.0.0.1:$P/health" 2>/dev/null) && [ "$body" = "OK" ] && break
  sleep 0.1
done
if [ "$body" = "OK" ]; then pass "proxied GET through the static route"; else fail "proxied GET gave: $body"; fi
# A request with a body is forwarded by undici (bundled), not the lean GET path.
post=$(curl -s -X POST --data smoke "http://127.0.0.1:$P/health")
if [ "$post" = "OK" ]; then pass "proxied POST (undici)"; else fail "proxied POST gave: $post"; fi
tcp=$(curl -s "http://127.0.0.1:$T/health")
if [ "$tcp" = "OK" ]; then pass "proxied TCP connection"; else fail "proxied TCP connection gave: $tcp"; fi

workers=$(grep -c . < <(ps -o pid= --ppid "$pid" 2>/dev/null))
if [ "$workers" -eq 2 ] && grep -q '2 worker processes serving' "$dir/out.log"; then
  pass "-proxy.workers=2: 2 workers serving"
else
  fail "-proxy.workers=2: $workers child processes"
  sed 's/^/  | /' "$dir/out.log" | grep -v '^  | [ {}]' | tail -20
fi

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$UI/routes")
if [ "$code" = 200 ]; then pass "UI page /routes"; else fail "UI page /routes: HTTP $code"; fi
asset=$(curl -s "http://127.0.0.1:$UI/assets/app.js" | wc -c)
if [ "$asset" -gt 1000 ]; then pass "UI asset /assets/app.js ($asset bytes)"; else fail "UI asset /assets/app.js: $asset bytes"; fi
metrics=$(curl -s "http://127.0.0.1:$UI/metrics")
if grep -q '^smoke_route' <<<"$metrics"; then
  pass "/metrics merged over the workers"
else
  fail "/metrics has no smoke_route series"
fi
version=$(curl -s "http://127.0.0.1:$UI/api/version")
if [ "$version" = "${v%% *}" ]; then pass "/api/version $version"; else fail "/api/version: $version"; fi

# 4. SIGTERM: the primary stops the workers and exits 0.
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
if [ "$rc" -eq 0 ]; then pass "SIGTERM -> exit 0"; else fail "SIGTERM -> exit $rc"; fi
if grep -qiE 'error|exception' "$dir/out.log"; then
  fail "errors in the log"
  grep -iE 'error|exception' "$dir/out.log" | head -5 | sed 's/^/  | /'
fi

if [ "$fails" -eq 0 ]; then
  echo "smoke-binary: all checks passed"
  exit 0
fi
echo "smoke-binary: $fails check(s) failed"
exit 1
