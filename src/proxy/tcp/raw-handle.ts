/**
 * libuv TCP handles without `net.Socket`, for the plain TCP and SNI splices.
 *
 * A proxied connection is two sockets that only move bytes. As `net.Socket`s each carries a
 * Duplex stream (two state machines, event emitters, timers, the write queue), and on a
 * connection-per-request load that machinery, not the bytes, is most of the proxy's CPU: measured
 * with bench/tcp-cpu.sh on the 2-core box, about 240 µs CPU per proxied connection through
 * net.Socket against 100 µs for the same relay on the bare handles (haproxy: about 85 µs).
 *
 * The handles are Node's own `tcp_wrap` / `stream_wrap` bindings (what net.Socket is built on),
 * reached through `process.binding`, which Node 20 and 22 still provide for these modules
 * (DEP0111 is documentation-only; it warns only under --pending-deprecation). Everything is
 * feature-detected once: when a piece is missing, `rawTcp` is undefined and every listener keeps
 * the net.Socket path. `FABIO_TS_RAW_TCP=0` turns the raw path off (A/B benchmarks, bug triage).
 */

/** The subset of a libuv stream handle (LibuvStreamWrap / TCPWrap) that the splice uses. */
export interface TcpHandle {
  /** Must always be a function: the binding aborts the process on anything else. */
  onread: (this: TcpHandle, buf: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, b: Uint8Array): number;
  shutdown(req: ShutdownReq): number;
  close(cb?: () => void): void;
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  getpeername(out: Record<string, unknown>): number;
  getsockname(out: Record<string, unknown>): number;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
  useUserBuffer(b: Uint8Array): void;
  /** Closes with an RST (SO_LINGER 0, uv_tcp_close_reset); non-zero when it could not (then close()). */
  reset?(cb?: () => void): number;
}

export interface WriteReq {
  handle: TcpHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  /** Keeps the written bytes alive until the kernel took them. */
  buffer: Uint8Array | undefined;
  [k: string]: unknown;
}

export interface ShutdownReq {
  handle: TcpHandle;
  oncomplete: (this: ShutdownReq, status: number) => void;
  [k: string]: unknown;
}

export interface ConnectReq {
  oncomplete: (this: ConnectReq, status: number) => void;
  address: string;
  port: number;
  [k: string]: unknown;
}

export interface RawTcp {
  newSocket(): TcpHandle;
  newWrite(): WriteReq;
  newShutdown(): ShutdownReq;
  newConnect(): ConnectReq;
  /** nread of the onread call being handled (negative: a libuv error, EOF = UV_EOF). */
  readBytes(): number;
  /** Offset of the data in the ArrayBuffer of the onread call being handled. */
  readOffset(): number;
  /** Whether the last writeBuffer() is still pending (the kernel did not take it all at once). */
  lastWriteAsync(): boolean;
  readonly UV_EOF: number;
}

type Ctor<T> = new (...a: unknown[]) => T;

