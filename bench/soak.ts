/**
 * Route swap under load (performance issue, item 3): keep-alive clients hammer a stable route while
 * the routing table changes N times a second (services registered and deregistered in the embedded
 * catalog, and a manual weight override rewritten), then the same load without churn for comparison.
 *
 *   npm run build && npx tsx bench/soak.ts [--seconds 60] [--churn 50] [--connections 32] [--workers 1] [--rate R]
 *   FABIO_SOAK_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" ... profiles the proxy (written when it exits on SIGTERM)
 *
 * The proxy runs as its own process (from dist/) pinned to core 1 when taskset exists; this process
 * (load generator and backends) and a child process (the embedded catalog and the churn driver, so
 * that autocannon's busy event loop does not starve the catalog writes) run on core 0. Counts:
 * failed requests (errors, timeouts, non-2xx) and misrouted ones (a body other than the stable
 * backend's), catalog changes made and table swaps the proxy logged.
 *
 * Requests per proxy CPU-second (issue #17: churned ≥ 0.95× the no-churn figure) compare only at
 * the same request rate: a proxy answering fewer requests a second spends more CPU on each (fewer
 * requests per wake-up), and without a cap the churn window serves fewer (the catalog and the churn
 * driver take core 0 from the load generator), which lowers the figure without any cost of the
 * change path. `--rate R` offers R requests a second in both windows (autocannon overallRate; pick
 * R below what the churned window reaches); without it the windows run flat out, as before.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startDevCatalog } from '../src/registry/dev-catalog/index.ts';

if (process.argv[2] === '--catalog-child') await catalogChild(Number(process.argv[3]));

/**
 * Child process: the embedded catalog plus the churn driver. Reads commands on stdin
 * (`stable <port>`, `churn <port>`, `stop`), prints the catalog URL first and, after `stop`, the
 * number of catalog changes made.
 */
