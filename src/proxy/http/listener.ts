import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ListenerSpec } from '../../config/types.ts';
import { ProxyError, rawAnswer, reasonPhrase, toResponse } from '../errors.ts';
import { listenFront } from '../listen-front.ts';
import { rawTcp } from '../tcp/raw-handle.ts';
import type { PrometheusText, ProxyDeps, RunningListener } from '../types.ts';
import { BareFront } from './bare-conn.ts';
import { bareHttp, bareHttpFromEnv } from './bare-parser.ts';
import { guardH2Session, H2_MAX_CONCURRENT_STREAMS } from './h2-guard.ts';
import { type AuthChecker, createHttpHandler } from './handler.ts';
import type { PoolCache } from './pools.ts';
import { MAX_REQUEST_HEADERS } from './request-checks.ts';

export interface HttpListenerDeps extends ProxyDeps {
  readonly prometheus?: PrometheusText;
  /** Shared upstream pools (one cache per process); created per listener when absent. */
  readonly pools?: PoolCache;
  /**
   * Upstream path for body-less GET/HEAD to plain-http targets: true = the lean raw-socket path
   * (lean-forward.ts), false = undici for every request. Default: on unless the operator switch
   * FABIO_TS_LEAN=0 is set in the environment (read here, at listener start, not at module load).
   */
  readonly lean?: boolean;
  /**
   * Client side of plain proto=http listeners (without pxyproto): true = accept and parse requests
   * on bare libuv handles (bare-conn.ts) when this Node offers them, false = node:http. Default: on
   * unless FABIO_TS_BARE_HTTP=0 (or FABIO_TS_RAW_TCP=0) is set, read at listener start.
   */
  readonly bare?: boolean;
}

const TCP_KEEPALIVE_MS = 3 * 60_000;

/** Loads the tls helper's auth library only when schemes are configured. */
async function loadAuth(deps: ProxyDeps): Promise<(AuthChecker & { close(): void }) | undefined> {
  if (deps.cfg.authSchemes.size === 0) return undefined;
  const m = await import('../auth/index.ts');
  return m.createAuth(deps.cfg.authSchemes, deps.log);
}

/**
 * Starts one proto=http, https or prometheus listener (fabio section (d)). HTTPS listeners serve
 * HTTP/1.1 and HTTP/2 (ALPN). With pxyproto=true a net.Server reads the PROXY header first and then
 * hands the socket to the HTTP/TLS server.
 */
