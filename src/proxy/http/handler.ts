import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ListenerSpec } from '../../config/types.ts';
import { traceLines } from '../../routes/index.ts';
import type { LookupResult, Table, Target } from '../../routes/types.ts';
import { type AccessFormatter, type AccessRecord, compileAccessLog } from '../access-log.ts';
import { goAddr, goIp } from '../client-ip.ts';
import { classify, ProxyError, toResponse } from '../errors.ts';
import type { ProxyDeps } from '../types.ts';
import { type ForwardJob, forward, type Req, type Res } from './forward.ts';
import {
  type HeaderOptions,
  protectedHeaders,
  stsValue,
  tlsCipherId,
  tlsVersionName,
  upstreamHeaders,
} from './headers.ts';
import { leanForward } from './lean-forward.ts';
import { escapePath, mergeQuery, normalizePath, rewritePath, splitRequestTarget } from './path.ts';
import { PoolCache } from './pools.ts';
import { redirectResponse } from './redirect.ts';
import { requestId as newRequestId } from './request-id.ts';
import { answerUpgrade, tunnelWebsocket } from './websocket.ts';

/** The auth checker of the tls helper (src/proxy/auth): only the part the handler calls. */
export interface AuthChecker {
  check(scheme: string, authorizationHeader: string | undefined): { ok: boolean; challenge?: string };
  /** Same answer without blocking the event loop (bcrypt); preferred when present. */
  checkAsync?(scheme: string, authorizationHeader: string | undefined): Promise<{ ok: boolean; challenge?: string }>;
}

/** Replaceable parts, so unit tests can stub them (style habit 6). */
export interface HandlerParts {
  readonly tls: boolean;
  readonly auth?: AuthChecker;
  readonly pools?: PoolCache;
  readonly forward?: (job: ForwardJob) => void;
  readonly requestId?: () => string;
  /** Wall clock in nanoseconds since the epoch (access log). */
  readonly nowNs?: () => bigint;
  /**
   * Lean HTTP/1.1 path for body-less GET/HEAD to plain-http targets (default on; the environment
   * variable FABIO_TS_LEAN=0 turns it off for A/B benchmarks). Off when `forward` is stubbed.
   */
  readonly lean?: boolean;
}

export interface HttpHandler {
  request(req: Req, res: Res): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  readonly pools: PoolCache;
}

const hr = () => process.hrtime.bigint();
const wallNs = () => BigInt(Date.now()) * 1_000_000n;

