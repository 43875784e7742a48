import type { HostEntry } from './compiled.ts';
import { RouteSyntaxError } from './errors.ts';
import type { GlobMatcher } from './glob.ts';
import { compileGlob, isGlob } from './glob.ts';
import type { KeyedHost } from './host-order.ts';
import { bySpecificity, reverseHostPort } from './host-order.ts';
import type { Preparsed } from './model.ts';
import { hostPath } from './model.ts';
import { parseLine } from './parse.ts';
import { parseTargetURL } from './target-url.ts';
import type { Matcher, RouteDef } from './types.ts';

/**
 * What one build leaves for the next (incremental builds). A registry change usually touches a few
 * lines of a text of thousands (bench/propagation.ts: 5,000 services × 3 instances, 15,000 lines),
 * so the next build parses only the lines it has not seen, and sorts only the hosts that are new.
 * Everything here is immutable once the build that made it returns; it is only read by the next
 * build with the same matcher and glob setting.
 */

/** A parsed line, shared by every build whose text contains the same line. */
export interface LineEntry {
  /** The line text (a private copy: see ownCopy). */
  readonly key: string;
  /** The command; its `line` is where it was first seen, the build passes the current one. */
  readonly d: RouteDef;
  /** `route add` only: source split and parsed target URL. */
  readonly pre: Preparsed | undefined;
  /**
   * A `route add` whose result depends on nothing but the text of its host's lines: it cannot fail
   * to apply (prefix, target and path glob are valid) and has no option that can warn (redirect,
   * allow, deny), so no warning carries its line number.
   */
  readonly plain: boolean;
}

/** The `route add` lines of one host in a text of only `route add` lines, in order. */
export interface HostLines {
  readonly entries: LineEntry[];
  readonly nums: number[];
}

export interface BuildMemo {
  readonly matcher: Matcher;
  readonly globDisabled: boolean;
  /** Lines of the build, by text: bounded by that build's text. */
  readonly lines: ReadonlyMap<string, LineEntry>;
  /** Host keys most specific first, with their reversed keys. */
  readonly order: readonly KeyedHost[];
  /** Host keys ascending. */
  readonly asc: readonly string[];
  readonly byKey: ReadonlyMap<string, HostEntry>;
  readonly pathGlobs: ReadonlyMap<string, GlobMatcher>;
  /** Lines by host when every line was a plain `route add`, else undefined. */
  readonly hosts: ReadonlyMap<string, HostLines> | undefined;
}

/**
 * A copy of a line that does not share memory with the text it was cut from. V8 keeps a slice (and
 * the regex captures of a slice) pointing into its parent string: a memo entry kept across builds
 * would otherwise keep alive every route text that ever introduced a line. The concatenation is
 * flattened by the slice, which then points into this small copy only.
 */
function ownCopy(line: string): string {
  return ` ${line}`.slice(1);
}

function parseEntry(line: string, n: number, matcher: Matcher): LineEntry {
  const key = ownCopy(line);
  let d: RouteDef;
  try {
    d = parseLine(key, n);
  } catch (err) {
    throw new RouteSyntaxError(n, (err as Error).message, { cause: err });
  }
  let pre: Preparsed | undefined;
  let plain = false;
  if (d.cmd === 'route add' && d.src !== '' && d.dst !== '') {
    const [host, path] = hostPath(d.src);
    let url: Preparsed['url'];
    try {
      url = parseTargetURL(d.dst);
    } catch {
      url = undefined; // applying the line parses it again and reports the error with its line
    }
    pre = { host, path, url };
    const o = d.opts;
    plain = url !== undefined && o.redirect === undefined && o.allow === undefined && o.deny === undefined;
    if (plain && matcher === 'glob' && isGlob(path)) {
      try {
        compileGlob(path);
      } catch {
        plain = false;
      }
    }
  }
  return { key, d, pre, plain };
}

/**
 * forEachRouteDef with a memo: same lines, same skipping of blanks and comments, same first error;
 * a line already in `prev` is not parsed again. Every line of the text ends up in `next`.
 */
export function forEachMemoLine(
  text: string,
  prev: ReadonlyMap<string, LineEntry> | undefined,
  next: Map<string, LineEntry>,
  matcher: Matcher,
  fn: (e: LineEntry, line: number) => void,
): void {
  let start = 0;
  for (let n = 1; start <= text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    let e = prev?.get(line) ?? next.get(line);
    if (e === undefined) e = parseEntry(line, n, matcher);
    next.set(e.key, e);
    fn(e, n);
  }
}

/** Merges two lists sorted by `cmp` (no element in both) into one. */
function merge<T>(a: readonly T[], b: readonly T[], cmp: (x: T, y: T) => number): T[] {
  if (b.length === 0) return a as T[];
  const out: T[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = cmp(a[i] as T, b[j] as T) <= 0 ? (a[i++] as T) : (b[j++] as T);
  while (i < a.length) out[k++] = a[i++] as T;
  while (j < b.length) out[k++] = b[j++] as T;
  return out;
}

const ascending = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The host keys of a build in both orders the table needs. With a previous build, its sorted lists
 * are filtered to the hosts still present and merged with the sorted new hosts: the same result as
 * sorting everything (both are total orders over distinct keys), in linear time.
 */
export function hostOrders(
  hosts: ReadonlyMap<string, unknown>,
  prev: BuildMemo | undefined,
): { order: KeyedHost[]; asc: string[] } {
  if (prev === undefined) {
    const order = [...hosts.keys()].map((h) => ({ h, k: reverseHostPort(h) })).sort(bySpecificity);
    return { order, asc: [...hosts.keys()].sort() };
  }
  const added: string[] = [];
  for (const h of hosts.keys()) if (!prev.byKey.has(h)) added.push(h);
  const keptOrder =
    prev.order.length === hosts.size - added.length ? prev.order : prev.order.filter((x) => hosts.has(x.h));
  const keptAsc = prev.asc.length === hosts.size - added.length ? prev.asc : prev.asc.filter((h) => hosts.has(h));
  const addedOrder = added.map((h) => ({ h, k: reverseHostPort(h) })).sort(bySpecificity);
  return {
    order: merge(keptOrder, addedOrder, bySpecificity),
    asc: merge(keptAsc, added.sort(ascending), ascending),
  };
}
