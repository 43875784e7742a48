/**
 * A standalone fabio-ts TCP data plane for benchmarks (bench/side-by-side-tcp.sh PROJECT_CMD):
 * the tcp listeners of src/proxy/tcp with a static route table, no registry, no admin server.
 *
 *   node --import tsx bench/tcp-proxy-standalone.ts [PROXY_ADDR] [ROUTE_TEXT]
 *
 * Defaults match bench/side-by-side-tcp.sh: three listeners on 19997/19998 (tcp) and 19996 (tcp+sni).
 */
import { testConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/logger.ts';
import { noopMetrics } from '../src/metrics/types.ts';
import { startHttpsTcpSni, startSniListener, startTcpDynamic, startTcpListener } from '../src/proxy/tcp/index.ts';
import type { ProxyDeps, RunningListener } from '../src/proxy/types.ts';
import { buildTable, TableStore } from '../src/routes/index.ts';

const addr = process.argv[2] ?? '127.0.0.1:19997;proto=tcp,127.0.0.1:19998;proto=tcp,127.0.0.1:19996;proto=tcp+sni';
const routes =
  process.argv[3] ??
  [
    'route add a :19997 tcp://127.0.0.1:15201',
    'route add b :19998 tcp://127.0.0.1:18080',
    'route add c sni-a.test tcp://127.0.0.1:18443',
  ].join('\n');

const cfg = testConfig({ 'proxy.addr': addr });
const store = new TableStore();
store.swap(buildTable(routes, { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 1000 }));
const log = createLogger('INFO');
const deps: ProxyDeps = { cfg, store, log, metrics: noopMetrics, noRouteHtml: () => '', accessLog: undefined };
const start = {
  tcp: startTcpListener,
  'tcp+sni': startSniListener,
  'tcp-dynamic': startTcpDynamic,
  'https+tcp+sni': startHttpsTcpSni,
} as const;

const running: RunningListener[] = [];
for (const spec of cfg.listeners) {
  const fn = start[spec.proto as keyof typeof start];
  if (fn === undefined) throw new Error(`not a tcp proto: ${spec.proto}`);
  running.push(await fn(spec, deps));
}
const stop = () => void Promise.all(running.map((l) => l.close(0))).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
