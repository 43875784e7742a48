import type net from 'node:net';
import type { ListenerSpec } from '../../config/types.ts';
import { goIp } from '../../go/ip.ts';
import type { Table } from '../../routes/types.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';
import {
  acceptAddrs,
  ConnServer,
  connCap,
  formatAddr,
  noRoute,
  type RawConnHandler,
  spliceOptions,
} from './conn-server.ts';
import { type ConnAddrs, splice } from './splice.ts';

/** The longest timer Node accepts: retired listeners let their connections run until shutdown. */
const NO_DEADLINE = 2 ** 31 - 1;

/** A table host key tcp-dynamic can listen on: `ip:port`, `:port` or `[v6]:port`. */
export function parseListenKey(key: string): { host: string; port: number } | undefined {
  const i = key.lastIndexOf(':');
  if (i < 0) return undefined;
  const p = key.slice(i + 1);
  if (!/^\d{1,5}$/.test(p)) return undefined;
  const port = Number(p);
  if (port < 1 || port > 65535) return undefined;
  let host = key.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.includes('*') || host.includes('/')) return undefined;
  return { host, port };
}

/**
 * The addresses to listen on for the table: host keys whose targets are all tcp:// and that name a
 * port. A `:port` key listens on all interfaces and so covers every `ip:port` key of that port
 * (binding both would fail with EADDRINUSE); the lookup still prefers `ip:port`.
 */
export function dynamicKeys(t: Table | undefined): Set<string> {
  const keys = new Set<string>();
  if (t === undefined) return keys;
  const wildcard = new Set<number>();
  const specific: [string, number][] = [];
  for (const r of t.routes) {
    if (r.targets.length === 0 || !r.host.includes(':')) continue;
    if (!r.targets.every((x) => x.scheme === 'tcp')) continue;
    const k = parseListenKey(r.host);
    if (k === undefined) continue;
    if (k.host === '') wildcard.add(k.port);
    else specific.push([r.host, k.port]);
  }
  for (const p of wildcard) keys.add(`:${p}`);
  for (const [key, p] of specific) if (!wildcard.has(p)) keys.add(key);
  return keys;
}

/**
 * proto=tcp-dynamic: the listener address is a placeholder; ports are opened for the table's
 * `ip:port` / `:port` tcp routes and closed when those routes vanish. The set is reconciled on
 * every table swap and, when `refresh` > 0, also every `refresh` (fabio only polls, and busy-loops
 * when refresh is 0; we never poll with 0). A connection is routed by `ip:port` of the local
 * address, then by `:port`.
 */
export async function startTcpDynamic(spec: ListenerSpec, deps: ProxyDeps): Promise<RunningListener> {
  const o = spliceOptions(spec, deps, 'tcp');
  const open = new Map<string, Promise<ConnServer | undefined>>();
  const retired = new Set<ConnServer>();
  let closed = false;

  /** `ip:port` of the local address first, then `:port`; the key to report when neither matches. */
  const lookup = (localAddress: string, port: number) => {
    const ip = goIp(localAddress);
    const t = deps.store.current;
    const exact = `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
    return { exact, res: t?.lookupTcp(exact) ?? t?.lookupTcp(`:${port}`) };
  };
  const route = (s: net.Socket, a: ConnAddrs | undefined) => {
    if (a === undefined) return;
    const { exact, res } = lookup(a.local.address, s.localPort ?? 0);
    if (res === undefined) return noRoute(s, deps, 'tcp', exact);
    splice(s, res, undefined, a, deps, o);
  };
  // hot path: without a PROXY header to read, connections are spliced on bare handles
  const onRaw: RawConnHandler | undefined = spec.proxyProto
    ? undefined
    : (c) => {
        deps.metrics.tcpConn('tcp');
        const local = c.local();
        const { exact, res } = lookup(local.address, local.port);
        if (res === undefined) return noRoute(c, deps, 'tcp', exact);
        c.splice(res, undefined, deps, o);
      };
  const onConn = (s: net.Socket) => {
    deps.metrics.tcpConn('tcp');
    const plain = {
      remote: { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 },
      local: { address: s.localAddress ?? '', port: s.localPort ?? 0 },
    };
    if (!spec.proxyProto) route(s, plain);
    else
      void acceptAddrs(s, spec, deps)
        .then((a) => route(s, a && { remote: a.remote, local: plain.local }))
        .catch(() => s.destroy());
  };

  const reconcile = () => {
    if (closed) return;
    const want = dynamicKeys(deps.store.current);
    for (const key of want) {
      if (open.has(key)) continue;
      const { host, port } = parseListenKey(key)!;
      const p: Promise<ConnServer | undefined> = ConnServer.listen(
        host,
        port,
        onConn,
        (e) => deps.log.error(`${spec.proto}: ${String(e)}`),
        onRaw,
        connCap(spec.proto, deps, 'tcp'),
        deps.rawTcp,
      ).then(
        (cs) => {
          deps.log.info(`TCP-DYNAMIC proxy listening on ${formatAddr(host, port)}`);
          return cs;
        },
        (err: Error) => {
          deps.log.error(`tcp-dynamic: cannot listen on ${key}: ${err.message}`);
          if (open.get(key) === p) open.delete(key); // retried at the next swap or refresh
          return undefined;
        },
      );
      open.set(key, p);
    }
    for (const [key, p] of open) {
      if (want.has(key)) continue;
      open.delete(key);
      void p.then((cs) => {
        if (cs === undefined) return;
        // stop accepting; connections already spliced keep running until they end or shutdown
        retired.add(cs);
        deps.log.info(`tcp-dynamic: closed listener on ${key}`);
        void cs.close(NO_DEADLINE).then(() => retired.delete(cs));
      });
    }
  };

  const unsubscribe = deps.store.onSwap(reconcile);
  const timer = spec.refresh > 0 ? setInterval(reconcile, spec.refresh) : undefined;
  timer?.unref();
  reconcile();
  deps.log.info(`TCP-DYNAMIC proxy listening on ${spec.addr}`);

  return {
    spec,
    port: spec.port,
    async close(graceMs: number) {
      closed = true;
      unsubscribe();
      if (timer !== undefined) clearInterval(timer);
      const servers = (await Promise.all(open.values())).filter((c): c is ConnServer => c !== undefined);
      open.clear();
      for (const cs of retired) servers.push(cs);
      await Promise.all(servers.map((cs) => forceClose(cs, graceMs)));
    },
  };
}

/** close(graceMs) on a server that may already be closing with a longer grace. */
async function forceClose(cs: ConnServer, graceMs: number): Promise<void> {
  const t = setTimeout(() => cs.destroyAll(), Math.max(0, graceMs));
  await cs.close(graceMs);
  clearTimeout(t);
}
