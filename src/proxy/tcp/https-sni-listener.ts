import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import type { ListenerSpec } from '../../config/types.ts';
import { createHttpHandler, type HttpListenerDeps } from '../http/index.ts';
import { createCertStore, createTlsTermination } from '../tls/index.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';
import { acceptAddrs, listenSpec, spliceOptions } from './conn-server.ts';
import { helloTimeout, readSocketHello } from './hello-reader.ts';
import { type ConnAddrs, splice } from './splice.ts';

/**
 * proto=https+tcp+sni: one port for TLS passthrough and TLS termination. The ClientHello is read
 * without consuming it; when its server name has a route whose target is tcp (scheme or
 * opts proto=tcp) the connection is spliced to that target untouched, otherwise the buffered bytes
 * are put back and the socket is handed to a TLS server with the listener's certificate source,
 * which serves the HTTP routes (HTTP/1.1 and HTTP/2) through the HTTP handler.
 */
export async function startHttpsTcpSni(spec: ListenerSpec, deps: ProxyDeps): Promise<RunningListener> {
  const source = deps.cfg.certSources.get(spec.cs);
  if (source === undefined) throw new Error(`unknown certificate source "${spec.cs}"`);
  const store = await createCertStore(source, deps.log);
  const term = createTlsTermination(spec, store);
  const auth =
    deps.cfg.authSchemes.size > 0
      ? (await import('../auth/index.ts')).createAuth(deps.cfg.authSchemes, deps.log)
      : undefined;
  const shared = (deps as Partial<HttpListenerDeps>).pools;
  const h = createHttpHandler(spec, deps, { tls: true, auth, pools: shared });

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', noop);
    req.on('error', noop);
    h.request(req, res);
  };
  const tlsServer = http2.createSecureServer({ ...term.serverOptions(), allowHTTP1: true }, onRequest as never);
  const detach = term.attach(tlsServer);
  tlsServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => h.upgrade(req, socket, head));
  tlsServer.on('tlsClientError', noop);
  tlsServer.on('sessionError', noop);
  // as the https listener: idle keep-alive connections end after it, else rt, else 2 minutes
  tlsServer.setTimeout(spec.idleTimeout > 0 ? spec.idleTimeout : spec.readTimeout > 0 ? spec.readTimeout : 120_000);

  // Terminated connections, so that shutdown can end idle keep-alive ones instead of waiting for them.
  const terminated = new Set<tls.TLSSocket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  tlsServer.on('secureConnection', (ts: tls.TLSSocket) => {
    terminated.add(ts);
    ts.once('close', () => terminated.delete(ts));
  });
  tlsServer.on('session', (ss: http2.ServerHttp2Session) => {
    sessions.add(ss);
    ss.once('close', () => sessions.delete(ss));
  });
  const endIdle = () => {
    for (const ts of terminated) {
      if (ts.alpnProtocol !== 'h2' && (ts as unknown as { _httpMessage?: unknown })._httpMessage == null) ts.end();
    }
  };

  const o = spliceOptions(spec, deps, 'tcp_sni');
  const timeout = helloTimeout(spec.readTimeout);
  const terminate = (s: net.Socket, bytes: Buffer, addrs: ConnAddrs | null) => {
    if (addrs !== null) {
      // the client of record is the PROXY source (as the http listener does it)
      Object.defineProperty(s, 'remoteAddress', { value: addrs.remote.address });
      Object.defineProperty(s, 'remotePort', { value: addrs.remote.port });
    }
    if (bytes.length > 0) s.unshift(bytes);
    tlsServer.emit('connection', s);
  };
  const handle = async (s: net.Socket) => {
    const addrs = spec.proxyProto ? await acceptAddrs(s, spec, deps) : null;
    if (addrs === undefined) return;
    const hello = await readSocketHello(s, timeout);
    if (hello.ok) {
      const res = deps.store.current?.lookupTcp(hello.sni);
      if (res !== undefined && (res.target.scheme === 'tcp' || res.target.opts.proto === 'tcp')) {
        deps.metrics.tcpConn('tcp_sni');
        splice(s, res, hello.bytes, addrs, deps, o);
        return;
      }
      return terminate(s, hello.bytes, addrs);
    }
    // No SNI or not quite a hello: the TLS server answers it (default certificate or alert).
    if (hello.reason === 'no-sni' || hello.reason === 'not-tls' || hello.reason === 'malformed')
      return terminate(s, hello.bytes, addrs);
    s.destroy();
  };

  const cs = await listenSpec(spec, deps, 'tcp_sni', handle);
  return {
    spec,
    port: cs.port,
    async close(graceMs: number) {
      tlsServer.close();
      // HTTP/2: GOAWAY, open streams finish; HTTP/1: idle connections end now, busy ones once idle
      for (const ss of sessions) ss.close();
      endIdle();
      const sweep = setInterval(endIdle, 50);
      sweep.unref();
      await cs.close(graceMs);
      clearInterval(sweep);
      detach();
      auth?.close();
      if (shared === undefined) await h.pools?.close();
    },
  };
}

function noop(): void {}
