/** A net.Socket, or a raw-handle connection (raw-splice.ts) standing for its upstream socket. */
export interface KeepAliveSocket {
  readonly destroyed: boolean;
  setKeepAlive(on: boolean, delayMs: number): unknown;
}

/**
 * TCP keep-alive for upstream sockets, set only on connections that live a few seconds. Setting it
 * costs four setsockopt calls per socket (SO_KEEPALIVE, idle, interval, count), a visible share of
 * a short proxied connection, and it only matters once a connection has been idle for the
 * keep-alive delay (15 s by default), so enabling it 2.5-5 s after connect changes nothing a peer
 * can observe except that the first probe may come those seconds later.
 *
 * Two generations swept by one unref'd timer: sockets connected during one period are switched on
 * at the end of the next one. Closed sockets leave the generations at once (forget). One instance
 * per data plane (src/proxy/tcp/shared.ts), shared by its TCP and SNI listeners.
 */
export class KeepAliveLater {
  readonly #periodMs: number;
  #fresh = new Map<KeepAliveSocket, number>();
  #older = new Map<KeepAliveSocket, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(periodMs = 2500) {
    this.#periodMs = periodMs;
  }

  /** Sockets waiting for their keep-alive (both generations). */
  get pending(): number {
    return this.#fresh.size + this.#older.size;
  }

  /** Enables keep-alive (initial delay `delayMs`) on `s` if it is still open after one or two periods. */
  later(s: KeepAliveSocket, delayMs: number): void {
    this.#fresh.set(s, delayMs);
    if (this.#timer === undefined) {
      this.#timer = setInterval(this.#sweep, this.#periodMs);
      this.#timer.unref();
    }
  }

  /** The socket closed: nothing to enable. */
  forget(s: KeepAliveSocket): void {
    if (!this.#fresh.delete(s)) this.#older.delete(s);
  }

  #sweep = (): void => {
    for (const [s, delay] of this.#older) if (!s.destroyed) s.setKeepAlive(true, delay);
    this.#older = this.#fresh;
    this.#fresh = new Map();
    if (this.#older.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  };
}
