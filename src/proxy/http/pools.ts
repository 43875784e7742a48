import { Client, Pool } from 'undici';
import { routeAt } from '../../routes/index.ts';
import type { TableStore } from '../../routes/table-store.ts';
import type { Route, Table, Target } from '../../routes/types.ts';
import { AFTER_SWAPS_MS, afterSwaps } from '../after-swaps.ts';
import { rawTcp } from '../tcp/raw-handle.ts';
import { LeanPool } from './lean-pool.ts';

/** Upstream transport settings from proxy.* keys (milliseconds). */
export interface PoolSettings {
  /**
   * proxy.maxconn: cap on connections per target, busy and idle together, on the undici path
   * (further requests wait in the pool's queue); the lean path keeps at most this many idle.
   */
  readonly maxConn: number;
  /** proxy.dialtimeout. */
  readonly dialTimeout: number;
  /** proxy.responseheadertimeout (0 = none). */
  readonly headersTimeout: number;
  /** proxy.idleconntimeout. */
  readonly idleTimeout: number;
  /** proxy.keepalivetimeout: TCP keep-alive period (0 = 15 s). */
  readonly tcpKeepAlive: number;
}

/**
 * One undici Pool per Target.key. Pools of targets that left the table are closed gracefully on the
 * next swap (in-flight requests finish). Keep-alive: idle sockets are expired before a typical
 * upstream closes them (Node servers: 5 s) and undici honours `Keep-Alive: timeout=` hints minus a
 * margin, which together avoid the reuse race of architecture rule 9.
 */
export class PoolCache {
  #pools = new Map<string, Pool>();
  // Targets are frozen per table: remembering the pool per Target object makes the hot path one
  // WeakMap read with no string building.
  #byTarget = new WeakMap<Target, Pool>();
  #settings: PoolSettings;
  #lean = new Map<string, LeanPool>();
  #leanByTarget = new WeakMap<Target, LeanPool>();
  #unsubscribe: () => void;

  /** Bare libuv handles for the lean path's upstream connections (lean-raw.ts). */
  readonly #raw = process.env.FABIO_TS_BARE_UPSTREAM === '0' ? undefined : rawTcp;

  /** Pool key → the routes (`host \0 path`, or ANY) whose targets used the pool: what prune checks. */
  readonly #usedBy = new Map<string, Set<string>>();

  /**
   * Reads FABIO_TS_BARE_UPSTREAM once, here (`0`: the lean path keeps net.Socket upstream).
   * `pruneDelayMs`: pools of departed targets are closed this long after a burst of swaps
   * (after-swaps.ts).
   */
  constructor(store: TableStore, settings: PoolSettings, pruneDelayMs = AFTER_SWAPS_MS) {
    this.#settings = settings;
    this.#unsubscribe = store.onSwap(afterSwaps((t) => this.prune(t), pruneDelayMs));
  }

  /**
   * The pool for a target, created on first use; `route`: the route the target was picked from
   * (prune checks that route instead of every target of the table). // hot path
   */
  get(t: Target, route?: Route): Pool {
    const p = this.#byTarget.get(t);
    if (p !== undefined) return p;
    const k = poolKey(t);
    this.#note(k, route);
    const q = this.#pools.get(k) ?? this.#create(t, k);
    this.#byTarget.set(t, q);
    return q;
  }

  /** The raw-socket pool of the lean path (plain http targets only), created on first use. // hot path */
  lean(t: Target, route?: Route): LeanPool {
    const p = this.#leanByTarget.get(t);
    if (p !== undefined) return p;
    const k = poolKey(t);
    this.#note(k, route);
    let q = this.#lean.get(k);
    if (q === undefined) {
      const s = this.#settings;
      const idle = s.idleTimeout > 0 ? s.idleTimeout : 15_000;
      q = new LeanPool(t.hostPort, {
        dialTimeout: s.dialTimeout,
        idleTimeout: Math.min(idle, 4_000),
        maxIdle: s.maxConn > 0 ? s.maxConn : Number.POSITIVE_INFINITY,
        tcpKeepAlive: s.tcpKeepAlive > 0 ? s.tcpKeepAlive : 15_000,
        raw: this.#raw,
      });
      this.#lean.set(k, q);
    }
    this.#leanByTarget.set(t, q);
    return q;
  }

