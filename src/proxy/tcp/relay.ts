import net from 'node:net';

/**
 * One direction of a splice: bytes read from `src` are written to `dst` with back-pressure, and
 * src's FIN ends dst's writes (half-close). Cheaper than `pipe()` (three listeners, no unpipe/error
 * bookkeeping per connection).
 *
 * Bulk mode: once a direction has carried BULK_BYTES, reads switch to one reusable buffer of
 * BUF_BYTES owned by the connection (Node's `onread` user-buffer mechanism), so a long transfer
 * stops allocating a fresh 64 KiB ArrayBuffer per read (allocation, page faults, GC) and reads in
 * bigger chunks. Measured: about 0.45-0.6 s CPU per GB instead of 0.8-1.4 s. Short connections
 * never switch, so an idle or chatty connection holds no extra memory.
 *
 * The buffer is reused for the next read, so a write that the kernel did not take at once (it is
 * then referenced by the pending write) pauses reading until that write completed.
 */
export const BULK_BYTES = 64 * 1024;
export const BUF_BYTES = 128 * 1024;

// Accepted sockets cannot be given `onread` through the public API, so the user-buffer mode is
// switched on through the same socket fields `net.Socket({ onread })` sets (present in Node 20 and
// 22). Feature-detected once: without them every direction stays in stream mode.
const probe = Object.getOwnPropertySymbols(new net.Socket());
const kBuffer = probe.find((s) => s.description === 'kBuffer');
const kBufferCb = probe.find((s) => s.description === 'kBufferCb');
const kBufferGen = probe.find((s) => s.description === 'kBufferGen');
const userBufferSupported = kBuffer !== undefined && kBufferCb !== undefined && kBufferGen !== undefined;

interface UserBufferHandle {
  useUserBuffer?: (b: Uint8Array) => void;
}
type Internal = net.Socket & Record<symbol, unknown> & { _handle?: UserBufferHandle | null };

/**
 * Reusable bulk buffers; a connection returns its buffers when both of its sockets closed. One pool
 * per data plane (shared.ts): at most `max` idle buffers (8 MiB at the default 64) are kept.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #max: number;

  constructor(max = 64) {
    this.#max = max;
  }

  /** Idle buffers held. */
  get size(): number {
    return this.#free.length;
  }

  /** A bulk buffer from the pool, or a new one. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(BUF_BYTES);
  }

  release(b: Buffer | undefined): void {
    if (b !== undefined && this.#free.length < this.#max) this.#free.push(b);
  }
}

/**
 * How many directions switched to bulk mode, and how many connections were spliced on bare
 * handles (raw-splice.ts): tests check that the modes are really used.
 */
export const relayStats = { bulk: 0, raw: 0 };

export class Relay {
  readonly #src: net.Socket;
  readonly #dst: net.Socket;
  /** Called for every chunk read (the listener rt deadline refreshes here); may be a no-op. */
  readonly #tick: (() => void) | undefined;
  /** Called when src's FIN was passed on to a dst that is still open (the splice's linger starts). */
  readonly #onHalf: ((dst: net.Socket) => void) | undefined;
  readonly #pool: BufferPool;
  #bytes = 0;
  /** The bulk-mode buffer; undefined while in stream mode. */
  buffer: Buffer | undefined;
  /** In bulk mode: reading paused until the pending write of `buffer` completed. */
  #waiting = false;

  constructor(
    src: net.Socket,
    dst: net.Socket,
    pool: BufferPool,
    tick?: () => void,
    onHalf?: (dst: net.Socket) => void,
  ) {
    this.#src = src;
    this.#pool = pool;
    this.#dst = dst;
    this.#tick = tick;
    this.#onHalf = onHalf;
    src.on('data', this.#onData);
    src.on('end', this.#onEnd);
    dst.on('drain', this.#onDrain);
    src.resume(); // a socket left paused (after the ClientHello was read) flows from here
    // A FIN that arrived with nothing left to read (the ClientHello's FIN, or a client that ended
    // while the upstream was dialled) has already emitted 'end' (net.Socket reads EOF eagerly).
    if (src.readableEnded) this.#onEnd();
  }

  #onData = (d: Buffer): void => {
    // hot path
    this.#tick?.();
    this.#bytes += d.length;
    if (!this.#dst.write(d)) return void this.#src.pause();
    if (this.#bytes >= BULK_BYTES && this.buffer === undefined && userBufferSupported) this.#toBulk();
  };

  #onDrain = (): void => {
    if (this.buffer === undefined) this.#src.resume();
  };

  #onEnd = (): void => {
    const dst = this.#dst;
    // The other direction already ended and nothing is left to write: close() sends the FIN
    // itself, so the shutdown(2) of end() would be a wasted syscall.
    if (dst.readableEnded && dst.writableLength === 0) dst.destroy();
    else {
      dst.end();
      this.#onHalf?.(dst);
    }
  };

  #toBulk(): void {
    const s = this.#src as Internal;
    const h = s._handle;
    // only between reads with nothing queued in the stream, so byte order is kept
    if (h == null || typeof h.useUserBuffer !== 'function' || s.readableLength !== 0 || s[kBufferGen!] != null) return;
    if ((s as { encrypted?: boolean }).encrypted === true) return; // TLS-terminated: not a plain TCP handle
    const buf = this.#pool.take();
    this.buffer = buf;
    relayStats.bulk++;
    s[kBuffer!] = buf;
    s[kBufferCb!] = this.#onRead;
    h.useUserBuffer(buf);
  }

  // hot path (bulk): bytes are in `buf`, which the next read overwrites
  #onRead = (n: number, buf: Uint8Array): boolean => {
    this.#tick?.();
    const dst = this.#dst;
    dst.write((buf as Buffer).subarray(0, n), this.#flushed);
    if (dst.writableLength === 0) return true;
    this.#waiting = true;
    return false; // stops reading until #flushed
  };

  #flushed = (): void => {
    if (this.#waiting) {
      this.#waiting = false;
      if (!this.#src.destroyed) this.#src.resume();
    }
  };
}
