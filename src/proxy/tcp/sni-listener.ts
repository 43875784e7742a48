import type net from 'node:net';
import type { ListenerSpec } from '../../config/types.ts';
import type { LookupResult } from '../../routes/types.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';
import { MAX_HELLO_BYTES } from './client-hello.ts';
import { acceptAddrs, listenSpec, noRoute, type RawConnHandler, spliceOptions } from './conn-server.ts';
import { helloTimeout, readSocketHello, type SocketHello } from './hello-reader.ts';
import { splice } from './splice.ts';

/**
 * proto=tcp+sni: buffer the ClientHello (never decrypting), route by the lower-cased server name
 * exactly (lookupTcp), replay the buffered bytes upstream, then splice. The target's host and port
 * are dialled whatever its scheme, because a `proto=tcp+sni` tag leaves an http:// destination.
 */
export async function startSniListener(spec: ListenerSpec, deps: ProxyDeps): Promise<RunningListener> {
  const o = spliceOptions(spec, deps, 'tcp_sni');
  const timeout = helloTimeout(spec.readTimeout);
  const handle = async (s: net.Socket) => {
    deps.metrics.tcpConn('tcp_sni');
    const addrs = spec.proxyProto ? await acceptAddrs(s, spec, deps) : null;
    if (addrs === undefined) return;
    routeHello(await readSocketHello(s, timeout), s, deps, (res, bytes) => splice(s, res, bytes, addrs, deps, o));
  };
  // hot path: without a PROXY header to read first, connections are read and spliced on bare handles
  const onRaw: RawConnHandler | undefined = spec.proxyProto
    ? undefined
    : (c) => {
        deps.metrics.tcpConn('tcp_sni');
        c.readHello(timeout, MAX_HELLO_BYTES, (h) => {
          try {
            routeHello(h, c, deps, (res, bytes) => c.splice(res, bytes, deps, o));
          } catch (e) {
            // called from a socket read, outside ConnServer's guard: a bug costs this connection only
            deps.log.error(`${spec.proto}: ${String(e)}`);
            c.destroy();
          }
        });
      };
  const cs = await listenSpec(spec, deps, 'tcp_sni', handle, onRaw);
  return { spec, port: cs.port, close: (graceMs) => cs.close(graceMs) };
}

/**
 * After the ClientHello (either splice): a hello without a server name is closed with fabio's
 * debug line and connfail, an unknown name with the no-route line, a known one goes to `go`.
 */
function routeHello(
  h: SocketHello,
  conn: { destroy(): void },
  deps: ProxyDeps,
  go: (res: LookupResult, bytes: Buffer) => void,
): void {
  if (!h.ok) {
    deps.log.debug(
      h.reason === 'no-sni' ? 'tcp+sni: server_name missing' : `tcp+sni: TLS handshake failed (${h.reason})`,
    );
    deps.metrics.tcpConnFail('tcp_sni');
    return conn.destroy();
  }
  const res = deps.store.current?.lookupTcp(h.sni);
  if (res === undefined) return noRoute(conn, deps, 'tcp_sni', h.sni);
  go(res, h.bytes);
}
