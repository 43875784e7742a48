/**
 * Access log formats of fabio section (f): `common`, `combined` or a `$field` template, compiled ONCE
 * into an array of small functions, so a request costs one pass over precomputed parts.
 */

/** What the HTTP handler knows about a finished request. Times are nanoseconds since the epoch. */
export interface AccessRecord {
  readonly startNs: bigint;
  readonly durationNs: bigint;
  /** Client `ip:port` (Go form). */
  readonly remoteAddr: string;
  readonly method: string;
  /** Raw request URI as received. */
  readonly uri: string;
  /** e.g. `HTTP/1.1`. */
  readonly proto: string;
  readonly host: string;
  readonly scheme: string;
  /** Cleaned request path. */
  readonly path: string;
  /** Raw query of the original request ('' when none). */
  readonly query: string;
  readonly status: number;
  readonly bodySize: number;
  /** Target host:port. */
  readonly upstreamAddr: string;
  readonly upstreamScheme: string;
  /** Path + merged query actually sent upstream. */
  readonly upstreamUri: string;
  readonly service: string;
  /**
   * fabio-ts (issue #15): upstream attempts this request took, the first included (2 after one
   * retry on another target); absent = 1. `$upstream_attempts` prints it.
   */
  readonly attempts?: number;
  /** Request header as sent upstream (case-insensitive name); '' when absent. */
  header(name: string): string;
  /**
   * `X-Forwarded-For` as fabio's request holds it ('' when absent): the client's value, not the
   * chain appended for the upstream (headers.ts requestXff). `$header.X-Forwarded-For` prints this.
   */
  readonly clientXff: string;
}

export type AccessFormatter = (r: AccessRecord) => string;

export const COMMON_FORMAT = '$remote_host - - [$time_common] "$request" $response_status $response_body_size';
export const COMBINED_FORMAT = `${COMMON_FORMAT} "$header.Referer" "$header.User-Agent"`;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => (n < 10 ? `0${n}` : String(n));
const padFrac = (n: bigint, width: number) => n.toString().padStart(width, '0');

const endNs = (r: AccessRecord) => r.startNs + r.durationNs;
const endDate = (r: AccessRecord) => new Date(Number(endNs(r) / 1_000_000n));

/** Seconds with `digits` decimals, rounded like Go's %.Nf. */
function seconds(ns: bigint, digits: 3 | 6 | 9): string {
  const unit = 10n ** BigInt(9 - digits);
  const scaled = (ns + unit / 2n) / unit;
  const div = 10n ** BigInt(digits);
  return `${scaled / div}.${padFrac(scaled % div, digits)}`;
}

/** `YYYY-MM-DDTHH:MM:SS[.frac]Z` in LOCAL time with a literal Z (fabio quirk, kept). */
function rfc3339(r: AccessRecord, digits: 0 | 3 | 6 | 9): string {
  const d = endDate(r);
  const base = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  if (digits === 0) return `${base}Z`;
  const frac = endNs(r) % 1_000_000_000n;
  return `${base}.${padFrac(frac, 9).slice(0, digits)}Z`;
}

function timeCommon(r: AccessRecord): string {
  const d = endDate(r);
  return `${p2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} +0000`;
}

function lastColon(s: string): number {
  return s.lastIndexOf(':');
}

/** The host of `host:port` (brackets of an IPv6 literal removed); the whole text without a port. */
function addrHost(a: string): string {
  const i = lastColon(a);
  const h = i < 0 ? a : a.slice(0, i);
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** The port of `host:port`, '' without one. */
function addrPort(a: string): string {
  const i = lastColon(a);
  return i < 0 ? '' : a.slice(i + 1);
}

const FIELDS: Record<string, AccessFormatter> = {
  remote_addr: (r) => r.remoteAddr,
  remote_host: (r) => addrHost(r.remoteAddr),
  remote_port: (r) => addrPort(r.remoteAddr),
  request: (r) => `${r.method} ${r.uri} ${r.proto}`,
  request_args: (r) => r.query,
  request_host: (r) => r.host,
  request_method: (r) => r.method,
  request_proto: (r) => r.proto,
  request_scheme: (r) => r.scheme,
  request_uri: (r) => r.uri,
  request_url: (r) => `${r.scheme}://${r.host}${r.path}${r.query ? `?${r.query}` : ''}`,
  response_body_size: (r) => String(r.bodySize),
  response_status: (r) => String(r.status),
  response_time_ms: (r) => seconds(r.durationNs, 3),
  response_time_us: (r) => seconds(r.durationNs, 6),
  response_time_ns: (r) => seconds(r.durationNs, 9),
  time_rfc3339: (r) => rfc3339(r, 0),
  time_rfc3339_ms: (r) => rfc3339(r, 3),
  time_rfc3339_us: (r) => rfc3339(r, 6),
  time_rfc3339_ns: (r) => rfc3339(r, 9),
  time_unix_ms: (r) => String(endNs(r) / 1_000_000n),
  time_unix_us: (r) => String(endNs(r) / 1_000n),
  time_unix_ns: (r) => String(endNs(r)),
  time_common: timeCommon,
  upstream_addr: (r) => r.upstreamAddr,
  upstream_attempts: (r) => String(r.attempts ?? 1),
  upstream_host: (r) => addrHost(r.upstreamAddr),
  upstream_port: (r) => addrPort(r.upstreamAddr),
  upstream_request_scheme: (r) => r.upstreamScheme,
  upstream_request_uri: (r) => r.upstreamUri,
  upstream_request_url: (r) => `${r.upstreamScheme}://${r.upstreamAddr}${r.upstreamUri}`,
  upstream_service: (r) => r.service,
};

export class AccessLogFormatError extends Error {}

/**
 * Compiles `common`, `combined` or a `$field` template. Throws AccessLogFormatError with fabio's
 * messages: `empty log format`, `invalid field "$x"`. The returned function adds the trailing newline.
 */
export function compileAccessLog(format: string): AccessFormatter {
  const f = format === 'common' ? COMMON_FORMAT : format === 'combined' ? COMBINED_FORMAT : format;
  if (f.trim() === '') throw new AccessLogFormatError('empty log format');
  const parts: (string | AccessFormatter)[] = [];
  const re = /\$([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]+))?/g;
  let last = 0;
  for (let m = re.exec(f); m; m = re.exec(f)) {
    if (m.index > last) parts.push(f.slice(last, m.index));
    const name = m[1] as string;
    const sub = m[2];
    if (name === 'header' && sub !== undefined) {
      const h = sub;
      parts.push(h.toLowerCase() === 'x-forwarded-for' ? (r) => r.clientXff : (r) => r.header(h));
    } else {
      const fn = FIELDS[name];
      if (!fn) throw new AccessLogFormatError(`invalid field "$${name}"`);
      parts.push(fn);
      // A `.x` after a plain field is literal text, not part of the field.
      if (sub !== undefined) parts.push(`.${sub}`);
    }
    last = re.lastIndex;
  }
  if (last < f.length) parts.push(f.slice(last));
  return (r) => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p(r);
    return `${s}\n`;
  };
}