async function catalogChild(churnPerSec: number): Promise<never> {
  const catalog = await startDevCatalog({ host: '127.0.0.1', port: 0 });
  const put = async (path: string, body: unknown): Promise<void> => {
    const r = await fetch(`${catalog.url}${path}`, {
      method: 'PUT',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
  };
  const passing = { TTL: '1h', Status: 'passing' };
  let changes = 0;
  let failed = 0;
  let timer: NodeJS.Timeout | undefined;
  process.stdout.write(`${catalog.url}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.split(' ');
    if (cmd === 'stable') {
      await put('/v1/agent/service/register', {
        ID: 'stable-1',
        Name: 'stable',
        Address: '127.0.0.1',
        Port: Number(arg),
        Tags: ['urlprefix-/stable'],
        Check: passing,
      });
      process.stdout.write('ok\n');
    } else if (cmd === 'churn') {
      const churnPort = Number(arg);
      let i = 0;
      let busy = 0;
      // every write is a real change: a weight override that differs from the last one, or a
      // register/deregister that flips one of 20 churn services (never a no-op deregistration)
      const up: number[] = [];
      timer = setInterval(() => {
        // up to 4 catalog writes in flight, so a slow answer does not lower the rate; never an unbounded queue
        if (busy >= 4) return;
        busy++;
        i++;
        let op: Promise<void>;
        if (i % 5 === 0) {
          op = put('/v1/kv/fabio/config', `route weight stable /stable weight ${(0.5 + (i % 7) / 20).toFixed(2)}`);
        } else if (up.length === 0 || (i % 2 === 0 && up.length < 20)) {
          let n = 0;
          while (up.includes(n)) n++;
          up.push(n);
          op = put('/v1/agent/service/register', {
            ID: `churn-${n}`,
            Name: `churn-${n}`,
            Address: '127.0.0.1',
            Port: churnPort,
            Tags: [`urlprefix-/churn-${n}`],
            Check: passing,
          });
        } else {
          op = put(`/v1/agent/service/deregister/churn-${up.shift()}`, '');
        }
        op.then(
          () => changes++,
          () => failed++,
        ).finally(() => {
          busy--;
        });
      }, 1000 / churnPerSec);
    } else if (cmd === 'stop') {
      clearInterval(timer);
      process.stdout.write(`${changes} ${failed}\n`);
    } else if (cmd === 'exit') break;
  }
  await catalog.close();
  process.exit(0);
}

const { values: a } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    churn: { type: 'string', default: '50' },
    connections: { type: 'string', default: '32' },
    workers: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    rate: { type: 'string', default: '0' },
  },
});
const rate = Number(a.rate);
const seconds = Number(a.seconds);
const churnPerSec = Number(a.churn);

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const pin = hasTaskset();
if (pin) execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' });

const listen = (srv: ReturnType<typeof createServer>) =>
  new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as AddressInfo).port)));

const stable = createServer((_req, res) => res.end('stable'));
const churn = createServer((_req, res) => res.end('churn'));
stable.keepAliveTimeout = 60_000;
const stablePort = await listen(stable);
const churnPort = await listen(churn);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(import.meta.url), '--catalog-child', String(churnPerSec)],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
process.on('exit', () => child.kill('SIGKILL'));
if (pin && child.pid) execFileSync('taskset', ['-pc', '0', String(child.pid)], { stdio: 'ignore' });
// The catalog stands in for a Consul agent on its own core: ahead of the load generator on core 0,
// so the churn rate asked for is the rate written (renice fails quietly without the privilege).
try {
  if (child.pid) execFileSync('renice', ['-n', '-10', '-p', String(child.pid)], { stdio: 'ignore' });
} catch {}
const childLines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const childLine = async (): Promise<string> => {
  const r = await childLines.next();
  if (r.done) throw new Error('catalog process exited');
  return r.value;
};
const tell = (cmd: string) => child.stdin!.write(`${cmd}\n`);
const catalog = { url: (await childLine()).trim() };
tell(`stable ${stablePort}`);
await childLine();

const free = async () => {
  const s = createServer();
  const p = await listen(s);
  await new Promise((r) => s.close(r));
  return p;
};
const proxyPort = await free();
const uiPort = await free();
const cmd = [
  // FABIO_SOAK_NODE_ARGS: node flags for the proxy, e.g. '--cpu-prof --cpu-prof-dir=/tmp/p' (profile of the soak)
  ...(process.env.FABIO_SOAK_NODE_ARGS?.split(' ').filter((x) => x !== '') ?? []),
  // the dist/ next to this script (run-all runs it from a clean snapshot of HEAD)
  fileURLToPath(new URL('../dist/cli.js', import.meta.url)),
  `-registry.consul.addr=${catalog.url.replace(/^http:\/\//, '')}`,
  `-proxy.addr=127.0.0.1:${proxyPort}`,
  `-ui.addr=127.0.0.1:${uiPort}`,
  `-proxy.workers=${a.workers}`,
  '-registry.consul.register.enabled=false',
  // delta route logs at INFO: one 'Config updates' line per table swap, counted below (cheap to write)
  '-log.routes.format=delta',
  '-log.level=INFO',
];
const proxy = pin
  ? spawn('taskset', ['-c', '1', process.execPath, ...cmd], { stdio: ['ignore', 'ignore', 'pipe'] })
  : spawn(process.execPath, cmd, { stdio: ['ignore', 'ignore', 'pipe'] });
// no proxy outlives this script, even when it fails
process.on('exit', () => proxy.kill('SIGKILL'));
let swaps = 0;
let tail = '';
proxy.stderr?.setEncoding('utf8');
proxy.stderr?.on('data', (d: string) => {
  const lines = (tail + d).split('\n');
  tail = lines.pop() ?? '';
  for (const l of lines) {
    if (l.includes('[INFO] Config updates')) swaps++;
    else if (/\[(WARN|ERROR|FATAL)\]/.test(l)) process.stderr.write(`proxy: ${l}\n`);
  }
});
/** Peak RSS of the proxy process (taskset execs node, so the pid is the proxy's). */
let peakRss = 0;
const rssTimer = setInterval(() => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proxy.pid}/status`, 'utf8'));
    if (m) peakRss = Math.max(peakRss, Number(m[1]) / 1024);
  } catch {}
}, 500);
const target = `http://127.0.0.1:${proxyPort}/stable`;
for (let i = 0; ; i++) {
  try {
    const r = await fetch(target);
    if ((await r.text()) === 'stable') break;
  } catch {}
  if (i > 400) throw new Error('proxy did not start serving /stable');
  await new Promise((r) => setTimeout(r, 50));
}

/** utime + stime of a process in ms, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const after = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(after[11]) + Number(after[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

async function load(label: string, during?: () => () => void) {
  peakRss = 0;
  const swaps0 = swaps;
  const cpu0 = cpuMs(proxy.pid);
  const stop = during?.();
  const result = await autocannon({
    url: target,
    connections: Number(a.connections),
    duration: seconds,
    pipelining: 1,
    expectBody: 'stable',
    ...(rate > 0 ? { overallRate: rate } : {}),
  });
  stop?.();
  const cpu = cpuMs(proxy.pid) - cpu0;
  return {
    label,
    /** The proxy's CPU time per request (µs) and its share of its one core: whether it was the bottleneck. */
    cpuUsPerReq: Math.round(((cpu * 1000) / result.requests.total) * 10) / 10,
    /** Requests per proxy CPU-second (the issue's figure). */
    reqPerCpuS: Math.round(result.requests.total / (cpu / 1000)),
    proxyCore: Math.round((cpu / (seconds * 1000)) * 100) / 100,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    misrouted: result.mismatches,
    swaps: swaps - swaps0,
    rssMB: Math.round(peakRss),
  };
}

let changes = 0;
function startChurn(): () => void {
  tell(`churn ${churnPort}`);
  return () => tell('stop');
}

const base = await load('no churn');
const churned = await load(`churn ${churnPerSec}/s`, startChurn);
const [made, failedWrites] = (await childLine()).split(' ').map(Number);
changes = made ?? 0;
if (failedWrites) console.error(`soak: ${failedWrites} catalog writes failed`);
const history = (await (
  await fetch(`http://127.0.0.1:${uiPort}/api/routes/history`)
)
  .json()
  .catch(() => [])) as unknown[];
clearInterval(rssTimer);
proxy.kill('SIGTERM');
await new Promise((r) => proxy.once('exit', r));
tell('exit');
await new Promise((r) => child.once('exit', r));
stable.close();
churn.close();
stable.closeAllConnections();

const rows = [base, churned];
const perCpuRatio = Math.round((churned.reqPerCpuS / base.reqPerCpuS) * 1000) / 1000;
if (a.json) {
  console.log(
    JSON.stringify({ rows, changes, swaps: churned.swaps, swapsInHistory: history.length, rate, perCpuRatio }),
  );
} else {
  console.log(
    `soak: ${seconds}s per run, ${a.connections} keep-alive connections, workers=${a.workers}, pinned=${pin}, rate=${rate > 0 ? `${rate}/s` : 'flat out'}`,
  );
  console.log(
    'run              req/s     p50 ms  p99 ms  requests   errors  non2xx  misrouted  swaps  RSS MB  proxy µs/req  proxy core',
  );
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(16)} ${String(r.rps).padStart(7)}  ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)}  ${String(r.requests).padStart(9)}  ${String(r.errors).padStart(7)} ${String(r.non2xx).padStart(7)} ${String(r.misrouted).padStart(10)} ${String(r.swaps).padStart(6)} ${String(r.rssMB).padStart(7)} ${String(r.cpuUsPerReq).padStart(13)} ${String(r.proxyCore).padStart(11)}`,
    );
  }
  console.log(
    `catalog changes made: ${changes} (${(changes / seconds).toFixed(1)}/s), table swaps in the proxy: ${churned.swaps} (${(churned.swaps / seconds).toFixed(1)}/s); throughput ratio churn/no-churn = ${(churned.rps / base.rps).toFixed(3)}`,
  );
  console.log(
    `requests per proxy CPU-second: ${base.reqPerCpuS} → ${churned.reqPerCpuS}, churn/no-churn = ${perCpuRatio.toFixed(3)}`,
  );
}
process.exit(0);
