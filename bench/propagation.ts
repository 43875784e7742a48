/**
 * Route propagation benchmark (issue #3 item 7): time from a Consul check turning passing to the
 * route being live in the TableStore, through exactly the production path (dev catalog over real
 * HTTP → ConsulBackend → TableUpdater → buildTable → TableStore.swap), over 100 changes, first on
 * an empty catalog and then with 5,000 services × 3 instances registered. Also counts Consul
 * requests per health flap of a tagged and of an untagged service.
 *
 *   npx tsx bench/propagation.ts [--services 5000] [--instances 3] [--changes 100] [--watch state|service] [--gap ms] [--full]
 *   npx tsx bench/propagation.ts --services 5000,20000,50000 --watch state,service --changes 30 --no-empty --no-cpu
 *
 * Lists (comma-separated) run every size with every watch mode, one catalog process per row, and
 * end with one summary table (the large-catalog rows of bench/README.md). A row that fails (e.g.
 * watch=service above the open-file limit: one connection per routed service) says why.
 *
 * The end-to-end figures include the catalog's own JSON encoding (in a child process) and the
 * table build of the updater; the "registry CPU" line isolates this folder's share.
 */
import { memoryLogger } from '../src/log/logger.ts';
import { ConsulBackend, type ConsulBackendOptions } from '../src/registry/consul/backend.ts';
import type { ConsulClient } from '../src/registry/consul/client.ts';
import { HealthState } from '../src/registry/consul/health-state.ts';
import { ServiceRoutes } from '../src/registry/consul/service-routes.ts';
import { buildTable, WARM_ROUNDS, warmBuilds } from '../src/routes/index.ts';
import { TableStore } from '../src/routes/table-store.ts';
import type { Table } from '../src/routes/types.ts';
import { TableUpdater } from '../src/runtime/table-updater.ts';
import { bulkBody, type CatalogProcess, startCatalogProcess } from './catalog-child.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const list = (name: string, def: string): string[] => {
  const i = process.argv.indexOf(`--${name}`);
  return (i > 0 ? String(process.argv[i + 1]) : def).split(',').filter(Boolean);
};
const SIZES = list('services', '5000').map(Number);
const SERVICES = SIZES[0] as number;
const INSTANCES = arg('instances', 3);
const CHANGES = arg('changes', 100);
/** Idle time before each change (0 = back to back: a change within 20 ms of the last build waits for the updater's coalescing window). */
const GAP = arg('gap', 0);
/** --full: build every table from scratch (no previous table), as before incremental builds. */
const FULL = process.argv.includes('--full');
// as the proxy builds (runtime/data-plane.ts buildOptionsFrom): skipBadLines on
const BUILD_OPTS = {
  matcher: 'prefix',
  strategy: 'rnd',
  globDisabled: false,
  globCacheSize: 1000,
  skipBadLines: true,
} as const;
const WATCHES = list('watch', 'state') as ('state' | 'service')[];
let WATCH: 'state' | 'service' = WATCHES[0] ?? 'state';

interface Row {
  services: number;
  watch: string;
  first?: number;
  up?: number[];
  down?: number[];
  perFlap?: number;
  catCpu?: number;
  selfCpu?: number;
  rss?: number;
  failed?: string;
}
const summary: Row[] = [];
/** What a failed row leaves open (the catalog process, the backend's watches). */
let cleanup: (() => Promise<unknown>)[] = [];

async function put(url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, { method: 'PUT', body: body === undefined ? undefined : JSON.stringify(body) });
  await res.text();
  if (res.status !== 200) throw new Error(`PUT ${url}: ${res.status}`);
}

type Catalog = CatalogProcess;

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** --http-register: over HTTP, 32 concurrent (slow: 10-20 s for 15k); otherwise the child preloads them. */
async function registerMany(cat: Catalog, services: number, instances: number): Promise<void> {
  const jobs: (() => Promise<void>)[] = [];
  for (let s = 0; s < services; s++) {
    for (let i = 0; i < instances; i++) jobs.push(() => put(`${cat.url}/v1/agent/service/register`, bulkBody(s, i)));
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < jobs.length) await (jobs[next++] as () => Promise<void>)();
    }),
  );
}

