import { RouteSyntaxError } from './errors.ts';
import { compileGlob } from './glob.ts';
import type { ParsedURL } from './target-url.ts';
import { defaultPort, parseTargetURL } from './target-url.ts';
import type { Matcher, RouteDef, Warning } from './types.ts';

/**
 * The mutable table while route commands are applied in order (fabio's Table.addRoute/delRoute/
 * weighRoute). It is turned into the frozen Table afterwards; nothing here survives a build.
 */

/**
 * The destination URL is taken apart here, once, into the fields the frozen Target keeps, so the
 * ParsedURL dies young instead of being carried (and copied by the GC) through the build.
 */
export interface MTarget {
  readonly service: string;
  readonly url: string;
  readonly scheme: string;
  readonly hostname: string;
  readonly port: number;
  readonly hostPort: string;
  readonly urlPath: string;
  readonly urlQuery: string;
  readonly tags: readonly string[];
  readonly opts: Readonly<Record<string, string>>;
  fixedWeight: number;
  readonly line: number;
}

export interface MRoute {
  readonly host: string;
  readonly path: string;
  targets: MTarget[];
}

/** host → path → route; Maps keep insertion order and make every command O(1) per route. */
export type Model = Map<string, Map<string, MRoute>>;

/**
 * Interned strings of one build: service names and schemes repeat across thousands of targets,
 * and one shared copy each keeps the table (and the GC's work while building it) smaller.
 */
export class Names {
  readonly #m = new Map<string, string>();

  readonly #keys = new Map<string, string>();

  get(s: string): string {
    const have = this.#m.get(s);
    if (have !== undefined) return have;
    this.#m.set(s, s);
    return s;
  }

  /** `${service}\u0000`, the shared head of the Target.key of every target of the service. */
  keyPrefix(service: string): string {
    let k = this.#keys.get(service);
    if (k === undefined) {
      k = `${service}\u0000`;
      this.#keys.set(service, k);
    }
    return k;
  }
}

/** The frozen Target's address fields from a parsed destination (default port filled in). */
function addressOf(p: ParsedURL): { port: number; hostPort: string } {
  const port = p.port !== '' && /^\d+$/.test(p.port) ? Number(p.port) : defaultPort(p.scheme);
  // `host:port` written canonically is already the answer: reuse that string, make no new one
  if (
    port > 0 &&
    p.port.length <= 15 &&
    p.port.charCodeAt(0) !== 48 && // '0'
    p.host.length === p.hostname.length + p.port.length + 1 &&
    !p.hostname.includes(':')
  )
    return { port, hostPort: p.host };
  const bracketed = p.hostname.includes(':') ? `[${p.hostname}]` : p.hostname;
  return { port, hostPort: port > 0 ? `${bracketed}:${port}` : bracketed };
}

