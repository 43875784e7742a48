import { connect, isIP } from 'node:net';
import type { RawTcp } from '../tcp/raw-handle.ts';
import { RawUpstream } from './lean-raw.ts';

/**
 * Keep-alive connections to one plain-HTTP upstream for the lean path (lean-forward.ts): bare
 * libuv handles (lean-raw.ts) for IP-literal targets when the raw handle API is there, else
 * net.Sockets; LIFO reuse, idle sockets expire before a typical upstream closes them. Each socket
 * gets its listeners once; per request only the exchange object changes (no per-request closures
 * on the socket).
 */

/** The part of net.Socket the lean path uses (RawUpstream offers the same). */
export interface LeanSocket {
  write(s: string, encoding: 'latin1'): unknown;
  destroy(): unknown;
  pause(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
  readonly writable: boolean;
  readonly readableEnded: boolean;
}

/** What a connection reports to the exchange currently using it. */
export interface LeanExchange {
  onData(chunk: Buffer): void;
  /** The socket failed or closed; `err` undefined = clean EOF. */
  onClose(err: Error | undefined): void;
}

export interface LeanSettings {
  /** proxy.dialtimeout (ms, 0 = none). */
  readonly dialTimeout: number;
  /** How long an idle socket may wait for reuse (ms). */
  readonly idleTimeout: number;
  /** proxy.maxconn: idle sockets kept per target (fabio caps idle, not active, connections). */
  readonly maxIdle: number;
  /** TCP keep-alive initial delay (ms). */
  readonly tcpKeepAlive: number;
  /** Bare libuv handles for IP-literal targets (undefined: net.Socket for every target). */
  readonly raw?: RawTcp | undefined;
}

export class LeanConn {
  readonly socket: LeanSocket;
  /** Exchanges this socket served before the current one (0 = fresh connection). */
  uses = 0;
  idleSince = 0;
  exchange: LeanExchange | undefined;
  readonly #pool: LeanPool;

  /** `socket` a function: it builds the connection's RawUpstream, which reports to this LeanConn. */
  constructor(pool: LeanPool, socket: ReturnType<typeof connect> | ((c: LeanConn) => LeanSocket)) {
    this.#pool = pool;
    if (typeof socket === 'function') {
      this.socket = socket(this);
      return;
    }
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.data(d));
    socket.on('error', (e: Error) => this.closed(e));
    socket.on('close', () => this.closed(undefined));
    socket.on('timeout', () => {
      if (this.exchange === undefined) socket.destroy();
    });
  }

  /** Bytes from the upstream. // hot path */
  data(d: Buffer): void {
    if (this.exchange !== undefined) this.exchange.onData(d);
    else this.socket.destroy(); // bytes nobody asked for: the connection is out of sync
  }

  closed(err: Error | undefined): void {
    const x = this.exchange;
    this.exchange = undefined;
    this.#pool.forget(this);
    if (!this.socket.destroyed) this.socket.destroy();
    x?.onClose(err);
  }
}

export class LeanPool {
  readonly #host: string;
  readonly #port: number;
  readonly #s: LeanSettings;
  /** 4 or 6 when the host is an IP literal and bare handles are on, else 0 (net.Socket). */
  readonly #family: number;
  #idle: LeanConn[] = [];
  #closed = false;
  /** Expires idle bare connections (net.Sockets carry their own idle timer). */
  #sweep: NodeJS.Timeout | undefined;

  constructor(hostPort: string, settings: LeanSettings) {
    const i = hostPort.lastIndexOf(':');
    const b = hostPort.lastIndexOf(']');
    let host = i > b ? hostPort.slice(0, i) : hostPort;
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    this.#host = host;
    this.#port = i > b ? Number(hostPort.slice(i + 1)) || 80 : 80;
    this.#s = settings;
    this.#family = settings.raw !== undefined ? isIP(host) : 0;
  }

  /**
   * An idle connection (most recently used first) or a new one; `fresh` skips the idle ones (the
   * retry after a reused connection failed must not meet another stale one). // hot path
   */
  acquire(x: LeanExchange, fresh = false): LeanConn {
    const now = Date.now();
    while (!fresh && this.#idle.length > 0) {
      const c = this.#idle.pop() as LeanConn;
      // Reused only while writable and before EOF: an upstream that closed right after its last
      // answer has sent FIN, which may be read but not yet turned into 'close'.
      const sk = c.socket;
      if (sk.destroyed || !sk.writable || sk.readableEnded) {
        sk.destroy();
        continue;
      }
      if (now - c.idleSince > this.#s.idleTimeout) {
        c.socket.destroy();
        continue;
      }
      c.exchange = x;
      return c;
    }
    const s = this.#s;
    if (this.#family !== 0 && s.raw !== undefined) {
      const raw = s.raw;
      const c = new LeanConn(
        this,
        (lc) => new RawUpstream(raw, this.#host, this.#family, this.#port, s.dialTimeout, s.tcpKeepAlive, lc),
      );
      c.exchange = x;
      return c;
    }
    const sock = connect({
      host: this.#host,
      port: this.#port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: s.tcpKeepAlive,
    });
    const c = new LeanConn(this, sock);
    c.exchange = x;
    if (s.dialTimeout > 0) {
      sock.setTimeout(s.dialTimeout, () => {
        if (sock.connecting) sock.destroy(Object.assign(new Error('dial timeout'), { code: 'ETIMEDOUT' }));
      });
      sock.once('connect', () => sock.setTimeout(s.idleTimeout));
    } else {
      sock.setTimeout(s.idleTimeout);
    }
    return c;
  }

  /** Returns a connection whose exchange completed cleanly. */
  release(c: LeanConn): void {
    c.exchange = undefined;
    c.uses++;
    if (this.#closed || this.#idle.length >= this.#s.maxIdle || c.socket.destroyed) {
      c.socket.destroy();
      return;
    }
    c.idleSince = Date.now();
    this.#idle.push(c);
    if (this.#family !== 0 && this.#sweep === undefined) {
      this.#sweep = setInterval(() => this.#expire(), Math.max(50, Math.min(this.#s.idleTimeout / 2, 2000)));
      this.#sweep.unref();
    }
  }

  /** Closes bare connections idle longer than the idle timeout. */
  #expire(): void {
    const limit = Date.now() - this.#s.idleTimeout;
    for (const c of this.#idle.slice()) if (c.idleSince < limit) c.socket.destroy();
    if (this.#idle.length === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  forget(c: LeanConn): void {
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  get idle(): number {
    return this.#idle.length;
  }

  /** Closes idle sockets now; busy ones close when their exchange ends. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
  }
}