/** Heap a fresh build of the table's text retains (the text itself is shared, not counted); needs --expose-gc. */
function tableMB(t: Table | undefined): string {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (t === undefined || gc === undefined) return '-';
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const copy = buildTable(t.source, BUILD_OPTS);
  gc();
  const mb = (process.memoryUsage().heapUsed - h0) / 2 ** 20;
  return `${mb.toFixed(0)} MB heap (a fresh build of its ${copy.routes.length} routes, text not counted)`;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

const hasProbe = (t: Table | undefined) =>
  t?.lookup({ host: 'probe.example.com', path: '/', tls: false }) !== undefined;

async function run(label: string, services: number): Promise<Row> {
  const viaHttp = process.argv.includes('--http-register');
  const t0 = performance.now();
  const cat = await startCatalogProcess(viaHttp ? 0 : services, INSTANCES);
  cleanup = [() => cat.close()];
  if (services > 0 && viaHttp) await registerMany(cat, services, INSTANCES);
  const regMs = performance.now() - t0;
  await put(`${cat.url}/v1/agent/service/register`, {
    ID: 'probe-1',
    Name: 'probe',
    Address: '127.0.0.1',
    Port: 9,
    Tags: ['urlprefix-probe.example.com/'],
    Check: { CheckID: 'probe-ttl', TTL: '1h', Status: 'critical' },
  });
  await put(`${cat.url}/v1/agent/service/register`, {
    ID: 'plain-1',
    Name: 'plain',
    Address: '127.0.0.1',
    Port: 10,
    Tags: ['no-route-here'],
    Check: { CheckID: 'plain-ttl', TTL: '1h', Status: 'passing' },
  });

  const log = memoryLogger('WARN');
  let buildMs = 0;
  let updaterMs = 0;
  const opts: ConsulBackendOptions = {
    client: {
      addr: cat.url,
      token: '',
      namespace: '',
      consistency: 'consistent',
      connections: WATCH === 'service' ? 0 : 5,
    },
    watchMode: WATCH,
    retryMs: 100,
    timeoutMs: 5000,
    kvpath: '/fabio/config',
    noroutePath: '/fabio/noroute.html',
    tagPrefix: 'urlprefix-',
    status: ['passing'],
    checksRequired: 'one',
    monitors: 1,
    pollIntervalMs: 0,
    register: undefined,
  };
  const backend = new ConsulBackend(opts, log);
  cleanup.unshift(() => backend.stop());
  const store = new TableStore();
  const updater = new TableUpdater({
    store,
    log,
    routesFormat: 'delta',
    build: (text, prev, edits) => {
      const t = performance.now();
      try {
        // incremental, as serve.ts builds (--full: every build from scratch, as before)
        return buildTable(text, BUILD_OPTS, FULL ? undefined : prev, edits);
      } finally {
        buildMs += performance.now() - t;
      }
    },
  });
  await backend.connect();
  const tw = performance.now();
  // Time at which the backend emitted text with / without the probe route (before the updater).
  let emitted = { at: 0, probe: false };
  backend.watch({
    routes: (u) => {
      emitted = { at: performance.now(), probe: u.text.includes('route add probe ') };
      updater.update(u);
      updaterMs += performance.now() - emitted.at;
    },
    noRouteHtml: () => {},
  });
  const first = await Promise.race([
    updater.firstTable,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no first table within 300 s')), 300_000).unref(),
    ),
  ]);
  const firstMs = performance.now() - tw;
  // as serve.ts does after a process's first table (--full: no incremental builds to warm)
  if (!FULL) warmBuilds(first, BUILD_OPTS, WARM_ROUNDS);

  // (handled where awaited; the no-op catch keeps a timeout that fires while the PUT is still
  // pending from crashing the run as an unhandled rejection instead of failing the row)
  const waitFor = (want: boolean) => {
    const p = new Promise<void>((resolve, reject) => {
      if (hasProbe(store.current) === want) return resolve();
      const timer = setTimeout(() => reject(new Error(`timeout waiting for probe=${want}`)), 10_000);
      const off = store.onSwap((t) => {
        if (hasProbe(t) === want) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
    p.catch(() => {});
    return p;
  };

  const up: number[] = [];
  const down: number[] = [];
  const cpu0 = { cat: cat.cpuMs(), self: selfCpuMs(), build: buildMs, updater: updaterMs };
  const upEmit: number[] = [];
  const downEmit: number[] = [];
  const idle = () => (GAP > 0 ? new Promise((r) => setTimeout(r, GAP)) : Promise.resolve());
  for (let i = 0; i < CHANGES; i++) {
    await idle();
    let s = performance.now();
    const live = waitFor(true);
    await put(`${cat.url}/v1/agent/check/pass/probe-ttl`);
    await live;
    up.push(performance.now() - s);
    if (emitted.probe) upEmit.push(emitted.at - s);
    await idle();
    s = performance.now();
    const gone = waitFor(false);
    await put(`${cat.url}/v1/agent/check/fail/probe-ttl`);
    await gone;
    down.push(performance.now() - s);
    if (!emitted.probe) downEmit.push(emitted.at - s);
  }

  const n = 2 * CHANGES;
  const cpu = {
    cat: (cat.cpuMs() - cpu0.cat) / n,
    self: (selfCpuMs() - cpu0.self) / n,
    build: (buildMs - cpu0.build) / n,
    updater: (updaterMs - cpu0.updater) / n,
  };

  // Consul requests per flap (down + up), tagged and untagged.
  const c = backend.client;
  const healthPath = WATCH === 'service' ? '/v1/health/service/' : '/v1/health/state/any';
  const before = { cat: c.count('/v1/catalog/service/'), health: c.count(healthPath), all: c.count('/') };
  for (let i = 0; i < 10; i++) {
    const live = waitFor(true);
    await put(`${cat.url}/v1/agent/check/pass/probe-ttl`);
    await live;
    const gone = waitFor(false);
    await put(`${cat.url}/v1/agent/check/fail/probe-ttl`);
    await gone;
  }
  const tagged = { cat: c.count('/v1/catalog/service/') - before.cat, all: c.count('/') - before.all };
  const b2 = { cat: c.count('/v1/catalog/service/'), health: c.count(healthPath), all: c.count('/') };
  for (let i = 0; i < 10; i++) {
    for (const st of ['fail', 'pass']) {
      const h = c.count(healthPath);
      await put(`${cat.url}/v1/agent/check/${st}/plain-ttl`);
      // The change is read when the next blocking read is sent (the parked one answered: +1).
      // The service watch does not watch untagged services: there is no request to wait for.
      const end = Date.now() + (WATCH === 'service' ? 100 : 5000);
      while (c.count(healthPath) < h + 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
    }
  }
  const untagged = {
    cat: c.count('/v1/catalog/service/') - b2.cat,
    health: c.count(healthPath) - b2.health,
    all: c.count('/') - b2.all,
  };

  const mem = process.memoryUsage();
  // with --expose-gc: what a watching process keeps (registry caches included), before stopping
  const gcNow = (globalThis as { gc?: () => void }).gc;
  gcNow?.();
  const watching = process.memoryUsage();
  await backend.stop();
  updater.close?.();
  await cat.close();
  const f = (n: number) => n.toFixed(1).padStart(7);
  console.log(
    `\n${label} (watch=${WATCH}${GAP ? `, ${GAP} ms between changes` : ''}): ${services} services x ${services ? INSTANCES : 0} instances (+2), ${first.routes.length} routes in the first table`,
  );
  console.log(
    `  registration ${(regMs / 1000).toFixed(1)} s (${viaHttp ? 'over HTTP' : 'preloaded in the catalog process'}), first table after watch() ${firstMs.toFixed(0)} ms`,
  );
  console.log('  change                          p50 ms   p90 ms   p99 ms   max ms');
  const row = (name: string, xs: number[]) =>
    console.log(`  ${name.padEnd(30)}${f(pct(xs, 50))}  ${f(pct(xs, 90))}  ${f(pct(xs, 99))}  ${f(Math.max(...xs))}`);
  row('passing → text emitted', upEmit);
  row('passing → live in the store', up);
  row('critical → text emitted', downEmit);
  row('critical → gone from the store', down);
  console.log(
    `  per flap (down+up) of a tagged service:   ${(tagged.cat / 10).toFixed(1)} catalog reads, ${(tagged.all / 10).toFixed(1)} Consul requests`,
  );
  console.log(
    `  per flap (down+up) of an untagged service: ${(untagged.cat / 10).toFixed(1)} catalog reads, ${(untagged.all / 10).toFixed(1)} Consul requests`,
  );
  console.log(
    `  CPU per change: catalog process ${cpu.cat.toFixed(1)} ms; fabio-ts process ${cpu.self.toFixed(1)} ms, buildTable ${cpu.build.toFixed(1)} ms, updater.update() inline ${cpu.updater.toFixed(1)} ms`,
  );
  console.log(`  heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB, RSS ${(mem.rss / 2 ** 20).toFixed(0)} MB`);
  if (gcNow !== undefined)
    console.log(
      `  while watching, after a full GC: heap used ${(watching.heapUsed / 2 ** 20).toFixed(0)} MB, RSS ${(watching.rss / 2 ** 20).toFixed(0)} MB`,
    );
  // with --expose-gc: what is still alive (store, backend and updater are stopped but referenced)
  if (gcNow !== undefined) {
    gcNow();
    const live = process.memoryUsage();
    console.log(
      `  after a full GC: heap used ${(live.heapUsed / 2 ** 20).toFixed(0)} MB, external ${(live.external / 2 ** 20).toFixed(0)} MB (array buffers ${(live.arrayBuffers / 2 ** 20).toFixed(0)} MB), RSS ${(live.rss / 2 ** 20).toFixed(0)} MB; the current table alone: ${tableMB(store.current)}`,
    );
  }
  return {
    services,
    watch: WATCH,
    first: firstMs,
    up,
    down,
    perFlap: tagged.all / 10,
    catCpu: cpu.cat,
    selfCpu: cpu.self,
    rss: mem.rss / 2 ** 20,
  };
}

function printSummary(rows: readonly Row[]): void {
  const head = [
    'services x inst',
    'watch',
    'first table ms',
    'up p50',
    'up p99',
    'down p50',
    'down p99',
    'requests/flap',
    'catalog CPU ms/change',
    'fabio-ts CPU ms/change',
    'RSS MB',
  ];
  const f1 = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));
  const out = rows.map((r) =>
    r.failed !== undefined
      ? [`${r.services} x ${INSTANCES}`, r.watch, `failed: ${r.failed}`]
      : [
          `${r.services} x ${INSTANCES}`,
          r.watch,
          (r.first ?? 0).toFixed(0),
          f1(pct(r.up ?? [], 50)),
          f1(pct(r.up ?? [], 99)),
          f1(pct(r.down ?? [], 50)),
          f1(pct(r.down ?? [], 99)),
          f1(r.perFlap),
          f1(r.catCpu),
          f1(r.selfCpu),
          (r.rss ?? 0).toFixed(0),
        ],
  );
  console.log(
    `\nsummary (${CHANGES} flaps per row; "up"/"down" = check passing/critical → live/gone in the store, ms):`,
  );
  const w = head.map((h, i) => Math.max(h.length, ...out.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i] as number)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const r of out) console.log(line(r));
}

/**
 * The registry's own CPU per health response at this scale, without network, catalog or table
 * build: JSON.parse of the health body + health filter + incremental text for a one-instance flap.
 */
async function registryCpu(services: number, instances: number): Promise<void> {
  const checks: Record<string, unknown>[] = [];
  const rows = new Map<string, unknown[]>();
  for (let s = 0; s < services; s++) {
    const tags = [`urlprefix-svc${s}.example.com/p${s % 7}`, 'bulk'];
    const r: unknown[] = [];
    for (let i = 0; i < instances; i++) {
      const id = `svc${s}-${i}`;
      checks.push({
        Node: 'node1',
        CheckID: `service:${id}`,
        Name: `Service 'svc${s}' check`,
        Status: 'passing',
        Notes: '',
        Output: '',
        ServiceID: id,
        ServiceName: `svc${s}`,
        ServiceTags: tags,
        Type: 'ttl',
        Namespace: 'default',
        Definition: {},
        CreateIndex: 5,
        ModifyIndex: 5,
      });
      r.push({
        Node: 'node1',
        Address: '10.0.0.1',
        ServiceID: id,
        ServiceName: `svc${s}`,
        ServiceAddress: `10.1.${s & 255}.${i}`,
        ServicePort: 8000 + i,
        ServiceTags: tags,
      });
    }
    rows.set(`svc${s}`, r);
  }
  const client = {
    get: async (p: string) => ({ status: 200, headers: {}, body: JSON.stringify(rows.get(p.slice(20)) ?? []) }),
  } as unknown as ConsulClient;
  const sr = new ServiceRoutes(
    client,
    { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one', dc: 'dc1', monitors: 1 },
    memoryLogger('ERROR'),
  );
  const first = JSON.stringify(checks);
  let t = performance.now();
  await sr.update(JSON.parse(first));
  const initial = performance.now() - t;
  // The same flaps through HealthState (incremental parse and filter, what the backend uses).
  const sr2 = new ServiceRoutes(
    client,
    { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one', dc: 'dc1', monitors: 1 },
    memoryLogger('ERROR'),
  );
  const hs = new HealthState({ tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one' });
  await sr2.update(hs.read(Buffer.from(first)).healthy);
  const parse: number[] = [];
  const upd: number[] = [];
  const inc: number[] = [];
  const flip = checks[Math.floor(checks.length / 2)] as { Status: string };
  for (let i = 0; i < 40; i++) {
    flip.Status = i % 2 ? 'passing' : 'critical';
    const body = JSON.stringify(checks);
    t = performance.now();
    const parsed = JSON.parse(body);
    const t1 = performance.now();
    await sr.update(parsed);
    upd.push(performance.now() - t1);
    parse.push(t1 - t);
    const bytes = Buffer.from(body); // the client hands over the bytes as received
    const t2 = performance.now();
    await sr2.update(hs.read(bytes).healthy);
    inc.push(performance.now() - t2);
  }
  console.log(
    `\nregistry CPU per health response, ${services} services x ${instances} (${checks.length} checks, ${(first.length / 2 ** 20).toFixed(1)} MB):`,
  );
  console.log(
    `  first update (all catalog reads stubbed) ${initial.toFixed(0)} ms; per flap: JSON.parse p50 ${pct(parse, 50).toFixed(1)} ms, filter+text p50 ${pct(upd, 50).toFixed(1)} ms, p90 ${pct(upd, 90).toFixed(1)} ms`,
  );
  console.log(
    `  per flap through HealthState (incremental parse + filter + text, as the backend does): p50 ${pct(inc, 50).toFixed(1)} ms, p90 ${pct(inc, 90).toFixed(1)} ms`,
  );
}

if (process.argv.includes('--cpu-only')) {
  await registryCpu(SERVICES, INSTANCES);
} else {
  if (SERVICES > 0 && !process.argv.includes('--no-cpu')) await registryCpu(SERVICES, INSTANCES);
  for (const w of WATCHES) {
    WATCH = w;
    if (!process.argv.includes('--no-empty')) summary.push(await run('empty catalog', 0));
    for (const n of SIZES) {
      if (n <= 0) continue;
      try {
        summary.push(await run('large catalog', n));
      } catch (err) {
        console.log(`\nlarge catalog (watch=${w}), ${n} services: failed: ${(err as Error).message}`);
        summary.push({ services: n, watch: w, failed: (err as Error).message });
        for (const c of cleanup) await c().catch(() => {});
      }
    }
  }
  printSummary(summary);
  process.exit(0);
}
