/**
 * Route lookup micro-benchmark: build time, heap and median lookup time for tables of 10, 1k, 10k
 * and 100k routes (exact hosts, glob hosts and host-less routes, path depths 1-6).
 * Run: NODE_OPTIONS=--expose-gc npx tsx bench/lookup.ts [prefix|glob|iprefix] [N] [--builds R]
 * --builds R builds each table R times (after a GC each) and reports the first build and the median
 * of the rest, as CPU time of this process (user+sys), which is steadier than wall time on a shared
 * machine. The first build of a process runs on colder code, the median is the steady state.
 * --incremental adds a column: median CPU of 9 incremental builds (buildTable with the previous
 * table), each after changing the target of one route line of the text.
 * --catalog S [--instances I] [--builds R]: instead, the route text the Consul backend emits for S
 * services × I instances (default 3; one `urlprefix-svcN.example.com/pK` tag each, lines from
 * serviceRouteCommands, fabio's reverse order): cold build (first build of the process), RSS after
 * it, lookup median. The scale targets: 50,000 × 3 = 150,000 targets in ≤ 2 s cold, RSS
 * ≤ 600 MB, lookup median ≤ 1 µs; 10,000 routes cold ≤ 100 ms (`--catalog 10000 --instances 1`).
 */

import type { LookupRequest, Matcher } from '../src/routes/index.ts';
import { buildTable, serviceRouteCommands, sortRouteLines } from '../src/routes/index.ts';
import { catalogLines } from './catalog-text.ts';

/** Deterministic PRNG so every run benchmarks the same tables. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['api', 'v1', 'v2', 'users', 'orders', 'static', 'img', 'admin', 'search', 'items', 'cart', 'auth'];

function makeRoutes(n: number, r: () => number, matcher: Matcher): { text: string; reqs: LookupRequest[] } {
  const exactHosts = Math.max(1, Math.floor(n / 10));
  const globHosts = Math.max(1, Math.floor(n / 100));
  const lines: string[] = [];
  const reqs: LookupRequest[] = [];
  for (let i = 0; i < n; i++) {
    const depth = 1 + Math.floor(r() * 6);
    let path = '';
    for (let d = 0; d < depth; d++) path += `/${WORDS[Math.floor(r() * WORDS.length)]}${d === 0 ? i % 97 : ''}`;
    const kind = r();
    let host: string;
    let reqHost: string;
    if (kind < 0.7) {
      const h = Math.floor(r() * exactHosts);
      host = `host${h}.example.com`;
      reqHost = host;
    } else if (kind < 0.85) {
      const g = Math.floor(r() * globHosts);
      host = `*.g${g}.example.com`;
      reqHost = `x${i}.g${g}.example.com`;
    } else {
      host = '';
      reqHost = `nohost${i % 50}.example.org`;
    }
    const targets = 1 + Math.floor(r() * 3);
    for (let t = 0; t < targets; t++)
      lines.push(`route add svc${i % 200} ${host}${path} http://10.${(i >> 8) & 255}.${i & 255}.${t}:8080/`);
    // the glob matcher matches whole paths; the prefix matchers get a longer request path
    reqs.push({ host: reqHost, path: matcher === 'glob' ? path : `${path}/more/x`, tls: false });
  }
  return { text: lines.join('\n'), reqs };
}

function heapMB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1048576;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** The route text of S services × I instances as the Consul backend emits it, and one request per service. */
function catalogRoutes(services: number, instances: number): { text: string; reqs: LookupRequest[] } {
  const reqs: LookupRequest[] = [];
  for (let s = 0; s < services; s++) reqs.push({ host: `svc${s}.example.com`, path: `/p${s % 7}/x`, tls: false });
  return { text: sortRouteLines(catalogLines(services, instances, serviceRouteCommands)).join('\n'), reqs };
}

async function catalogBench(services: number, instances: number, builds: number): Promise<void> {
  const { text, reqs } = catalogRoutes(services, instances);
  const rss0 = process.memoryUsage().rss / 1048576;
  const opts = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 1000 } as const;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const table = buildTable(text, opts);
  const c1 = process.cpuUsage(c0);
  const coldMs = performance.now() - t0;
  const rss1 = process.memoryUsage().rss / 1048576;
  const cpus: number[] = [];
  let peak = rss1;
  for (let b = 1; b < builds; b++) {
    heapMB();
    const c = process.cpuUsage();
    buildTable(text, opts);
    const cu = process.cpuUsage(c);
    cpus.push((cu.user + cu.system) / 1000);
    peak = Math.max(peak, process.memoryUsage().rss / 1048576);
  }
  await new Promise((r) => setTimeout(r, 200));
  const heap = heapMB();
  const pick = rng(7);
  const sample: LookupRequest[] = [];
  for (let i = 0; i < 1000; i++) sample.push(reqs[Math.floor(pick() * reqs.length)] as LookupRequest);
  let hits = 0;
  for (const q of sample) if (table.lookup(q) !== undefined) hits++;
  const perCpu: number[] = [];
  for (let b = 0; b < 300; b++) {
    const c = process.cpuUsage();
    for (let i = 0; i < sample.length; i++) table.lookup(sample[i] as LookupRequest);
    const cu = process.cpuUsage(c);
    perCpu.push(((cu.user + cu.system) * 1e3) / sample.length);
  }
  const head = [
    'services',
    'targets',
    'text MB',
    'cold build ms',
    'cold cpu ms',
    `cpu median of ${Math.max(1, builds - 1)}`,
    'RSS before/after cold MB',
    'peak RSS MB',
    'heap MB',
    'lookup cpu median ns',
    'hit %',
  ];
  const row = [
    String(services),
    String(services * instances),
    (text.length / 1048576).toFixed(1),
    coldMs.toFixed(0),
    ((c1.user + c1.system) / 1000).toFixed(0),
    cpus.length ? median(cpus).toFixed(0) : '-',
    `${rss0.toFixed(0)}/${rss1.toFixed(0)}`,
    peak.toFixed(0),
    heap.toFixed(0),
    median(perCpu).toFixed(0),
    ((hits / sample.length) * 100).toFixed(0),
  ];
  const w = head.map((h, i) => Math.max(h.length, (row[i] as string).length));
  console.log(head.map((c, i) => c.padStart(w[i] as number)).join('  '));
  console.log(row.map((c, i) => c.padStart(w[i] as number)).join('  '));
}

