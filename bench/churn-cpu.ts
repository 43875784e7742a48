/**
 * Proxy CPU per catalog change, without traffic (issue #17: "up to ~10 ms of proxy CPU per change
 * for a table of a dozen lines"). The soak (bench/soak.ts) shows the cost as fewer requests per
 * CPU-second; this isolates it: the proxy (dist/) watches the embedded catalog of bench/soak.ts's
 * catalog child, first idle, then while the child makes N changes a second (registrations,
 * deregistrations, a rewritten weight override). CPU comes from /proc (utime + stime of the proxy
 * and its workers), so a loaded machine inflates it less than wall time; it still moves with cache
 * and frequency effects of the neighbours, so compare runs made back to back.
 *
 *   npm run build && npx tsx bench/churn-cpu.ts [--seconds 20] [--churn 20] [--workers 1] [--warmup 5] [-- <proxy flags>]
 *   npx tsx bench/churn-cpu.ts --callgrind --seconds 30 --churn 1   (instructions per change, below)
 *
 * --callgrind: the proxy runs under valgrind's callgrind with instrumentation off until it serves;
 * each window is counted on its own (callgrind_control -i on, then -d at its end, which dumps and
 * zeroes) and the figure is (churn window − idle window) instructions of the main thread per swap:
 * user-space work only, without V8's compiler and GC threads, but it does not move with the
 * neighbours' load as CPU time does. Valgrind makes the proxy
 * ~50× slower: keep the churn low (1/s), or swaps coalesce and the figure describes another load.
 * Both modes churn unmeasured first (--warmup seconds: 5, the window's length with --callgrind).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: a, positionals } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    churn: { type: 'string', default: '20' },
    workers: { type: 'string', default: '1' },
    callgrind: { type: 'boolean', default: false },
    warmup: { type: 'string' },
  },
  allowPositionals: true,
});
const seconds = Number(a.seconds);
const warmup = Number(a.warmup ?? (a.callgrind ? a.seconds : 5));

const listen = (srv: ReturnType<typeof createServer>) =>
  new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as AddressInfo).port)));
const free = async () => {
  const s = createServer();
  const p = await listen(s);
  await new Promise((r) => s.close(r));
  return p;
};

const backend = createServer((_req, res) => res.end('ok'));
const port = await listen(backend);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('./soak.ts', import.meta.url)), '--catalog-child', String(a.churn)],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
process.on('exit', () => child.kill('SIGKILL'));
const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const line = async (): Promise<string> => {
  const r = await lines.next();
  if (r.done) throw new Error('catalog process exited');
  return r.value;
};
const tell = (cmd: string) => child.stdin!.write(`${cmd}\n`);
const catalog = (await line()).trim();
tell(`stable ${port}`);
await line();

const proxyPort = await free();
const cgDir = a.callgrind ? mkdtempSync(join(tmpdir(), 'fabio-churn-cg-')) : '';
const proxy = spawn(
  a.callgrind ? 'valgrind' : process.execPath,
  [
    ...(a.callgrind
      ? [
          '--tool=callgrind',
          '--instr-atstart=no',
          '--smc-check=all-non-file',
          // the main thread's count: V8's compiler and GC threads vary from run to run
          '--separate-threads=yes',
          `--callgrind-out-file=${join(cgDir, 'cg')}`,
          process.execPath,
        ]
      : []),
    ...(process.env.FABIO_BENCH_NODE_ARGS?.split(' ').filter((x) => x !== '') ?? []),
    fileURLToPath(new URL('../dist/cli.js', import.meta.url)),
    `-registry.consul.addr=${catalog.replace(/^http:\/\//, '')}`,
    `-proxy.addr=127.0.0.1:${proxyPort}`,
    `-ui.addr=127.0.0.1:${await free()}`,
    `-proxy.workers=${a.workers}`,
    '-registry.consul.register.enabled=false',
    '-log.routes.format=delta',
    '-log.level=INFO',
    ...positionals,
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
process.on('exit', () => proxy.kill('SIGKILL'));
let swaps = 0;
let tail = '';
proxy.stderr?.setEncoding('utf8');
proxy.stderr?.on('data', (d: string) => {
  const ls = (tail + d).split('\n');
  tail = ls.pop() ?? '';
  for (const l of ls) {
    if (l.includes('[INFO] Config updates')) swaps++;
    else if (/\[(WARN|ERROR|FATAL)\]/.test(l)) process.stderr.write(`proxy: ${l}\n`);
  }
});
for (let i = 0; ; i++) {
  try {
    const r = await fetch(`http://127.0.0.1:${proxyPort}/stable`);
    if ((await r.text()) === 'ok') break;
  } catch {}
  if (i > (a.callgrind ? 4000 : 400)) throw new Error('proxy did not start serving /stable');
  await new Promise((r) => setTimeout(r, 50));
}

/** utime + stime in ms of a process and its descendants that are alive (the workers), from /proc. */
function cpuMs(pid: number): number {
  let ticks = 0;
  const visit = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const s = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(s[11]) + Number(s[12]);
      for (const c of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean))
        visit(Number(c));
    } catch {}
  };
  visit(pid);
  return ticks * 10; // USER_HZ = 100 on Linux
}

