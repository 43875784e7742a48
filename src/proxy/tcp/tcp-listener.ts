import type net from 'node:net';
import type { ListenerSpec } from '../../config/types.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';
import { ConnServer, acceptAddrs, formatAddr, noRoute, spliceOptions } from './conn-server.ts';
import { splice, type ConnAddrs } from './splice.ts';

/**
 * proto=tcp: every connection is routed by the key `:<listen port>` (exact, no host-less fallback).
 * With pxyproto the client address comes from the PROXY header, but the key stays the listen port.
 */
export async function startTcpListener(spec: ListenerSpec, deps: ProxyDeps): Promise<RunningListener> {
  const o = spliceOptions(spec, deps, 'tcp');
  let key = `:${spec.port}`;
  const route = (s: net.Socket, addrs: ConnAddrs | undefined) => {
    if (addrs === undefined) return;
    const res = deps.store.current?.lookupTcp(key);
    if (res === undefined) return noRoute(s, deps, 'tcp', key);
    splice(s, res, undefined, addrs, deps, o);
  };
  const cs = await ConnServer.listen(spec.host, spec.port, (s) => {
    deps.metrics.tcpConn('tcp');
    if (!spec.proxyProto) {
      // hot path: no promise when there is no PROXY header to wait for
      route(s, { remote: { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 }, local: { address: s.localAddress ?? '', port: s.localPort ?? 0 } });
    } else {
      void acceptAddrs(s, spec, deps.log).then((a) => route(s, a));
    }
  });
  key = `:${cs.port}`; // port 0 binds a free port; routes name the bound one
  deps.log.info(`${spec.proto.toUpperCase()} proxy listening on ${formatAddr(spec.host, cs.port)}`);
  return { spec, port: cs.port, close: (graceMs) => cs.close(graceMs) };
}
