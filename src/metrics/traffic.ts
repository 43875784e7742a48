import { routeAt } from '../routes/index.ts';
import type { Route, Table, Target } from '../routes/types.ts';

/**
 * Per-route and per-target traffic for the admin UI's charts, kept in fixed ring buffers at three
 * resolutions (5 minutes in 10 s slots, 1 hour in 1 min slots, 24 hours in 30 min slots), so the
 * memory per target is bounded whatever the traffic. Fed by the Metrics implementation:
 * HTTP requests (count, status class, latency histogram) and TCP/SNI connections (count, bytes in
 * and out, dial failures, active connections).
 */

/** Latency bucket upper bounds in seconds: 0.5 ms growing by 1.5x up to about 64 s. */
const LAT_BOUNDS: readonly number[] = Array.from({ length: 30 }, (_, i) => 0.0005 * 1.5 ** i);
const NB = LAT_BOUNDS.length + 1; // + overflow

/** Per-slot fields. HTTP: requests, errors (5xx or 0), status classes. TCP: connections, dial failures, bytes. */
const F_COUNT = 0;
const F_ERR = 1;
const F_1XX = 2; // .. F_1XX + 4 = 5xx
const F_IN = 7;
const F_OUT = 8;
const NF = 9;

export interface WindowSpec {
  readonly name: string;
  readonly slotMs: number;
  readonly slots: number;
}

/** The windows /api/traffic?window= offers; the first is the default. */
export const WINDOWS: readonly WindowSpec[] = [
  { name: '5m', slotMs: 10_000, slots: 30 },
  { name: '1h', slotMs: 60_000, slots: 60 },
  { name: '24h', slotMs: 30 * 60_000, slots: 48 },
];

interface Ring {
  readonly epoch: Float64Array;
  readonly f: Float64Array;
  /** Latency histogram per slot (HTTP entries only; length 0 for TCP). */
  readonly lat: Uint32Array;
}

interface Entry {
  readonly id: string;
  readonly proto: 'http' | 'tcp';
  readonly service: string;
  readonly host: string;
  readonly path: string;
  readonly url: string;
  readonly rings: Ring[];
  /** Open TCP connections in this process (opens minus closes). */
  active: number;
}

/** JSON-able copy of one window's ring buffers (for moving stats from worker processes to the admin). */
export interface TrafficSnapshot {
  readonly slotMs: number;
  readonly slots: number;
  readonly entries: readonly {
    id: string;
    proto?: 'http' | 'tcp';
    service: string;
    host: string;
    path: string;
    url: string;
    epoch: number[];
    req: number[];
    err: number[];
    lat: number[];
    /** NF fields per slot (absent in snapshots from older processes). */
    f?: number[];
    active?: number;
  }[];
}

export interface TrafficFigures {
  /** Per slot, oldest first: HTTP requests or TCP connections. */
  readonly requests: number[];
  /** Per slot: HTTP 5xx/failed requests or TCP dial failures. */
  readonly errors: number[];
  /** Per slot, HTTP responses by status class [1xx, 2xx, 3xx, 4xx, 5xx]. */
  readonly classes: number[][];
  /** Per slot, TCP bytes client→upstream and upstream→client. */
  readonly bytesIn: number[];
  readonly bytesOut: number[];
  /** p50 / p99 latency per slot in seconds (0 when the slot saw no request). */
  readonly p50: number[];
  readonly p99: number[];
  readonly total: number;
  readonly totalErrors: number;
  /** Requests (or connections) per second over the whole window. */
  readonly rps: number;
  readonly errorRate: number;
  readonly p50All: number;
  readonly p99All: number;
  /** Open TCP connections now (0 for HTTP). */
  readonly active: number;
}

export interface TrafficReport {
  readonly window: string;
  readonly windows: readonly string[];
  /** Start of the oldest slot, ms since the epoch (the charts' time axis). */
  readonly start: number;
  readonly slotSeconds: number;
  readonly slots: number;
  readonly routes: readonly (TrafficFigures & {
    proto: 'http' | 'tcp';
    service: string;
    host: string;
    path: string;
    targets: readonly (TrafficFigures & { url: string })[];
  })[];
}

