import { lookup } from 'node:dns';
import net from 'node:net';
import { goIp } from '../../go/ip.ts';
import type { LookupResult } from '../../routes/types.ts';
import { proxyV1Header } from '../proxy-protocol.ts';
import type { ProxyDeps } from '../types.ts';
import { HelloBuffer, type SocketHello } from './hello-reader.ts';
import {
  closeHandle,
  handleAddr,
  ignoreRead,
  type RawTcp,
  shutdownHandle,
  type TcpHandle,
  type WriteReq,
} from './raw-handle.ts';
import { BULK_BYTES, type BufferPool, relayStats } from './relay.ts';
import type { TcpShared } from './shared.ts';
import {
  accessOk,
  type ConnAddrs,
  dialChoice,
  dialFailure,
  dialSucceeded,
  redial,
  type SpliceOptions,
} from './splice.ts';

/**
 * One proxied connection on bare libuv handles (raw-handle.ts): the same behaviour as splice.ts
 * plus relay.ts over net.Socket — access rules, PROXY v1 to the upstream, the replayed ClientHello,
 * half-close, back-pressure, bulk mode, rt/wt/it and dial deadlines, rx/tx per route, fabio's log
 * lines — without a stream object per socket.
 *
 * Life cycle: accepted (client handle only; nothing is read until a route is known) → optionally
 * readHello() → splice() dials the target → both directions relayed → each direction's FIN becomes
 * a shutdown(2) of the other socket → both handles closed. The first FIN starts the linger
 * (proxy.lingertimeout): the other side may still send for that long, then both are closed (0:
 * both closed as soon as the FIN was passed on, as fabio). A read or write error on one socket
 * closes the other with an RST (the peer learns of the reset at once); any other error closes
 * both. The owner (ConnServer) is told once through `onClosed`, so graceful shutdown can wait for it.
 */
export class RawConn {
  readonly #raw: RawTcp;
  readonly #client: TcpHandle;
  #up: TcpHandle | undefined;
  #closed = false;
  #handlesOpen = 0;
  readonly #onClosed: (c: RawConn) => void;
  #connected = false;
  #toUp: Pipe | undefined;
  #toClient: Pipe | undefined;
  /** Directions whose FIN has been passed on (shutdown completed). */
  #shut = 0;
  #timers: NodeJS.Timeout[] | undefined;
  /** The listener rt deadline (client reads), stopped by the client's FIN. */
  #rt: NodeJS.Timeout | undefined;
  #done: (() => void) | undefined;
  /** proxy.lingertimeout of the listener (ms); set by splice(). */
  #lingerMs = 0;
  /** The linger deadline, started by the first FIN. */
  #linger: NodeJS.Timeout | undefined;
  /** The target being dialled or relayed to (a failed dial may move on to another once). */
  #res: LookupResult | undefined;
  /** Bumped per dial, so the callbacks of an abandoned dial do nothing. */
  #dialGen = 0;
  #redialed = false;
  /** The data plane's keep-alive scheduler and buffer pool; set by splice(). */
  #shared: TcpShared | undefined;

  constructor(raw: RawTcp, client: TcpHandle, onClosed: (c: RawConn) => void) {
    this.#raw = raw;
    this.#client = client;
    this.#handlesOpen = 1;
    this.#onClosed = onClosed;
    relayStats.raw++;
  }

  get destroyed(): boolean {
    return this.#closed;
  }

