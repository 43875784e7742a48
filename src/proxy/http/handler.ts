import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ListenerSpec } from '../../config/types.ts';
import { goAddr, goIp } from '../../go/ip.ts';
import { clip } from '../../log/clip.ts';
import { traceId, traceLines } from '../../routes/index.ts';
import type { LookupResult, Table, Target } from '../../routes/types.ts';
import { type AccessFormatter, type AccessRecord, compileAccessLog } from '../access-log.ts';
import { ProxyError, reasonPhrase, toResponse } from '../errors.ts';
import { type Balancer, balancerFor, recordOutcome } from '../outlier/balancer.ts';
import { retryLimit, retrySafe } from '../outlier/retry.ts';
import type { ProxyDeps } from '../types.ts';
import { bodyStarted, type ForwardJob, forward, hasBody, type Req, type Res } from './forward.ts';
import {
  type HeaderOptions,
  protectedHeaders,
  requestXff,
  stsValue,
  tlsCipherId,
  tlsVersionName,
  type UpstreamHeaders,
  upstreamHeaders,
} from './headers.ts';
import { leanForward } from './lean-forward.ts';
import { escapePath, mergeQuery, normalizePath, rewritePath, splitRequestTarget } from './path.ts';
import { PoolCache } from './pools.ts';
import { redirectResponse } from './redirect.ts';
import { checkRequest } from './request-checks.ts';
import { requestId as newRequestId } from './request-id.ts';
import { answerUpgrade, tunnelWebsocket } from './websocket.ts';

/** The auth checker of the tls helper (src/proxy/auth): only the part the handler calls. */
export interface AuthChecker {
  check(scheme: string, authorizationHeader: string | undefined): { ok: boolean; challenge?: string };
  /** Same answer without blocking the event loop (bcrypt); preferred when present. */
  checkAsync?(scheme: string, authorizationHeader: string | undefined): Promise<{ ok: boolean; challenge?: string }>;
}

/** Replaceable parts, so unit tests can stub them (docs/architecture.md, habit 6). */
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

/** Everything the handler needs, computed once per listener from the config. */
interface HandlerConfig {
  readonly deps: ProxyDeps;
  readonly tls: boolean;
  readonly hopts: HeaderOptions;
  readonly protectedSet: ReadonlySet<string>;
  readonly ridHeader: string;
  readonly traceHeader: string;
  readonly noRouteStatus: number;
  readonly sts: string;
  readonly gzip: RegExp | undefined;
  readonly accessFmt: AccessFormatter | undefined;
  readonly writeTimeout: number;
  readonly pools: PoolCache;
  readonly forward: (job: ForwardJob) => void;
  readonly makeId: () => string;
  readonly nowNs: () => bigint;
  readonly auth: AuthChecker | undefined;
  readonly lean: boolean;
  readonly dialTimeout: number;
  /** proxy.lingertimeout: bound of a half-closed websocket tunnel. */
  readonly linger: number;
  /** Outlier ejection, p2c load and retry budgets (src/proxy/outlier), shared by the process. */
  readonly balancer: Balancer;
  /** proxy.retry.attempts (a route's `retries=` option overrides it). */
  readonly retries: number;
}