export async function startHttpListener(spec: ListenerSpec, deps: HttpListenerDeps): Promise<RunningListener> {
  const tls = spec.proto === 'https';
  const rt = spec.readTimeout;
  const idle = spec.idleTimeout > 0 ? spec.idleTimeout : rt > 0 ? rt : 120_000;
  const serverOpts = {
    requestTimeout: rt,
    headersTimeout: rt > 0 ? rt : 60_000,
    keepAliveTimeout: idle,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, rt > 0 ? rt / 2 : 1_000)),
    keepAlive: true,
    keepAliveInitialDelay: TCP_KEEPALIVE_MS,
  };

  let auth: (AuthChecker & { close(): void }) | undefined;
  const cleanup: (() => void)[] = [];
  let server: Server | Http2SecureServer;
  let handlerPools: PoolCache | undefined;
  let onBare: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  if (spec.proto === 'prometheus') {
    server = createHttpServer(serverOpts, prometheusHandler(deps));
  } else {
    auth = await loadAuth(deps);
    const h = createHttpHandler(spec, deps, {
      tls,
      auth,
      pools: deps.pools,
      lean: deps.lean ?? process.env.FABIO_TS_LEAN !== '0',
    });
    if (deps.pools === undefined) handlerPools = h.pools;
    const { onRequest, onUpgrade } = guarded(h, deps);
    if (tls) {
      server = await createHttpsServer(spec, deps, idle, onRequest, onUpgrade, cleanup);
    } else {
      const s1 = createHttpServer(serverOpts, onRequest);
      // One header line more than the handler accepts: an excess is seen (and refused with 431)
      // instead of dropped by the parser without a word.
      s1.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
      s1.on('upgrade', onUpgrade);
      server = s1;
      if (!spec.proxyProto && (deps.bare ?? bareHttpFromEnv(process.env))) onBare = onRequest;
    }
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));

  const { sockets, sessions, tlsSockets } = trackConnections(server, tls, deps);

  const front: NetServer | Server | Http2SecureServer = spec.proxyProto
    ? await proxyProtocolFront(server, spec, deps, tls)
    : server;

  // Nothing listens, or the listener closed: release what was set up for it (auth reloads, cert refreshes, pools).
  const release = () => {
    auth?.close();
    for (const c of cleanup) c();
    void handlerPools?.close();
  };
  const port = await listenFront(front, spec, deps, release);

  // The client side on bare handles: plain HTTP listeners whose Node offers the handles and llhttp.
  let bare: BareFront | undefined;
  if (onBare !== undefined && bareHttp !== undefined && rawTcp !== undefined) {
    const b = new BareFront({
      raw: rawTcp,
      http: bareHttp,
      server: server as Server,
      onRequest: onBare as never,
      clientError: clientErrorAnswer,
      headersTimeout: serverOpts.headersTimeout,
      keepAliveTimeout: serverOpts.keepAliveTimeout,
      checkInterval: serverOpts.connectionsCheckingInterval,
      tcpKeepAliveMs: TCP_KEEPALIVE_MS,
    });
    if (b.attach()) bare = b;
  }

  let closing: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        release();
        resolve();
      };
      let pending = front === server ? 1 : 2;
      const one = () => {
        if (--pending === 0) finish();
      };
      if (bare !== undefined) {
        // Bare connections (the server counts those handed over to node:http itself).
        pending++;
        void bare.close().then(one);
      }
      const timer = setTimeout(() => {
        bare?.destroyAll();
        for (const s of sockets) s.destroy();
        (server as Server).closeAllConnections?.();
      }, graceMs);
      if (front !== server) front.close(() => one());
      server.close(() => one());
      (server as Server).closeIdleConnections?.();
      if (tls) {
        // HTTP/2: GOAWAY, open streams finish. HTTP/1.1 over TLS: end the sockets idle between requests.
        for (const sess of sessions) sess.close();
        for (const s of tlsSockets) {
          const busy = (s as unknown as { _httpMessage?: unknown })._httpMessage !== undefined;
          if (!busy && (s as unknown as { alpnProtocol?: string | false }).alpnProtocol !== 'h2') s.end();
        }
      }
    });
    return closing;
  };
  return { spec, port, close };
}

/** The handler's request and upgrade entry points, each guarded: a bug costs one request, never the process. */
function guarded(h: ReturnType<typeof createHttpHandler>, deps: HttpListenerDeps) {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => {});
    req.on('error', () => {});
    try {
      h.request(req, res);
    } catch (e) {
      // A bug must cost one request, never the process.
      deps.log.error(`http: ${(e as Error).message}`);
      const status = toResponse(new ProxyError('INTERNAL', (e as Error).message)).status;
      if (!res.headersSent) res.writeHead(status, reasonPhrase(status));
      res.end();
    }
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      h.upgrade(req, socket, head);
    } catch (e) {
      deps.log.error(`http: ${(e as Error).message}`);
      socket.destroy();
    }
  };
  return { onRequest, onUpgrade };
}

/** The TLS front of an https listener: HTTP/1.1 and HTTP/2 (ALPN) with the listener's certificates. */
async function createHttpsServer(
  spec: ListenerSpec,
  deps: HttpListenerDeps,
  idle: number,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
  cleanup: (() => void)[],
): Promise<Http2SecureServer> {
  const tlsMod = await import('../tls/index.ts');
  const source = deps.cfg.certSources.get(spec.cs);
  if (source === undefined) throw new Error(`unknown certificate source "${spec.cs}"`);
  const store = await tlsMod.createCertStore(source, deps.log);
  const term = tlsMod.createTlsTermination(spec, store);
  const s2 = createSecureServer(
    {
      ...term.serverOptions(),
      allowHTTP1: true,
      settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS },
    },
    onRequest as never,
  );
  const detach = term.attach(s2 as unknown as import('node:tls').Server);
  cleanup.push(() => {
    detach();
    store.close();
  });
  s2.setTimeout(idle);
  // HTTP/1.1 over TLS is parsed with the server's maxHeadersCount too (see the plain listener).
  (s2 as unknown as { maxHeadersCount: number }).maxHeadersCount = MAX_REQUEST_HEADERS + 1;
  s2.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head));
  s2.on('sessionError', () => {});
  s2.on('tlsClientError', () => {});
  return s2;
}

