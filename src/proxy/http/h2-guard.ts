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
 * and possibly an upstream dial, while it costs the client two frames. A token bucket of `perSecond`
 * tokens (burst of the same size) is charged once per reset; a connection that runs out gets GOAWAY
 * with ENHANCE_YOUR_CALM and is closed, which also aborts every upstream request of its streams.
 * Logged once per connection. `perSecond` 0 = no budget (Node's and nghttp2's own limits remain).
 */
export function guardH2Session(session: ServerHttp2Session, perSecond: number, log: Logger): void {
  if (perSecond <= 0) return;
  let tokens = perSecond;
  let last = Date.now();
  let closed = false;
  // session.socket is a proxy that refuses destroy(); the 'connect' event hands out the real socket.
  let raw: Socket | undefined;
  session.once('connect', (_s: unknown, sock: Socket) => {
    raw = sock;
  });
  // A connection that broke or is closing aborts all its streams at once: that is not a reset flood.
  // The session is marked destroyed only after its streams were aborted, so look one turn later.
  const onAborted = () => setImmediate(charge);
  const charge = () => {
    if (closed || session.destroyed || session.closed) return;
    const now = Date.now();
    tokens = Math.min(perSecond, tokens + ((now - last) * perSecond) / 1000);
    last = now;
    tokens -= 1;
    if (tokens >= 0) return;
    closed = true;
    const peer = session.socket?.remoteAddress ?? '';
    log.warn(`http2: ${clip(peer)} reset more than ${perSecond} streams per second; sending GOAWAY and closing`);
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
