import { ProxyError } from '../errors.ts';
import type { Req } from './forward.ts';

/**
 * Parse checks on the client's request that Node's HTTP parser leaves to us, before any routing
 * (RFC 9112 section 3.2 and Go's net/http server). Pure: no I/O, no logging.
 */

/**
 * Request header lines accepted per request (Node's own default count). The listener sets its
 * parser to keep one more, so a request over the bound is seen and refused with 431 instead of
 * losing the excess lines silently (framing headers included).
 */
export const MAX_REQUEST_HEADERS = 2000;

/** What the checks establish: the authority the request is routed by. */
export interface CheckedRequest {
  /** Authority of an absolute-form target, else the Host header ('' = none, HTTP/1.0). */
  readonly host: string;
}

const ABSOLUTE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/;

/**
 * Checks one request. An absolute-form target (`GET http://b.com/x`) routes by its own authority
 * and replaces Host (RFC 9112 section 3.2.2, as Go does); two Host headers that differ are a 400
 * (Go refuses any repeat; identical repeats are let through here); more header lines than
 * MAX_REQUEST_HEADERS are a 431. HTTP/2 requests carry `:authority` instead. // hot path
 */
export function checkRequest(req: Req): CheckedRequest | ProxyError {
  const raw = req.rawHeaders;
  if (raw.length > 2 * MAX_REQUEST_HEADERS)
    return new ProxyError('HEADERS_TOO_LARGE', `more than ${MAX_REQUEST_HEADERS} request header lines`);
  if (req.httpVersionMajor === 2) {
    const h2 = req as { authority?: string };
    return { host: req.headers.host ?? h2.authority ?? '' };
  }
  const host = req.headers.host;
  // Node keeps the first Host of several in req.headers: look for a differing repeat.
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i] as string;
    if (n.length !== 4 || n.toLowerCase() !== 'host') continue;
    if (++hosts > 1 && raw[i + 1] !== host) return new ProxyError('BAD_REQUEST', 'differing Host headers');
  }
  const url = req.url ?? '/';
  if (url.charCodeAt(0) !== 47) {
    const m = ABSOLUTE.exec(url);
    if (m !== null) {
      const authority = m[1] as string;
      const at = authority.lastIndexOf('@');
      return { host: at >= 0 ? authority.slice(at + 1) : authority };
    }
  }
  return { host: host ?? '' };
}
