/**
 * Heap kept by each part of the Consul registry at a large catalog (issue #17, "RSS stays under
 * 600 MB"): the embedded catalog in a child process with S services × 3 instances, one
 * /v1/health/state/any answer read by HealthState, one ServiceRoutes update (one catalog read per
 * service), the table built from its text, and the updater's history entry of that first table.
 * Each figure is heapUsed after two full GCs, minus the figure before the step.
 *
 *   node --expose-gc --import tsx bench/registry-heap.ts [S=50000]
 */
import { getHeapStatistics } from 'node:v8';
import { memoryLogger } from '../src/log/logger.ts';
import { ConsulClient } from '../src/registry/consul/client.ts';
import { HealthState } from '../src/registry/consul/health-state.ts';
import { ServiceRoutes } from '../src/registry/consul/service-routes.ts';
import { buildTable } from '../src/routes/index.ts';
import { History } from '../src/runtime/history.ts';
import { lineDiff } from '../src/runtime/route-log.ts';
import { startCatalogProcess } from './catalog-child.ts';

const N = Number(process.argv[2] ?? 50000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const mb = (n: number) => (n / 2 ** 20).toFixed(1);
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const cat = await startCatalogProcess(N, 3);
const client = new ConsulClient({ addr: cat.url, token: '', namespace: '', consistency: 'consistent', connections: 5 });
const opts = { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one' as const };
const h0 = heap();
const body = (await client.get('/v1/health/state/any')).bytes as Buffer;
const h1 = heap();
const hs = new HealthState(opts);
const t0 = performance.now();
const read = hs.read(body);
const readMs = performance.now() - t0;
const committed = getHeapStatistics().total_heap_size;
const rssRead = process.memoryUsage().rss;
const h2 = heap();
const sr = new ServiceRoutes(client, { ...opts, dc: 'dc1', monitors: 8 }, memoryLogger('WARN'));
const out = await sr.update(read.healthy);
const h3 = heap();
const table = buildTable(out.text, { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 1000 });
const h4 = heap();
const history = new History(100);
const record = (text: string) => {
  const d = lineDiff('', text);
  history.add({ time: '', cause: 'consul', index: 1, added: d.added, removed: d.removed });
};
record(out.text);
const h5 = heap();
console.log(`${N} services x 3: body ${mb(body.length)} MB (external), ${table.routes.length} routes`);
console.log(`  heap: response ${mb(h1 - h0)}, HealthState ${mb(h2 - h1)}, ServiceRoutes ${mb(h3 - h2)}`);
console.log(`  (text ${mb(out.text.length)} MB), table ${mb(h4 - h3)}, history entry ${mb(h5 - h4)} MB`);
console.log(`  total heap ${mb(h5)} MB, RSS ${mb(process.memoryUsage().rss)} MB`);
console.log(`  first read ${readMs.toFixed(0)} ms; heap committed after it ${mb(committed)} MB, RSS ${mb(rssRead)} MB`);
await client.close();
await cat.close();
