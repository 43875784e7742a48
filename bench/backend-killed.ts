/**
 * "A backend killed under load" (issue #15), two measurements:
 *
 * 1. Failed requests: three backends behind one route, autocannon keep-alive load through an HTTP
 *    listener, one backend stopped (listener closed, connections cut: every new connection
 *    refused) after 2 s of the run. Once with fabio's behaviour (proxy.retry.attempts=0,
 *    proxy.outlier.failures=0), once with the defaults (retries and ejection on).
 * 2. The cost of the retry path when nothing fails: the same load on three healthy backends,
 *    retries and ejection off vs on (the defaults), interleaved for `--rounds` rounds; the proxy's
 *    own CPU time per request (process.cpuUsage in the proxy process: meaningful on a loaded box,
 *    where req/s moves with the neighbours) and req/s, medians over the rounds. Each run starts a
 *    fresh proxy and warms it up for 1 s (module loading, JIT, pooled connections) before measuring.
 *
 * Usage: npx tsx bench/backend-killed.ts [seconds=10] [connections=32] [--rounds 3] [--json]
 *        npx tsx bench/backend-killed.ts --callgrind N [--rounds 1] [--json]   (instructions per request, below)
 * The proxy runs in a child process of this script (pinned to core 1 when taskset exists), the
 * backends and autocannon in this one (core 0). `--json` prints one JSON line (bench/run-all.ts).
 */
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testConfig } from '../src/config/index.ts';
import { memoryLogger } from '../src/log/logger.ts';
import { noopMetrics } from '../src/metrics/types.ts';
import { startHttpListener } from '../src/proxy/http/index.ts';
import { buildTable } from '../src/routes/index.ts';
import { TableStore } from '../src/routes/table-store.ts';