/** Builds the request handler of one HTTP/HTTPS listener from the config, computed once. */
export function createHttpHandler(spec: ListenerSpec, deps: ProxyDeps, parts: HandlerParts): HttpHandler {
  const { cfg, log, metrics } = deps;
  const tls = parts.tls;
  const hopts: HeaderOptions = {
    localIp: cfg.str('proxy.localip'),
    clientIpHeader: cfg.str('proxy.header.clientip'),
    tlsHeader: cfg.str('proxy.header.tls'),
    tlsHeaderValue: cfg.str('proxy.header.tls.value'),
    requestIdHeader: cfg.str('proxy.header.requestid'),
  };
  const protectedSet = protectedHeaders(hopts);
  const ridHeader = hopts.requestIdHeader.toLowerCase();
  const traceHeader = cfg.str('proxy.header.trace').toLowerCase();
  const noRouteStatus = cfg.num('proxy.noroutestatus') || 404;
  const sts = tls
    ? stsValue(
        cfg.num('proxy.header.sts.maxage'),
        cfg.bool('proxy.header.sts.subdomains'),
        cfg.bool('proxy.header.sts.preload'),
      )
    : '';
  const gzipText = cfg.str('proxy.gzip.contenttype');
  const gzip = gzipText !== '' ? new RegExp(gzipText) : undefined;
  const accessFmt: AccessFormatter | undefined = deps.accessLog
    ? compileAccessLog(cfg.str('log.access.format'))
    : undefined;
  const writeTimeout = spec.writeTimeout;
  const pools =
    parts.pools ??
    new PoolCache(deps.store, {
      maxConn: cfg.num('proxy.maxconn'),
      dialTimeout: cfg.num('proxy.dialtimeout'),
      headersTimeout: cfg.num('proxy.responseheadertimeout'),
      idleTimeout: cfg.num('proxy.idleconntimeout'),
      tcpKeepAlive: cfg.num('proxy.keepalivetimeout'),
    });
  const doForward = parts.forward ?? forward;
  const makeId = parts.requestId ?? newRequestId;
  const nowNs = parts.nowNs ?? wallNs;
  const auth = parts.auth;
  const leanOn =
    parts.forward === undefined &&
    (parts.lean ?? process.env.FABIO_TS_LEAN !== '0') &&
    gzip === undefined &&
    cfg.num('proxy.responseheadertimeout') <= 0;

  /** Shared front half of HTTP and websocket handling: fabio steps 1-6. Returns undefined when answered. */
  /**
   * Fabio steps 1-7 shared by HTTP and websocket handling: request id, path, lookup, access rules,
   * auth, redirect, upstream URL. Calls `answer` when the request is answered here, else `next`
   * (later, when a non-blocking auth check had to run).
   */
  const route = (req: Req, answer: Answer, next: (routed: Routed) => void): void => {
    const table: Table | undefined = deps.store.current; // one read per request (rule 3)
    const h = req.headers;
    const id = ridHeader !== '' ? makeId() : '';
    const { rawPath, query } = splitRequestTarget(req.url ?? '/');
    const path = normalizePath(rawPath);
    const host = h.host ?? (req as { authority?: string }).authority ?? '';
    const xfp = h['x-forwarded-proto'];
    const lreq = { host, path, query, tls, forwardedProto: typeof xfp === 'string' ? xfp : undefined };
    let result: LookupResult | undefined;
    const traceId = traceHeader !== '' ? h[traceHeader] : undefined;
    if (traceId !== undefined && log.enabled('TRACE') && table !== undefined) {
      const exp = table.explain(lreq);
      for (const line of traceLines(String(traceId), exp)) log.trace(line);
      result = exp.result;
    } else {
      result = table?.lookup(lreq);
    }
    if (result === undefined) {
      log.warn(`No route for ${host}${req.url ?? ''}`);
      metrics.notFound();
      const html = deps.noRouteHtml();
      answer(noRouteStatus, html !== '' ? { 'content-type': 'text/html; charset=utf-8' } : {}, html);
      return;
    }
    const t = result.target;
    const sock = req.socket as TLSSocket;
    const clientIp = goIp(sock.remoteAddress);
    if (t.accessRules !== undefined && !accessAllowed(t.accessRules, clientIp, h['x-forwarded-for'])) {
      const r = toResponse(new ProxyError('ACCESS_DENIED', 'access denied'));
      answer(r.status, TEXT, r.body);
      return;
    }
    const found = result;
    const proceed = (): void => {
      if (t.redirectCode !== 0) {
        metrics.redirect(t.redirectCode);
        const rr = redirectResponse(t.redirectCode, found.redirectURL ?? t.redirectURL, req.method ?? 'GET');
        answer(rr.status, rr.headers, rr.body);
        return;
      }
      const upPath = escapePath(rewritePath(path, t.stripPath, t.prependPath));
      const q = mergeQuery(t.urlQuery, query);
      const upUri = q === '' ? upPath : `${upPath}?${q}`;
      const hostHeader = t.host === 'dst' ? t.hostPort : t.host !== '' ? t.host : host;
      next({ result: found, t, id, path, query, host, clientIp, sock, upUri, hostHeader });
    };
    if (t.authScheme === '') return proceed();
    const authorization = h.authorization;
    const settle = (a: { ok: boolean; challenge?: string }): void => {
      if (a.ok) return proceed();
      const r = toResponse(new ProxyError('AUTH_FAILED', 'authorization failed'));
      // fabio's basic auth challenges only requests that carried no (parsable) credentials.
      const challenge = a.challenge !== undefined && !hasBasicCredentials(authorization);
      answer(r.status, challenge ? { ...TEXT, 'www-authenticate': a.challenge as string } : TEXT, r.body);
    };
    if (auth === undefined) return settle({ ok: false });
    if (auth.checkAsync === undefined) return settle(auth.check(t.authScheme, authorization));
    // bcrypt entries would block the event loop for every guess: check off the loop.
    auth.checkAsync(t.authScheme, authorization).then(
      (a) => {
        try {
          settle(a);
        } catch (e) {
          log.error(`http: ${(e as Error).message}`);
          answer(500, {}, '');
        }
      },
      () => settle({ ok: false }),
    );
  };

  const request = (req: Req, res: Res): void => {
    const t0 = hr();
    const startNs = accessFmt !== undefined ? nowNs() : 0n;
    const r = res as ServerResponse;
    // Answers before forwarding (no route, 403, 401, redirect) carry no STS: fabio sets it at step 10.
    route(
      req,
      (status, headers, body) => {
        if (r.headersSent || r.destroyed) return;
        r.writeHead(status, headers);
        r.end(req.method === 'HEAD' ? undefined : body);
      },
      (routed) => {
        if (!r.destroyed) proxyRequest(req, r, routed, t0, startNs);
      },
    );
  };

  const proxyRequest = (req: Req, r: ServerResponse, routed: Routed, t0: bigint, startNs: bigint): void => {
    const { result, t, sock } = routed;
    const httpProto = req.httpVersionMajor === 2 ? 'http/2.0' : `http/${req.httpVersion}`;
    const ctx = {
      clientIp: routed.clientIp,
      tls,
      tlsVersion: tls ? tlsVersionName(sock.getProtocol?.()) : '',
      tlsCipher: tls ? tlsCipherId(sock.getCipher?.()?.standardName) : -1,
      httpProto,
      requestId: routed.id,
    };
    const up = upstreamHeaders(
      req.rawHeaders,
      routed.host,
      ctx,
      { host: routed.hostHeader, stripPath: t.stripPath, websocket: false },
      hopts,
      protectedSet,
    );
    const accept = req.headers.accept;
    const sse = accept === 'text/event-stream';
    const method = req.method ?? 'GET';
    let timer: NodeJS.Timeout | undefined;
    if (writeTimeout > 0) timer = setTimeout(() => r.destroy(), writeTimeout);
    const fail = (err: ProxyError): number => {
      const er = toResponse(err);
      if (er.log) log.error(err.message);
      if (!r.headersSent && !r.destroyed) {
        const hs: Record<string, string> = er.body !== '' ? { ...TEXT } : {};
        if (sts !== '') hs['strict-transport-security'] = sts;
        r.writeHead(er.status, hs);
        r.end(er.body);
      }
      return er.status;
    };
    if (
      leanOn &&
      (method === 'GET' || method === 'HEAD') &&
      t.scheme === 'http' &&
      !sse &&
      req.httpVersionMajor === 1 &&
      !hasRequestBody(req)
    ) {
      leanForward({
        pool: pools.lean(t),
        head: buildRequestHead(method, routed.upUri, up.headers),
        isHead: method === 'HEAD',
        res: r,
        sts,
        fail,
        done,
      });
      return;
    }
    doForward({
      pool: pools.get(t),
      method,
      path: routed.upUri,
      headers: up.headers,
      req,
      res: r,
      sts,
      gzip,
      gzipAllowed:
        gzip !== undefined &&
        /gzip/.test(String(req.headers['accept-encoding'] ?? '')) &&
        !String(accept ?? '').includes('text/event-stream'),
      sse,
      fail,
      done,
    });
    function done(status: number, bytes: number): void {
      if (timer !== undefined) clearTimeout(timer);
      const secs = Number(hr() - t0) / 1e9;
      metrics.httpRequest(result.route, t, status, secs);
      if (accessFmt !== undefined && status !== 0) {
        const headers = up.headers;
        const rec: AccessRecord = {
          startNs,
          durationNs: hr() - t0,
          remoteAddr: goAddr(routed.clientIp, sock.remotePort),
          method: req.method ?? '',
          uri: req.url ?? '',
          proto: `HTTP/${req.httpVersion}`,
          host: routed.host,
          scheme: up.scheme,
          path: routed.path,
          query: routed.query,
          status,
          bodySize: bytes,
          upstreamAddr: t.hostPort,
          upstreamScheme: t.scheme === 'wss' ? 'https' : t.scheme === 'ws' ? 'http' : t.scheme,
          upstreamUri: routed.upUri,
          service: t.service,
          header: (name) => headerValue(headers, name),
        };
        deps.accessLog?.(accessFmt(rec));
      }
    }
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    // Hold early client bytes (sent before the upstream's 101) until the splice starts.
    socket.pause();
    route(
      req,
      // The socket is paused: answerUpgrade closes it once the answer is flushed.
      (status, headers, body) => answerUpgrade(socket, status, headers, body),
      (routed) => {
        if (!socket.destroyed) tunnel(req, socket, head, routed);
      },
    );
  };

  const tunnel = (req: IncomingMessage, socket: Duplex, head: Buffer, routed: Routed): void => {
    const { t, sock } = routed;
    const up = upstreamHeaders(
      req.rawHeaders,
      routed.host,
      {
        clientIp: routed.clientIp,
        tls,
        tlsVersion: tls ? tlsVersionName(sock.getProtocol?.()) : '',
        tlsCipher: tls ? tlsCipherId(sock.getCipher?.()?.standardName) : -1,
        httpProto: `http/${req.httpVersion}`,
        requestId: routed.id,
      },
      { host: routed.hostHeader, stripPath: t.stripPath, websocket: true },
      hopts,
      protectedSet,
    );
    tunnelWebsocket({
      target: t,
      requestHead: buildRequestHead(req.method ?? 'GET', routed.upUri, up.headers),
      head,
      client: socket,
      dialTimeout: cfg.num('proxy.dialtimeout'),
      linger: cfg.num('proxy.lingertimeout'),
      metrics,
      log,
    });
  };

  return { request, upgrade, pools };
}

