import http2, { type Http2SecureServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { ListenerSpec } from '../../config/types.ts';
import { clip } from '../../log/clip.ts';
import { guardH2Session, H2_MAX_CONCURRENT_STREAMS } from '../http/h2-guard.ts';
import { listenFront } from '../listen-front.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';
import { proxyStream } from './stream.ts';
import { UpstreamPool } from './upstream-pool.ts';

export interface GrpcListenerDeps extends ProxyDeps {
  /** Extra CAs trusted for grpcs:// upstreams (tests); the system roots are always trusted. */
  readonly upstreamCa?: string | readonly string[];
}

const TCP_KEEPALIVE_MS = 3 * 60_000;

/**
 * Starts one proto=grpc (HTTP/2 cleartext, h2c) or proto=grpcs (TLS with the listener's cs=)
 * listener: a transparent gRPC proxy (fabio section (o)). Each listener owns its upstream pool.
 */
export async function startGrpcListener(spec: ListenerSpec, deps: GrpcListenerDeps): Promise<RunningListener> {
  const tls = spec.proto === 'grpcs';
  const cfg = deps.cfg;
  const pool = new UpstreamPool(deps.store, {
    dialTimeout: cfg.num('proxy.dialtimeout'),
    shutdownTimeout: cfg.num('proxy.grpcshutdowntimeout'),
    ...(deps.upstreamCa !== undefined ? { ca: deps.upstreamCa } : {}),
  });
  const ctx = {
    store: deps.store,
    pool,
    tls,
    maxRx: cfg.num('proxy.grpcmaxrxmsgsize'),
    maxTx: cfg.num('proxy.grpcmaxtxmsgsize'),
    metrics: deps.metrics,
    log: deps.log,
  };
  const settings = { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS };
  const cleanup: (() => void)[] = [() => pool.close()];
  let server: Http2Server | Http2SecureServer;
  if (tls) {
    const tlsMod = await import('../tls/index.ts');
    const source = cfg.certSources.get(spec.cs);
    if (source === undefined) throw new Error(`unknown certificate source "${spec.cs}"`);
    const store = await tlsMod.createCertStore(source, deps.log);
    const term = tlsMod.createTlsTermination(spec, store, { alpn: ['h2'] });
    const s = http2.createSecureServer({ ...term.serverOptions(), settings });
    const detach = term.attach(s as unknown as import('node:tls').Server);
    cleanup.push(() => {
      detach();
      store.close();
    });
    s.on('tlsClientError', () => {});
    server = s;
  } else {
    server = http2.createServer({ settings });
  }

  const sessions = new Set<ServerHttp2Session>();
  let onSessionGone: (() => void) | undefined;
  const maxResets = cfg.num('proxy.http2.maxresets');
  server.on('session', (sess: ServerHttp2Session) => {
    deps.metrics.grpcConn?.();
    guardH2Session(sess, maxResets, deps.log);
    sessions.add(sess);
    sess.on('error', () => {});
    sess.once('close', () => {
      sessions.delete(sess);
      onSessionGone?.();
    });
  });
  server.on('connection', (sock: import('node:net').Socket) => sock.setKeepAlive(true, TCP_KEEPALIVE_MS));
  server.on('sessionError', () => {});
  server.on('stream', (stream, headers) => {
    try {
      proxyStream(ctx, stream, headers);
    } catch (e) {
      // A bug costs one stream, never the process.
      deps.log.error(`grpc: ${clip((e as Error).message)}`);
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  });

  // pxyproto=true: a plain TCP server reads the PROXY header, then hands the socket to the HTTP/2
  // server (as the HTTP listeners do). gRPC uses the source address for nothing: fabio neither.
  let front: Http2Server | Http2SecureServer | import('node:net').Server = server;
  if (spec.proxyProto) {
    const { headerGate, readProxyHeader } = await import('../proxy-protocol.ts');
    const gate = headerGate(cfg, deps.log, spec.proto);
    const net = createNetServer({ keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_MS });
    net.on('connection', (sock: Socket) => {
      sock.on('error', () => sock.destroy());
      readProxyHeader(sock, spec.proxyProtoTimeout || 250, gate).then(
        () => server.emit('connection', sock),
        () => sock.destroy(),
      );
    });
    front = net;
  }
  const release = () => {
    for (const c of cleanup) c();
  };
  const port = await listenFront(front, spec, deps, release);

  let closing: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> => {
    // fabio's GracefulStop: no new connections, GOAWAY to the open ones so no new streams start;
    // streams in flight get up to graceMs (proxy.shutdownwait), then are cancelled.
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const s of sessions) s.destroy(undefined, http2.constants.NGHTTP2_CANCEL);
      }, graceMs);
      let frontClosed = false;
      const check = () => {
        if (!frontClosed || sessions.size > 0) return;
        clearTimeout(timer);
        release();
        resolve();
      };
      onSessionGone = check;
      front.close(() => {
        frontClosed = true;
        check();
      });
      for (const s of sessions) s.close();
    });
    return closing;
  };
  return { spec, port, close };
}