function handlerConfig(spec: ListenerSpec, deps: ProxyDeps, parts: HandlerParts): HandlerConfig {
  const { cfg } = deps;
  const tls = parts.tls;
  const hopts: HeaderOptions = {
    localIp: cfg.str('proxy.localip'),
    clientIpHeader: cfg.str('proxy.header.clientip'),
    tlsHeader: cfg.str('proxy.header.tls'),
    tlsHeaderValue: cfg.str('proxy.header.tls.value'),
    requestIdHeader: cfg.str('proxy.header.requestid'),
  };
  const gzipText = cfg.str('proxy.gzip.contenttype');
  const gzip = gzipText !== '' ? new RegExp(gzipText) : undefined;
  return {
    deps,
    tls,
    hopts,
    protectedSet: protectedHeaders(hopts),
    ridHeader: hopts.requestIdHeader.toLowerCase(),
    traceHeader: cfg.str('proxy.header.trace').toLowerCase(),
    noRouteStatus: cfg.num('proxy.noroutestatus') || 404,
    sts: tls
      ? stsValue(
          cfg.num('proxy.header.sts.maxage'),
          cfg.bool('proxy.header.sts.subdomains'),
          cfg.bool('proxy.header.sts.preload'),
        )
      : '',
    gzip,
    accessFmt: deps.accessLog ? compileAccessLog(cfg.str('log.access.format')) : undefined,
    writeTimeout: spec.writeTimeout,
    pools:
      parts.pools ??
      new PoolCache(deps.store, {
        maxConn: cfg.num('proxy.maxconn'),
        dialTimeout: cfg.num('proxy.dialtimeout'),
        headersTimeout: cfg.num('proxy.responseheadertimeout'),
        idleTimeout: cfg.num('proxy.idleconntimeout'),
        tcpKeepAlive: cfg.num('proxy.keepalivetimeout'),
      }),
    forward: parts.forward ?? forward,
    makeId: parts.requestId ?? newRequestId,
    nowNs: parts.nowNs ?? wallNs,
    auth: parts.auth,
    // The lean parser has no gzip and no response-header timeout: those configurations use undici.
    lean:
      parts.forward === undefined &&
      parts.lean !== false &&
      gzip === undefined &&
      cfg.num('proxy.responseheadertimeout') <= 0,
    dialTimeout: cfg.num('proxy.dialtimeout'),
    linger: cfg.num('proxy.lingertimeout'),
    balancer: balancerFor(cfg),
    retries: cfg.num('proxy.retry.attempts'),
  };
}

/**
 * Builds the request handler of one HTTP/HTTPS listener. Every request goes through one pipeline,
 * each step a function that returns a decision (docs/design.md, "The HTTP pipeline"): parse checks
 * → route (lookup, access, auth, redirect) → upstream request head → upstream path (lean or undici,
 * which differ only in how bytes move) → response head (response-head.ts) → errors (errors.ts).
 */
export function createHttpHandler(spec: ListenerSpec, deps: ProxyDeps, parts: HandlerParts): HttpHandler {
  const hc = handlerConfig(spec, deps, parts);
  return {
    request: (req, res) => handleRequest(hc, req, res as ServerResponse),
    upgrade: (req, socket, head) => handleUpgrade(hc, req, socket, head),
    pools: hc.pools,
  };
}

/** A request answered by the proxy itself (no upstream). */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The outcome of the routing steps: an answer of the proxy's own, or a request to forward. */
type Decision = { readonly answer: Answer } | { readonly routed: Routed };

function handleRequest(hc: HandlerConfig, req: Req, res: ServerResponse): void {
  const t0 = hr();
  const startNs = hc.accessFmt !== undefined ? hc.nowNs() : 0n;
  decide(hc, req, (d) => {
    if ('answer' in d) sendAnswer(req, res, d.answer);
    else if (!res.destroyed) proxyRequest(hc, req, res, d.routed, t0, startNs);
  });
}

/** Answers before forwarding (no route, 400, 403, 401, redirect) carry no STS: fabio sets it at step 10. */
function sendAnswer(req: Req, res: ServerResponse, a: Answer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(a.status, reasonPhrase(a.status), a.headers);
  res.end(req.method === 'HEAD' ? undefined : a.body);
}

/** The answer for an error of the table in errors.ts (no-route body: the configured HTML page). */
function errorAnswer(hc: HandlerConfig, err: ProxyError): Answer {
  const r = toResponse(err, hc.noRouteStatus);
  if (err.code === 'NO_ROUTE') {
    const html = hc.deps.noRouteHtml();
    return { status: r.status, headers: html !== '' ? { 'content-type': 'text/html; charset=utf-8' } : {}, body: html };
  }
  return { status: r.status, headers: r.body !== '' ? { ...TEXT } : {}, body: r.body };
}

/**
 * fabio steps 1-7, shared by HTTP and websocket requests: parse checks, request id, path, lookup,
 * access rules, auth, redirect, upstream URL. Calls `done` once, synchronously unless a
 * non-blocking auth check had to run.
 */
