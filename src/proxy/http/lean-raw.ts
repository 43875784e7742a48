import { getSystemErrorName } from 'node:util';
import type { RawTcp, TcpHandle, WriteReq } from '../tcp/raw-handle.ts';

/**
 * The lean path's upstream connection on a bare libuv handle (raw-handle.ts) instead of a
 * net.Socket: the request head goes out with one `writeLatin1String` on the handle (no Writable
 * state machine, no Buffer), the answer comes back through the handle's `onread` straight into the
 * exchange (no Readable, no 'data' event), and there is no per-socket timer (net.Socket's
 * setTimeout refreshes a timer on every read and write; idle expiry is the pool's sweep).
 * Used for targets whose host is an IP literal; `FABIO_TS_BARE_UPSTREAM=0` keeps net.Socket.
 *
 * It offers the part of net.Socket that lean-pool.ts and lean-forward.ts use, with the same
 * semantics: writes before the connect completes wait for it; EOF from the upstream ends the
 * connection (net's allowHalfOpen: false) and is reported as a clean close; `destroy()` reports
 * the close on the next tick, as net.Socket emits 'close'.
 */

/** What a raw upstream connection reports (LeanConn). */
export interface RawSink {
  data(b: Buffer): void;
  /** The connection is gone; `err` undefined = EOF or a local destroy without error. */
  closed(err: Error | undefined): void;
}

function noRead(): void {}

/**
 * The one read buffer of every upstream handle (`useUserBuffer`): libuv reads into it and onread
 * copies the bytes out before returning, so it is never referenced after the callback. Without it
 * Node allocates a fresh 64 KiB ArrayBuffer (malloc + external-memory accounting that drives the
 * scavenges) for every read, however small the answer. Safe to share because a read callback runs
 * to completion before libuv reads into any other handle. // hot path
 */
const READ = Buffer.allocUnsafeSlow(64 * 1024);

export class RawUpstream {
  readonly #raw: RawTcp;
  readonly #h: TcpHandle;
  readonly #sink: RawSink;
  connecting = true;
  destroyed = false;
  readableEnded = false;
  #queued: string | undefined;
  #dialTimer: NodeJS.Timeout | undefined;
  #reading = false;
  #paused = false;

  constructor(
    raw: RawTcp,
    host: string,
    family: number,
    port: number,
    dialTimeout: number,
    keepAliveMs: number,
    sink: RawSink,
  ) {
    this.#raw = raw;
    this.#sink = sink;
    const h = raw.newSocket();
    this.#h = h;
    h.onread = noRead;
    h.useUserBuffer(READ);
    const req = raw.newConnect();
    req.address = host;
    req.port = port;
    req.oncomplete = (status: number) => {
      if (this.#dialTimer !== undefined) clearTimeout(this.#dialTimer);
      if (this.destroyed) return;
      if (status < 0) return this.destroy(sysError(status, 'connect', host, port));
      this.connecting = false;
      h.setNoDelay(true);
      h.setKeepAlive(true, Math.floor(keepAliveMs / 1000));
      h.onread = this.#onRead;
      if (!this.#paused) this.#readStart();
      const q = this.#queued;
      this.#queued = undefined;
      if (q !== undefined) this.write(q);
    };
    if (dialTimeout > 0)
      this.#dialTimer = setTimeout(() => {
        if (this.connecting) this.destroy(Object.assign(new Error('dial timeout'), { code: 'ETIMEDOUT' }));
      }, dialTimeout);
    let err: number;
    try {
      err = family === 6 ? h.connect6(req, host, port) : h.connect(req, host, port);
    } catch {
      err = -22; // EINVAL: a port out of range in a hand-written route
    }
    if (err !== 0) this.destroy(sysError(err, 'connect', host, port));
  }

  get writable(): boolean {
    return !this.destroyed && !this.readableEnded;
  }

  /** Writes a latin1 string (a request head). // hot path */
  write(s: string, _encoding?: 'latin1'): void {
    if (this.destroyed) return;
    if (this.connecting) {
      this.#queued = this.#queued === undefined ? s : this.#queued + s;
      return;
    }
    const req = this.#raw.newWrite();
    req.handle = this.#h;
    req.owner = this;
    req.oncomplete = RawUpstream.#written;
    const err = (this.#h as unknown as { writeLatin1String(r: WriteReq, s: string): number }).writeLatin1String(req, s);
    if (err !== 0) this.destroy(sysError(err, 'write'));
  }

  static readonly #written = function (this: WriteReq, status: number): void {
    if (status < 0) (this.owner as RawUpstream).destroy(sysError(status, 'write'));
  };

  /** Reads land in READ (the binding passes no ArrayBuffer); the bytes are copied out at once. */
  readonly #onRead = (): void => {
    const raw = this.#raw;
    const n = raw.readBytes();
    if (n > 0) {
      const b = Buffer.allocUnsafe(n);
      READ.copy(b, 0, 0, n);
      this.#sink.data(b);
      return; // undefined: a returned buffer would become the handle's next read buffer
    }
    if (n === 0) return;
    if (n === raw.UV_EOF) {
      this.readableEnded = true;
      return this.destroy();
    }
    this.destroy(sysError(n, 'read'));
  };

  #readStart(): void {
    if (this.#reading || this.destroyed || this.connecting) return;
    this.#reading = true;
    const err = this.#h.readStart();
    if (err !== 0) this.destroy(sysError(err, 'read'));
  }

  pause(): void {
    this.#paused = true;
    if (!this.#reading) return;
    this.#reading = false;
    this.#h.readStop();
  }

  resume(): void {
    this.#paused = false;
    this.#readStart();
  }

  destroy(err?: Error): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.#dialTimer !== undefined) clearTimeout(this.#dialTimer);
    this.#h.onread = noRead;
    this.#h.close();
    process.nextTick(() => this.#sink.closed(err));
  }
}

function sysError(status: number, syscall: string, host?: string, port?: number): Error {
  let name: string;
  try {
    name = getSystemErrorName(status);
  } catch {
    name = `E${-status}`;
  }
  const where = host !== undefined ? ` ${host}:${port}` : '';
  return Object.assign(new Error(`${syscall} ${name}${where}`), {
    code: name,
    errno: status,
    syscall,
    ...(host !== undefined ? { address: host, port } : {}),
  });
}