/** The open sockets (and, for TLS listeners, HTTP/2 sessions and TLS sockets) for a graceful close. */
function trackConnections(server: Server | Http2SecureServer, tls: boolean, deps: HttpListenerDeps) {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    if (tls) s.setKeepAlive(true, TCP_KEEPALIVE_MS); // the http module does this itself for plain listeners
  });
  // TLS listeners: HTTP/2 sessions and HTTP/1.1-over-TLS sockets, for a graceful close.
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  const tlsSockets = new Set<Socket>();
  if (tls) {
    const maxResets = deps.cfg.num('proxy.http2.maxresets');
    server.on('session', (sess: import('node:http2').ServerHttp2Session) => {
      guardH2Session(sess, maxResets, deps.log);
      sessions.add(sess);
      sess.on('close', () => sessions.delete(sess));
      sess.on('error', () => {});
    });
    server.on('secureConnection', (s: Socket) => {
      tlsSockets.add(s);
      s.on('close', () => tlsSockets.delete(s));
    });
  }
  return { sockets, sessions, tlsSockets };
}

/** pxyproto=true: a net.Server reads the PROXY header, then hands the socket to the HTTP/TLS server. */
async function proxyProtocolFront(
  server: Server | Http2SecureServer,
  spec: ListenerSpec,
  deps: HttpListenerDeps,
  tls: boolean,
): Promise<NetServer> {
  const { headerGate, readProxyHeader } = await import('../proxy-protocol.ts');
  const gate = headerGate(deps.cfg, deps.log, spec.proto); // proxy.pxytrust
  const sources = new WeakMap<Socket, { address: string; port: number }>();
  // A TLSSocket reports the peer of the TCP handle it wraps; carry the PROXY source over to it.
  if (tls)
    server.on('secureConnection', (t: Socket & { _parent?: Socket }) => {
      const src = t._parent !== undefined ? sources.get(t._parent) : undefined;
      if (src !== undefined) shadowPeer(t, src);
    });
  const net = createNetServer({ keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_MS });
  net.on('connection', (sock: Socket) => {
    sock.on('error', () => sock.destroy());
    readProxyHeader(sock, spec.proxyProtoTimeout || 250, gate).then(
      (hdr) => {
        if (hdr.source !== undefined) {
          sources.set(sock, hdr.source);
          shadowPeer(sock, hdr.source);
        }
        server.emit('connection', sock);
      },
      () => sock.destroy(),
    );
  });
  return net;
}

/** The client of record is the PROXY source: shadow the peer getters on this socket object. */
function shadowPeer(sock: Socket, src: { address: string; port: number }): void {
  Object.defineProperty(sock, 'remoteAddress', { value: src.address, configurable: true });
  Object.defineProperty(sock, 'remotePort', { value: src.port, configurable: true });
}

/**
 * The answer to a request Node's parser refused (fabio's Go server answers the same way): 431 for
 * oversized headers, 408 for a request timeout, 400 for everything else, from the error table.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  socket.on('error', () => {});
  const s = socket as Socket;
  if (
    err.code !== 'ECONNRESET' &&
    s.writable &&
    !(s as unknown as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
  )
    s.end(clientErrorAnswer(err.code));
  s.destroy();
}

/** The whole answer to a parser error code (HPE_* or ERR_HTTP_REQUEST_TIMEOUT), for both client sides. */
function clientErrorAnswer(code: string | undefined): string {
  const c =
    code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'CLIENT_TIMEOUT'
        : 'BAD_REQUEST';
  return rawAnswer(toResponse(new ProxyError(c, code ?? '')).status);
}

function prometheusHandler(deps: HttpListenerDeps) {
  const path = deps.cfg.str('metrics.prometheus.path') || '/metrics';
  return (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => {});
    const p = (req.url ?? '/').split('?')[0];
    if (p !== path) {
      res.writeHead(308, { location: path, 'content-type': 'text/html; charset=utf-8' });
      res.end(req.method === 'GET' ? `<a href="${path}">Permanent Redirect</a>.\n\n` : undefined);
      return;
    }
    if (deps.prometheus === undefined) {
      res.writeHead(404).end();
      return;
    }
    deps.prometheus().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      },
      (e: unknown) => {
        deps.log.error(`prometheus: ${String(e)}`);
        res.writeHead(500).end();
      },
    );
  };
}
