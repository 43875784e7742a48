import net from 'node:net';
import { goIp } from '../../go/ip.ts';
import { clip } from '../../log/clip.ts';
import type { LookupResult } from '../../routes/types.ts';
import { balancerFor, recordOutcome } from '../outlier/balancer.ts';
import { retryLimit } from '../outlier/retry.ts';
import { proxyV1Header } from '../proxy-protocol.ts';
import type { ProxyDeps } from '../types.ts';
import { Relay } from './relay.ts';
import type { TcpShared } from './shared.ts';

/** Addresses of one accepted connection as the proxy sees them (after an inbound PROXY header). */
export interface ConnAddrs {
  readonly remote: { readonly address: string; readonly port: number };
  readonly local: { readonly address: string; readonly port: number };
}

/** Per-listener settings of the splice, computed once at listener start. */
export interface SpliceOptions {
  readonly kind: 'tcp' | 'tcp_sni';
  /** Log prefix as fabio writes it: 'tcp' or 'tcp+sni'. */
  readonly prefix: string;
  readonly dialTimeout: number;
  /** TCP keep-alive initial delay of upstream sockets. */
  readonly keepAlive: number;
  /** Listener rt: the client must send something at least every rt ms (fabio: per-Read deadline). */
  readonly readTimeout: number;
  /** Listener wt: no progress on the client socket for wt ms closes the connection. */
  readonly writeTimeout: number;
  /** Listener it: no bytes in either direction for it ms closes the connection (fabio ignores it on TCP). */
  readonly idleTimeout: number;
  /** proxy.lingertimeout: once one side ended, how long the other may still send (0 = close both at once). */
  readonly linger: number;
  /** The data plane's keep-alive scheduler and bulk buffer pool. */
  readonly shared: TcpShared;
  /** wt and it both end up as inactivity of the client socket (Node has no per-write deadline): the smaller one set, 0 = none. */
  readonly clientIdle: number;
}

/** The client idle deadline of a listener: the smaller of wt and it that is set (0 = none). */
export function clientIdleMs(writeTimeout: number, idleTimeout: number): number {
  return writeTimeout > 0 && idleTimeout > 0 ? Math.min(writeTimeout, idleTimeout) : writeTimeout || idleTimeout;
}

/** Access rules of the target against the client ip; false (and fabio's INFO line) when denied. */
export function accessOk(target: LookupResult['target'], ip: string, deps: ProxyDeps): boolean {
  const rules = target.accessRules;
  if (rules === undefined || rules.allowed(ip)) return true;
  deps.log.info(`route rules denied access from ${clip(ip)} to ${target.url}`);
  return false;
}

/** fabio's line and the connfail count for an upstream that could not be dialled. */
export function dialFailure(deps: ProxyDeps, o: SpliceOptions, hostPort: string): void {
  deps.log.warn(`${o.prefix}: cannot connect to upstream ${hostPort}`);
  deps.metrics.tcpConnFail(o.kind);
}

/** The target to dial: the table's pick, or another one when it is ejected (src/proxy/outlier). */
export function dialChoice(res: LookupResult, deps: ProxyDeps): LookupResult {
  const b = balancerFor(deps.cfg);
  if (res.route.targets.length > 1) b.request(res.route); // the retry budget's base
  return b.choose(res);
}

/** A dial that connected: the target's consecutive failures end. */
export function dialSucceeded(res: LookupResult, deps: ProxyDeps): void {
  balancerFor(deps.cfg).report(res.route, res.target, true);
}

/**
 * After a refused or timed-out dial (fabio-ts, issue #15): the failure counts for outlier
 * ejection, and unless this was already the second dial (`again`) or retries are off
 * (proxy.retry.attempts=0, route option retries=0), another target of the route to dial once.
 */
export function redial(res: LookupResult, deps: ProxyDeps, again: boolean): LookupResult | undefined {
  const b = balancerFor(deps.cfg);
  const { route, target } = res;
  recordOutcome(b, deps, route, target, false);
  if (again || retryLimit(target, deps.cfg.num('proxy.retry.attempts'), route.targets.length) === 0) return undefined;
  const next = b.retryTarget(route, [target], target);
  if (next === undefined) return undefined;
  deps.metrics.retry?.(route, target);
  return { route, target: next };
}

/** The peer and local address of a socket as they are (no PROXY header). */
function socketAddrs(s: net.Socket): ConnAddrs {
  return {
    remote: { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 },
    local: { address: s.localAddress ?? '', port: s.localPort ?? 0 },
  };
}

/**
 * Connects `client` to the route's target and moves bytes both ways until both directions ended.
 * `head` holds bytes already read from the client (an SNI ClientHello); they are written first.
 * Owns both sockets from here on: every outcome ends with both destroyed or cleanly closed.
 */