type Answer = (status: number, headers: Record<string, string>, body: string) => void;

/** What steps 1-7 decided for a request that is to be proxied. */
interface Routed {
  readonly result: LookupResult;
  readonly t: Target;
  readonly id: string;
  readonly path: string;
  readonly query: string;
  readonly host: string;
  readonly clientIp: string;
  readonly sock: TLSSocket;
  readonly upUri: string;
  readonly hostHeader: string;
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' };

function buildRequestHead(method: string, uri: string, headers: readonly string[]): string {
  let s = `${method} ${uri} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${s}\r\n`;
}

/** A request with a body (Content-Length other than 0, or any Transfer-Encoding) on HTTP/1.x. */
function hasRequestBody(req: Req): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  return cl !== undefined && cl !== '0';
}

function headerValue(flat: readonly string[], name: string): string {
  const lower = name.toLowerCase();
  for (let i = 0; i < flat.length; i += 2)
    if ((flat[i] as string).toLowerCase() === lower) return flat[i + 1] as string;
  return '';
}

/**
 * fabio checks the peer address and then EVERY element of X-Forwarded-For (it cannot know which hops
 * to trust); any denied element denies the request. Unparsable elements are skipped.
 */
export function accessAllowed(
  rules: { allowed(ip: string): boolean },
  clientIp: string,
  xff: string | string[] | undefined,
): boolean {
  if (clientIp !== '' && !rules.allowed(clientIp)) return false;
  if (xff === undefined) return true;
  const all = Array.isArray(xff) ? xff.join(',') : xff;
  for (const part of all.split(',')) {
    const ip = part.trim();
    if (ip === '' || !/^[0-9a-fA-F:.]+$/.test(ip)) continue;
    if (!rules.allowed(goIp(ip))) return false;
  }
  return true;
}

/** Go's Request.BasicAuth ok: `Basic <base64 of user:pass>` (scheme case-insensitive). */
function hasBasicCredentials(h: string | undefined): boolean {
  if (h === undefined || h.length < 6 || h.slice(0, 6).toLowerCase() !== 'basic ') return false;
  const b = h.slice(6);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b)) return false;
  return Buffer.from(b, 'base64').toString('latin1').includes(':');
}

export { classify };
