/**
 * Should fabio-ts use http-proxy? One run, same machine, same pinning as bench/side-by-side-http.sh:
 * nginx `return 200` backend and wrk on core 0; the proxy under test alone on core 1.
 *   npm run build && npx tsx bench/http-proxy-compare.ts [seconds=8] [connections=64] [rounds=3]
 * Prints req/s and p99 per round for: backend direct, http-proxy (keep-alive agent), fabio-ts
 * (undici, one worker), and the median ratio fabio-ts / http-proxy.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [seconds = '8', connections = '64', rounds = '3'] = process.argv.slice(2);
const free = () =>
  new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
const dir = mkdtempSync(join(tmpdir(), 'hpc-'));
const be = await free();
writeFileSync(
  join(dir, 'nginx.conf'),
  `worker_processes 1; daemon off; pid ${dir}/n.pid; error_log /dev/null;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:${be} reuseport; keepalive_requests 100000;
  location / { return 200 "hello from backend\\n"; } } }`,
);
const procs: ChildProcess[] = [];
const run = (core: number, cmd: string, args: string[]) => {
  const c = spawn('taskset', ['-c', String(core), cmd, ...args], { stdio: 'ignore' });
  procs.push(c);
  return c;
};
const waitUp = async (port: number, host = 'bench.local') => {
  for (let i = 0; i < 200; i++) {
    try {
      const status = await new Promise<number>((res, rej) =>
        get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (r) => {
          r.resume();
          res(r.statusCode ?? 0);
        }).on('error', rej),
      );
      if (status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} not answering`);
};
try {
  run(0, 'nginx', ['-c', join(dir, 'nginx.conf')]);
  const hp = await free();
  run(1, process.execPath, ['bench/http-proxy-server.mjs', String(hp), `http://127.0.0.1:${be}`]);
  const fx = await free();
  const ui = await free();
  run(1, process.execPath, [
    'dist/cli.js',
    `-proxy.addr=127.0.0.1:${fx}`,
    `-ui.addr=127.0.0.1:${ui}`,
    '-proxy.workers=1',
    '-registry.backend=static',
    `-registry.static.routes=route add bench bench.local/ http://127.0.0.1:${be}/`,
    '-log.level=WARN',
  ]);
  await Promise.all([waitUp(be), waitUp(hp), waitUp(fx)]);
  const wrk = (port: number) => {
    const out = execFileSync('taskset', [
      '-c',
      '0',
      'wrk',
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      '-H',
      'Host: bench.local',
      `http://127.0.0.1:${port}/`,
    ]).toString();
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
    const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '?';
    const errs = /Non-2xx[^\n]*|Socket errors[^\n]*/.exec(out)?.[0] ?? '';
    return { rps, p99, errs };
  };
  const ratios: number[] = [];
  for (let r = 1; r <= Number(rounds); r++) {
    const d = wrk(be);
    const h = wrk(hp);
    const f = wrk(fx);
    ratios.push(f.rps / h.rps);
    console.log(
      `round=${r} direct rps=${d.rps} p99=${d.p99} | http-proxy rps=${h.rps} p99=${h.p99} ${h.errs} | fabio-ts rps=${f.rps} p99=${f.p99} ${f.errs}`,
    );
  }
  ratios.sort((a, b) => a - b);
  console.log(`median ratio fabio-ts/http-proxy = ${ratios[Math.floor(ratios.length / 2)]?.toFixed(2)}`);
} finally {
  for (const p of procs) p.kill('SIGTERM');
  try {
    execFileSync('sh', ['-c', `kill $(cat ${dir}/n.pid) 2>/dev/null || true`]);
  } catch {}
}
