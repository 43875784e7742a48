/**
 * The forwarding-header rules of fabio section (e) as pure functions over raw header pairs
 * (architecture rule 4). One pass collects what the rules need, a second pass copies the headers
 * that survive, then the proxy's own headers are appended.
 */

/** Per-listener settings, computed once from the config. */
export interface HeaderOptions {
  /** proxy.localip ('' = no `by=`). */
  readonly localIp: string;
  /** proxy.header.clientip as configured ('' = off). */
  readonly clientIpHeader: string;
  readonly tlsHeader: string;
  readonly tlsHeaderValue: string;
  readonly requestIdHeader: string;
}

/** What the connection tells about one request. */
export interface RequestContext {
  readonly clientIp: string;
  readonly tls: boolean;
  /** `tls10`..`tls13` or `0xNNNN`; '' on plain connections. */
  readonly tlsVersion: string;
  /** Cipher suite id, -1 when unknown. */
  readonly tlsCipher: number;
  /** Lower-case protocol, `http/1.1` or `http/2.0`. */
  readonly httpProto: string;
  readonly requestId: string;
}

export interface RouteHeaderRules {
  /** Value for the Host header sent upstream. */
  readonly host: string;
  /** strip= value ('' = none): becomes X-Forwarded-Prefix. */
  readonly stripPath: string;
  /** true for the websocket tunnel: the request is written raw, Connection/Upgrade stay. */
  readonly websocket: boolean;
}

/**
 * The hop-by-hop headers (lower-case names): connection, keep-alive, proxy-connection,
 * proxy-authenticate, proxy-authorization, te, trailer, transfer-encoding, upgrade. Compared by
 * length then text: a Set lookup hashed every freshly lower-cased name. // hot path
 */
function hopByHop(lower: string): boolean {
  switch (lower.length) {
    case 2:
      return lower === 'te';
    case 7:
      return lower === 'trailer' || lower === 'upgrade';
    case 10:
      return lower === 'connection' || lower === 'keep-alive';
    case 16:
      return lower === 'proxy-connection';
    case 17:
      return lower === 'transfer-encoding';
    case 18:
      return lower === 'proxy-authenticate';
    case 19:
      return lower === 'proxy-authorization';
    default:
      return false;
  }
}

const BASE_PROTECTED = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-proto',
  'x-forwarded-prefix',
  'x-real-ip',
];

/** Protected header names (lower-case): a client's Connection header may not make the proxy drop them. */
export function protectedHeaders(o: HeaderOptions): ReadonlySet<string> {
  const s = new Set(BASE_PROTECTED);
  for (const h of [o.requestIdHeader, o.clientIpHeader, o.tlsHeader]) if (h) s.add(h.toLowerCase());
  return s;
}

/** fabio's scheme(): X-Forwarded-Proto alone, Forwarded proto= alone, else from the connection. */
export function detectScheme(
  xfp: string | undefined,
  forwarded: string | undefined,
  tls: boolean,
  upgrade: string | undefined,
): string {
  const hasXfp = xfp !== undefined && xfp !== '';
  const hasFwd = forwarded !== undefined && forwarded !== '';
  if (hasXfp && !hasFwd) return xfp;
  if (hasFwd && !hasXfp) {
    const i = forwarded.indexOf('proto=');
    if (i >= 0) {
      const rest = forwarded.slice(i + 6);
      const j = rest.indexOf(';');
      return j < 0 ? rest : rest.slice(0, j);
    }
    return '';
  }
  const ws = upgrade === 'websocket' || upgrade === 'Websocket';
  if (tls) return ws ? 'wss' : 'https';
  return ws ? 'ws' : 'http';
}

/** Port of a Host header value, '' when it has none. */
function hostPort(host: string): string {
  const b = host.lastIndexOf(']');
  const i = host.lastIndexOf(':');
  if (i < 0 || i < b) return '';
  if (b < 0 && host.indexOf(':') !== i) return ''; // bare IPv6 is not host:port
  return host.slice(i + 1);
}

