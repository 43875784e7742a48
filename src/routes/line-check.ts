import type { ParsedURL } from './target-url.ts';
import type { RouteDef } from './types.ts';

/**
 * Meaning checks of a `route add` beyond its grammar. fabio accepts these lines and the route then
 * fails every request (an unknown `proto=` or target scheme: an empty 502 whose log line names no
 * route) or silently stops redirecting (a redirect code outside 3xx: logged once, then proxied).
 * fabio-ts treats them as bad lines: the tag or line is skipped with a warning naming it, and the
 * rest of the table is built (docs/compat-routes.md).
 */

/** `proto=` values a route target may carry: the upstream protocols and the TCP listener kinds. */
const KNOWN_PROTOS: ReadonlySet<string> = new Set([
  'http',
  'https',
  'ws',
  'wss',
  'grpc',
  'grpcs',
  'tcp',
  'tcp+sni',
  'tcp-dynamic',
]);

/** Target URL schemes the forwarders speak (a redirect target is only ever sent back to the client). */
const KNOWN_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'ws', 'wss', 'grpc', 'grpcs', 'tcp']);

/** Status codes that redirect (RFC 9110 section 15.4): 300, 304, 305 and 306 carry no redirect. */
const REDIRECT_CODES: ReadonlySet<string> = new Set(['301', '302', '303', '307', '308']);

/** Why a parsed command is a bad line, or undefined. `url` is the parsed target when known. */
export function addLineProblem(d: RouteDef, url: ParsedURL | undefined): string | undefined {
  if (d.cmd !== 'route add') return undefined;
  const o = d.opts;
  const proto = o.proto;
  if (proto !== undefined && !KNOWN_PROTOS.has(proto.toLowerCase()))
    return `unknown proto=${JSON.stringify(proto)} (known: ${[...KNOWN_PROTOS].join(', ')})`;
  const rc = o.redirect;
  if (rc !== undefined) {
    if (!REDIRECT_CODES.has(rc)) return `invalid redirect=${JSON.stringify(rc)} (known: 301, 302, 303, 307, 308)`;
    return undefined;
  }
  if (url !== undefined && !KNOWN_SCHEMES.has(url.scheme))
    return `unknown target scheme ${JSON.stringify(url.scheme)} (known: ${[...KNOWN_SCHEMES].join(', ')})`;
  return undefined;
}
