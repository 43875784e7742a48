/**
 * Load through fabio-ts vs the backend direct (autocannon, keep-alive): small and 64 KiB bodies,
 * GET and POST. Backend (core 0) and proxy (core 1) run as pinned child processes; prints req/s,
 * p50, p99 and ratios.
 *   npx tsx bench/http.ts [seconds=5] [connections=64]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';

interface CannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}
// autocannon ships no types; only this call shape is used.
const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<CannonResult>;

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 64);
const BE = 18180;
const PX = 18199;

const taskset = spawnSync('taskset', ['--version']).status === 0;

/** Starts a child (pinned to `core` when taskset exists, so the proxy has a core of its own). */
function start(args: string[], core: number): Promise<ChildProcess> {
  const node = [process.execPath, '--import', 'tsx', ...args];
  const cmd = taskset ? ['taskset', '-c', String(core), ...node] : node;
  const c = spawn(cmd[0] as string, cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    c.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) resolve(c);
    });
    c.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}`)));
  });
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function run(name: string, port: number, path: string, method: 'GET' | 'POST', body?: Buffer): Promise<Row> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections,
    duration: seconds,
    method,
    body,
    headers: { host: 'bench.local', ...(body ? { 'content-type': 'application/octet-stream' } : {}) },
  });
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

const be = await start(['bench/backend.ts', String(BE)], 0);
const px = await start(
  ['bench/http-proxy-standalone.ts', `127.0.0.1:${PX}`, `route add bench bench.local/ http://127.0.0.1:${BE}/`],
  1,
);
const post = Buffer.alloc(64 * 1024, 97);
const cases: [string, string, 'GET' | 'POST', Buffer | undefined][] = [
  ['GET small', '/', 'GET', undefined],
  ['GET 64KiB', '/64k', 'GET', undefined],
  ['POST 64KiB', '/', 'POST', post],
];
const lines: string[] = [];
for (const [name, path, method, body] of cases) {
  const direct = await run(`${name} direct`, BE, path, method, body);
  const proxied = await run(`${name} fabio-ts`, PX, path, method, body);
  for (const r of [direct, proxied])
    lines.push(
      `${r.name.padEnd(22)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}`,
    );
  lines.push(
    `${name.padEnd(22)} ratio fabio-ts/direct ${(proxied.rps / direct.rps).toFixed(2)}  p99 ratio ${(proxied.p99 / Math.max(direct.p99, 1)).toFixed(2)}`,
  );
}
console.log(lines.join('\n'));
be.kill();
px.kill();
await Promise.all([once(be, 'exit'), once(px, 'exit')]);