export interface UpstreamHeaders {
  /** Flat [name, value, name, value, ...] list for the upstream request. */
  readonly headers: string[];
  /** Scheme as detected by fabio's scheme() (http, https, ws, wss or a client-supplied value). */
  readonly scheme: string;
}

/**
 * Builds the upstream request headers from the client's raw headers (Node's flat rawHeaders).
 * `host` is the client's Host header value. // hot path
 */
export function upstreamHeaders(
  raw: readonly string[],
  host: string,
  ctx: RequestContext,
  rules: RouteHeaderRules,
  opts: HeaderOptions,
  protectedSet: ReadonlySet<string>,
): UpstreamHeaders {
  let xff: string | undefined;
  let xfp: string | undefined;
  let fwd: string | undefined;
  let connection: string | undefined;
  let upgrade: string | undefined;
  let hasRealIp = false;
  let hasXfPort = false;
  let hasXfHost = false;
  let teTrailers = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (name.length) {
      case 7:
        if (name.toLowerCase() === 'upgrade' && upgrade === undefined) upgrade = value;
        break;
      case 9:
        if (name.toLowerCase() === 'forwarded' && fwd === undefined) fwd = value;
        else if (name.toLowerCase() === 'x-real-ip') hasRealIp = true;
        break;
      case 10:
        if (name.toLowerCase() === 'connection')
          connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') xff = xff === undefined ? value : `${xff}, ${value}`;
        break;
      case 16:
        if (name.toLowerCase() === 'x-forwarded-host') hasXfHost = true;
        else if (name.toLowerCase() === 'x-forwarded-port') hasXfPort = true;
        break;
      case 17:
        if (name.toLowerCase() === 'x-forwarded-proto' && xfp === undefined) xfp = value;
        break;
      case 2:
        if (name.toLowerCase() === 'te' && /(^|,)\s*trailers\s*(,|$)/i.test(value)) teTrailers = true;
        break;
    }
  }
  const scheme = detectScheme(xfp, fwd, ctx.tls, upgrade);

  // Connection tokens that name a protected header are dropped; the rest name headers to remove.
  let drop: Set<string> | undefined;
  let keptConnection = '';
  if (connection !== undefined) {
    for (const tok of connection.split(',')) {
      const t = tok.trim();
      if (t === '') continue;
      const lt = t.toLowerCase();
      if (protectedSet.has(lt)) continue;
      keptConnection = keptConnection === '' ? t : `${keptConnection}, ${t}`;
      if (!rules.websocket || (lt !== 'upgrade' && lt !== 'keep-alive')) (drop ??= new Set()).add(lt);
    }
  }

  const ridLower = opts.requestIdHeader.toLowerCase();
  const cipLower = applyClientIp(opts.clientIpHeader) ? opts.clientIpHeader.toLowerCase() : '';
  const tlsLower = opts.tlsHeader.toLowerCase();
  const out: string[] = ['Host', rules.host];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (lower.charCodeAt(0) === 58 /* : h2 pseudo */) continue;
    if (lower === 'host' || lower === 'x-forwarded-for' || lower === 'forwarded' || lower === 'expect') continue;
    if (rules.websocket ? lower === 'connection' : hopByHop(lower)) continue;
    if (drop?.has(lower)) continue;
    if (lower === ridLower || lower === cipLower || lower === tlsLower) continue;
    if (rules.stripPath !== '' && lower === 'x-forwarded-prefix') continue;
    out.push(name, raw[i + 1] as string);
  }
  if (rules.websocket && keptConnection !== '') out.push('Connection', keptConnection);
  if (!rules.websocket && teTrailers) out.push('Te', 'trailers');

  // A client-ip header spelled x-forwarded-for (not exactly X-Forwarded-For) replaces the chain first,
  // then the ReverseProxy appends the client again, as Go's Header.Set + ReverseProxy do.
  const prior = cipLower === 'x-forwarded-for' ? ctx.clientIp : xff;
  out.push('X-Forwarded-For', prior === undefined ? ctx.clientIp : `${prior}, ${ctx.clientIp}`);
  if (!hasRealIp && cipLower !== 'x-real-ip') out.push('X-Real-Ip', ctx.clientIp);
  if (cipLower !== '' && cipLower !== 'x-forwarded-for') out.push(opts.clientIpHeader, ctx.clientIp);
  if (xfp === undefined || xfp === '') {
    const p = scheme === 'ws' ? 'http' : scheme === 'wss' ? 'https' : scheme;
    out.push('X-Forwarded-Proto', p);
  }
  if (!hasXfPort) {
    const port = hostPort(host);
    out.push('X-Forwarded-Port', port !== '' ? port : ctx.tls ? '443' : '80');
  }
  if (!hasXfHost && host !== '') out.push('X-Forwarded-Host', host);
  if (rules.stripPath !== '') out.push('X-Forwarded-Prefix', rules.stripPath);
  let f = fwd === undefined || fwd === '' ? `for=${ctx.clientIp}; proto=${scheme}` : fwd;
  if (opts.localIp !== '') f += `; by=${opts.localIp}`;
  f += `; httpproto=${ctx.httpProto}`;
  if (ctx.tls) {
    if (ctx.tlsVersion !== '') f += `; tlsver=${ctx.tlsVersion}`;
    if (ctx.tlsCipher >= 0) f += `; tlscipher=0x${ctx.tlsCipher.toString(16).padStart(4, '0')}`;
  }
  out.push('Forwarded', f);
  if (tlsLower !== '' && ctx.tls) out.push(opts.tlsHeader, opts.tlsHeaderValue);
  if (ridLower !== '') out.push(opts.requestIdHeader, ctx.requestId);
  return { headers: out, scheme };
}