  #create(t: Target, key: string): Pool {
    const s = this.#settings;
    const pool = new Pool(origin(t), {
      ...clientOptions(t, s),
      connections: s.maxConn > 0 ? s.maxConn : null,
    });
    pool.on('connectionError', () => {}); // reported per request; never crash on an emitter error
    this.#pools.set(key, pool);
    return pool;
  }

  /**
   * A one-request client on a new connection, for the single retry after a reused pooled
   * connection failed before answering: another idle connection of the pool may be just as stale.
   * The caller closes it when the exchange ends.
   */
  fresh(t: Target): Client {
    const c = new Client(origin(t), clientOptions(t, this.#settings));
    c.on('connectionError', () => {});
    return c;
  }

  #note(k: string, route: Route | undefined): void {
    let used = this.#usedBy.get(k);
    if (used === undefined) this.#usedBy.set(k, (used = new Set()));
    used.add(route === undefined ? ANY : `${route.host}\u0000${route.path}`);
  }

  /**
   * Closes pools whose targets are no longer in `table`. Each pool's routes are looked up in the
   * table (routeAt); the table's targets are walked (once) only for a pool taken without its route
   * or whose routes no longer have it: only then can it be one to close.
   */
  prune(table: Table): void {
    let all: Set<string> | undefined;
    const live = (k: string): boolean => {
      const used = this.#usedBy.get(k);
      if (used === undefined || used.has(ANY)) {
        all ??= new Set(table.routes.flatMap((r) => r.targets.map(poolKey)));
        return all.has(k);
      }
      for (const hp of used) {
        const at = hp.indexOf('\u0000');
        const r = routeAt(table.routes, hp.slice(0, at), hp.slice(at + 1));
        if (r?.targets.some((t) => poolKey(t) === k)) return true;
        used.delete(hp); // that route no longer has it: a target added back is a new object, noted anew
      }
      // none of its routes has it any more: another route may (the same upstream), so look once
      all ??= new Set(table.routes.flatMap((r) => r.targets.map(poolKey)));
      return all.has(k);
    };
    for (const [k, p] of this.#lean) {
      if (!live(k)) {
        this.#lean.delete(k);
        p.close();
      }
    }
    for (const [k, p] of this.#pools) {
      if (!live(k)) {
        this.#pools.delete(k);
        p.close().catch(() => {});
      }
    }
    for (const k of this.#usedBy.keys()) if (!this.#lean.has(k) && !this.#pools.has(k)) this.#usedBy.delete(k);
  }

  get size(): number {
    return this.#pools.size;
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    for (const p of this.#lean.values()) p.close();
    this.#lean.clear();
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }
}

/** A pool taken without its route (see PoolCache.get). */
const ANY = '\u0001';

/**
 * Target.key is service + URL; two routes of one service to the same URL may differ in transport
 * options (tlsskipverify, host= as SNI), so those are part of the pool identity.
 */
function poolKey(t: Target): string {
  return `${t.key}\u0000${t.tlsSkipVerify ? 1 : 0}\u0000${t.host}`;
}

function origin(t: Target): string {
  const https = t.scheme === 'https' || t.scheme === 'wss';
  return `${https ? 'https' : 'http'}://${t.hostPort}`;
}

/** The undici options shared by the pools and the one-shot retry clients. */
function clientOptions(t: Target, s: PoolSettings): Client.Options {
  const https = t.scheme === 'https' || t.scheme === 'wss';
  const sni = https && t.host !== '' && t.host !== 'dst' ? t.host : undefined;
  const idle = s.idleTimeout > 0 ? s.idleTimeout : 15_000;
  return {
    pipelining: 1,
    // Without a hint, stay below Node's 5 s server default; hints may raise it up to idleconntimeout.
    keepAliveTimeout: Math.min(idle, 4_000),
    keepAliveMaxTimeout: idle,
    keepAliveTimeoutThreshold: 1_000,
    headersTimeout: s.headersTimeout,
    bodyTimeout: 0,
    connect: {
      ...(s.dialTimeout > 0 ? { timeout: s.dialTimeout } : {}),
      keepAlive: true,
      keepAliveInitialDelay: s.tcpKeepAlive > 0 ? s.tcpKeepAlive : 15_000,
      ...(https ? { rejectUnauthorized: !t.tlsSkipVerify, ...(sni ? { servername: sni } : {}) } : {}),
    },
  };
}
