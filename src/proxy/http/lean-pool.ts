import { connect, type Socket } from 'node:net';

/**
 * Keep-alive connections to one plain-HTTP upstream for the lean path (lean-forward.ts): raw
 * net.Sockets, LIFO reuse, idle sockets expire before a typical upstream closes them. Each socket
 * gets its listeners once; per request only the exchange object changes (no per-request closures
 * on the socket).
 */

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
}

export class LeanConn {
  readonly socket: Socket;
  /** Exchanges this socket served before the current one (0 = fresh connection). */
  uses = 0;
  idleSince = 0;
  exchange: LeanExchange | undefined;
  readonly #pool: LeanPool;

  constructor(pool: LeanPool, socket: Socket) {
    this.#pool = pool;
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      if (this.exchange !== undefined) this.exchange.onData(d);
      else socket.destroy(); // bytes nobody asked for: the connection is out of sync
    });
    socket.on('error', (e: Error) => this.#end(e));
    socket.on('close', () => this.#end(undefined));
    socket.on('timeout', () => {
      if (this.exchange === undefined) socket.destroy();
    });
  }

  #end(err: Error | undefined): void {
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
  #idle: LeanConn[] = [];
  #closed = false;

  constructor(hostPort: string, settings: LeanSettings) {
    const i = hostPort.lastIndexOf(':');
    const b = hostPort.lastIndexOf(']');
    let host = i > b ? hostPort.slice(0, i) : hostPort;
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    this.#host = host;
    this.#port = i > b ? Number(hostPort.slice(i + 1)) || 80 : 80;
    this.#s = settings;
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
    for (const c of this.#idle.splice(0)) c.socket.destroy();
  }
}