function decide(hc: HandlerConfig, req: Req, done: (d: Decision) => void): void {
  const checked = checkRequest(req);
  if (checked instanceof ProxyError) return done({ answer: errorAnswer(hc, checked) });
  const found = lookup(hc, req, checked.host);
  if (found instanceof ProxyError) return done({ answer: errorAnswer(hc, found) });
  const t = found.result.target;
  if (t.accessRules !== undefined && !accessAllowed(t.accessRules, found.clientIp, req.headers['x-forwarded-for']))
    return done({ answer: errorAnswer(hc, new ProxyError('ACCESS_DENIED', 'access denied')) });
  if (t.authScheme === '') return done(redirectOrRoute(hc, req, found));
  authorize(hc, t.authScheme, req.headers.authorization, (a) => done(a ?? redirectOrRoute(hc, req, found)));
}

/** What every step after the lookup knows about the request. */
interface RequestFacts {
  readonly result: LookupResult;
  readonly id: string;
  readonly path: string;
  readonly query: string;
  readonly host: string;
  readonly clientIp: string;
  readonly sock: TLSSocket;
}

/** What the lookup step found. */
interface Found extends RequestFacts {
  /** The Trace header's id when trace lines are written. */
  readonly trace: string | undefined;
}

function lookup(hc: HandlerConfig, req: Req, host: string): Found | ProxyError {
  const { deps } = hc;
  const table: Table | undefined = deps.store.current; // one read per request (docs/architecture.md, rule 3)
  const h = req.headers;
  const id = hc.ridHeader !== '' ? hc.makeId() : '';
  const { rawPath, query } = splitRequestTarget(req.url ?? '/');
  const path = normalizePath(rawPath);
  const xfp = h['x-forwarded-proto'];
  const lreq = { host, path, query, tls: hc.tls, forwardedProto: typeof xfp === 'string' ? xfp : undefined };
  let result: LookupResult | undefined;
  const tid = hc.traceHeader !== '' ? h[hc.traceHeader] : undefined;
  let trace: string | undefined;
  if (tid !== undefined && deps.log.enabled('TRACE') && table !== undefined) {
    trace = clip(String(tid));
    const exp = table.explain(lreq);
    let skipped: string | undefined;
    result = exp.result && hc.balancer.choose(exp.result, (u) => (skipped = u));
    const lines = traceLines(trace, { ...exp, result });
    if (skipped !== undefined)
      lines.splice(lines.length - 1, 0, `${traceId(trace)} Skipping ejected target ${skipped}`);
    for (const line of lines) deps.log.trace(line);
  } else {
    result = table?.lookup(lreq);
    if (result !== undefined) result = hc.balancer.choose(result);
  }
  if (result === undefined) {
    deps.log.warn(`No route for ${clip(host)}${clip(req.url ?? '')}`);
    deps.metrics.notFound();
    return new ProxyError('NO_ROUTE', 'no route');
  }
  const sock = req.socket as TLSSocket;
  return { result, id, path, query, host, clientIp: goIp(sock.remoteAddress), sock, trace };
}

/** The auth step: `done(undefined)` when allowed, else the 401 answer (sync or after bcrypt). */
function authorize(
  hc: HandlerConfig,
  scheme: string,
  authorization: string | undefined,
  done: (a: Decision | undefined) => void,
): void {
  const settle = (a: { ok: boolean; challenge?: string }): void => {
    if (a.ok) return done(undefined);
    const ans = errorAnswer(hc, new ProxyError('AUTH_FAILED', 'authorization failed'));
    // fabio's basic auth challenges only requests that carried no (parsable) credentials.
    const challenge = a.challenge !== undefined && !hasBasicCredentials(authorization);
    done({
      answer: challenge ? { ...ans, headers: { ...ans.headers, 'www-authenticate': a.challenge as string } } : ans,
    });
  };
  const auth = hc.auth;
  if (auth === undefined) return settle({ ok: false });
  if (auth.checkAsync === undefined) return settle(auth.check(scheme, authorization));
  // bcrypt entries would block the event loop for every guess: check off the loop.
  auth.checkAsync(scheme, authorization).then(
    (a) => {
      try {
        settle(a);
      } catch (e) {
        hc.deps.log.error(`http: ${(e as Error).message}`);
        done({ answer: errorAnswer(hc, new ProxyError('INTERNAL', (e as Error).message)) });
      }
    },
    () => settle({ ok: false }),
  );
}