interface CannonResult {
  requests: { total: number; average: number };
  non2xx: number;
  errors: number;
  '2xx': number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<CannonResult>;

type Overrides = Record<string, string | number>;
const FABIO_MODE: Overrides = { 'proxy.retry.attempts': 0, 'proxy.outlier.failures': 0 };

/** Child → parent and parent → child messages of the proxy process. */
type ToChild = { t: 'start'; routes: string; overrides: Overrides } | { t: 'stats' };
type ToParent = { t: 'port'; port: number } | { t: 'stats'; cpuUs: number; ejections: number };

if (process.argv.includes('--proxy-child')) {
  // The proxy process: one HTTP listener, its CPU time and ejection count on request.
  const log = memoryLogger('INFO');
  process.on('message', async (m: ToChild) => {
    if (m.t === 'start') {
      const cfg = testConfig({ 'proxy.addr': '127.0.0.1:0', 'proxy.strategy': 'rnd', ...m.overrides });
      const store = new TableStore();
      store.swap(buildTable(m.routes, { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 100 }));
      const spec = cfg.listeners[0];
      if (spec === undefined) throw new Error('no listener');
      const l = await startHttpListener(spec, {
        cfg,
        store,
        log,
        metrics: noopMetrics,
        noRouteHtml: () => '',
        accessLog: undefined,
      });
      process.send?.({ t: 'port', port: l.port } satisfies ToParent);
    } else if (m.t === 'stats') {
      const u = process.cpuUsage();
      const ejections = log.lines.filter((x) => x.includes('Ejecting target')).length;
      process.send?.({ t: 'stats', cpuUs: u.user + u.system, ejections } satisfies ToParent);
    }
  });
} else {
  await main();
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function startBackend(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.end('hello from backend\n'));
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A proxy child process serving `routes` with `overrides`; `stats` asks for its CPU time so far. */
async function startProxy(routes: string, overrides: Overrides, pin: boolean, callgrindOut?: string) {
  // --callgrind: valgrind runs node with this process's own flags (tsx's loader)
  const cg =
    callgrindOut === undefined
      ? {}
      : {
          execPath: 'valgrind',
          execArgv: [
            '--tool=callgrind',
            '--instr-atstart=no',
            `--callgrind-out-file=${callgrindOut}`,
            process.execPath,
            ...process.execArgv,
          ],
        };
  const child = fork(fileURLToPath(import.meta.url), ['--proxy-child'], {
    stdio: ['ignore', 'inherit', callgrindOut === undefined ? 'inherit' : 'ignore', 'ipc'],
    ...cg,
  });
  if (pin && child.pid) execFileSync('taskset', ['-pc', '1', String(child.pid)], { stdio: 'ignore' });
  const next = <T extends ToParent['t']>(t: T) =>
    new Promise<Extract<ToParent, { t: T }>>((resolve) => {
      const on = (m: ToParent) => {
        if (m.t !== t) return;
        child.off('message', on);
        resolve(m as Extract<ToParent, { t: T }>);
      };
      child.on('message', on);
    });
  const port = next('port');
  child.send({ t: 'start', routes, overrides } satisfies ToChild);
  return {
    pid: child.pid as number,
    port: (await port).port,
    stats: async () => {
      const s = next('stats');
      child.send({ t: 'stats' } satisfies ToChild);
      return s;
    },
    close: async () => {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

interface KilledRow {
  label: string;
  requests: number;
  failed: number;
  pct: number;
  ejections: number;
}
interface HealthyRow {
  label: string;
  rps: number;
  cpuUsPerReq: number;
  requests: number;
  failed: number;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const positional = args.filter(
    (a, i) => !a.startsWith('--') && args[i - 1] !== '--rounds' && args[i - 1] !== '--callgrind',
  );
  const seconds = Number(positional[0] ?? 10);
  const connections = Number(positional[1] ?? 32);
  const ri = args.indexOf('--rounds');
  const rounds = ri >= 0 ? Number(args[ri + 1]) : 3;
  const json = args.includes('--json');
  const pin = hasTaskset();
  const say = (s: string) => {
    if (!json) process.stdout.write(s);
  };

  /** One autocannon run through a fresh proxy; `during` may stop a backend. */
  async function run(overrides: Overrides, secs: number, killAfterMs?: number) {
    const backends = [await startBackend(), await startBackend(), await startBackend()];
    const p = await startProxy(backends.map((b) => `route add svc / ${b.url}`).join('\n'), overrides, pin);
    const victim = backends[1] as { server: Server };
    // warm-up (module loading, JIT, pooled connections) outside the measurement
    await autocannon({ url: `http://127.0.0.1:${p.port}/`, connections, duration: 1 });
    const kill =
      killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            victim.server.close();
            victim.server.closeAllConnections();
          }, killAfterMs);
    const before = await p.stats();
    const r = await autocannon({ url: `http://127.0.0.1:${p.port}/`, connections, duration: secs });
    const after = await p.stats();
    clearTimeout(kill);
    await p.close();
    for (const b of backends) {
      b.server.closeAllConnections();
      b.server.close();
    }
    return {
      requests: r.requests.total,
      failed: r.non2xx + r.errors,
      rps: r.requests.average,
      cpuUs: after.cpuUs - before.cpuUs,
      ejections: after.ejections,
    };
  }

  const ci = args.indexOf('--callgrind');
  if (ci >= 0) {
    await callgrind(Number(args[ci + 1] ?? 2000), rounds, say, json);
    return;
  }
  say(`one of three backends stopped after 2 s of ${seconds} s, ${connections} connections\n`);
  const killed: KilledRow[] = [];
  for (const [label, o] of [
    ['fabio (retry.attempts=0, outlier.failures=0)', FABIO_MODE],
    ['fabio-ts defaults (retries 1, outlier 5/30s)', {}],
  ] as const) {
    const r = await run(o, seconds, 2000);
    const row = {
      label,
      requests: r.requests,
      failed: r.failed,
      pct: Math.round((10_000 * r.failed) / Math.max(r.requests, 1)) / 100,
      ejections: r.ejections,
    };
    killed.push(row);
    say(
      `${label.padEnd(46)} requests ${String(row.requests).padStart(7)}  failed ${String(row.failed).padStart(6)} (${row.pct.toFixed(2)} %)  ejections ${row.ejections}\n`,
    );
  }

  say(
    `\nnothing fails: three healthy backends, ${seconds} s x ${rounds} rounds (interleaved), ${connections} connections\n`,
  );
  const samples = new Map<string, { rps: number[]; cpu: number[]; requests: number; failed: number }>();
  const modes = [
    ['retries off (fabio mode)', FABIO_MODE],
    ['retries on (defaults)', {}],
  ] as const;
  for (let i = 0; i < rounds; i++) {
    for (const [label, o] of i % 2 === 0 ? modes : [...modes].reverse()) {
      const r = await run(o, seconds);
      const s = samples.get(label) ?? { rps: [], cpu: [], requests: 0, failed: 0 };
      s.rps.push(r.rps);
      s.cpu.push(r.cpuUs / Math.max(r.requests, 1));
      s.requests += r.requests;
      s.failed += r.failed;
      samples.set(label, s);
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
  };
  const healthy: HealthyRow[] = [...samples].map(([label, s]) => ({
    label,
    rps: Math.round(median(s.rps)),
    cpuUsPerReq: Math.round(median(s.cpu) * 10) / 10,
    requests: s.requests,
    failed: s.failed,
  }));
  for (const h of healthy)
    say(
      `${h.label.padEnd(46)} req/s ${String(h.rps).padStart(7)}  proxy CPU ${h.cpuUsPerReq.toFixed(1).padStart(6)} µs/req  failed ${h.failed}  (per-round CPU µs/req: ${samples
        .get(h.label)
        ?.cpu.map((c) => c.toFixed(1))
        .join(' ')})\n`,
    );
  if (json) process.stdout.write(`${JSON.stringify({ seconds, connections, rounds, pinned: pin, killed, healthy })}\n`);
}

/**
 * `--callgrind N`: instructions the proxy process executes per request (valgrind's callgrind, Ir),
 * retries off vs on, nothing failing: a count that does not move with the neighbours on a shared
 * box, unlike time. Per mode and round: a fresh proxy under callgrind with instrumentation off
 * (--instr-atstart=no: start-up and warm-up run faster and are not counted), 2,000 warm-up
 * requests, instrumentation on (callgrind_control -i on), N requests at 8 keep-alive connections,
 * a dump (callgrind_control -d) whose `summary:` line / N is the figure.
 */
async function callgrind(n: number, rounds: number, say: (s: string) => void, json: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fabio-cg-'));
  const modes = [
    ['retries off (fabio mode)', FABIO_MODE],
    ['retries on (defaults)', {}],
  ] as const;
  const per = new Map<string, number[]>();
  say(`instructions per request (callgrind), ${n} requests after 2000 warm-up, ${rounds} round(s)\n`);
  for (let i = 0; i < rounds; i++) {
    for (const [label, o] of modes) {
      const backends = [await startBackend(), await startBackend(), await startBackend()];
      const out = join(dir, `cg-${i}-${label.startsWith('retries on') ? 'on' : 'off'}`);
      const p = await startProxy(backends.map((b) => `route add svc / ${b.url}`).join('\n'), o, false, out);
      const url = `http://127.0.0.1:${p.port}/`;
      await autocannon({ url, connections: 8, amount: 2000 });
      execFileSync('callgrind_control', ['-i', 'on', String(p.pid)], { stdio: 'ignore' });
      const r = await autocannon({ url, connections: 8, amount: n });
      execFileSync('callgrind_control', ['-d', String(p.pid)], { stdio: 'ignore' });
      const dump = readdirSync(dir).find((f) => f.startsWith(`${basename(out)}.`));
      const ir = Number(/^summary: (\d+)/m.exec(readFileSync(join(dir, dump ?? ''), 'utf8'))?.[1]);
      await p.close();
      for (const b of backends) {
        b.server.closeAllConnections();
        b.server.close();
      }
      const perReq = ir / Math.max(r.requests.total, 1);
      per.set(label, [...(per.get(label) ?? []), perReq]);
      say(
        `${label.padEnd(30)} round ${i + 1}: ${Math.round(perReq)} instructions/request (${r.requests.total} requests, ${r.non2xx + r.errors} failed)\n`,
      );
    }
  }
  const rows = [...per].map(([label, xs]) => ({
    label,
    irPerReq: Math.round(Math.min(...xs)),
    all: xs.map(Math.round),
  }));
  const [off, on] = rows;
  if (off && on) say(`on/off ${(on.irPerReq / off.irPerReq).toFixed(4)}x (lowest round of each)\n`);
  rmSync(dir, { recursive: true, force: true });
  if (json) process.stdout.write(`${JSON.stringify({ callgrind: rows, requests: n })}\n`);
}