  /** Client address (getpeername / getsockname of the accepted socket). */
  addrs(): ConnAddrs {
    return { remote: handleAddr(this.#client, true), local: this.local() };
  }

  /** The local address the client connected to (getsockname). */
  local(): { address: string; port: number } {
    return handleAddr(this.#client, false);
  }

  /**
   * Closes both sockets now (errors, deadlines, the linger, the shutdown deadline of the listener).
   * `reset`: the socket (client or upstream) to close with an RST instead of a FIN, because the
   * other one failed.
   */
  destroy(reset?: TcpHandle): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timers !== undefined) for (const t of this.#timers) clearTimeout(t);
    const closed = () => {
      if (--this.#handlesOpen === 0) this.#final();
    };
    closeHandle(this.#client, reset === this.#client, closed);
    const up = this.#up;
    if (up !== undefined) {
      closeHandle(up, reset === up && this.#connected, closed);
      if (this.#connected) this.#shared?.keepAlive.forget(this);
    }
    this.#onClosed(this);
  }

  /** keepalive.ts: upstream TCP keep-alive, switched on for connections that live a few seconds. */
  setKeepAlive(on: boolean, delayMs: number): void {
    if (!this.#closed) this.#up?.setKeepAlive(on, Math.floor(delayMs / 1000));
  }

  #final(): void {
    // no pending write can reference the bulk buffers any more
    this.#shared?.buffers.release(this.#toUp?.buffer);
    this.#shared?.buffers.release(this.#toClient?.buffer);
    this.#done?.();
  }

  #timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(fn, ms);
    t.unref();
    (this.#timers ??= []).push(t);
    return t;
  }

  /**
   * Reads the ClientHello (bounded by maxBytes and timeoutMs); `cb` gets the result with reading
   * stopped, so the bytes can be replayed upstream. Not called when the connection was destroyed.
   */
  readHello(timeoutMs: number, maxBytes: number, cb: (h: SocketHello) => void): void {
    const raw = this.#raw;
    const c = this.#client;
    const acc = new HelloBuffer(maxBytes);
    let finished = false;
    const finish = (h: SocketHello) => {
      if (finished) return;
      finished = true;
      clearTimeout(t);
      c.readStop();
      c.onread = ignoreRead;
      if (!this.#closed) cb(h);
    };
    const t = this.#timer(timeoutMs, () => finish(acc.failed('timeout')));
    c.onread = (ab) => {
      const n = raw.readBytes();
      if (n > 0) {
        const r = acc.push(Buffer.from(ab as ArrayBuffer, raw.readOffset(), n));
        if (r !== undefined) finish(r);
      } else if (n < 0) finish(acc.failed('closed'));
    };
    if (c.readStart() !== 0) finish(acc.failed('closed'));
  }

  /** Dials the route's target and relays both ways; `head` (a replayed ClientHello) is sent first. */
  splice(res: LookupResult, head: Buffer | undefined, deps: ProxyDeps, o: SpliceOptions): void {
    if (this.#closed) return;
    res = dialChoice(res, deps);
    const { target } = res;
    this.#lingerMs = o.linger;
    this.#shared = o.shared;
    if (target.accessRules !== undefined && !accessOk(target, goIp(handleAddr(this.#client, true).address), deps))
      return this.destroy();
    this.#done = () => {
      const r = this.#res;
      if (this.#connected && r !== undefined)
        deps.metrics.routeBytes(
          r.route,
          r.target,
          this.#toClient?.bytes ?? 0,
          (this.#toUp?.bytes ?? 0) + (head?.length ?? 0),
        );
    };
    this.#connectTo(res, head, deps, o);
  }

  #connectTo(res: LookupResult, head: Buffer | undefined, deps: ProxyDeps, o: SpliceOptions): void {
    this.#res = res;
    const gen = ++this.#dialGen;
    const host = res.target.hostname;
    const family = net.isIP(host);
    if (family !== 0) return this.#dial(host, family, res, head, deps, o);
    // a name rather than an address (rare: Consul hands out addresses): resolve, then dial
    lookup(host, (err, address, fam) => {
      if (gen !== this.#dialGen) return;
      if (err !== null) this.#dialFailed(deps, o, res, head);
      else this.#dial(address, fam, res, head, deps, o);
    });
  }

  /** A dial that failed: counted for outlier ejection, then one other target, else the end. */
  #dialFailed(deps: ProxyDeps, o: SpliceOptions, res: LookupResult, head: Buffer | undefined): void {
    if (this.#closed) return;
    dialFailure(deps, o, res.target.hostPort);
    deps.metrics.tcpRouteFail?.(res.route, res.target);
    const next = redial(res, deps, this.#redialed);
    if (next === undefined) return this.destroy();
    this.#redialed = true;
    const up = this.#up;
    if (up !== undefined) {
      this.#up = undefined;
      closeHandle(up, false, () => {
        if (--this.#handlesOpen === 0) this.#final();
      });
    }
    this.#connectTo(next, head, deps, o);
  }

  #dial(
    address: string,
    family: number,
    res: LookupResult,
    head: Buffer | undefined,
    deps: ProxyDeps,
    o: SpliceOptions,
  ): void {
    if (this.#closed) return;
    const raw = this.#raw;
    const target = res.target;
    const gen = this.#dialGen;
    const up = raw.newSocket();
    this.#up = up;
    this.#handlesOpen++;
    const req = raw.newConnect();
    req.address = address;
    req.port = target.port;
    const dialTimer = this.#timer(o.dialTimeout, () => {
      if (!this.#connected && gen === this.#dialGen) this.#dialFailed(deps, o, res, head);
    });
    req.oncomplete = (status: number) => {
      clearTimeout(dialTimer);
      if (this.#closed || gen !== this.#dialGen) return;
      if (status < 0) return this.#dialFailed(deps, o, res, head);
      dialSucceeded(res, deps);
      this.#connected = true;
      deps.metrics.tcpRouteOpen?.(res.route, res.target);
      up.setNoDelay(true);
      o.shared.keepAlive.later(this, o.keepAlive);
      this.#start(res, head, o);
    };
    let err: number;
    try {
      err = family === 6 ? up.connect6(req, address, target.port) : up.connect(req, address, target.port);
    } catch {
      err = -1; // e.g. a port out of range in a hand-written route
    }
    if (err !== 0) {
      clearTimeout(dialTimer);
      this.#dialFailed(deps, o, res, head);
    }
  }

  #start(res: LookupResult, head: Buffer | undefined, o: SpliceOptions): void {
    const up = this.#up as TcpHandle;
    let first = head !== undefined && head.length > 0 ? head : undefined;
    if (res.target.proxyProto) {
      const a = this.addrs();
      const h = Buffer.from(proxyV1Header(a.remote, a.local), 'latin1');
      first = first !== undefined ? Buffer.concat([h, first]) : h; // one segment for both
    }
    let tickRead: (() => void) | undefined;
    let tickAny: (() => void) | undefined;
    if (o.readTimeout > 0) {
      const t = this.#timer(o.readTimeout, () => this.destroy());
      this.#rt = t;
      tickRead = () => void t.refresh();
    }
    if (o.clientIdle > 0) {
      const t = this.#timer(o.clientIdle, () => this.destroy());
      tickAny = () => void t.refresh();
    }
    const clientTick =
      tickRead !== undefined && tickAny !== undefined
        ? () => {
            tickRead();
            tickAny();
          }
        : (tickRead ?? tickAny);
    const clientEof = this.#rt !== undefined ? () => clearTimeout(this.#rt) : undefined;
    const pool = (this.#shared as TcpShared).buffers;
    this.#toUp = new Pipe(this, this.#raw, pool, this.#client, up, clientTick, clientEof);
    this.#toClient = new Pipe(this, this.#raw, pool, up, this.#client, tickAny, undefined);
    if (first !== undefined && !this.#toUp.write(first)) return;
    this.#toUp.start();
    this.#toClient.start();
  }

  /** A direction saw its FIN: the other side may still send for the linger, not longer. */
  halfClosed(): void {
    if (this.#lingerMs > 0 && this.#linger === undefined)
      this.#linger = this.#timer(this.#lingerMs, () => this.destroy());
  }

  /** A direction passed its FIN on (its bytes are all in the kernel); with linger 0 that ends both. */
  shutDone(): void {
    if (++this.#shut === 2 || this.#lingerMs === 0) this.destroy();
  }

  /**
   * A direction saw its FIN. When the other direction has ended too and neither has a write still
   * queued in libuv, every byte is in the kernel already and close() sends both FINs itself: the
   * shutdown(2) of this direction (and one still pending for the other) would be wasted syscalls.
   */
  canCloseAtEof(): boolean {
    const a = this.#toUp as Pipe;
    const b = this.#toClient as Pipe;
    return a.ended && b.ended && !a.pendingOnDst && !b.pendingOnDst;
  }
}

/** One direction: bytes read from `src` are written to `dst`; src's FIN becomes dst's shutdown. */
class Pipe {
  readonly #conn: RawConn;
  readonly #raw: RawTcp;
  readonly #pool: BufferPool;
  readonly #src: TcpHandle;
  readonly #dst: TcpHandle;
  readonly #tick: (() => void) | undefined;
  readonly #onEof: (() => void) | undefined;
  bytes = 0;
  /** Bulk-mode buffer (reads go into it); undefined in ArrayBuffer-per-read mode. */
  buffer: Buffer | undefined;
  /** A write of this direction is still pending on dst (the kernel did not take it at once). */
  pendingOnDst = false;
  /** src sent its FIN. */
  ended = false;

  constructor(
    conn: RawConn,
    raw: RawTcp,
    pool: BufferPool,
    src: TcpHandle,
    dst: TcpHandle,
    tick: (() => void) | undefined,
    onEof: (() => void) | undefined,
  ) {
    this.#conn = conn;
    this.#raw = raw;
    this.#pool = pool;
    this.#src = src;
    this.#dst = dst;
    this.#tick = tick;
    this.#onEof = onEof;
  }

  start(): void {
    this.#src.onread = this.#onRead;
    if (this.#src.readStart() !== 0) this.#conn.destroy(this.#dst);
  }

  // hot path
  readonly #onRead = (ab: ArrayBuffer | undefined): void => {
    const raw = this.#raw;
    const n = raw.readBytes();
    if (n > 0) {
      this.#tick?.();
      const b =
        this.buffer !== undefined ? this.buffer.subarray(0, n) : Buffer.from(ab as ArrayBuffer, raw.readOffset(), n);
      this.bytes += n;
      if (!this.write(b)) return;
      if (this.pendingOnDst) this.#src.readStop();
      else if (this.buffer === undefined && this.bytes >= BULK_BYTES) this.#toBulk();
      return;
    }
    if (n === raw.UV_EOF) return this.#eof();
    if (n < 0) this.#conn.destroy(this.#dst); // src reset (or failed): so does dst
  };

  /** Writes b to dst; false when the connection had to be closed. */
  write(b: Uint8Array): boolean {
    const req = this.#raw.newWrite();
    req.handle = this.#dst;
    req.oncomplete = Pipe.#written;
    req.buffer = b;
    req.pipe = this;
    const err = this.#dst.writeBuffer(req, b);
    if (err !== 0) {
      this.#conn.destroy(this.#src);
      return false;
    }
    if (this.#raw.lastWriteAsync()) this.pendingOnDst = true;
    return true;
  }

  /** Write completion; `this` is the request (one shared function, no closure per write). */
  static readonly #written = function (this: WriteReq, status: number): void {
    (this.pipe as Pipe).#afterWrite(status);
  };

  #afterWrite(status: number): void {
    if (this.#conn.destroyed) return;
    if (status < 0) return this.#conn.destroy(this.#src);
    this.pendingOnDst = false;
    if (!this.ended && this.#src.readStart() !== 0) this.#conn.destroy();
  }

  #eof(): void {
    this.ended = true;
    this.#src.readStop();
    this.#onEof?.();
    const conn = this.#conn;
    if (conn.canCloseAtEof()) return conn.destroy();
    conn.halfClosed();
    const started = shutdownHandle(this.#raw, this.#dst, (status) => {
      if (conn.destroyed) return;
      if (status < 0) return conn.destroy();
      conn.shutDone();
    });
    if (started !== 0) conn.destroy();
  }

  #toBulk(): void {
    const buf = this.#pool.take();
    this.buffer = buf;
    relayStats.bulk++;
    this.#src.useUserBuffer(buf);
  }
}