/** The redirect step, else the upstream URL and Host header of the request to forward. */
function redirectOrRoute(hc: HandlerConfig, req: Req, f: Found): Decision {
  const t = f.result.target;
  if (t.redirectCode !== 0) {
    hc.deps.metrics.redirect(t.redirectCode);
    const rr = redirectResponse(t.redirectCode, f.result.redirectURL ?? t.redirectURL, req.method ?? 'GET');
    return { answer: rr };
  }
  return { routed: routedTo(f, t) };
}

/** The upstream URL and Host header of a request sent to target `t` (the picked one or a retry's). */
function routedTo(f: Found, t: Target): Routed {
  const upPath = escapePath(rewritePath(f.path, t.stripPath, t.prependPath));
  const q = mergeQuery(t.urlQuery, f.query);
  // Without a Host (HTTP/1.0) the upstream gets the target's own authority, as Go's transport sends.
  const hostHeader = t.host === 'dst' ? t.hostPort : t.host !== '' ? t.host : f.host !== '' ? f.host : t.hostPort;
  // Fields listed, not spread: an object spread here cost ~4 % of the proxy's CPU in a profile.
  return {
    result: f.result,
    t,
    found: f,
    id: f.id,
    path: f.path,
    query: f.query,
    host: f.host,
    clientIp: f.clientIp,
    sock: f.sock,
    upUri: q === '' ? upPath : `${upPath}?${q}`,
    hostHeader,
  };
}

/** The upstream request headers (fabio's header rules), computed once per request. */
function upstreamRequest(hc: HandlerConfig, req: Req, routed: Routed, websocket: boolean) {
  const { sock, t } = routed;
  const tls = hc.tls;
  const ctx = {
    clientIp: routed.clientIp,
    tls,
    tlsVersion: tls ? tlsVersionName(sock.getProtocol?.()) : '',
    tlsCipher: tls ? tlsCipherId(sock.getCipher?.()?.standardName) : -1,
    httpProto: req.httpVersionMajor === 2 ? 'http/2.0' : `http/${req.httpVersion}`,
    requestId: routed.id,
  };
  return upstreamHeaders(
    req.rawHeaders,
    routed.host,
    ctx,
    { host: routed.hostHeader, stripPath: t.stripPath, websocket },
    hc.hopts,
    hc.protectedSet,
  );
}

/** Which upstream path moves the bytes: the lean one only for body-less HTTP/1 GET/HEAD to http targets. */
function leanEligible(hc: HandlerConfig, req: Req, t: Target, sse: boolean): boolean {
  const m = req.method;
  return (
    hc.lean &&
    (m === 'GET' || m === 'HEAD') &&
    t.scheme === 'http' &&
    !sse &&
    req.httpVersionMajor === 1 &&
    !hasRequestBody(req)
  );
}

/** `fail`'s answer when the request went to another target instead: `done` ignores it. */
const RETRIED = -1;

