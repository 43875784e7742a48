/**
 * Memory at rest (performance issue acceptance: idle RSS per process <= 80 MB; 10,000 idle
 * keep-alive client connections <= 300 MB in total).
 *
 *   npm run build && npx tsx bench/idle-rss.ts [--connections 10000] [--json]
 *
 * 1. fabio-ts from dist/ with -proxy.workers=1 and one static route: RSS once it serves.
 * 2. N client connections, each sends one keep-alive request through the proxy and then stays open
 *    and idle: RSS of the proxy with all of them open (and how many are still open).
 * 3. fabio-ts with -proxy.workers=2: RSS of the primary and of each worker at rest.
 * RSS is VmRSS from /proc (Linux).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: a } = parseArgs({
  options: { connections: { type: 'string', default: '10000' }, json: { type: 'boolean', default: false } },
});
const N = Number(a.connections);

const rssMB = (pid: number | undefined): number => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
};
const children = (pid: number | undefined): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

const backend = createServer((_req, res) => res.end('ok'));
backend.keepAliveTimeout = 120_000;
await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
const bport = (backend.address() as AddressInfo).port;

// Whatever happens here, no proxy outlives this process (an orphan would also hold our stderr open).
const procs = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of procs) p.kill('SIGKILL');
});

async function startProxy(workers: number): Promise<{ proc: ChildProcess; port: number }> {
  const [port, ui] = [await freePort(), await freePort()];
  const proc = spawn(
    process.execPath,
    [
      'dist/cli.js',
      `-proxy.addr=127.0.0.1:${port}`,
      `-ui.addr=127.0.0.1:${ui}`,
      `-proxy.workers=${workers}`,
      '-registry.backend=static',
      `-registry.static.routes=route add b / http://127.0.0.1:${bport}/`,
      '-log.level=WARN',
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  procs.add(proc);
  proc.once('exit', () => procs.delete(proc));
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      if ((await r.text()) === 'ok' && (workers === 1 || children(proc.pid).length === workers)) break;
    } catch {}
    if (i > 400) throw new Error('proxy did not start');
    await sleep(50);
  }
  return { proc, port };
}

async function stop(p: ChildProcess): Promise<void> {
  p.kill('SIGTERM');
  await new Promise((r) => p.once('exit', r));
}

/** Opens one connection, sends one keep-alive request, resolves when the answer arrived. */
function openIdle(port: number, socks: net.Socket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(30_000);
    s.on('error', () => resolve(false));
    s.on('timeout', () => s.destroy());
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: idle.test\r\n\r\n'));
    let got = '';
    s.on('data', function onData(d: Buffer) {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\nok')) {
        s.off('data', onData);
        s.setTimeout(0);
        socks.push(s);
        resolve(got.startsWith('HTTP/1.1 200'));
      }
    });
  });
}

// 1. idle, one process
const one = await startProxy(1);
await sleep(2000);
const idleMB = rssMB(one.proc.pid);

// 2. N idle keep-alive connections
const socks: net.Socket[] = [];
let ok = 0;
const batch = 200;
for (let i = 0; i < N; i += batch) {
  const rs = await Promise.all(Array.from({ length: Math.min(batch, N - i) }, () => openIdle(one.port, socks)));
  ok += rs.filter(Boolean).length;
}
await sleep(2000);
const connsMB = rssMB(one.proc.pid);
const open = socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
for (const s of socks) s.destroy();
await stop(one.proc);

// 3. two workers at rest
const two = await startProxy(2);
await sleep(2000);
const per = [two.proc.pid as number, ...children(two.proc.pid)].map((pid, i) => ({
  role: i === 0 ? 'primary' : 'worker',
  pid,
  mb: rssMB(pid),
}));
await stop(two.proc);
backend.close();
backend.closeAllConnections();

const result = {
  idleMB,
  connsMB,
  connections: N,
  answered: ok,
  open,
  perConnKB: Math.round(((connsMB - idleMB) * 1024) / Math.max(1, open)),
  workers: per,
  workersTotalMB: per.reduce((s, p) => s + p.mb, 0),
  maxWorkerMB: Math.max(...per.map((p) => p.mb)),
};
if (a.json) console.log(JSON.stringify(result));
else {
  console.log(`idle RSS, -proxy.workers=1: ${idleMB} MB (target <= 80)`);
  console.log(
    `${N} keep-alive connections (${ok} answered, ${open} still open after 2 s): ${connsMB} MB (target <= 300), ~${result.perConnKB} KB per connection`,
  );
  for (const p of per) console.log(`-proxy.workers=2 ${p.role} pid ${p.pid}: ${p.mb} MB`);
  console.log(`-proxy.workers=2 total: ${result.workersTotalMB} MB`);
}
process.exit(0);