const INCREMENTAL = process.argv.includes('--incremental');
const argv = process.argv.filter((a) => a !== '--incremental');
const bi = argv.indexOf('--builds');
const builds = bi > 0 ? Math.max(1, Number(argv[bi + 1])) : 1;
const args = bi > 0 ? argv.slice(2, bi).concat(argv.slice(bi + 2)) : argv.slice(2);
const sizes = args[1] ? [Number(args[1])] : [10, 1_000, 10_000, 100_000];
const matchers: Matcher[] = (args[0] as Matcher | undefined) ? [args[0] as Matcher] : ['prefix', 'glob'];
const ci = argv.indexOf('--catalog');
if (ci > 0) {
  const ii = argv.indexOf('--instances');
  await catalogBench(Number(argv[ci + 1]), ii > 0 ? Number(argv[ii + 1]) : 3, builds);
  process.exit(0);
}
const rows: string[][] = [
  [
    'routes',
    'matcher',
    'build ms',
    'build cpu ms',
    `cpu median of ${builds > 1 ? builds - 1 : 1}`,
    'heap MB',
    'lookup median ns',
    'lookup cpu median ns',
    'batch p99 ns',
    'hit %',
    ...(INCREMENTAL ? ['incr cpu median ms'] : []),
  ],
];
for (const matcher of matchers) {
  for (const n of sizes) {
    const { text, reqs } = makeRoutes(n, rng(n), matcher);
    const before = heapMB();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const table = buildTable(text, { matcher, strategy: 'rr', globDisabled: false, globCacheSize: 1000 });
    const c1 = process.cpuUsage(c0);
    const buildMs = performance.now() - t0;
    // CPU time of this process (user+sys): steadier than wall time on a shared, loaded machine
    const buildCpuMs = (c1.user + c1.system) / 1000;
    const heap = heapMB() - before;
    const cpus: number[] = [];
    for (let b = 1; b < builds; b++) {
      heapMB();
      const c = process.cpuUsage();
      buildTable(text, { matcher, strategy: 'rr', globDisabled: false, globCacheSize: 1000 });
      const cu = process.cpuUsage(c);
      cpus.push((cu.user + cu.system) / 1000);
    }
    // incremental: one route line changes per build, the previous table is passed
    const incr: number[] = [];
    if (INCREMENTAL) {
      const lines = text.split('\n');
      let prev = table;
      for (let b = 0; b < 9; b++) {
        const k = (b * 7919) % lines.length;
        lines[k] = (lines[k] as string).replace(/:8080\/$/, `:${9000 + b}/`);
        const next = lines.join('\n');
        heapMB();
        const c = process.cpuUsage();
        prev = buildTable(next, { matcher, strategy: 'rr', globDisabled: false, globCacheSize: 1000 }, prev);
        const cu = process.cpuUsage(c);
        incr.push((cu.user + cu.system) / 1000);
      }
    }
    // let a concurrent GC of the build finish so it does not land in the lookup figures
    await new Promise((r) => setTimeout(r, 200));
    heapMB();
    const pick = rng(7);
    const sample: LookupRequest[] = [];
    for (let i = 0; i < 1000; i++) sample.push(reqs[Math.floor(pick() * reqs.length)] as LookupRequest);
    let hits = 0;
    for (const q of sample) if (table.lookup(q) !== undefined) hits++;
    // batches of 1000 lookups, per-lookup time of each batch
    const per: number[] = [];
    const perCpu: number[] = [];
    for (let b = 0; b < 300; b++) {
      const s = performance.now();
      const c = process.cpuUsage();
      for (let i = 0; i < sample.length; i++) table.lookup(sample[i] as LookupRequest);
      const cu = process.cpuUsage(c);
      per.push(((performance.now() - s) * 1e6) / sample.length);
      perCpu.push(((cu.user + cu.system) * 1e3) / sample.length);
    }
    const p99 = [...per].sort((a, b) => a - b)[Math.floor(per.length * 0.99)] as number;
    rows.push([
      String(n),
      matcher,
      buildMs.toFixed(1),
      buildCpuMs.toFixed(1),
      (cpus.length > 0 ? median(cpus) : buildCpuMs).toFixed(1),
      heap.toFixed(1),
      median(per).toFixed(0),
      median(perCpu).toFixed(0),
      p99.toFixed(0),
      ((hits / sample.length) * 100).toFixed(0),
      ...(INCREMENTAL ? [median(incr).toFixed(1)] : []),
    ]);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i] as number)).join('  '));
