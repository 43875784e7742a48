import { parseAccessRules } from './access-rules.ts';
import type { ParsedURL } from './target-url.ts';
import { defaultPort } from './target-url.ts';
import type { Target } from './types.ts';

// module constants: a RegExp literal inside a function makes a new RegExp object per call
const RE_DIGITS = /^\d+$/;
const RE_INT = /^[+-]?\d+$/;

/**
 * The Target the data plane reads, made once per `route add` as a mutable draft (a later
 * `route weight` changes fixedWeight; the build sets the effective weight) and frozen in place by
 * the build: no intermediate per-target object is carried through a build of 100k+ targets.
 * Option problems (bad redirect code, bad access rules) leave the option without effect, as in
 * fabio; they are returned so the build reports them only for targets that survive `route del`.
 */
export type TargetDraft = { -readonly [K in keyof Target]: Target[K] };

/** The address fields from a parsed destination (default port filled in). */
function hostPortOf(p: ParsedURL, port: number): string {
  // `host:port` written canonically is already the answer: reuse that string, make no new one
  if (
    port > 0 &&
    p.port.length <= 15 &&
    p.port.charCodeAt(0) !== 48 && // '0'
    p.host.length === p.hostname.length + p.port.length + 1 &&
    !p.hostname.includes(':')
  )
    return p.host;
  const bracketed = p.hostname.includes(':') ? `[${p.hostname}]` : p.hostname;
  return port > 0 ? `${bracketed}:${port}` : bracketed;
}

/**
 * The first problem with the target's options goes into `problems` (created on demand). `url` is
 * the destination as written, `parsed` its split; `keyPrefix` is Names.keyPrefix(service).
 * Positional parameters and no closures: this runs once per target of a build (100k+ times), and
 * an argument object would be one more allocation per target while the code is cold.
 */
export function draftTarget(
  service: string,
  url: string,
  parsed: ParsedURL,
  scheme: string,
  tags: Target['tags'],
  opts: Target['opts'],
  fixedWeight: number,
  keyPrefix: string,
  problems: string[],
): TargetDraft {
  const o = opts;
  let redirectCode = 0;
  const rc = o.redirect;
  if (rc !== undefined) {
    if (!RE_INT.test(rc)) problems.push(`redirect status code should be numeric in 3xx range. Got: ${rc}`);
    else if (Number(rc) < 300 || Number(rc) > 399)
      problems.push(`redirect status code should be in 3xx range. Got: ${rc}`);
    else redirectCode = Number(rc);
  }
  let accessRules: Target['accessRules'];
  if (o.allow !== undefined || o.deny !== undefined) {
    try {
      accessRules = parseAccessRules(o);
    } catch (err) {
      problems.push(`failed to process access rules: ${(err as Error).message}`);
    }
  }
  const p = parsed;
  const port = p.port !== '' && RE_DIGITS.test(p.port) ? Number(p.port) : defaultPort(scheme);
  return {
    service,
    url,
    scheme,
    hostPort: hostPortOf(p, port),
    hostname: p.hostname,
    port,
    urlPath: p.path,
    urlQuery: p.query,
    // the parser made these for this command alone, so they are frozen in place, not copied
    tags: Object.freeze(tags),
    opts: Object.freeze(o),
    stripPath: o.strip ?? '',
    prependPath: o.prepend ?? '',
    host: o.host ?? '',
    authScheme: o.auth ?? '',
    redirectCode,
    redirectURL: redirectCode !== 0 ? url : '',
    fixedWeight,
    // NaN, not 0: a double field from the start, so setting 0.3333 later does not change its shape
    weight: Number.NaN,
    tlsSkipVerify: o.tlsskipverify === 'true',
    proxyProto: o.pxyproto === 'true',
    accessRules,
    key: keyPrefix + url,
  };
}
