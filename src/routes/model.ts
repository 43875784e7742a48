import { RouteSyntaxError } from './errors.ts';
import type { GlobMatcher } from './glob.ts';
import { compileGlob, isGlob } from './glob.ts';
import { lowerCase } from './host-order.ts';
import type { TargetDraft } from './target.ts';
import { draftTarget } from './target.ts';
import type { ParsedURL } from './target-url.ts';
import { parseTargetURL } from './target-url.ts';
import type { Matcher, RouteDef, Warning } from './types.ts';

/**
 * The mutable table while route commands are applied in order (fabio's Table.addRoute/delRoute/
 * weighRoute). It is turned into the frozen Table afterwards; nothing here survives a build.
 */

export interface MRoute {
  readonly host: string;
  readonly path: string;
  targets: TargetDraft[];
  /** Line of the `route add` that created the route (for warnings about its host). */
  readonly line: number;
  /** matcher=glob and a path with glob syntax: its compiled matcher. */
  readonly glob: GlobMatcher | undefined;
}

/** Option problems of a target, reported by the build only if the target survives. Rare. */
export interface Problems {
  readonly line: number;
  readonly messages: string[];
}

/** host → path → route; Maps keep insertion order and make every command O(1) per route. */
export type Model = Map<string, Map<string, MRoute>>;

/** What applying commands needs besides the model. */
export interface ApplyState {
  readonly matcher: Matcher;
  readonly warnings: Warning[];
  readonly names: Names;
  readonly problems: Map<TargetDraft, Problems>;
  /** Compiled path globs of this build by pattern (matcher=glob). */
  readonly pathGlobs: Map<string, GlobMatcher>;
  /** The previous build's path globs (same matcher), reused instead of compiling again. */
  readonly prevPathGlobs?: ReadonlyMap<string, GlobMatcher> | undefined;
}

/** What a `route add` line yields before it is applied (the same for every build: memoised). */
export interface Preparsed {
  /** hostPath(d.src). */
  readonly host: string;
  readonly path: string;
  /** The parsed target URL; undefined when it does not parse (applying reports the error). */
  readonly url: ParsedURL | undefined;
}

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

/** Splits a route source into host and path: `:port` → (':port', ''), slash-less → (host, '/'). */
export function hostPath(src: string): [string, string] {
  if (src.startsWith(':')) return [src, ''];
  const i = src.indexOf('/');
  if (i < 0) return [lowerCase(src), '/'];
  return [lowerCase(src.slice(0, i)), src.slice(i)];
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when `have` contains every tag of `want`. */
function containsAll(have: readonly string[], want: readonly string[]): boolean {
  for (const w of want) if (!have.includes(w)) return false;
  return true;
}

function findRoute(m: Model, host: string, path: string): MRoute | undefined {
  return m.get(host)?.get(path);
}

/** Shared, always empty: only targets with redirect/allow/deny options can have problems. */
const NO_PROBLEMS: string[] = [];

function addRoute(m: Model, d: RouteDef, st: ApplyState, line: number, pre: Preparsed | undefined): void {
  const names = st.names;
  if (d.src === '') throw new RouteSyntaxError(line, 'route: prefix must not be empty');
  if (d.dst === '') throw new RouteSyntaxError(line, 'route: target must not be empty');
  let host: string;
  let path: string;
  let parsed: ParsedURL;
  if (pre?.url !== undefined) {
    host = pre.host;
    path = pre.path;
    parsed = pre.url;
  } else {
    [host, path] = hostPath(d.src);
    try {
      parsed = parseTargetURL(d.dst);
    } catch (err) {
      throw new RouteSyntaxError(line, `route: invalid target. ${(err as Error).message}`, { cause: err });
    }
  }
  let r = findRoute(m, host, path);
  if (r === undefined) {
    // fabio compiles every path as a glob and fails the table on a bad one even with the prefix
    // matcher (quirk P8); we only fail when the glob is actually used (docs/compat-routes.md).
    // A literal path needs no matcher (compared with ===); a glob path is compiled once per
    // distinct pattern per build, here, and reused by the build.
    let glob: GlobMatcher | undefined;
    if (st.matcher === 'glob' && isGlob(path)) {
      glob = st.pathGlobs.get(path);
      if (glob === undefined) {
        glob = st.prevPathGlobs?.get(path);
        if (glob === undefined) {
          try {
            glob = compileGlob(path);
          } catch (err) {
            throw new RouteSyntaxError(line, (err as Error).message, { cause: err });
          }
        }
        st.pathGlobs.set(path, glob);
      }
    }
    r = { host: names.get(host), path, targets: [], line, glob };
    const routes = m.get(host);
    // not `new Map([[path, r]])`: the iterable constructor is slow while the code is cold
    if (routes === undefined) m.set(host, new Map<string, MRoute>().set(path, r));
    else routes.set(path, r);
  }
  const fixedWeight = Math.max(d.weight, 0); // weight < 0 means dynamic, as does NaN
  for (const t of r.targets) {
    if (t.service === d.service && t.url === d.dst && t.fixedWeight === fixedWeight && sameTags(t.tags, d.tags)) return;
  }
  const o = d.opts;
  const problems = o.redirect !== undefined || o.allow !== undefined || o.deny !== undefined ? [] : NO_PROBLEMS;
  const service = names.get(d.service);
  const t = draftTarget(
    service,
    d.dst,
    parsed,
    names.get(parsed.scheme),
    d.tags,
    d.opts,
    fixedWeight,
    names.keyPrefix(service),
    problems,
  );
  if (problems !== NO_PROBLEMS && problems.length > 0) st.problems.set(t, { line, messages: problems });
  // the first target makes an exact-size array: a push onto [] reserves 17 slots
  if (r.targets.length === 0) r.targets = [t];
  else r.targets.push(t);
}

function filterTargets(m: Model, only: MRoute | undefined, drop: (t: TargetDraft) => boolean): void {
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

function delRoute(m: Model, d: RouteDef, line: number): void {
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
    throw new RouteSyntaxError(line, `route: invalid target. ${(err as Error).message}`, { cause: err });
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

/**
 * Applies one command. Throws RouteSyntaxError (with the command's line) on a bad one. `line`
 * overrides d.line (a memoised command is shared by every line with the same text); `pre` holds
 * the command's source split and parsed target URL when they are already known.
 */
export function applyDef(m: Model, d: RouteDef, st: ApplyState, line = d.line, pre?: Preparsed): void {
  if (d.cmd === 'route add') addRoute(m, d, st, line, pre);
  else if (d.cmd === 'route del') delRoute(m, d, line);
  else {
    const w = weighRoute(m, d);
    if (w !== undefined) st.warnings.push({ line, service: d.service, message: w });
  }
}