function proxyRequest(hc: HandlerConfig, req: Req, r: ServerResponse, first: Routed, t0: bigint, startNs: bigint) {
  const accept = req.headers.accept;
  const sse = accept === 'text/event-stream';
  const method = req.method ?? 'GET';
  const bal = hc.balancer;
  const route = first.result.route;
  const limit = retryLimit(first.t, hc.retries, route.targets.length);
  const body = limit > 0 && hasBody(req);
  let tried: Target[] | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (hc.writeTimeout > 0) timer = setTimeout(() => r.destroy(), hc.writeTimeout);
  if (limit > 0) bal.request(route);

  const attempt = (routed: Routed): void => {
    const { t } = routed;
    const up = upstreamRequest(hc, req, routed, false);
    bal.begin(t.key);
    /** Another target for a failure that is safe to repeat, or undefined. */
    const retryOn = (err: ProxyError): Target | undefined => {
      const n = tried === undefined ? 0 : tried.length - 1;
      if (n >= limit || r.headersSent || r.destroyed) return undefined;
      if (!retrySafe(err, method, body, body && bodyStarted(req))) return undefined;
      tried ??= [first.t];
      const next = bal.retryTarget(route, tried, t);
      if (next !== undefined) tried.push(next);
      return next;
    };
    const fail = (err: ProxyError): number => {
      const next = retryOn(err);
      if (next !== undefined) {
        report(hc, routed, false);
        bal.end(t.key);
        hc.deps.metrics.retry?.(route, t);
        if (routed.found.trace !== undefined)
          hc.deps.log.trace(
            `${traceId(routed.found.trace)} Retrying ${method} on ${next.url} after ${clip(err.message, 200)}`,
          );
        attempt(routedTo(routed.found, next));
        return RETRIED;
      }
      const a = errorAnswer(hc, err);
      if (toResponse(err).log) hc.deps.log.error(err.message);
      if (!r.headersSent && !r.destroyed) {
        const hs = hc.sts !== '' ? { ...a.headers, 'strict-transport-security': hc.sts } : a.headers;
        // The reason phrase is set explicitly: a head that Node refused may have left one behind.
        r.writeHead(a.status, reasonPhrase(a.status), hs);
        r.end(a.body);
      }
      return a.status;
    };
    const done = (status: number, bytes: number, err?: ProxyError): void => {
      if (status === RETRIED) return;
      bal.end(t.key);
      if (err === undefined || err.code !== 'CLIENT_GONE') report(hc, routed, err === undefined && status < 500);
      if (timer !== undefined) clearTimeout(timer);
      finishRequest(hc, req, routed, up, t0, startNs, status, bytes, tried?.length ?? 1);
    };
    if (leanEligible(hc, req, t, sse)) {
      leanForward({
        pool: hc.pools.lean(t, routed.result.route),
        head: buildRequestHead(method, routed.upUri, up.headers),
        isHead: method === 'HEAD',
        res: r,
        sts: hc.sts,
        fail,
        done,
      });
      return;
    }
    hc.forward({
      pool: hc.pools.get(t, routed.result.route),
      fresh: () => hc.pools.fresh(t),
      method,
      path: routed.upUri,
      headers: up.headers,
      req,
      res: r,
      sts: hc.sts,
      gzip: hc.gzip,
      gzipAllowed:
        hc.gzip !== undefined &&
        /gzip/.test(String(req.headers['accept-encoding'] ?? '')) &&
        !String(accept ?? '').includes('text/event-stream'),
      sse,
      fail,
      done,
    });
  };
  attempt(first);
}

/** One attempt's outcome for outlier detection. */
function report(hc: HandlerConfig, routed: Routed, ok: boolean): void {
  recordOutcome(hc.balancer, hc.deps, routed.result.route, routed.t, ok);
}

/** Metrics and the access log line of a forwarded request (status 0 = nothing was answered). */
function finishRequest(
  hc: HandlerConfig,
  req: Req,
  routed: Routed,
  up: UpstreamHeaders,
  t0: bigint,
  startNs: bigint,
  status: number,
  bytes: number,
  attempts: number,
): void {
  const { t } = routed;
  const secs = Number(hr() - t0) / 1e9;
  hc.deps.metrics.httpRequest(routed.result.route, t, status, secs);
  if (hc.accessFmt === undefined || status === 0) return;
  const headers = up.headers;
  const rec: AccessRecord = {
    startNs,
    durationNs: hr() - t0,
    remoteAddr: goAddr(routed.clientIp, routed.sock.remotePort),
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
    attempts,
    header: (name) => headerValue(headers, name),
    clientXff: requestXff(hc.hopts, routed.clientIp, headerValue(req.rawHeaders, 'x-forwarded-for')),
  };
  hc.deps.accessLog?.(hc.accessFmt(rec));
}

function handleUpgrade(hc: HandlerConfig, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  // Hold early client bytes (sent before the upstream's 101) until the splice starts.
  socket.pause();
  decide(hc, req, (d) => {
    if ('answer' in d) {
      const a = d.answer;
      // The socket is paused: answerUpgrade closes it once the answer is flushed.
      answerUpgrade(socket, a.status, a.headers, a.body);
      return;
    }
    if (socket.destroyed) return;
    const routed = d.routed;
    const up = upstreamRequest(hc, req, routed, true);
    tunnelWebsocket({
      target: routed.t,
      requestHead: buildRequestHead(req.method ?? 'GET', routed.upUri, up.headers),
      head,
      client: socket,
      dialTimeout: hc.dialTimeout,
      linger: hc.linger,
      metrics: hc.deps.metrics,
      log: hc.deps.log,
    });
  });
}

/** What steps 1-7 decided for a request that is to be proxied. */
interface Routed extends RequestFacts {
  readonly t: Target;
  /** What the lookup found (a retry builds its Routed from it). */
  readonly found: Found;
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
