/**
 * The Consul watch against a misbehaving Consul: memory with a huge answer, request rate and CPU
 * while the index misbehaves or every answer fails.
 *
 *   npx tsx bench/consul-hostile.ts <scenario> [--seconds 10] [--maxbody <bytes>]
 *
 * scenarios:
 *   huge       every health answer is a 200 MB body (streamed by the server, never held)
 *   index0     every answer at once with X-Consul-Index: 0
 *   backwards  blocking reads answered at once with a lower index than fresh reads
 *   immediate  every blocking read answered at once with the same index
 *   error500   every health answer is a 500
 *
 * The scripted Consul runs in a child process (its memory is not counted); this process runs the
 * production ConsulBackend with its default options (DEFAULT_BLOCKING, registry.consul.maxbody
 * default) and prints: health requests, requests/s, catalog reads, peak RSS, CPU %, log lines.
 */
import { fork } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '10' },
    maxbody: { type: 'string' },
    server: { type: 'boolean', default: false },
  },
});
const scenario = positionals[0] ?? 'huge';

const checks = JSON.stringify([
  { Node: 'n1', CheckID: 'serfHealth', Status: 'passing', ServiceID: '', ServiceName: '', ServiceTags: [] },
  {
    Node: 'n1',
    CheckID: 'service:web-1',
    Status: 'passing',
    ServiceID: 'web-1',
    ServiceName: 'web',
    ServiceTags: ['urlprefix-/web'],
  },
]);
const catalogRow = JSON.stringify([
  {
    Node: 'n1',
    Address: '10.0.0.1',
    ServiceID: 'web-1',
    ServiceName: 'web',
    ServiceAddress: '10.0.0.5',
    ServicePort: 8080,
    ServiceTags: ['urlprefix-/web'],
  },
]);

function runServer(): void {
  let health = 0;
  let catalog = 0;
  const send = (res: ServerResponse, body: string, index: string | number, status = 200) =>
    res.writeHead(status, { 'content-type': 'application/json', 'x-consul-index': String(index) }).end(body);
  const srv = createServer((req, res) => {
    res.on('error', () => {});
    const u = new URL(req.url ?? '/', 'http://x');
    const blocking = u.searchParams.has('index');
    if (u.pathname === '/v1/agent/self') return send(res, '{"Config":{"Datacenter":"dc1"}}', 1);
    if (u.pathname.startsWith('/v1/kv/')) {
      if (blocking) return; // a calm KV: park forever
      return send(res, '', 1, 404);
    }
    if (u.pathname.startsWith('/v1/catalog/service/')) {
      catalog++;
      return send(res, catalogRow, 10);
    }
    if (u.pathname !== '/v1/health/state/any') return send(res, '', 1, 404);
    health++;
    // The first answer is always good, so the backend has a table to keep.
    if (health === 1) return send(res, checks, 10);
    switch (scenario) {
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '11' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let left = 200 * 1024 * 1024;
        const pump = () => {
          while (left > 0) {
            left -= chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end(']');
        };
        res.write('[');
        return pump();
      }
      case 'index0':
        return send(res, checks, 0);
      case 'backwards':
        return send(res, checks, Number(u.searchParams.get('index') ?? 0) >= 100 ? 50 : 100);
      case 'immediate':
        return send(res, checks, 10);
      case 'error500':
        return send(res, 'rpc error', 1, 500);
    }
  });
  srv.listen(0, '127.0.0.1', () => process.send?.({ port: (srv.address() as AddressInfo).port }));
  process.on('message', () => process.send?.({ health, catalog }));
}

async function main(): Promise<void> {
  const { ConsulBackend } = await import('../src/registry/consul/backend.ts');
  const { createLogger } = await import('../src/log/logger.ts');
  const child = fork(new URL(import.meta.url).pathname, [scenario, '--server'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
  const lines: string[] = [];
  const log = createLogger('INFO', { write: (s) => void lines.push(s.replace(/\n$/, '')) });
  const backend = new ConsulBackend(
    {
      retryMs: 500,
      timeoutMs: 10_000,
      kvpath: '/fabio/config',
      noroutePath: '/fabio/noroute.html',
      tagPrefix: 'urlprefix-',
      status: ['passing'],
      checksRequired: 'one',
      monitors: 1,
      pollIntervalMs: 0,
      register: undefined,
      client: {
        addr: `127.0.0.1:${port}`,
        token: '',
        namespace: '',
        consistency: 'default',
        connections: 5,
        maxBody: a.maxbody === undefined ? undefined : Number(a.maxbody),
      },
    },
    log,
  );
  await backend.connect();
  let texts = 0;
  backend.watch({ routes: () => void texts++, noRouteHtml: () => {} });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  await new Promise((r) => setTimeout(r, Number(a.seconds) * 1000));
  clearInterval(sampler);
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  child.send('count');
  const counts = await new Promise<{ health: number; catalog: number }>((r) =>
    child.once('message', (m: { health: number; catalog: number }) => r(m)),
  );
  await backend.stop();
  child.kill();
  console.log(
    JSON.stringify({
      scenario,
      seconds: Number(secs.toFixed(1)),
      healthRequests: counts.health,
      perSecond: Number((counts.health / secs).toFixed(1)),
      catalogReads: counts.catalog,
      peakRssMB: Math.round(peak / 2 ** 20),
      cpuPercent: Number((((cpu.user + cpu.system) / 1000 / (secs * 1000)) * 100).toFixed(1)),
      routeTexts: texts,
      logLines: lines.length,
    }),
  );
  for (const l of lines.slice(0, 8)) console.log(`  ${l.slice(0, 200)}`);
  process.exit(0);
}

if (a.server) runServer();
else void main();
