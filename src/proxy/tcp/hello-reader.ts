import type net from 'node:net';
import { type HelloFailure, MAX_HELLO_BYTES, readClientHello } from './client-hello.ts';

/** How long a client may take to send its whole ClientHello (unless the listener's rt is shorter). */
const HELLO_TIMEOUT_MS = 5000;

export type SocketHello =
  | { readonly ok: true; readonly sni: string; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: HelloFailure | 'timeout' | 'closed'; readonly bytes: Buffer };

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Accumulates the first bytes of a connection until they hold a whole ClientHello (or fail).
 * Grown by doubling, so a hello dribbled in 1-byte segments costs O(n) copies, not O(n²); the
 * common case, the whole hello in the first segment, copies nothing.
 */
export class HelloBuffer {
  readonly #max: number;
  #buf: Buffer = EMPTY;
  #len = 0;
  /** false while #buf is the first chunk itself (not ours to write into) */
  #owned = false;

  constructor(maxBytes: number = MAX_HELLO_BYTES) {
    this.#max = maxBytes;
  }

  /** Adds a chunk; the result once the hello is complete or failed, undefined while more is needed. */
  push(chunk: Buffer): SocketHello | undefined {
    if (this.#len === 0 && this.#buf.length === 0) {
      this.#buf = chunk;
      this.#len = chunk.length;
    } else {
      if (!this.#owned || this.#len + chunk.length > this.#buf.length) {
        const grown = Buffer.allocUnsafe(
          Math.max(this.#len + chunk.length, Math.min(2 * Math.max(this.#buf.length, 2048), this.#max + chunk.length)),
        );
        this.#buf.copy(grown, 0, 0, this.#len);
        this.#buf = grown;
        this.#owned = true;
      }
      chunk.copy(this.#buf, this.#len);
      this.#len += chunk.length;
    }
    const view = this.#buf.subarray(0, this.#len);
    const r = readClientHello(view, this.#max);
    if (r.ok) return { ok: true, sni: r.sni, bytes: view };
    if (r.reason !== 'need-more') return { ok: false, reason: r.reason, bytes: view };
    if (this.#len >= this.#max) return { ok: false, reason: 'too-large', bytes: view };
    return undefined;
  }

  /** The result when the connection ended or timed out before the hello was complete. */
  failed(reason: 'timeout' | 'closed'): SocketHello {
    return { ok: false, reason, bytes: this.#buf.subarray(0, this.#len) };
  }
}

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
    const acc = new HelloBuffer(maxBytes);
    const finish = (r: SocketHello) => {
      clearTimeout(timer);
      s.removeListener('data', onData);
      s.removeListener('end', onEnd);
      s.removeListener('close', onEnd);
      s.pause();
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      const r = acc.push(chunk);
      if (r !== undefined) finish(r);
    };
    const onEnd = () => finish(acc.failed('closed'));
    const timer = setTimeout(() => finish(acc.failed('timeout')), timeoutMs);
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('close', onEnd);
  });
}

/** The hello deadline of a listener: HELLO_TIMEOUT_MS, or the listener's rt when that is shorter. */
export function helloTimeout(readTimeout: number): number {
  return readTimeout > 0 && readTimeout < HELLO_TIMEOUT_MS ? readTimeout : HELLO_TIMEOUT_MS;
}
