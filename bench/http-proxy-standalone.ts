/**
 * One fabio-ts HTTP listener with a static table, ProxyDeps built by hand (no registry, no admin).
 *   npx tsx bench/http-proxy-standalone.ts [listen=127.0.0.1:19999] [route text]
 * Default route: `route add bench bench.local/ http://127.0.0.1:18080/` (bench/side-by-side-http.sh).
 */
import { testConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/logger.ts';
import { noopMetrics } from '../src/metrics/types.ts';
import { startHttpListener } from '../src/proxy/http/index.ts';
import { buildTable } from '../src/routes/index.ts';
import { TableStore } from '../src/routes/table-store.ts';

const addr = process.argv[2] ?? '127.0.0.1:19999';
const routes = process.argv[3] ?? 'route add bench bench.local/ http://127.0.0.1:18080/';
const cfg = testConfig({ 'proxy.addr': addr, 'log.level': 'WARN' });
const store = new TableStore();
store.swap(buildTable(routes, { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 1000 }));
const log = createLogger('WARN');
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
process.stdout.write(`listening ${l.port}\n`);
process.on('SIGTERM', () => void l.close(0).then(() => process.exit(0)));
process.on('SIGINT', () => void l.close(0).then(() => process.exit(0)));
