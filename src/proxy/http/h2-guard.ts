import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { clip } from '../../log/clip.ts';
import type { Logger } from '../../log/logger.ts';

/**
 * Streams a client may have open at once on one HTTP/2 connection. Go's http2 server (and so fabio)
 * advertises 250; Node's default is 2^32-1, which lets one connection queue unbounded upstream work.
 */
export const H2_MAX_CONCURRENT_STREAMS = 250;

/**
 * Per-connection budget for streams the client resets before they were answered (HTTP/2 "rapid
 * reset", CVE-2023-44487; issue #21). Each such stream costs the proxy a request head, a route lookup
 * and possibly an upstream dial, while it costs the client two frames. A token bucket of `burst`
 * tokens, refilled at burst/10 per second, is charged once per reset; a connection that runs out gets
 * GOAWAY with ENHANCE_YOUR_CALM and is closed, which also aborts every upstream request of its
 * streams. Logged once per connection. `burst` 0 = no budget.
 *
 * Why these numbers: nghttp2 (inside Node) has its own limit, a burst of 1000 resets refilled at 33
 * per second, but when it fires it stops reading and leaves the socket's descriptor open for good
 * (measured: one descriptor per such connection). The default budget (200, refilled at 20/s) stays
 * below nghttp2's at every moment, so this guard closes the connection first, cleanly; a browser
 * cancelling a page's worth of requests (well under 200) is not affected.
 */
export function guardH2Session(session: ServerHttp2Session, burst: number, log: Logger): void {
  // session.socket is a proxy that refuses destroy(); the 'connect' event hands out the real socket.
  let raw: Socket | undefined;
  session.once('connect', (_s: unknown, sock: Socket) => {
    raw = sock;
  });
  // Node ends the socket of a failed session gracefully and waits for its write side to flush, which
  // a peer that stopped reading never lets happen; destroy it outright once the session is done.
  // (Defensive: it does not cover nghttp2's own flood limit, where no session event fires; see below.)
  session.once('error', () => raw?.destroy());
  session.once('close', () => raw?.destroy());
  if (burst <= 0) return;
  const refillPerMs = burst / 10 / 1000;
  let tokens = burst;
  let last = Date.now();
  let closed = false;
  // A connection that broke or is closing aborts all its streams at once: that is not a reset flood.
  // The session is marked destroyed only after its streams were aborted, so look one turn later.
  const onAborted = () => setImmediate(charge);
  const charge = () => {
    if (closed || session.destroyed || session.closed) return;
    const now = Date.now();
    tokens = Math.min(burst, tokens + (now - last) * refillPerMs);
    last = now;
    tokens -= 1;
    if (tokens >= 0) return;
    closed = true;
    const peer = session.socket?.remoteAddress ?? '';
    log.warn(`http2: ${clip(peer)} reset streams beyond the budget of ${burst}; sending GOAWAY and closing`);
    if (!session.destroyed) {
      session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      // Give nghttp2 one turn to flush the GOAWAY, then drop the connection and all its streams. The
      // socket itself is destroyed too: Node's session.destroy() ends it gracefully and waits for the
      // write side to flush, which a peer that stopped reading (or reset) never lets happen, leaving
      // the descriptor open.
      setImmediate(() => {
        session.destroy();
        raw?.destroy();
      });
    }
  };
  session.on('stream', (stream: ServerHttp2Stream) => {
    // 'aborted': the peer reset the stream (or the connection broke) before our answer was complete.
    stream.once('aborted', onAborted);
  });
}
