import { posix } from 'node:path';

/**
 * Request-path rules of fabio section (e): the v1.7.3 normalisation (second percent-decode +
 * path.Clean, trailing slash kept), strip then prepend, query merge, and Go's path escaping of the
 * URL that goes upstream (the raw encoding of the request is lost, as in fabio).
 */

function decode(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // Go's url.Parse fails too and fabio keeps the once-decoded path
  }
}

/** Needs work only when it can change: escapes, dot segments or double slashes. // hot path */
function needsClean(p: string): boolean {
  return p.indexOf('%') >= 0 || p.indexOf('//') >= 0 || p.indexOf('/.') >= 0;
}

/**
 * Normalises the raw request path (as on the request line, without the query): decode twice,
 * drop what a second URL parse would treat as query or fragment, clean, keep a trailing slash.
 */
export function normalizePath(rawPath: string): string {
  if (rawPath === '') return '/';
  if (!needsClean(rawPath)) return rawPath;
  let p = decode(decode(rawPath));
  // fabio parses the once-decoded path as a URL again: `?` and `#` end the path there.
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  if (p === '') return '/';
  if (p.charCodeAt(0) !== 47) p = `/${p}`;
  const trailing = p.length > 1 && p.endsWith('/');
  let c = posix.normalize(p);
  if (c === '.' || c === '') c = '/';
  if (trailing && !c.endsWith('/')) c += '/';
  if (!trailing && c.length > 1 && c.endsWith('/')) c = c.slice(0, -1);
  return c;
}

/** strip= then prepend= (each result forced to start with '/'). */
export function rewritePath(path: string, strip: string, prepend: string): string {
  let p = path;
  if (strip !== '' && p.startsWith(strip)) {
    p = p.slice(strip.length);
    if (p.charCodeAt(0) !== 47) p = `/${p}`;
  }
  if (prepend !== '') {
    p = prepend + p;
    if (p.charCodeAt(0) !== 47) p = `/${p}`;
  }
  return p;
}

/** Target query first, then the request query (`t.RawQuery + "&" + r.RawQuery`). */
export function mergeQuery(targetQuery: string, reqQuery: string): string {
  if (targetQuery === '') return reqQuery;
  if (reqQuery === '') return targetQuery;
  return `${targetQuery}&${reqQuery}`;
}

// Go's shouldEscape(c, encodePath): unreserved and $&+,/:;=@ stay, everything else is %XX.
const KEEP = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~$&+,/:;=@')
  KEEP[ch.charCodeAt(0)] = 1;

/** Escapes a decoded path the way Go's URL.EscapedPath does for a path without RawPath. // hot path */
export function escapePath(p: string): string {
  let i = 0;
  for (; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c >= 128 || KEEP[c] === 0) break;
  }
  if (i === p.length) return p;
  const bytes = Buffer.from(p, 'utf8');
  let out = '';
  for (const b of bytes) {
    out += b < 128 && KEEP[b] === 1 ? String.fromCharCode(b) : `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  }
  return out;
}

/** Splits a request-target into raw path and raw query; absolute-form targets lose scheme and authority. */
export function splitRequestTarget(url: string): { rawPath: string; query: string } {
  let u = url;
  if (u.charCodeAt(0) !== 47) {
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(u);
    if (m) u = u.slice(m[0].length) || '/';
  }
  const h = u.indexOf('#');
  if (h >= 0) u = u.slice(0, h);
  const q = u.indexOf('?');
  if (q < 0) return { rawPath: u, query: '' };
  return { rawPath: u.slice(0, q), query: u.slice(q + 1) };
}
