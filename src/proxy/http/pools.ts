import { Pool } from 'undici';
import type { Table, Target } from '../../routes/types.ts';
import type { TableStore } from '../../routes/table-store.ts';

/** Upstream transport settings from proxy.* keys (milliseconds). */
export interface PoolSettings {
  /** proxy.maxconn: cap on connections per target. */
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
  #settings: PoolSettings;
  #unsubscribe: () => void;

  constructor(store: TableStore, settings: PoolSettings) {
    this.#settings = settings;
    this.#unsubscribe = store.onSwap((t) => this.prune(t));
  }

  /** The pool for a target, created on first use. // hot path */
  get(t: Target): Pool {
    const p = this.#pools.get(t.key);
    if (p !== undefined) return p;
    return this.#create(t);
  }

  #create(t: Target): Pool {
    const s = this.#settings;
    const https = t.scheme === 'https' || t.scheme === 'wss';
    const origin = `${https ? 'https' : 'http'}://${t.hostPort}`;
    const sni = https && t.host !== '' && t.host !== 'dst' ? t.host : undefined;
    const idle = s.idleTimeout > 0 ? s.idleTimeout : 15_000;
    const pool = new Pool(origin, {
      connections: s.maxConn > 0 ? s.maxConn : null,
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
    });
    pool.on('connectionError', () => {}); // reported per request; never crash on an emitter error
    this.#pools.set(t.key, pool);
    return pool;
  }

  /** Closes pools whose targets are no longer in `table`. */
  prune(table: Table): void {
    const live = new Set<string>();
    for (const r of table.routes) for (const t of r.targets) live.add(t.key);
    for (const [k, p] of this.#pools) {
      if (!live.has(k)) {
        this.#pools.delete(k);
        p.close().catch(() => {});
      }
    }
  }

  get size(): number {
    return this.#pools.size;
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }
}
