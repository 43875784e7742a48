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
 * at the end of the next one. Closed sockets leave the generations at once (keepAliveForget).
 */
const PERIOD_MS = 2500;

let fresh = new Map<KeepAliveSocket, number>();
let older = new Map<KeepAliveSocket, number>();
let timer: NodeJS.Timeout | undefined;

function sweep(): void {
  for (const [s, delay] of older) if (!s.destroyed) s.setKeepAlive(true, delay);
  older = fresh;
  fresh = new Map();
  if (older.size === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

/** Enables keep-alive (initial delay `delayMs`) on `s` if it is still open after one or two periods. */
export function keepAliveLater(s: KeepAliveSocket, delayMs: number): void {
  fresh.set(s, delayMs);
  if (timer === undefined) {
    timer = setInterval(sweep, PERIOD_MS);
    timer.unref();
  }
}

/** The socket closed: nothing to enable. */
export function keepAliveForget(s: KeepAliveSocket): void {
  if (!fresh.delete(s)) older.delete(s);
}