/** Callgrind: dumps (and zeroes) the counters; the instructions of that dump, once valgrind wrote it. */
let dumps = 0;
async function instructions(): Promise<number> {
  execFileSync('callgrind_control', ['-d', String(proxy.pid)], { stdio: 'ignore' });
  const name = `cg.${++dumps}-01`;
  for (let i = 0; i < 600; i++) {
    const text = readdirSync(cgDir).includes(name) ? readFileSync(join(cgDir, name), 'utf8') : '';
    // the totals line ends a complete dump
    const m = /^totals: (\d+)/m.exec(text);
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`callgrind wrote no ${name}`);
}
// The first changes also pay for compiling the change path (V8 optimises it after a few hundred):
// churn unmeasured first, so that the figure is the steady cost of a change.
let warmupChanges = 0;
if (warmup > 0) {
  tell(`churn ${port}`);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  tell('stop');
  warmupChanges = Number((await line()).split(' ')[0]);
}
if (a.callgrind) execFileSync('callgrind_control', ['-i', 'on', String(proxy.pid)], { stdio: 'ignore' });

const window = async (): Promise<{ cpu: number; swaps: number; ir: number }> => {
  const c0 = cpuMs(proxy.pid as number);
  const s0 = swaps;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return { cpu: cpuMs(proxy.pid as number) - c0, swaps: swaps - s0, ir: a.callgrind ? await instructions() : 0 };
};
const idle = await window();
tell(`churn ${port}`);
const churned = await window();
tell('stop');
const [changes] = (await line()).split(' ').map(Number);
tell('exit');
// the proxy writes a --cpu-prof profile when it exits on SIGTERM: wait for it
await new Promise((r) => {
  proxy.once('exit', r);
  proxy.kill('SIGTERM');
});
backend.close();
const perChange = (churned.cpu - idle.cpu) / Math.max(1, churned.swaps);
console.log(
  JSON.stringify({
    seconds,
    workers: Number(a.workers),
    flags: positionals,
    idleCpuMs: idle.cpu,
    churnCpuMs: churned.cpu,
    catalogChanges: (changes ?? 0) - warmupChanges,
    swaps: churned.swaps,
    cpuMsPerSwap: Math.round(perChange * 100) / 100,
    ...(a.callgrind
      ? {
          idleInstructions: idle.ir,
          churnInstructions: churned.ir,
          instructionsPerSwap: Math.round((churned.ir - idle.ir) / Math.max(1, churned.swaps)),
        }
      : {}),
  }),
);
if (cgDir !== '') rmSync(cgDir, { recursive: true, force: true });
process.exit(0);
