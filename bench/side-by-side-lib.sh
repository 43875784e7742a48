# Helpers shared by bench/side-by-side-http.sh and bench/side-by-side-tcp.sh (sourced, not run).
#
# Method: on a 2-core machine core 0 runs the load generator and the backends, core 1 runs the one
# proxy being measured (one worker / thread / process each, so every figure is per core). All peers
# are started at once and measured one after the other in the same run; quote the ratios between
# them, never the absolute numbers, which move with whatever else the machine is doing.

need_peers() {
  local missing=""
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done
  if [ -n "$missing" ]; then
    echo "missing:$missing -- install: apt-get install -y nginx-light libnginx-mod-stream haproxy caddy wrk iperf3 curl openssl" >&2
    exit 2
  fi
}

# Scratch directory; every process started with `spawn` is stopped on exit.
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for f in "$WORK"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# spawn CORE LOGFILE CMD...: runs CMD pinned to CORE in the background.
spawn() {
  local core=$1 logf=$2
  shift 2
  taskset -c "$core" "$@" >"$logf" 2>&1 &
  PIDS+=($!)
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (deadline 20 s); 1 when it never did.
wait_port() {
  local i
  for i in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "WARN nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# load ARGS...: wrk on core 0, one thread; prints its report.
load() { taskset -c 0 wrk -t1 "$@" 2>&1; }

# Fields of a wrk report.
wrk_rps() { awk '/Requests\/sec/ {print $2}' <<<"$1"; }
wrk_pct() { awk -v q="$2" '$1 == q {print $2}' <<<"$1"; }
wrk_errors() { grep -E 'Socket errors|Non-2xx' <<<"$1" | tr '\n' ' '; }