/** Splits a route source into host and path: `:port` → (':port', ''), slash-less → (host, '/'). */
export function hostPath(src: string): [string, string] {
  if (src.startsWith(':')) return [src, ''];
  const i = src.indexOf('/');
  if (i < 0) return [src.toLowerCase(), '/'];
  return [src.slice(0, i).toLowerCase(), src.slice(i)];
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when `have` contains every tag of `want`. */
export function containsAll(have: readonly string[], want: readonly string[]): boolean {
  for (const w of want) if (!have.includes(w)) return false;
  return true;
}

function findRoute(m: Model, host: string, path: string): MRoute | undefined {
  return m.get(host)?.get(path);
}

function addRoute(m: Model, d: RouteDef, matcher: Matcher, names: Names): void {
  if (d.src === '') throw new RouteSyntaxError(d.line, 'route: prefix must not be empty');
  if (d.dst === '') throw new RouteSyntaxError(d.line, 'route: target must not be empty');
  const [host, path] = hostPath(d.src);
  let parsed: ParsedURL;
  try {
    parsed = parseTargetURL(d.dst);
  } catch (err) {
    throw new RouteSyntaxError(d.line, `route: invalid target. ${(err as Error).message}`, { cause: err });
  }
  let r = findRoute(m, host, path);
  if (r === undefined) {
    // fabio compiles every path as a glob and fails the table on a bad one even with the prefix
    // matcher (quirk P8); we only fail when the glob is actually used (docs/compat-routes.md).
    if (matcher === 'glob') {
      try {
        compileGlob(path);
      } catch (err) {
        throw new RouteSyntaxError(d.line, (err as Error).message, { cause: err });
      }
    }
    r = { host: names.get(host), path, targets: [] };
    const routes = m.get(host);
    if (routes === undefined) m.set(host, new Map([[path, r]]));
    else routes.set(path, r);
  }
  const fixedWeight = Math.max(d.weight, 0); // weight < 0 means dynamic, as does NaN
  for (const t of r.targets) {
    if (t.service === d.service && t.url === d.dst && t.fixedWeight === fixedWeight && sameTags(t.tags, d.tags)) return;
  }
  const a = addressOf(parsed);
  r.targets.push({
    service: names.get(d.service),
    url: d.dst,
    scheme: names.get(parsed.scheme),
    hostname: parsed.hostname,
    port: a.port,
    hostPort: a.hostPort,
    urlPath: parsed.path,
    urlQuery: parsed.query,
    tags: d.tags,
    opts: d.opts,
    fixedWeight,
    line: d.line,
  });
}

function filterTargets(m: Model, only: MRoute | undefined, drop: (t: MTarget) => boolean): void {
  const visit = (rs: Map<string, MRoute>, r: MRoute): void => {
    r.targets = r.targets.filter((t) => !drop(t));
    // routes left without targets are removed, then hosts without routes (fabio's delRoute)
    if (r.targets.length === 0) rs.delete(r.path);
  };
  if (only !== undefined) {
    const rs = m.get(only.host);
    if (rs !== undefined) visit(rs, only);
  } else {
    for (const rs of m.values()) for (const r of [...rs.values()]) visit(rs, r);
  }
  for (const [host, rs] of m) if (rs.size === 0) m.delete(host);
}

function delRoute(m: Model, d: RouteDef): void {
  if (d.tags.length > 0) {
    filterTargets(m, undefined, (t) => (d.service === '' || t.service === d.service) && containsAll(t.tags, d.tags));
    return;
  }
  if (d.src === '' && d.dst === '') {
    filterTargets(m, undefined, (t) => t.service === d.service);
    return;
  }
  const r = findRoute(m, ...hostPath(d.src));
  if (d.dst === '') {
    if (r !== undefined) filterTargets(m, r, (t) => t.service === d.service);
    return;
  }
  try {
    parseTargetURL(d.dst);
  } catch (err) {
    throw new RouteSyntaxError(d.line, `route: invalid target. ${(err as Error).message}`, { cause: err });
  }
  if (r !== undefined) filterTargets(m, r, (t) => t.service === d.service && t.url === d.dst);
}

/** Returns a warning message when the command matched nothing (v1.7.3: logged and ignored). */
function weighRoute(m: Model, d: RouteDef): string | undefined {
  const noMatch = `weight command for service ${d.service} not valid - route: no target match`;
  const r = findRoute(m, ...hostPath(d.src));
  if (r === undefined) return noMatch;
  const hits = r.targets.filter(
    (t) => (d.service === '' || t.service === d.service) && (d.tags.length === 0 || containsAll(t.tags, d.tags)),
  );
  if (hits.length === 0) return noMatch;
  for (const t of hits) t.fixedWeight = d.weight / hits.length;
  return undefined;
}

/** Applies one command. Throws RouteSyntaxError (with the command's line) on a bad one. */
export function applyDef(m: Model, d: RouteDef, matcher: Matcher, warnings: Warning[], names: Names): void {
  if (d.cmd === 'route add') addRoute(m, d, matcher, names);
  else if (d.cmd === 'route del') delRoute(m, d);
  else {
    const w = weighRoute(m, d);
    if (w !== undefined) warnings.push({ line: d.line, service: d.service, message: w });
  }
}

/** Applies the commands in order. Throws RouteSyntaxError (with the command's line) on a bad one. */
export function applyDefs(defs: readonly RouteDef[], matcher: Matcher, warnings: Warning[]): Model {
  const m: Model = new Map();
  const names = new Names();
  for (const d of defs) applyDef(m, d, matcher, warnings, names);
  return m;
}
