import type net from 'node:net';
import type { ListenerSpec } from '../../config/types.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';
import { acceptAddrs, listenSpec, noRoute, spliceOptions } from './conn-server.ts';
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
      deps.log.debug(
        h.reason === 'no-sni' ? 'tcp+sni: server_name missing' : `tcp+sni: TLS handshake failed (${h.reason})`,
      );
      deps.metrics.tcpConnFail('tcp_sni');
      s.destroy();
      return;
    }
    const res = deps.store.current?.lookupTcp(h.sni);
    if (res === undefined) return noRoute(s, deps, 'tcp_sni', h.sni);
    splice(s, res, h.bytes, addrs, deps, o);
  };
  const cs = await listenSpec(spec, deps.log, handle);
  return { spec, port: cs.port, close: (graceMs) => cs.close(graceMs) };
}
