/**
 * Destination URLs of route commands, split by hand: the route text keeps the URL exactly as
 * written (fabio prints it back verbatim), and WHATWG `new URL()` would re-encode paths and drop
 * default ports. Rejects what Go's url.Parse rejects in practice, with a similar reason.
 */

export interface ParsedURL {
  readonly scheme: string;
  /** Authority as written (may contain `$host`/`$path` pseudo variables for redirects). */
  readonly host: string;
  readonly hostname: string;
  /** Port as written, '' when none. */
  readonly port: string;
  readonly path: string;
  readonly query: string;
}

const RE_URL = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/s;
const RE_PORT = /^\d*$/;
const RE_BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters
const RE_CTL = /[\x00-\x1f\x7f]/;

const DEFAULT_PORT: Readonly<Record<string, number>> = { http: 80, ws: 80, grpc: 80, https: 443, wss: 443, grpcs: 443 };

export function defaultPort(scheme: string): number {
  return DEFAULT_PORT[scheme] ?? 0;
}

/** Parses a destination URL; throws Error with a Go-like reason. */
function fail(raw: string, why: string): never {
  throw new Error(`parse ${JSON.stringify(raw)}: ${why}`);
}

export function parseTargetURL(raw: string): ParsedURL {
  if (RE_CTL.test(raw)) fail(raw, 'net/url: invalid control character in URL');
  if (raw.startsWith(':')) fail(raw, 'missing protocol scheme');
  const m = RE_URL.exec(raw);
  if (m === null) return fail(raw, 'invalid URL');
  const scheme = (m[1] ?? '').toLowerCase();
  const host = m[2] ?? '';
  const path = m[3] ?? '';
  const query = m[4] ?? '';
  let hostname = host;
  let port = '';
  const at = host.lastIndexOf('@');
  const hp = at >= 0 ? host.slice(at + 1) : host;
  if (hp.startsWith('[')) {
    const close = hp.indexOf(']');
    if (close < 0) fail(raw, `missing ']' in host`);
    hostname = hp.slice(1, close);
    const rest = hp.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) fail(raw, `invalid port ${JSON.stringify(rest)} after host`);
    port = rest.slice(1);
  } else {
    const c = hp.lastIndexOf(':');
    hostname = c >= 0 ? hp.slice(0, c) : hp;
    port = c >= 0 ? hp.slice(c + 1) : '';
  }
  // `$path` glued to the host (https://x$path) is a redirect form, not a port.
  if (port !== '' && !RE_PORT.test(port) && !port.includes('$'))
    fail(raw, `invalid port ${JSON.stringify(`:${port}`)} after host`);
  // the RegExp only where a `%` is: most targets have none
  if ((host.includes('%') && RE_BAD_ESCAPE.test(host)) || (path.includes('%') && RE_BAD_ESCAPE.test(path)))
    fail(raw, 'invalid URL escape');
  return { scheme, host, hostname, port, path, query };
}
