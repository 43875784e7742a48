import type { Route, Table, Target } from '../routes/types.ts';

/**
 * Per-route and per-target traffic over the last few minutes, for the admin UI's small charts:
 * requests, errors (status >= 500, or 0 for a failed upstream) and a latency histogram per time
 * slot, kept in fixed ring buffers. Fed by the Metrics implementation on every proxied request.
 */

/** Latency bucket upper bounds in seconds: 0.5 ms growing by 1.5x up to about 64 s. */
const LAT_BOUNDS: readonly number[] = Array.from({ length: 30 }, (_, i) => 0.0005 * 1.5 ** i);
const NB = LAT_BOUNDS.length + 1; // + overflow

interface Entry {
  readonly id: string;
  readonly service: string;
  readonly host: string;
  readonly path: string;
  readonly url: string;
  readonly epoch: Float64Array;
  readonly req: Uint32Array;
  readonly err: Uint32Array;
  readonly lat: Uint32Array;
}

/** JSON-able copy of the ring buffers (for moving stats from worker processes to the admin). */
export interface TrafficSnapshot {
  readonly slotMs: number;
  readonly slots: number;
  readonly entries: readonly {
    id: string;
    service: string;
    host: string;
    path: string;
    url: string;
    epoch: number[];
    req: number[];
    err: number[];
    lat: number[];
  }[];
}

export interface TrafficFigures {
  /** Per slot, oldest first. */
  readonly requests: number[];
  readonly errors: number[];
  /** p99 latency per slot in seconds (0 when the slot saw no request). */
  readonly p99: number[];
  readonly total: number;
  readonly totalErrors: number;
  /** Requests per second over the whole window. */
  readonly rps: number;
  readonly errorRate: number;
  readonly p99All: number;
}

export interface TrafficReport {
  readonly slotSeconds: number;
  readonly slots: number;
  readonly routes: readonly (TrafficFigures & {
    service: string;
    host: string;
    path: string;
    targets: readonly (TrafficFigures & { url: string })[];
  })[];
}

/** What the admin server needs; the lead may supply an aggregate over worker processes. */
export interface TrafficSource {
  report(): TrafficReport | Promise<TrafficReport>;
}

function p99Of(hist: ArrayLike<number>, off: number): number {
  let n = 0;
  for (let i = 0; i < NB; i++) n += hist[off + i] ?? 0;
  if (n === 0) return 0;
  const want = Math.ceil(n * 0.99);
  let c = 0;
  for (let i = 0; i < NB; i++) {
    c += hist[off + i] ?? 0;
    if (c >= want) return LAT_BOUNDS[i] ?? (LAT_BOUNDS[NB - 2] ?? 0) * 1.5;
  }
  return 0;
}

export class TrafficStats implements TrafficSource {
  readonly #slotMs: number;
  readonly #slots: number;
  readonly #now: () => number;
  #byTarget = new WeakMap<Target, Entry>();
  #byId = new Map<string, Entry>();

  constructor(opts: { slotMs?: number; slots?: number; now?: () => number } = {}) {
    this.#slotMs = opts.slotMs ?? 10_000;
    this.#slots = opts.slots ?? 30;
    this.#now = opts.now ?? Date.now;
  }