/** What the admin server needs; the lead may supply an aggregate over worker processes. */
export interface TrafficSource {
  report(window?: string): TrafficReport | Promise<TrafficReport>;
}

function quantile(hist: ArrayLike<number>, q: number): number {
  let n = 0;
  for (let i = 0; i < NB; i++) n += hist[i] ?? 0;
  if (n === 0) return 0;
  const want = Math.ceil(n * q);
  let c = 0;
  for (let i = 0; i < NB; i++) {
    c += hist[i] ?? 0;
    if (c >= want) return LAT_BOUNDS[i] ?? (LAT_BOUNDS[NB - 2] ?? 0) * 1.5;
  }
  return 0;
}

const windowIndex = (windows: readonly WindowSpec[], name: string | undefined) =>
  Math.max(
    0,
    windows.findIndex((w) => w.name === name),
  );

export class TrafficStats implements TrafficSource {
  readonly #windows: readonly WindowSpec[];
  readonly #now: () => number;
  #byTarget = new WeakMap<Target, Entry>();
  #byId = new Map<string, Entry>();

  /** slotMs/slots override the finest window (tests); `windows` replaces all of them. */
  constructor(opts: { slotMs?: number; slots?: number; now?: () => number; windows?: readonly WindowSpec[] } = {}) {
    const ws = opts.windows ?? WINDOWS;
    this.#windows =
      opts.slotMs !== undefined || opts.slots !== undefined
        ? [
            { name: ws[0]!.name, slotMs: opts.slotMs ?? ws[0]!.slotMs, slots: opts.slots ?? ws[0]!.slots },
            ...ws.slice(1),
          ]
        : ws;
    this.#now = opts.now ?? Date.now;
  }