export function splice(
  client: net.Socket,
  res: LookupResult,
  head: Buffer | undefined,
  /** null: the client socket's own addresses, read only when needed (access rules, PROXY header). */
  addrs: ConnAddrs | null,
  deps: ProxyDeps,
  o: SpliceOptions,
  /** Set on the second dial after a failed one (no third). */
  again = false,
): void {
  if (!again) res = dialChoice(res, deps);
  const { route, target } = res;
  if (
    target.accessRules !== undefined &&
    !accessOk(target, goIp((addrs ?? socketAddrs(client)).remote.address), deps)
  ) {
    client.destroy();
    return;
  }
  let up: net.Socket;
  try {
    // TCP keep-alive (4 setsockopt calls) is set later, only on connections that live a few
    // seconds: keepalive.ts. No-delay is set at connect, as Go does.
    up = net.connect({ host: target.hostname, port: target.port, noDelay: true, allowHalfOpen: true });
  } catch {
    // e.g. a port out of range in a hand-written route: costs this connection only
    dialFailure(deps, o, target.hostPort);
    const next = redial(res, deps, again);
    if (next !== undefined) return splice(client, next, head, addrs, deps, o, true);
    client.destroy();
    return;
  }
  let connected = false;
  let preamble = 0;
  let open = 2;
  let toUp: Relay | undefined;
  let toClient: Relay | undefined;
  let linger: NodeJS.Timeout | undefined;
  const closeBoth = () => {
    client.destroy();
    up.destroy();
  };
  // The first FIN passed on starts the linger: the other side may still send for o.linger ms, then
  // both are closed. With 0, both are closed as soon as that FIN (and the bytes before it) is out.
  const halfClosed = (dst: net.Socket) => {
    if (o.linger === 0) dst.once('finish', closeBoth);
    else if (linger === undefined) {
      linger = setTimeout(closeBoth, o.linger);
      linger.unref();
    }
  };
  // One handler per event and socket: listener bookkeeping is a visible share of a short connection.
  const finish = () => {
    if (--open !== 0) return;
    if (linger !== undefined) clearTimeout(linger);
    // both sockets closed: no pending write can still reference the bulk buffers
    o.shared.buffers.release(toUp?.buffer);
    o.shared.buffers.release(toClient?.buffer);
    if (connected) deps.metrics.routeBytes(route, target, up.bytesRead, up.bytesWritten - preamble);
  };
  // Errors are always followed by 'close' (with hadError), which tears the other side down.
  up.on('error', () => {
    if (!connected) dialFailure(deps, o, target.hostPort);
    if (!connected) deps.metrics.tcpRouteFail?.(route, target);
  });
  up.setTimeout(o.dialTimeout);
  up.on('timeout', () => {
    if (!connected) up.destroy(DIAL_TIMEOUT);
  });
  // A side that closed cleanly has ended both its directions; the other side finishes its pending
  // writes and closes by itself unless it is still sending to nobody. A client that leaves while
  // we dial takes the dial with it.
  // A side that failed (a reset, a write to a closed peer) resets the other at once.
  const onClientClose = (hadError: boolean) => {
    if (hadError && connected) resetSocket(up);
    else if (hadError || !connected || !up.readableEnded) up.destroy();
    finish();
  };
  client.on('close', onClientClose);
  up.on('close', (hadError) => {
    // A refused or timed-out dial: another target once, the client untouched (issue #15).
    if (!connected && !client.destroyed) {
      const next = redial(res, deps, again);
      if (next !== undefined) {
        client.off('close', onClientClose);
        return splice(client, next, head, addrs, deps, o, true);
      }
    }
    if (connected) o.shared.keepAlive.forget(up);
    if (hadError && connected) resetSocket(client);
    else if (hadError || !client.readableEnded) client.destroy();
    finish();
  });
  up.on('connect', () => {
    connected = true;
    dialSucceeded(res, deps);
    deps.metrics.tcpRouteOpen?.(res.route, res.target);
    up.setTimeout(0);
    if (client.destroyed) return void up.destroy();
    o.shared.keepAlive.later(up, o.keepAlive);
    if (target.proxyProto) {
      const a = addrs ?? socketAddrs(client);
      const h = proxyV1Header(a.remote, a.local);
      preamble = Buffer.byteLength(h);
      // one write (one segment) for header and replayed hello
      up.write(head !== undefined && head.length > 0 ? Buffer.concat([Buffer.from(h, 'latin1'), head]) : h);
    } else if (head !== undefined && head.length > 0) up.write(head);
    toUp = new Relay(client, up, o.shared.buffers, readDeadline(client, o), halfClosed);
    toClient = new Relay(up, client, o.shared.buffers, undefined, halfClosed);
    idleDeadline(client, o);
  });
}

const DIAL_TIMEOUT = new Error('dial timeout');

/**
 * Closes a socket with an RST; a TLS-terminated client (no TCP handle of its own) is just destroyed,
 * and so is a socket whose shutdown may be in flight (ended, not finished): Node's reset() of such
 * a handle fails after marking it closing, and the handle is then never closed (raw-handle.ts,
 * `shutting`).
 */
function resetSocket(s: net.Socket): void {
  if (s.destroyed) return;
  if (s.writableEnded && !s.writableFinished) {
    s.destroy();
    return;
  }
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

/** Listener rt: the client must send something every rt ms; refreshed per chunk by the relay. */
function readDeadline(client: net.Socket, o: SpliceOptions): (() => void) | undefined {
  if (o.readTimeout <= 0) return undefined;
  const t = setTimeout(() => client.destroy(), o.readTimeout);
  t.unref();
  const stop = () => clearTimeout(t);
  client.on('close', stop);
  client.on('end', stop);
  return () => void t.refresh();
}

/** The client idle deadline (wt/it, see SpliceOptions.clientIdle). */
function idleDeadline(client: net.Socket, o: SpliceOptions): void {
  if (o.clientIdle > 0) {
    client.setTimeout(o.clientIdle);
    client.on('timeout', () => client.destroy());
  }
}