  #entry(route: Route, target: Target): Entry {
    let e = this.#byTarget.get(target);
    if (e) return e;
    const id = `${route.host}${route.path}\u0000${target.key}`;
    e = this.#byId.get(id);
    if (!e) {
      const s = this.#slots;
      e = {
        id,
        service: target.service,
        host: route.host,
        path: route.path,
        url: target.url,
        epoch: new Float64Array(s).fill(-1),
        req: new Uint32Array(s),
        err: new Uint32Array(s),
        lat: new Uint32Array(s * NB),
      };
      this.#byId.set(id, e);
    }
    this.#byTarget.set(target, e);
    return e;
  }

  /** One proxied request. // hot path */
  record(route: Route, target: Target, status: number, seconds: number): void {
    const e = this.#entry(route, target);
    const slot = Math.floor(this.#now() / this.#slotMs);
    const i = slot % this.#slots;
    if (e.epoch[i] !== slot) {
      e.epoch[i] = slot;
      e.req[i] = 0;
      e.err[i] = 0;
      e.lat.fill(0, i * NB, i * NB + NB);
    }
    e.req[i]!++;
    if (status >= 500 || status === 0) e.err[i]!++;
    let b = 0;
    while (b < LAT_BOUNDS.length && seconds > LAT_BOUNDS[b]!) b++;
    e.lat[i * NB + b]!++;
  }

  /** Forget routes/targets that are no longer in the table. */
  prune(table: Table): void {
    const keep = new Set<string>();
    for (const r of table.routes) for (const t of r.targets) keep.add(`${r.host}${r.path}\u0000${t.key}`);
    for (const id of this.#byId.keys()) if (!keep.has(id)) this.#byId.delete(id);
    this.#byTarget = new WeakMap();
  }

  snapshot(): TrafficSnapshot {
    return {
      slotMs: this.#slotMs,
      slots: this.#slots,
      entries: [...this.#byId.values()].map((e) => ({
        id: e.id,
        service: e.service,
        host: e.host,
        path: e.path,
        url: e.url,
        epoch: [...e.epoch],
        req: [...e.req],
        err: [...e.err],
        lat: [...e.lat],
      })),
    };
  }

  /** Adds another process's snapshot into this one (slots with the same epoch are summed). */
  absorb(snap: TrafficSnapshot): void {
    if (snap.slotMs !== this.#slotMs || snap.slots !== this.#slots) return;
    for (const s of snap.entries) {
      let e = this.#byId.get(s.id);
      if (!e) {
        const n = this.#slots;
        e = {
          id: s.id,
          service: s.service,
          host: s.host,
          path: s.path,
          url: s.url,
          epoch: new Float64Array(n).fill(-1),
          req: new Uint32Array(n),
          err: new Uint32Array(n),
          lat: new Uint32Array(n * NB),
        };
        this.#byId.set(s.id, e);
      }
      for (let i = 0; i < this.#slots; i++) {
        const ep = s.epoch[i] ?? -1;
        if (ep < 0) continue;
        if (e.epoch[i]! < ep) {
          e.epoch[i] = ep;
          e.req[i] = 0;
          e.err[i] = 0;
          e.lat.fill(0, i * NB, i * NB + NB);
        } else if (e.epoch[i]! > ep) continue;
        e.req[i]! += s.req[i] ?? 0;
        e.err[i]! += s.err[i] ?? 0;
        for (let b = 0; b < NB; b++) e.lat[i * NB + b]! += s.lat[i * NB + b] ?? 0;
      }
    }
  }

  #figures(list: readonly Entry[], cur: number): TrafficFigures {
    const n = this.#slots;
    const requests = new Array<number>(n).fill(0);
    const errors = new Array<number>(n).fill(0);
    const p99 = new Array<number>(n).fill(0);
    const all = new Float64Array(NB);
    for (let k = 0; k < n; k++) {
      const slot = cur - (n - 1 - k);
      const hist = new Float64Array(NB);
      for (const e of list) {
        const i = ((slot % n) + n) % n;
        if (e.epoch[i] !== slot) continue;
        requests[k]! += e.req[i]!;
        errors[k]! += e.err[i]!;
        for (let b = 0; b < NB; b++) hist[b]! += e.lat[i * NB + b]!;
      }
      p99[k] = p99Of(hist, 0);
      for (let b = 0; b < NB; b++) all[b]! += hist[b]!;
    }
    const total = requests.reduce((a, b) => a + b, 0);
    const totalErrors = errors.reduce((a, b) => a + b, 0);
    return {
      requests,
      errors,
      p99,
      total,
      totalErrors,
      rps: total / ((n * this.#slotMs) / 1000),
      errorRate: total === 0 ? 0 : totalErrors / total,
      p99All: p99Of(all, 0),
    };
  }

  /** Figures per route (host+path) with their targets, for /api/traffic. */
  report(): TrafficReport {
    const cur = Math.floor(this.#now() / this.#slotMs);
    const groups = new Map<string, Entry[]>();
    for (const e of this.#byId.values()) {
      const k = `${e.host}${e.path}\u0000${e.service}`;
      const g = groups.get(k);
      if (g) g.push(e);
      else groups.set(k, [e]);
    }
    const routes = [...groups.values()].map((g) => ({
      service: g[0]!.service,
      host: g[0]!.host,
      path: g[0]!.path,
      ...this.#figures(g, cur),
      targets: g.map((e) => ({ url: e.url, ...this.#figures([e], cur) })),
    }));
    routes.sort((a, b) => (a.host + a.path).localeCompare(b.host + b.path));
    return { slotSeconds: this.#slotMs / 1000, slots: this.#slots, routes };
  }
}

/** Report over several processes' snapshots (the primary asks each worker for snapshot()). */
export function mergeTrafficSnapshots(snaps: readonly TrafficSnapshot[], now: () => number = Date.now): TrafficReport {
  const first = snaps[0];
  const t = new TrafficStats({ slotMs: first?.slotMs ?? 10_000, slots: first?.slots ?? 30, now });
  for (const s of snaps) t.absorb(s);
  return t.report();
}