function load(): RawTcp | undefined {
  const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
  if (typeof binding !== 'function') return undefined;
  try {
    const t = binding.call(process, 'tcp_wrap');
    const s = binding.call(process, 'stream_wrap');
    const uv = binding.call(process, 'uv');
    const TCP = t.TCP as Ctor<TcpHandle> | undefined;
    const Connect = t.TCPConnectWrap as Ctor<ConnectReq> | undefined;
    const SOCKET = (t.constants as { SOCKET?: number } | undefined)?.SOCKET;
    const Write = s.WriteWrap as Ctor<WriteReq> | undefined;
    const Shutdown = s.ShutdownWrap as Ctor<ShutdownReq> | undefined;
    const state = s.streamBaseState as Int32Array | undefined;
    const {
      kReadBytesOrError: kRead,
      kArrayBufferOffset: kOff,
      kLastWriteWasAsync: kAsync,
    } = s as Record<string, number | undefined>;
    const UV_EOF = uv.UV_EOF as number | undefined;
    if (
      typeof TCP !== 'function' ||
      typeof Connect !== 'function' ||
      typeof Write !== 'function' ||
      typeof Shutdown !== 'function' ||
      typeof SOCKET !== 'number' ||
      !(state instanceof Int32Array) ||
      typeof kRead !== 'number' ||
      typeof kOff !== 'number' ||
      typeof kAsync !== 'number' ||
      typeof UV_EOF !== 'number'
    )
      return undefined;
    const probe = new TCP(SOCKET);
    for (const m of [
      'readStart',
      'readStop',
      'writeBuffer',
      'shutdown',
      'close',
      'connect',
      'connect6',
      'useUserBuffer',
    ])
      if (typeof (probe as unknown as Record<string, unknown>)[m] !== 'function') return undefined;
    probe.close();
    return {
      newSocket: () => new TCP(SOCKET),
      newWrite: () => new Write(),
      newShutdown: () => new Shutdown(),
      newConnect: () => new Connect(),
      readBytes: () => state[kRead] as number,
      readOffset: () => state[kOff] as number,
      lastWriteAsync: () => state[kAsync] !== 0,
      UV_EOF,
    };
  } catch {
    return undefined;
  }
}

/**
 * Handles with a shutdown(2) request in flight. Node's `TCPWrap.reset()` marks the handle as
 * closing *before* libuv's uv_tcp_close_reset() refuses a handle that is shutting down (EINVAL);
 * after that refusal `close()` is a no-op, the handle is never closed (its fd leaks, the close
 * callback never runs) and the process spins at exit in Environment::CleanupHandles waiting for
 * it. So a handle is never reset while its shutdown is pending (a finished one is fine).
 */
const shutting = new WeakSet<TcpHandle>();

/** shutdown(2) of `h` after its pending writes; `done` gets libuv's status. Non-zero: not started. */
export function shutdownHandle(raw: RawTcp, h: TcpHandle, done: (status: number) => void): number {
  const req = raw.newShutdown();
  req.handle = h;
  req.oncomplete = (status: number) => {
    shutting.delete(h);
    done(status);
  };
  const err = h.shutdown(req);
  if (err === 0) shutting.add(h);
  return err;
}

/** onread must always be a function (the binding asserts it): what a closed or paused handle gets. */
export function ignoreRead(): void {}

/**
 * Closes a handle, with an RST when `rst` and the binding offers it, unless a shutdown started by
 * shutdownHandle() is still in flight (see `shutting`): then with a plain close.
 */
export function closeHandle(h: TcpHandle, rst: boolean, cb: () => void): void {
  h.onread = ignoreRead;
  if (rst && !shutting.has(h) && typeof h.reset === 'function' && h.reset(cb) === 0) return;
  h.close(cb);
}

/**
 * The raw handle API, or undefined when this Node does not offer it. A fact about the running
 * Node, detected once; whether a listener uses it is the caller's choice (`ProxyDeps.rawTcp`).
 */
export const rawTcp: RawTcp | undefined = load();

/**
 * The raw handle API a process should give its TCP listeners: the detected one unless
 * `FABIO_TS_RAW_TCP=0` turns the path off (A/B benchmarks, bug triage). Read once at start-up by
 * the runtime (src/runtime/data-plane.ts) and passed in `ProxyDeps.rawTcp`; nothing reads the
 * environment later.
 */
export function rawTcpFromEnv(env: Readonly<Record<string, string | undefined>>): RawTcp | undefined {
  return env.FABIO_TS_RAW_TCP === '0' ? undefined : rawTcp;
}

/** `getpeername`/`getsockname` of a handle as {address, port}; empty when the socket is gone. */
export function handleAddr(h: TcpHandle, peer: boolean): { address: string; port: number } {
  const out: Record<string, unknown> = {};
  const err = peer ? h.getpeername(out) : h.getsockname(out);
  if (err !== 0) return { address: '', port: 0 };
  return { address: String(out.address ?? ''), port: Number(out.port ?? 0) };
}
