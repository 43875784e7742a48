#!/usr/bin/env bash
# Packs the npm package and checks it the way a user installs it:
#   npm pack  ->  npm install -g --prefix DIR ./fabio-ts-*.tgz  ->  DIR/bin/fabio-ts
# Checks: the tarball holds dist/ with the UI assets and no sources or tests; its package.json has
# no install-time script (preinstall, install, postinstall; npm runs `prepare` only in a checkout or a git dependency, never for a tarball); no development dependency is
# installed; DIR/bin/fabio-ts runs (-v, a route tool, the proxy with its UI assets, SIGTERM -> 0)
# from an unrelated directory. One PASS/FAIL line per check; exits 1 when any failed. Needs curl
# and the npm registry (for the runtime dependencies).
set -uo pipefail
cd "$(dirname "$0")/.."
fails=0
pass() { echo "PASS $*"; }
fail() {
  echo "FAIL $*"
  fails=$((fails + 1))
}
dir=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT

tgz=$(npm pack --silent --pack-destination "$dir" 2>/dev/null | tail -1)
if [ -f "$dir/$tgz" ]; then pass "npm pack: $tgz ($(du -k "$dir/$tgz" | cut -f1) KB)"; else
  echo "FAIL npm pack"
  exit 1
fi
list=$(tar -tzf "$dir/$tgz")
if grep -q '^package/dist/cli.js$' <<<"$list" && grep -q '^package/dist/ui/assets/app.js$' <<<"$list"; then
  pass "tarball has dist/cli.js and dist/ui/assets"
else
  fail "tarball lacks dist/cli.js or dist/ui/assets"
fi
if grep -qE '^package/(src|test|bench|scripts)/' <<<"$list"; then fail "tarball carries sources, tests or scripts"; else pass "tarball has no sources or tests"; fi
scripts=$(tar -xzOf "$dir/$tgz" package/package.json | node -e '
  const s = JSON.parse(require("node:fs").readFileSync(0, "utf8")).scripts ?? {};
  console.log(["preinstall", "install", "postinstall"].filter((k) => k in s).join(" "));')
if [ -z "$scripts" ]; then pass "no install-time script"; else fail "install-time scripts: $scripts"; fi

if npm install -g --prefix "$dir/g" --no-audit --no-fund "$dir/$tgz" >"$dir/install.log" 2>&1; then
  pass "npm install -g --prefix DIR"
else
  fail "npm install -g"
  tail -20 "$dir/install.log" | sed 's/^/  | /'
  exit 1
fi
mods="$dir/g/lib/node_modules/fabio-ts/node_modules"
dev=$(node -e '
  const p = require(process.argv[1]); const fs = require("node:fs");
  console.log(Object.keys(p.devDependencies ?? {}).filter((d) => fs.existsSync(process.argv[2] + "/" + d)).join(" "));' \
  "$PWD/package.json" "$mods")
if [ -z "$dev" ]; then pass "no development dependency installed"; else fail "development dependencies installed: $dev"; fi

bin="$dir/g/bin/fabio-ts"
mkdir "$dir/elsewhere"
run() { (cd "$dir/elsewhere" && "$bin" "$@"); }
v=$(run -v 2>&1)
if [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+\+[0-9a-z-]+\ node[0-9.]+$ ]]; then pass "-v: $v"; else fail "-v printed: $v"; fi
t=$(echo 'route add svc example.com/ http://127.0.0.1:1/' | run route table 2>&1)
if [[ "$t" == *"route add svc example.com/"* ]]; then pass "route table"; else fail "route table printed: $t"; fi

read -r P UI < <(node -e '
  const net = require("node:net"); const ps = [];
  const next = () => { const s = net.createServer().listen(0, "127.0.0.1", () => { ps.push(s.address().port);
    if (ps.length < 2) next(); else { console.log(ps.join(" ")); process.exit(0); } }); };
  next();')
(cd "$dir/elsewhere" && exec "$bin" -proxy.workers=1 "-proxy.addr=127.0.0.1:$P" "-ui.addr=127.0.0.1:$UI" \
  -registry.backend=static "-registry.static.routes=route add smoke /health http://127.0.0.1:$UI/" \
  >"$dir/out.log" 2>&1) &
pid=$!
body=""
for _ in $(seq 1 300); do # deadline: 300 polls of 0.1 s
  body=$(curl -s "http://127.0.0.1:$P/health" 2>/dev/null) && [ "$body" = "OK" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$body" = "OK" ]; then pass "proxied request through the static route"; else
  fail "proxied request gave: $body"
  tail -20 "$dir/out.log" | sed 's/^/  | /'
fi
asset=$(curl -s "http://127.0.0.1:$UI/assets/app.js" | wc -c)
if [ "$asset" -gt 1000 ]; then pass "UI asset /assets/app.js ($asset bytes)"; else fail "UI asset /assets/app.js: $asset bytes"; fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
if [ "$rc" -eq 0 ]; then pass "SIGTERM -> exit 0"; else fail "SIGTERM -> exit $rc"; fi

if [ "$fails" -eq 0 ]; then
  echo "smoke-pack: all checks passed"
  exit 0
fi
echo "smoke-pack: $fails check(s) failed"
exit 1