  #newEntry(id: string, proto: 'http' | 'tcp', service: string, host: string, path: string, url: string): Entry {
    const rings = this.#windows.map((w) => ({
      epoch: new Float64Array(w.slots).fill(-1),
      f: new Float64Array(w.slots * NF),
      lat: new Uint32Array(proto === 'http' ? w.slots * NB : 0),
    }));
    const e: Entry = { id, proto, service, host, path, url, rings, active: 0 };
    this.#byId.set(id, e);
    return e;
  }

  #entry(route: Route, target: Target, proto: 'http' | 'tcp'): Entry {
    let e = this.#byTarget.get(target);
    if (e) return e;
    const id = `${route.host}${route.path}\u0000${target.key}`;
    e = this.#byId.get(id) ?? this.#newEntry(id, proto, target.service, route.host, route.path, target.url);
    this.#byTarget.set(target, e);
    return e;
  }

  /**
   * Adds `v` to field `k`, and 1 to fields `k2`/`k3` and latency bucket `lat` when >= 0, in the
   * current slot of every window. // hot path
   */
  #add(e: Entry, k: number, v: number, k2 = -1, k3 = -1, lat = -1): void {
    const now = this.#now();
    for (let w = 0; w < this.#windows.length; w++) {
      const spec = this.#windows[w]!;
      const r = e.rings[w]!;
      const slot = Math.floor(now / spec.slotMs);
      const i = slot % spec.slots;
      const o = i * NF;
      if (r.epoch[i] !== slot) {
        r.epoch[i] = slot;
        r.f.fill(0, o, o + NF);
        if (r.lat.length > 0) r.lat.fill(0, i * NB, i * NB + NB);
      }
      r.f[o + k]! += v;
      if (k2 >= 0) r.f[o + k2]!++;
      if (k3 >= 0) r.f[o + k3]!++;
      if (lat >= 0 && r.lat.length > 0) r.lat[i * NB + lat]!++;
    }
  }

  /** One proxied HTTP request. // hot path */
  record(route: Route, target: Target, status: number, seconds: number): void {
    const e = this.#entry(route, target, 'http');
    let b = 0;
    while (b < LAT_BOUNDS.length && seconds > LAT_BOUNDS[b]!) b++;
    const cls = Math.floor(status / 100);
    this.#add(
      e,
      F_COUNT,
      1,
      status >= 500 || status === 0 ? F_ERR : -1,
      cls >= 1 && cls <= 5 ? F_1XX + cls - 1 : -1,
      b,
    );
  }

  /** A TCP/SNI connection to `target` was established. */
  tcpOpen(route: Route, target: Target): void {
    this.#entry(route, target, 'tcp').active++;
  }

  /** A TCP/SNI connection ended: counted with its bytes (in = client→upstream, out = upstream→client). */
  tcpClose(route: Route, target: Target, bytesIn: number, bytesOut: number): void {
    const e = this.#entry(route, target, 'tcp');
    if (e.active > 0) e.active--;
    this.#add(e, F_COUNT, 1);
    if (bytesIn > 0) this.#add(e, F_IN, bytesIn);
    if (bytesOut > 0) this.#add(e, F_OUT, bytesOut);
  }

  /** The upstream of a TCP/SNI route could not be dialled. */
  tcpDialFail(route: Route, target: Target): void {
    this.#add(this.#entry(route, target, 'tcp'), F_ERR, 1);
  }

  /** Forget routes/targets that are no longer in the table. */
  prune(table: Table): void {
    // each remembered route looked up (a binary search), not every target of the table walked
    for (const [id, e] of this.#byId) {
      const r = routeAt(table.routes, e.host, e.path);
      if (r === undefined || !r.targets.some((t) => `${r.host}${r.path}\u0000${t.key}` === id)) this.#byId.delete(id);
    }
    this.#byTarget = new WeakMap();
  }

  /** One window's buffers (default the finest), for the primary to merge over workers. */
  snapshot(window?: string): TrafficSnapshot {
    const w = windowIndex(this.#windows, window);
    const spec = this.#windows[w]!;
    return {
      slotMs: spec.slotMs,
      slots: spec.slots,
      entries: [...this.#byId.values()].map((e) => {
        const r = e.rings[w]!;
        const col = (k: number) => Array.from({ length: spec.slots }, (_, i) => r.f[i * NF + k]!);
        return {
          id: e.id,
          proto: e.proto,
          service: e.service,
          host: e.host,
          path: e.path,
          url: e.url,
          epoch: [...r.epoch],
          req: col(F_COUNT),
          err: col(F_ERR),
          lat: [...r.lat],
          f: [...r.f],
          active: e.active,
        };
      }),
    };
  }

  /** Adds another process's snapshot into the window of the same slot size (same epochs are summed). */
  absorb(snap: TrafficSnapshot): void {
    const w = this.#windows.findIndex((x) => x.slotMs === snap.slotMs && x.slots === snap.slots);
    if (w < 0) return;
    const n = snap.slots;
    for (const s of snap.entries) {
      const proto = s.proto ?? 'http';
      const e = this.#byId.get(s.id) ?? this.#newEntry(s.id, proto, s.service, s.host, s.path, s.url);
      e.active += s.active ?? 0;
      const r = e.rings[w]!;
      for (let i = 0; i < n; i++) {
        const ep = s.epoch[i] ?? -1;
        if (ep < 0) continue;
        if (r.epoch[i]! < ep) {
          r.epoch[i] = ep;
          r.f.fill(0, i * NF, i * NF + NF);
          if (r.lat.length > 0) r.lat.fill(0, i * NB, i * NB + NB);
        } else if (r.epoch[i]! > ep) continue;
        if (s.f) for (let k = 0; k < NF; k++) r.f[i * NF + k]! += s.f[i * NF + k] ?? 0;
        else {
          r.f[i * NF + F_COUNT]! += s.req[i] ?? 0;
          r.f[i * NF + F_ERR]! += s.err[i] ?? 0;
        }
        if (r.lat.length > 0) for (let b = 0; b < NB; b++) r.lat[i * NB + b]! += s.lat[i * NB + b] ?? 0;
      }
    }
  }

  #figures(list: readonly Entry[], w: number, cur: number): TrafficFigures {
    const spec = this.#windows[w]!;
    const n = spec.slots;
    const zero = () => new Array<number>(n).fill(0);
    const requests = zero();
    const errors = zero();
    const bytesIn = zero();
    const bytesOut = zero();
    const p50 = zero();
    const p99 = zero();
    const classes = Array.from({ length: n }, () => [0, 0, 0, 0, 0]);
    const all = new Float64Array(NB);
    const hist = new Float64Array(NB);
    for (let k = 0; k < n; k++) {
      const slot = cur - (n - 1 - k);
      const i = ((slot % n) + n) % n;
      hist.fill(0);
      for (const e of list) {
        const r = e.rings[w]!;
        if (r.epoch[i] !== slot) continue;
        const o = i * NF;
        requests[k]! += r.f[o + F_COUNT]!;
        errors[k]! += r.f[o + F_ERR]!;
        bytesIn[k]! += r.f[o + F_IN]!;
        bytesOut[k]! += r.f[o + F_OUT]!;
        for (let c = 0; c < 5; c++) classes[k]![c]! += r.f[o + F_1XX + c]!;
        if (r.lat.length > 0) for (let b = 0; b < NB; b++) hist[b]! += r.lat[i * NB + b]!;
      }
      p50[k] = quantile(hist, 0.5);
      p99[k] = quantile(hist, 0.99);
      for (let b = 0; b < NB; b++) all[b]! += hist[b]!;
    }
    const total = requests.reduce((a, b) => a + b, 0);
    const totalErrors = errors.reduce((a, b) => a + b, 0);
    const isTcp = list[0]?.proto === 'tcp';
    return {
      requests,
      errors,
      classes,
      bytesIn,
      bytesOut,
      p50,
      p99,
      total,
      totalErrors,
      rps: total / ((n * spec.slotMs) / 1000),
      // a TCP connection that failed to dial is not among the closed ones counted in total
      errorRate: isTcp
        ? total + totalErrors === 0
          ? 0
          : totalErrors / (total + totalErrors)
        : total === 0
          ? 0
          : totalErrors / total,
      p50All: quantile(all, 0.5),
      p99All: quantile(all, 0.99),
      active: list.reduce((a, e) => a + e.active, 0),
    };
  }

  /** Figures per route (host+path) with their targets, for /api/traffic?window=. */
  report(window?: string): TrafficReport {
    const w = windowIndex(this.#windows, window);
    const spec = this.#windows[w]!;
    const cur = Math.floor(this.#now() / spec.slotMs);
    const groups = new Map<string, Entry[]>();
    for (const e of this.#byId.values()) {
      const k = `${e.host}${e.path}\u0000${e.service}`;
      const g = groups.get(k);
      if (g) g.push(e);
      else groups.set(k, [e]);
    }
    const routes = [...groups.values()].map((g) => ({
      proto: g[0]!.proto,
      service: g[0]!.service,
      host: g[0]!.host,
      path: g[0]!.path,
      ...this.#figures(g, w, cur),
      targets: g.map((e) => ({ url: e.url, ...this.#figures([e], w, cur) })),
    }));
    routes.sort((a, b) => (a.host + a.path).localeCompare(b.host + b.path));
    return {
      window: spec.name,
      windows: this.#windows.map((x) => x.name),
      start: (cur - spec.slots + 1) * spec.slotMs,
      slotSeconds: spec.slotMs / 1000,
      slots: spec.slots,
      routes,
    };
  }
}

/** Report over several processes' snapshots of one window (the primary asks each worker for snapshot(window)). */
export function mergeTrafficSnapshots(
  snaps: readonly TrafficSnapshot[],
  now: () => number = Date.now,
  window?: string,
): TrafficReport {
  const first = snaps[0];
  const spec = (first && WINDOWS.find((w) => w.slotMs === first.slotMs && w.slots === first.slots)) ??
    WINDOWS.find((w) => w.name === window) ?? {
      name: window ?? 'custom',
      slotMs: first?.slotMs ?? 10_000,
      slots: first?.slots ?? 30,
    };
  const t = new TrafficStats({ now, windows: [spec] });
  for (const s of snaps) t.absorb(s);
  return { ...t.report(spec.name), windows: WINDOWS.map((w) => w.name) };
}
