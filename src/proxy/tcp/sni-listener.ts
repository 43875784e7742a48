import type net from 'node:net';
import type { ListenerSpec } from '../../config/types.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';
import { MAX_HELLO_BYTES } from './client-hello.ts';
import { acceptAddrs, listenSpec, noRoute, type RawConnHandler, spliceOptions } from './conn-server.ts';
import { helloTimeout, readSocketHello } from './hello-reader.ts';
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
    const addrs = spec.proxyProto ? await acceptAddrs(s, spec, deps.log) : null;
    if (addrs === undefined) return;
    const h = await readSocketHello(s, timeout);
    if (!h.ok) {
      helloFailed(h.reason, deps);
      s.destroy();
      return;
    }
    const res = deps.store.current?.lookupTcp(h.sni);
    if (res === undefined) return noRoute(s, deps, 'tcp_sni', h.sni);
    splice(s, res, h.bytes, addrs, deps, o);
  };
  // hot path: without a PROXY header to read first, connections are read and spliced on bare handles
  const onRaw: RawConnHandler | undefined = spec.proxyProto
    ? undefined
    : (c) => {
        deps.metrics.tcpConn('tcp_sni');
        c.readHello(timeout, MAX_HELLO_BYTES, (h) => {
          if (!h.ok) {
            helloFailed(h.reason, deps);
            return c.destroy();
          }
          try {
            const res = deps.store.current?.lookupTcp(h.sni);
            if (res === undefined) return noRoute(c, deps, 'tcp_sni', h.sni);
            c.splice(res, h.bytes, deps, o);
          } catch (e) {
            // called from a socket read, outside ConnServer's guard: a bug costs this connection only
            deps.log.error(`${spec.proto}: ${String(e)}`);
            c.destroy();
          }
        });
      };
  const cs = await listenSpec(spec, deps.log, handle, onRaw);
  return { spec, port: cs.port, close: (graceMs) => cs.close(graceMs) };
}

/** fabio's debug line and the connfail count for a ClientHello that did not give a server name. */
function helloFailed(reason: string, deps: ProxyDeps): void {
  deps.log.debug(reason === 'no-sni' ? 'tcp+sni: server_name missing' : `tcp+sni: TLS handshake failed (${reason})`);
  deps.metrics.tcpConnFail('tcp_sni');
}