/** fabio skips proxy.header.clientip when it is exactly X-Forwarded-For or X-Real-Ip (quirk (P)16). */
/**
 * `X-Forwarded-For` of the request as fabio holds it when it writes the access log: the client's
 * first line, unless a client-ip header spelled `x-forwarded-for` (not exactly, see applyClientIp)
 * replaced it with the client address. Go's ReverseProxy appends the client on the upstream copy
 * only, so the appended chain never shows here.
 */
export function requestXff(opts: Pick<HeaderOptions, 'clientIpHeader'>, clientIp: string, clientXff: string): string {
  const c = opts.clientIpHeader;
  return applyClientIp(c) && c.toLowerCase() === 'x-forwarded-for' ? clientIp : clientXff;
}

function applyClientIp(name: string): boolean {
  return name !== '' && name !== 'X-Forwarded-For' && name !== 'X-Real-Ip';
}

/** Hop-by-hop headers a response must not carry to the client. */
export function isHopByHopResponse(lower: string): boolean {
  return hopByHop(lower);
}

/** RFC 9110 section 5.6.2 `tchar`, by character code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;

/** A non-empty RFC 9110 token (a valid header name), without a RegExp call. // hot path */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** `Strict-Transport-Security` value, or '' when off. */
export function stsValue(maxAge: number, subdomains: boolean, preload: boolean): string {
  if (maxAge <= 0) return '';
  return `max-age=${maxAge}${subdomains ? '; includeSubdomains' : ''}${preload ? '; preload' : ''}`;
}

export { tlsVersionName } from '../tls/ciphers.ts';

// IANA ids of the suites OpenSSL negotiates with Node's defaults (Node reports names, Go reports ids).
const CIPHER_IDS: Record<string, number> = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 0xc02b,
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 0xc02f,
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 0xc02c,
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 0xc030,
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 0xcca9,
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 0xcca8,
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 0xc013,
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 0xc014,
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 0xc009,
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 0xc00a,
  TLS_RSA_WITH_AES_128_GCM_SHA256: 0x009c,
  TLS_RSA_WITH_AES_256_GCM_SHA384: 0x009d,
  TLS_RSA_WITH_AES_128_CBC_SHA: 0x002f,
  TLS_RSA_WITH_AES_256_CBC_SHA: 0x0035,
};
export function tlsCipherId(standardName: string | undefined): number {
  return standardName === undefined ? -1 : (CIPHER_IDS[standardName] ?? -1);
}
