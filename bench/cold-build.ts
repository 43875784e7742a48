/**
 * One cold build: the first buildTable of a fresh process, as at start-up (issue #17 item 3).
 * Builds the route text `bench/lookup.ts --catalog` uses (S services × I instances) once and prints
 * the process CPU (main, compiler and GC threads), the main thread's CPU (Linux schedstat), and
 * with --expose-gc the heap the build allocated and the table retains. `--dist` builds with the
 * compiled dist/ (run `npm run build` first): the proxy's real cold path.
 *
 *   node --expose-gc --import tsx bench/cold-build.ts [--catalog 10000] [--instances 1] [--dist]
 *   # allocation without a scavenge in the build: add --min-semi-space-size=256 --max-semi-space-size=256
 *   # repeat in fresh processes and take the median: one process is one sample
 */
import { readFileSync } from 'node:fs';
import type * as Routes from '../src/routes/index.ts';
import { catalogLines } from './catalog-text.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const mod = process.argv.includes('--dist') ? '../dist/routes/index.js' : '../src/routes/index.ts';
const { buildTable, serviceRouteCommands, sortRouteLines } = (await import(mod)) as typeof Routes;
const services = arg('catalog', 10_000);
const instances = arg('instances', 1);
const lines = catalogLines(services, instances, serviceRouteCommands);
const text = sortRouteLines(lines).join('\n');
const gc = (globalThis as { gc?: () => void }).gc;
const mainNs = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
gc?.();
const h0 = process.memoryUsage().heapUsed;
const m0 = mainNs();
const c0 = process.cpuUsage();
const table = buildTable(text, { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 1000 });
const c = process.cpuUsage(c0);
const main = (mainNs() - m0) / 1e6;
const allocated = (process.memoryUsage().heapUsed - h0) / 2 ** 20;
gc?.();
const retained = (process.memoryUsage().heapUsed - h0) / 2 ** 20;
console.log(
  `${table.routes.length} routes, ${services * instances} targets: cold build ${((c.user + c.system) / 1000).toFixed(0)} ms process CPU, ${main.toFixed(0)} ms main thread` +
    (gc
      ? `; heap allocated ${allocated.toFixed(1)} MB (no GC during the build: see above), retained ${retained.toFixed(1)} MB`
      : ''),
);
