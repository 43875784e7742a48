import type net from 'node:net';
import type tls from 'node:tls';
import type { ListenerSpec } from '../../config/types.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';
import { acceptAddrs, listenSpec, noRoute, type RawConnHandler, spliceOptions } from './conn-server.ts';
import { type ConnAddrs, splice } from './splice.ts';

/**
 * proto=tcp: every connection is routed by the key `:<listen port>` (exact, no host-less fallback).
 * With pxyproto the client address comes from the PROXY header, but the key stays the listen port.
 * With cs= the listener terminates TLS first (as fabio does) and splices the plaintext.
 */
export async function startTcpListener(spec: ListenerSpec, deps: ProxyDeps): Promise<RunningListener> {
  const o = spliceOptions(spec, deps, 'tcp');
  let key = `:${spec.port}`;
  const route = (s: net.Socket, addrs: ConnAddrs | null | undefined) => {
    if (addrs === undefined) return;
    const res = deps.store.current?.lookupTcp(key);
    if (res === undefined) return noRoute(s, deps, 'tcp', key);
    splice(s, res, undefined, addrs, deps, o);
  };
  let onConn: (s: net.Socket) => void;
  let onRaw: RawConnHandler | undefined;
  let stopTls = () => {};
  if (spec.cs === '') {
    // hot path: without a PROXY header or TLS to handle, connections are spliced on bare handles
    if (!spec.proxyProto)
      onRaw = (c) => {
        deps.metrics.tcpConn('tcp');
        const res = deps.store.current?.lookupTcp(key);
        if (res === undefined) return noRoute(c, deps, 'tcp', key);
        c.splice(res, undefined, deps, o);
      };
    onConn = (s) => {
      deps.metrics.tcpConn('tcp');
      // hot path: no promise when there is no PROXY header to wait for
      if (!spec.proxyProto) route(s, null);
      else
        void acceptAddrs(s, spec, deps)
          .then((a) => route(s, a))
          .catch(() => s.destroy());
    };
  } else {
    const t = await tlsFront(spec, deps, (clear, addrs) => route(clear, addrs));
    stopTls = t.stop;
    onConn = (s) => {
      deps.metrics.tcpConn('tcp');
      void acceptAddrs(s, spec, deps)
        .then((a) => a && t.accept(s, a))
        .catch(() => s.destroy());
    };
  }
  const cs = await listenSpec(spec, deps, 'tcp', onConn, onRaw);
  key = `:${cs.port}`; // port 0 binds a free port; routes name the bound one
  return {
    spec,
    port: cs.port,
    close: async (graceMs) => {
      await cs.close(graceMs);
      stopTls();
    },
  };
}

/** TLS termination in front of the TCP proxy (proto=tcp with cs=), without ALPN. */
async function tlsFront(spec: ListenerSpec, deps: ProxyDeps, onClear: (s: tls.TLSSocket, a: ConnAddrs) => void) {
  const [{ createCertStore, createTlsTermination }, { TLSSocket }] = await Promise.all([
    import('../tls/index.ts'),
    import('node:tls'),
  ]);
  const source = deps.cfg.certSources.get(spec.cs);
  if (source === undefined) throw new Error(`unknown certificate source "${spec.cs}"`);
  const store = await createCertStore(source, deps.log);
  const term = createTlsTermination(spec, store, { alpn: [] });
  const handshakeMs = spec.readTimeout > 0 ? spec.readTimeout : 30_000;
  return {
    accept(s: net.Socket, a: ConnAddrs) {
      const opts = term.socketOptions();
      const clear = new TLSSocket(s, opts);
      clear.on('error', () => s.destroy());
      // a handshake that never completes still costs only this socket
      s.setTimeout(handshakeMs, () => s.destroy());
      clear.once('secure', () => {
        s.setTimeout(0);
        if (opts.requestCert && opts.rejectUnauthorized && !clear.authorized) return void s.destroy();
        onClear(clear, a);
      });
    },
    stop() {},
  };
}
