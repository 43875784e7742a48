import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { TableStore } from '../../routes/table-store.ts';
import type { Target } from '../../routes/types.ts';

export interface UpstreamPoolOptions {
  /** proxy.dialtimeout (ms): a session not connected by then is destroyed. */
  readonly dialTimeout: number;
  /** proxy.grpcshutdowntimeout (ms): delay before closing a session whose targets left the table. */
  readonly shutdownTimeout: number;
  /** Extra trusted CAs for TLS upstreams (tests; production uses the system roots as fabio). */
  readonly ca?: string | readonly string[];
}

interface Entry {
  readonly session: ClientHttp2Session;
  /** Target keys (service + url) that used this session: it lives while one of them is routed. */
  readonly targets: Set<string>;
  retire: NodeJS.Timeout | undefined;
}

/** Whether a target is dialled with TLS: grpcs:// (and https://) targets, on every listener. */
function upstreamTls(target: Target): boolean {
  return target.scheme === 'grpcs' || target.scheme === 'https';
}

/**
 * One HTTP/2 client session per upstream (scheme, host:port and TLS options), shared by every
 * stream to that upstream as grpc-go's ClientConn is in fabio. A session that failed, closed or
 * received GOAWAY is dropped and the next stream dials anew. After each table swap, a session whose
 * targets all left the table is closed gracefully after proxy.grpcshutdowntimeout (in-flight
 * streams finish), unless a target comes back first.
 */
export class UpstreamPool {
  readonly #opts: UpstreamPoolOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #unsubscribe: () => void;

  constructor(store: TableStore, opts: UpstreamPoolOptions) {
    this.#opts = opts;
    this.#unsubscribe = store.onSwap((table) => {
      const live = new Set<string>();
      for (const r of table.routes) for (const t of r.targets) live.add(t.key);
      for (const e of this.#entries.values()) this.#review(e, live);
    });
  }

  /** Number of pooled sessions (tests). */
  get size(): number {
    return this.#entries.size;
  }

  /** Opens a stream to the target; errors surface as the stream's 'error'/'close'. */
  request(target: Target, headers: OutgoingHttpHeaders): ClientHttp2Stream {
    const e = this.#entry(target);
    e.targets.add(target.key);
    if (e.retire !== undefined) {
      clearTimeout(e.retire);
      e.retire = undefined;
    }
    try {
      return e.session.request(headers, { endStream: false });
    } catch (err) {
      // A session that cannot open streams any more (stream ids used up, closing) is replaced once.
      this.#drop(e, true);
      const fresh = this.#entry(target);
      fresh.targets.add(target.key);
      if (fresh === e) throw err;
      return fresh.session.request(headers, { endStream: false });
    }
  }

  /** Closes every session now (in-flight streams are cancelled). */
  close(): void {
    this.#unsubscribe();
    for (const e of this.#entries.values()) {
      clearTimeout(e.retire);
      e.session.destroy();
    }
    this.#entries.clear();
  }

  #review(e: Entry, live: ReadonlySet<string>): void {
    let routed = false;
    for (const k of e.targets) if (live.has(k)) routed = true;
    if (routed) {
      clearTimeout(e.retire);
      e.retire = undefined;
    } else if (e.retire === undefined) {
      e.retire = setTimeout(() => this.#drop(e, true), this.#opts.shutdownTimeout);
      e.retire.unref();
    }
  }

  #drop(e: Entry, close: boolean): void {
    clearTimeout(e.retire);
    for (const [k, v] of this.#entries) if (v === e) this.#entries.delete(k);
    if (close && !e.session.closed) e.session.close();
  }

  #entry(target: Target): Entry {
    const tls = upstreamTls(target);
    const servername = target.opts.grpcservername ?? '';
    const key = `${tls ? 's' : 'h'}\u0000${target.hostPort}\u0000${servername}\u0000${target.tlsSkipVerify}`;
    const found = this.#entries.get(key);
    if (found !== undefined && !found.session.closed && !found.session.destroyed) return found;
    const authority = `${tls ? 'https' : 'http'}://${target.hostPort}`;
    const session = http2.connect(
      authority,
      tls
        ? {
            ALPNProtocols: ['h2'],
            rejectUnauthorized: !target.tlsSkipVerify,
            ...(servername !== '' ? { servername } : {}),
            ...(this.#opts.ca !== undefined ? { ca: this.#opts.ca as string | string[] } : {}),
          }
        : {},
    );
    const e: Entry = { session, targets: new Set(), retire: undefined };
    this.#entries.set(key, e);
    const dial = setTimeout(
      () => session.destroy(new Error(`dial ${target.hostPort}: timeout`)),
      this.#opts.dialTimeout,
    );
    dial.unref();
    session.once('connect', () => clearTimeout(dial));
    session.on('error', () => {}); // each stream reports its own failure
    session.once('goaway', () => this.#drop(e, false));
    session.once('close', () => {
      clearTimeout(dial);
      this.#drop(e, false);
    });
    return e;
  }
}
