import net from 'node:net';
import type { ListenerSpec } from '../../config/types.ts';
import { clip } from '../../log/clip.ts';
import { type HeaderGate, headerGate, readProxyHeader, UntrustedProxyPeer } from '../proxy-protocol.ts';
import type { ProxyDeps } from '../types.ts';
import type { RawTcp, TcpHandle } from './raw-handle.ts';
import { RawConn } from './raw-splice.ts';
import { createTcpShared } from './shared.ts';
import { type ConnAddrs, clientIdleMs, type SpliceOptions } from './splice.ts';

/** TCP keep-alive on accepted sockets, as fabio's listeners set it. */
const ACCEPT_KEEPALIVE_MS = 3 * 60 * 1000;

/** `host:port` as fabio prints listen addresses (`:9997` for all interfaces, IPv6 bracketed). */
export function formatAddr(host: string, port: number): string {
  return host === '' ? `:${port}` : host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * ConnServer.listen for a listener spec: errors on a connection's path are logged with the
 * listener's proto, an async handler's failure closes that connection only, and fabio's
 * `<PROTO> proxy listening on <addr>` line is written once the port is bound.
 */
export async function listenSpec(
  spec: ListenerSpec,
  deps: ProxyDeps,
  kind: 'tcp' | 'tcp_sni',
  onConn: (s: net.Socket) => void | Promise<void>,
  onRaw?: RawConnHandler,
): Promise<ConnServer> {
  const log = deps.log;
  const fail = (e: unknown) => log.error(`${spec.proto}: ${String(e)}`);
  const cs = await ConnServer.listen(
    spec.host,
    spec.port,
    (s) => {
      const p = onConn(s);
      if (p !== undefined)
        p.catch((e: unknown) => {
          fail(e);
          s.destroy();
        });
    },
    fail,
    onRaw,
    connCap(spec.proto, deps, kind),
    deps.rawTcp,
  );
  log.info(`${spec.proto.toUpperCase()} proxy listening on ${formatAddr(spec.host, cs.port)}`);
  return cs;
}

/** What a ConnServer tracks: an accepted net.Socket or a raw-handle connection. */
interface Tracked {
  destroy(): void;
}

/** Handler of a connection accepted as a bare libuv handle (raw-splice.ts); see ConnServer.listen. */
export type RawConnHandler = (c: RawConn) => void;

/**
 * proxy.listener.maxconn of one listener: the cap, and what happens when it is hit. An episode
 * starts with the first connection refused and ends when the open connections fell to 90 % of the
 * cap, so a listener that stays full logs one line, not one per connection.
 */
export interface ConnCap {
  readonly max: number;
  /** A connection was closed at accept; `first` for the first one of an episode. */
  refused(first: boolean, where: string): void;
  /** The episode ended; `n` connections were refused during it. */
  recovered(n: number, where: string): void;
}

/** The cap of a listener from proxy.listener.maxconn (undefined: unlimited, as fabio). */
export function connCap(proto: string, deps: ProxyDeps, kind: 'tcp' | 'tcp_sni'): ConnCap | undefined {
  const max = deps.cfg.num('proxy.listener.maxconn');
  if (!(max > 0)) return undefined;
  return {
    max,
    refused(first, where) {
      deps.metrics.tcpRefused(kind);
      if (first)
        deps.log.warn(`${proto}: ${where} has proxy.listener.maxconn=${max} connections open, closing new connections`);
    },
    recovered(n, where) {
      deps.log.info(`${proto}: ${where} accepting connections again (${n} closed over proxy.listener.maxconn)`);
    },
  };
}

/**
 * One listening socket plus the set of its open client connections, so that close(graceMs) can
 * stop accepting, wait for the connections to finish (never longer than graceMs) and then destroy
 * what is left. Unlike fabio, which always sleeps the whole shutdownwait, close returns as soon as
 * the last connection ended.
 */
export class ConnServer {
  readonly server: net.Server;
  readonly #conns = new Set<Tracked>();
  #closing: Promise<void> | undefined;
  /** Set while closing: called when the last connection ended. */
  #drained: (() => void) | undefined;
  #onError: (e: unknown) => void = noop;
  #cap: ConnCap | undefined;
  /** Connections refused in the current cap episode (0: none going on). */
  #refused = 0;
  /** The episode ends when no more than this many connections are open. */
  #low = 0;
  #where = '';

  private constructor(server: net.Server) {
    this.server = server;
  }

  /** Whether an accepted connection may stay (false: over the cap, counted and maybe logged). */
  #admit(): boolean {
    if (this.#cap === undefined || this.#conns.size < this.#cap.max) return true;
    this.#refuse();
    return false;
  }

  /** A connection was closed at accept for the cap: counted, and logged if it opens an episode. */
  #refuse(): void {
    this.#cap?.refused(this.#refused++ === 0, this.#where);
  }

  /**
   * Listens on host:port; `onConn` receives every accepted socket, already tracked and guarded.
   * With `onRaw` and `raw` (the raw handle API, raw-handle.ts), accepted connections skip
   * net.Socket entirely and go to `onRaw` as a RawConn instead.
   */
  static listen(
    host: string,
    port: number,
    onConn: (s: net.Socket) => void,
    onError: (e: unknown) => void = noop,
    onRaw?: RawConnHandler,
    cap?: ConnCap,
    raw?: RawTcp,
  ): Promise<ConnServer> {
    const server = net.createServer({ allowHalfOpen: true });
    const cs = new ConnServer(server);
    cs.#onError = onError;
    if (cap !== undefined) {
      cs.#cap = cap;
      cs.#low = Math.min(cap.max - 1, Math.floor(cap.max * 0.9));
      // net.Socket path: Node closes the accepted handle before building a socket for it
      server.maxConnections = cap.max;
      server.on('drop', () => cs.#refuse());
    }
    let perSocket = true;
    const forget = function (this: net.Socket) {
      cs.#untrack(this);
    };
    server.on('connection', (s) => {
      // a misbehaving peer costs one connection: errors are ignored here, close follows
      s.on('error', noop);
      if (perSocket) {
        s.setNoDelay(true);
        s.setKeepAlive(true, ACCEPT_KEEPALIVE_MS);
      }
      cs.#conns.add(s);
      s.on('close', forget);
      try {
        onConn(s);
      } catch (e) {
        // a bug on one connection's path must not take the process down
        s.destroy();
        cs.#onError(e);
      }
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: host === '' ? undefined : host, port }, () => {
        perSocket = !inheritSocketOptions(server);
        cs.#where = formatAddr(host, cs.port);
        server.removeListener('error', reject);
        server.on('error', noop);
        if (onRaw !== undefined && raw !== undefined) cs.#acceptRaw(raw, onRaw, () => perSocket);
        resolve(cs);
      });
    });
  }

  /**
   * Takes over the accept callback of the listening handle (net.Server installs it on the handle it
   * listens with, in a cluster worker too): each accepted handle becomes a RawConn, and no
   * net.Socket is ever built for it.
   */
  #acceptRaw(raw: RawTcp, onRaw: RawConnHandler, perSocket: () => boolean): void {
    const h = (this.server as unknown as { _handle?: { onconnection?: unknown } | null })._handle;
    if (h == null || typeof h.onconnection !== 'function') return;
    const untrack = (c: RawConn) => this.#untrack(c);
    h.onconnection = (err: number, client: TcpHandle | undefined) => {
      if (err !== 0 || client === undefined) return; // e.g. EMFILE: the next accept may work
      if (!this.#admit()) return client.close();
      if (perSocket()) {
        client.setNoDelay(true);
        client.setKeepAlive(true, ACCEPT_KEEPALIVE_MS / 1000);
      }
      const c = new RawConn(raw, client, untrack);
      this.#conns.add(c);
      try {
        onRaw(c);
      } catch (e) {
        c.destroy();
        this.#onError(e);
      }
    };
  }

  #untrack(c: Tracked): void {
    if (!this.#conns.delete(c)) return;
    if (this.#refused > 0 && this.#conns.size <= this.#low) {
      this.#cap?.recovered(this.#refused, this.#where);
      this.#refused = 0;
    }
    if (this.#conns.size === 0) this.#drained?.();
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  get connections(): number {
    return this.#conns.size;
  }

  /** Destroys every open connection now (shutdown deadline reached). */
  destroyAll(): void {
    for (const s of this.#conns) s.destroy();
  }

  close(graceMs: number): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.server.close();
      if (this.#conns.size === 0) return resolve();
      const timer = setTimeout(() => this.destroyAll(), Math.min(Math.max(0, graceMs), 2 ** 31 - 1));
      timer.unref(); // the open connections keep the process alive, not the deadline
      this.#drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return this.#closing;
  }
}

function noop(): void {}

interface OptionHandle {
  setNoDelay?: (on: boolean) => number;
  setKeepAlive?: (on: boolean, delaySeconds: number) => number;
}

/**
 * TCP_NODELAY and keep-alive (as fabio's listeners set them) go on the listening socket once: Linux
 * (and the BSDs) copy them to every accepted socket, which saves five setsockopt calls per
 * connection. Uses the server's libuv handle (the same calls Node makes per accepted socket);
 * false when that is not available, and the options are then set on each socket.
 */
function inheritSocketOptions(server: net.Server): boolean {
  if (process.platform !== 'linux' && process.platform !== 'freebsd' && process.platform !== 'darwin') return false;
  const h = (server as unknown as { _handle?: OptionHandle | null })._handle;
  if (h == null || typeof h.setNoDelay !== 'function' || typeof h.setKeepAlive !== 'function') return false;
  return h.setNoDelay(true) === 0 && h.setKeepAlive(true, ACCEPT_KEEPALIVE_MS / 1000) === 0;
}

/** The proxy.pxytrust gate of each pxyproto listener, built at its first connection. */
const gates = new WeakMap<ListenerSpec, HeaderGate | null>();

/**
 * The addresses of an accepted socket; with listener pxyproto, the remote (and local) address come
 * from the PROXY v1/v2 header, which is consumed. Undefined when the header is missing, broken or
 * sent by a peer outside proxy.pxytrust, in which case the socket has been destroyed.
 */
export async function acceptAddrs(s: net.Socket, spec: ListenerSpec, deps: ProxyDeps): Promise<ConnAddrs | undefined> {
  const remote = { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
  const local = { address: s.localAddress ?? '', port: s.localPort ?? 0 };
  if (!spec.proxyProto) return { remote, local };
  let gate = gates.get(spec);
  if (gate === undefined) gates.set(spec, (gate = headerGate(deps.cfg, deps.log, spec.proto) ?? null));
  try {
    const h = await readProxyHeader(s, spec.proxyProtoTimeout > 0 ? spec.proxyProtoTimeout : 250, gate ?? undefined);
    return { remote: h.source ?? remote, local: h.destination ?? local };
  } catch (err) {
    if (!(err instanceof UntrustedProxyPeer))
      deps.log.debug(`${spec.proto}: PROXY protocol header from ${remote.address}: ${clip((err as Error).message)}`);
    s.destroy();
    return undefined;
  }
}

/** Keep-alive delay for upstream dials: proxy.keepalivetimeout, 0 meaning Go's default 15 s. */
function upstreamKeepAlive(deps: ProxyDeps): number {
  const v = deps.cfg.num('proxy.keepalivetimeout');
  return v > 0 ? v : 15000;
}

/** The splice settings of a listener, read from the config once at start. */
export function spliceOptions(spec: ListenerSpec, deps: ProxyDeps, kind: 'tcp' | 'tcp_sni'): SpliceOptions {
  return {
    kind,
    prefix: kind === 'tcp' ? 'tcp' : 'tcp+sni',
    dialTimeout: deps.cfg.num('proxy.dialtimeout') || 30000,
    keepAlive: upstreamKeepAlive(deps),
    readTimeout: spec.readTimeout,
    writeTimeout: spec.writeTimeout,
    idleTimeout: spec.idleTimeout,
    clientIdle: clientIdleMs(spec.writeTimeout, spec.idleTimeout),
    linger: Math.max(0, deps.cfg.num('proxy.lingertimeout')),
    shared: deps.tcpShared ?? createTcpShared(),
  };
}

/** Counts and logs a connection without a route, then closes it. */
export function noRoute(s: { destroy(): void }, deps: ProxyDeps, kind: 'tcp' | 'tcp_sni', key: string): void {
  deps.metrics.tcpNoRoute(kind);
  deps.metrics.notFound();
  // the key is the client's SNI name on SNI listeners: up to 64 KiB of whatever it sent
  deps.log.warn(`${kind === 'tcp' ? 'tcp' : 'tcp+sni'}: no route for ${clip(key)}`);
  s.destroy();
}
