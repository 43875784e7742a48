import type net from 'node:net';
import { type HelloFailure, MAX_HELLO_BYTES, readClientHello } from './client-hello.ts';

/** How long a client may take to send its whole ClientHello (unless the listener's rt is shorter). */
export const HELLO_TIMEOUT_MS = 5000;

export type SocketHello =
  | { readonly ok: true; readonly sni: string; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: HelloFailure | 'timeout' | 'closed'; readonly bytes: Buffer };

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Reads from `s` until the ClientHello is complete, bounded by `maxBytes` and `timeoutMs`. The bytes
 * read are returned (to replay upstream or unshift into a TLS server) and the socket is left
 * paused, so nothing is lost between here and the splice. Never rejects.
 */
export function readSocketHello(
  s: net.Socket,
  timeoutMs: number,
  maxBytes: number = MAX_HELLO_BYTES,
): Promise<SocketHello> {
  return new Promise((resolve) => {
    // Grown by doubling, so a hello dribbled in 1-byte segments costs O(n) copies, not O(n²).
    let buf: Buffer = EMPTY;
    let len = 0;
    let owned = false; // false while buf is the first chunk itself (not ours to write into)
    const finish = (r: SocketHello) => {
      clearTimeout(timer);
      s.removeListener('data', onData);
      s.removeListener('end', onEnd);
      s.removeListener('close', onEnd);
      s.pause();
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      if (len === 0 && buf.length === 0) {
        buf = chunk; // common case: the whole hello in the first segment, no copy
        len = chunk.length;
      } else {
        if (!owned || len + chunk.length > buf.length) {
          const grown = Buffer.allocUnsafe(
            Math.max(len + chunk.length, Math.min(2 * Math.max(buf.length, 2048), maxBytes + chunk.length)),
          );
          buf.copy(grown, 0, 0, len);
          buf = grown;
          owned = true;
        }
        chunk.copy(buf, len);
        len += chunk.length;
      }
      const view = buf.subarray(0, len);
      const r = readClientHello(view, maxBytes);
      if (r.ok) return finish({ ok: true, sni: r.sni, bytes: view });
      if (r.reason !== 'need-more') return finish({ ok: false, reason: r.reason, bytes: view });
      if (len >= maxBytes) return finish({ ok: false, reason: 'too-large', bytes: view });
    };
    const onEnd = () => finish({ ok: false, reason: 'closed', bytes: buf.subarray(0, len) });
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout', bytes: buf.subarray(0, len) }), timeoutMs);
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('close', onEnd);
  });
}

/** The hello deadline of a listener: HELLO_TIMEOUT_MS, or the listener's rt when that is shorter. */
export function helloTimeout(readTimeout: number): number {
  return readTimeout > 0 && readTimeout < HELLO_TIMEOUT_MS ? readTimeout : HELLO_TIMEOUT_MS;
}
