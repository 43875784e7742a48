/**
 * "A backend killed under load" (issue #15): three backends behind one route, autocannon keep-alive
 * load through an HTTP listener, and one backend stopped (listener closed, connections cut: every
 * new connection refused) after 2 s of a run. Runs twice: fabio's behaviour
 * (proxy.retry.attempts=0, proxy.outlier.failures=0) and the defaults (retries and ejection on),
 * and prints failed requests (non-2xx and errors) of each.
 *
 * Usage: npx tsx bench/backend-killed.ts [seconds=10] [connections=32]
 * Everything runs in this process (proxy, backends, load), so the figures are about failures, not
 * speed.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { testConfig } from '../src/config/index.ts';
import { memoryLogger } from '../src/log/logger.ts';
import { noopMetrics } from '../src/metrics/types.ts';
import { startHttpListener } from '../src/proxy/http/index.ts';
import { buildTable } from '../src/routes/index.ts';
import { TableStore } from '../src/routes/table-store.ts';

interface CannonResult {
  requests: { total: number };
  non2xx: number;
  errors: number;
  '2xx': number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<CannonResult>;

const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 32);

async function startBackend(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.end('hello from backend\n'));
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function run(name: string, overrides: Record<string, string | number>): Promise<void> {
  const backends = [await startBackend(), await startBackend(), await startBackend()];
  const cfg = testConfig({ 'proxy.addr': '127.0.0.1:0', 'proxy.strategy': 'rnd', ...overrides });
  const store = new TableStore();
  store.swap(
    buildTable(backends.map((b) => `route add svc / ${b.url}`).join('\n'), {
      matcher: 'prefix',
      strategy: 'rnd',
      globDisabled: false,
      globCacheSize: 100,
    }),
  );
  const log = memoryLogger('INFO');
  const spec = cfg.listeners[0];
  if (spec === undefined) throw new Error('no listener');
  const listener = await startHttpListener(spec, {
    cfg,
    store,
    log,
    metrics: noopMetrics,
    noRouteHtml: () => '',
    accessLog: undefined,
  });
  const victim = backends[1] as { server: Server };
  const kill = setTimeout(() => {
    victim.server.close();
    victim.server.closeAllConnections();
  }, 2000);
  const r = await autocannon({
    url: `http://127.0.0.1:${listener.port}/`,
    connections,
    duration: seconds,
  });
  clearTimeout(kill);
  const failed = r.non2xx + r.errors;
  const total = r.requests.total;
  process.stdout.write(
    `${name.padEnd(46)} requests ${String(total).padStart(7)}  failed ${String(failed).padStart(6)} (${((100 * failed) / Math.max(total, 1)).toFixed(2)} %)  ejections ${log.lines.filter((l) => l.includes('Ejecting target')).length}\n`,
  );
  await listener.close(0);
  for (const b of backends) {
    b.server.closeAllConnections();
    b.server.close();
  }
}

process.stdout.write(`one of three backends stopped after 2 s of ${seconds} s, ${connections} connections\n`);
await run('fabio (retry.attempts=0, outlier.failures=0)', {
  'proxy.retry.attempts': 0,
  'proxy.outlier.failures': 0,
});
await run('fabio-ts defaults (retries 1, outlier 5/30s)', {});
