import type { CRoute, HostEntry } from './compiled.ts';
import { RouteSyntaxError } from './errors.ts';
import type { GlobMatcher } from './glob.ts';
import { compileGlob, isGlob } from './glob.ts';
import type { KeyedHost } from './host-order.ts';
import { bySpecificity, reverseHostPort } from './host-order.ts';
import { addLineProblem } from './line-check.ts';
import type { Preparsed } from './model.ts';
import { hostPath } from './model.ts';
import { parseLine } from './parse.ts';
import { ascending, bound } from './sorted.ts';
import { parseTargetURL } from './target-url.ts';
import type { Matcher, Route, RouteDef } from './types.ts';

/**
 * What one build leaves for the next (incremental builds). A registry change usually touches a few
 * lines of a text of thousands (bench/propagation.ts: 5,000 services × 3 instances, 15,000 lines).
 * When the text is only `route add` lines, a host's routes depend on nothing but its own lines, in
 * order; so the next build groups its lines by host (finding the host with a scan, not a parse),
 * and a host whose lines are exactly those of the previous build keeps its compiled routes without
 * parsing or applying them. Only the new hosts are sorted into the previous host order. The memo
 * is small on purpose (offsets into the table's own text, no parsed lines): it lives as long as
 * its table. It is only read by the next build with the same matcher and glob setting.
 */

/** A parsed line (for the build that parsed it only). */
export interface LineEntry {
  /** The command; its `line` is where it was parsed, the build passes the current one. */
  readonly d: RouteDef;
  /** `route add` only: source split and parsed target URL. */
  readonly pre: Preparsed | undefined;
  /** A `route add` that fails to apply (bad target URL or path glob). */
  readonly fatal: boolean;
  /** A `route add` with an option that can warn (redirect, allow, deny): warnings carry its line. */
  readonly warns: boolean;
}

/** One host's lines as a chain through LineIndex.nexts. */
export interface Chain {
  readonly head: number;
  tail: number;
  count: number;
  /** Some line warns (see LineEntry.warns): the host is rebuilt every time, for the line numbers. */
  pinned: boolean;
  /** The generation of the index whose positions head and tail are (moved-chains.ts); absent: 0. */
  readonly gen?: number;
}

/** An index's chains by host: a Map, or the chains of an edited index (moved-chains.ts). */
export type HostChains = ReadonlyMap<string, Chain> & { delete(host: string): boolean };

/**
 * One integer per line: a growing array while a build groups the lines, an Int32Array in an index
 * carried through an edit (line-edit.ts), whose arrays are made once per change at full length:
 * outside V8's heap they cost the garbage collector nothing to trace, and their memory is reused
 * by the allocator instead of being fresh pages each time (see docs/design.md).
 */
export type LineInts = ArrayLike<number>;

/** The lines of a text of only `route add` lines, grouped by host. */
export interface LineIndex {
  readonly text: string;
  /** Line i is text.slice(starts[i], ends[i]) (untrimmed). */
  readonly starts: LineInts;
  readonly ends: LineInts;
  /** The next line of the same host, -1 after the last. */
  readonly nexts: LineInts;
  readonly hosts: HostChains;
  /** Edits this index was carried through since its lines were grouped (moved-chains.ts); absent: 0. */
  readonly gen?: number;
  /**
   * Line i's text (trimmed) and line number, when the build that made the index had them at hand
   * (an incremental build's grouping, or an edit of the index: line-edit.ts); an index with them
   * can be carried through the next text's edits instead of grouping every line again.
   */
  readonly texts?: string[] | undefined;
  readonly nums?: LineInts | undefined;
}

/** An index being grouped line by line (addLine). */
export interface GrowingLineIndex extends LineIndex {
  readonly starts: number[];
  readonly ends: number[];
  readonly nexts: number[];
  readonly nums?: number[] | undefined;
  readonly hosts: Map<string, Chain>;
}

export interface BuildMemo {
  readonly matcher: Matcher;
  readonly globDisabled: boolean;
  /** Undefined when the text had other commands than `route add` (or no lines were grouped). */
  readonly lines: LineIndex | undefined;
  /** Host keys most specific first, with their reversed keys. */
  readonly order: readonly KeyedHost[];
  /** Host keys ascending. */
  readonly asc: readonly string[];
  readonly byKey: ReadonlyMap<string, HostEntry>;
  readonly pathGlobs: ReadonlyMap<string, GlobMatcher>;
  /**
   * The commands after the last `route add` (manual overrides: `route del`, `route weight`), when
   * `lines` is defined: their text, and the warning each one gave (by position; undefined: none).
   */
  readonly overrides?: Overrides | undefined;
  /**
   * Hosts of `lines` that the next incremental build must visit even when none of their lines is
   * in the changed stretch of the text: pinned (see Chain.pinned), without a host entry (all their
   * routes deleted by an override), or left out of `lines` although the text has lines of them.
   */
  readonly revisit?: ReadonlySet<string> | undefined;
  /**
   * skipBadLines: the text had a line that is no command at all (skipped with a warning). Such a
   * line is in no host's chain, so an edit elsewhere could not renumber its warning: the next build
   * groups every line instead of carrying `lines` through the text's edits.
   */
  readonly junk?: boolean;
  /** The previous table's lookup indexes, patched (not rebuilt) when the host order is unchanged. */
  readonly parts?: MemoParts | undefined;
}

/** See BuildMemo.parts (compile-hosts.ts). */
export interface MemoParts {
  readonly exactPlain: ReadonlyMap<string, readonly HostEntry[]>;
  readonly exactTls: ReadonlyMap<string, readonly HostEntry[]>;
  readonly globs: readonly HostEntry[];
  readonly tcp: ReadonlyMap<string, CRoute>;
  readonly routes: readonly Route[];
  /** Host keys that are globs (when glob matching is on): compiled every build, for their warning. */
  readonly globKeys: readonly string[];
}

/** See BuildMemo.overrides. */
export interface Overrides {
  readonly text: string;
  readonly warnings: readonly (string | undefined)[];
}

export function newLineIndex(text: string, withTexts = false): GrowingLineIndex {
  return withTexts
    ? { text, starts: [], ends: [], nexts: [], hosts: new Map(), texts: [], nums: [] }
    : { text, starts: [], ends: [], nexts: [], hosts: new Map() };
}

/** Appends line [start, end) of host `host`; returns the host's chain. */
export function addLine(ix: GrowingLineIndex, host: string, start: number, end: number): Chain {
  const i = ix.starts.length;
  ix.starts.push(start);
  ix.ends.push(end);
  ix.nexts.push(-1);
  let c = ix.hosts.get(host);
  if (c === undefined) {
    c = { head: i, tail: i, count: 1, pinned: false };
    ix.hosts.set(host, c);
  } else {
    ix.nexts[c.tail] = i;
    c.tail = i;
    c.count++;
  }
  return c;
}

/** Length of the longest common prefix of a and b (binary search over native comparisons). */
export function commonPrefix(a: string, b: string): number {
  let lo = 0;
  let hi = Math.min(a.length, b.length);
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (a.startsWith(b.slice(lo, mid), lo)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Length of the longest common suffix of a and b. */
export function commonSuffix(a: string, b: string): number {
  let lo = 0;
  let hi = Math.min(a.length, b.length);
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (a.endsWith(b.slice(b.length - mid, b.length - lo), a.length - lo)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Compares the chains of two line indexes. A change usually sits in one place of the text: lines
 * inside the common prefix (same offset) or common suffix (same distance from the end) of the two
 * texts are equal without comparing them.
 */
export class ChainComparer implements LineComparer {
  readonly #a: LineIndex;
  readonly #b: LineIndex;
  readonly #prefix: number;
  readonly #suffix: number;

  constructor(a: LineIndex, b: LineIndex) {
    this.#a = a;
    this.#b = b;
    this.#prefix = commonPrefix(a.text, b.text);
    // at most what is left after the prefix in either text: the two never overlap (see touchedHosts)
    this.#suffix = Math.min(commonSuffix(a.text, b.text), Math.min(a.text.length, b.text.length) - this.#prefix);
  }

  /**
   * The hosts with a line in the changed stretch of either text (`hostOf` gives the host of line
   * i of a, `prevHostOf` of line j of b). With both texts split as prefix + middle + suffix (the
   * common prefix and suffix, not overlapping), a line whose newline is in the prefix, or whose
   * preceding newline is in the suffix, is the same line in both texts at the same place, and
   * every other line touches the middle. So a host with no touching line in either text has the
   * same lines in the same order in both: its chain is `same`.
   */
  touchedHosts(hostOf: (i: number) => string, prevHostOf: (j: number) => string, out: Set<string>): void {
    touching(this.#a, this.#prefix, this.#suffix, (i) => out.add(hostOf(i)));
    touching(this.#b, this.#prefix, this.#suffix, (j) => out.add(prevHostOf(j)));
  }

  /** Whether chain ca of a and chain cb of b hold the same line texts in the same order. */
  same(ca: Chain, cb: Chain): boolean {
    return sameChains(this, this.#a, this.#b, ca, cb);
  }

  /** Whether line i of a and line j of b are the same text. */
  sameLine(i: number, j: number): boolean {
    const a = this.#a;
    const b = this.#b;
    const as = a.starts[i] as number;
    const ae = a.ends[i] as number;
    const bs = b.starts[j] as number;
    const be = b.ends[j] as number;
    if (be - bs !== ae - as) return false;
    if (as === bs && ae <= this.#prefix) return true;
    const aLen = a.text.length;
    if (aLen - as === b.text.length - bs && aLen - as <= this.#suffix) return true;
    return a.text.startsWith(b.text.slice(bs, be), as);
  }
}

/** How an incremental build tells that a line of the new index is a line of the previous one. */
export interface LineComparer {
  /** Whether line i of the new index and line j of the previous one are the same text. */
  sameLine(i: number, j: number): boolean;
  /** Whether two chains (new, previous) hold the same line texts in the same order. */
  same(ca: Chain, cb: Chain): boolean;
}

function sameChains(cmp: LineComparer, a: LineIndex, b: LineIndex, ca: Chain, cb: Chain): boolean {
  if (ca.count !== cb.count) return false;
  for (let i = ca.head, j = cb.head; i >= 0; i = a.nexts[i] as number, j = b.nexts[j] as number) {
    if (!cmp.sameLine(i, j)) return false;
  }
  return true;
}

/**
 * The LineComparer of two indexes that hold their line texts (an index carried through an edit,
 * line-edit.ts): a kept line is the very same string in both, so most compares are one pointer
 * compare, without the texts' common prefix and suffix (two scans of the whole texts).
 */
export class TextComparer implements LineComparer {
  readonly #a: LineIndex;
  readonly #b: LineIndex;
  readonly #at: readonly string[];
  readonly #bt: readonly string[];

  constructor(a: LineIndex & { texts: string[] }, b: LineIndex & { texts: string[] }) {
    this.#a = a;
    this.#b = b;
    this.#at = a.texts;
    this.#bt = b.texts;
  }

  sameLine(i: number, j: number): boolean {
    return this.#at[i] === this.#bt[j];
  }

  same(ca: Chain, cb: Chain): boolean {
    return sameChains(this, this.#a, this.#b, ca, cb);
  }
}

const numeric = (a: number, b: number): number => a - b;

/** Calls fn with each line of ix that touches the middle (see ChainComparer.touchedHosts). */
function touching(ix: LineIndex, prefix: number, suffix: number, fn: (i: number) => void): void {
  const { starts, ends } = ix;
  const last = ix.text.length - suffix; // lines starting after this are in the suffix
  const lo = bound(ends, prefix, numeric);
  for (let i = lo; i < ends.length && (starts[i] as number) <= last; i++) fn(i);
}

/** The path of a grouped `route add` line (its source was found by addSource when it was grouped). */
const pathOf = (line: string): string => hostPath(addSource(line) as string)[1];

/** The host of a grouped `route add` line. */
export const hostOf = (line: string): string => hostPath(addSource(line) as string)[0];

/** The text of line i of ix (trimmed, as forEachLine gives it). */
export const lineText = (ix: LineIndex, i: number): string =>
  ix.text.slice(ix.starts[i] as number, ix.ends[i] as number).trim();

const chainIndexes = (ix: LineIndex, c: Chain): number[] => {
  const out: number[] = new Array(c.count);
  let k = 0;
  for (let i = c.head; i >= 0; i = ix.nexts[i] as number) out[k++] = i;
  return out;
};

/**
 * One host whose lines changed, path by path: a route (host and path) of a text of `route add`
 * lines depends on nothing but its own lines, in order. Path-only routes (`urlprefix-/path`) all
 * share host '', so without this one flap re-parsed every line of the catalog. The chains `c`
 * (of cmp's new index `cur`) and `p` (of the previous build's `prev`) differ in one stretch (a
 * change touches one place of the text; the stretch spans the first to the last difference);
 * the paths of the lines in it are the changed paths. Their lines (indexes into cur, in order) go
 * to `todo`; the previous build's compiled routes of every other path are returned (path
 * descending, as `prevRoutes`): each still has exactly the lines it was compiled from.
 * `curLines[i]` is the text of line i of cur; the changed paths are added to `changed`.
 */
export function changedPaths(
  cmp: LineComparer,
  cur: LineIndex,
  c: Chain,
  curLines: readonly string[],
  prev: LineIndex,
  p: Chain,
  prevRoutes: readonly CRoute[],
  todo: (i: number) => void,
  changed: Set<string>,
): CRoute[] {
  const a = chainIndexes(cur, c);
  const b = chainIndexes(prev, p);
  let head = 0;
  while (head < a.length && head < b.length && cmp.sameLine(a[head] as number, b[head] as number)) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    cmp.sameLine(a[a.length - 1 - tail] as number, b[b.length - 1 - tail] as number)
  )
    tail++;
  for (let k = head; k < a.length - tail; k++) changed.add(pathOf(curLines[a[k] as number] as string));
  for (let k = head; k < b.length - tail; k++) {
    const j = b[k] as number;
    changed.add(pathOf(lineText(prev, j)));
  }
  // every line of a changed path, also outside the stretch (a path's lines need not be adjacent)
  const probes = [...changed];
  for (const i of a) {
    const line = curLines[i] as string;
    if (probes.some((x) => line.includes(x)) && changed.has(pathOf(line))) todo(i);
  }
  return prevRoutes.filter((r) => !changed.has(r.path));
}

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 12 || c === 13;

/**
 * The source of a `route add` line (`route add <service> <src> ...`), found by a scan; undefined
 * when the line does not start like one. Lines a build groups by it are parsed for real unless
 * the previous build had the very same line (which then parsed, with this source).
 */
export function addSource(line: string): string | undefined {
  if (!line.startsWith('route')) return undefined;
  const n = line.length;
  let i = 5;
  let s = i;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  if (i === s || !line.startsWith('add', i)) return undefined;
  i += 3;
  s = i;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  if (i === s) return undefined;
  while (i < n && !isSpace(line.charCodeAt(i))) i++; // the service
  s = i;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  if (i === s) return undefined;
  s = i;
  while (i < n && !isSpace(line.charCodeAt(i))) i++;
  return i > s ? line.slice(s, i) : undefined;
}

/**
 * A copy of a line that does not share memory with the text it was cut from. V8 keeps a slice (and
 * the regex captures of a slice) pointing into its parent string: compiled routes reused across
 * builds would otherwise keep alive every route text that introduced one of their lines. The
 * concatenation is flattened by the slice, which then points into this small copy only.
 */
export function ownCopy(line: string): string {
  return ` ${line}`.slice(1);
}

/**
 * Parses line `n`; throws RouteSyntaxError. `copy`: parse a copy of the line (see ownCopy), for
 * the incremental builds, which may reuse what they compile for many builds. A full build does
 * not copy: at most the text of the one build without a previous table stays referenced that way.
 */
export function parseEntry(line: string, n: number, matcher: Matcher, copy: boolean): LineEntry {
  let d: RouteDef;
  try {
    d = parseLine(copy ? ownCopy(line) : line, n);
  } catch (err) {
    throw new RouteSyntaxError(n, (err as Error).message, { cause: err });
  }
  let pre: Preparsed | undefined;
  let fatal = false;
  let warns = false;
  if (d.cmd === 'route add' && d.src !== '' && d.dst !== '') {
    const [host, path] = hostPath(d.src);
    let url: Preparsed['url'];
    try {
      url = parseTargetURL(d.dst);
    } catch {
      url = undefined; // applying the line parses it again and reports the error with its line
    }
    const problem = addLineProblem(d, url);
    if (problem !== undefined) throw new RouteSyntaxError(n, problem);
    pre = { host, path, url };
    const o = d.opts;
    fatal = url === undefined;
    warns = o.redirect !== undefined || o.allow !== undefined || o.deny !== undefined;
    if (!fatal && matcher === 'glob' && isGlob(path)) {
      try {
        compileGlob(path);
      } catch {
        fatal = true;
      }
    }
  }
  return { d, pre, fatal, warns };
}

/**
 * Calls `fn` with each command line of the text (trimmed), its number and its untrimmed span,
 * skipping blank lines and lines starting with `#` or `//`, as forEachRouteDef does.
 */
export function forEachLine(text: string, fn: (line: string, n: number, start: number, end: number) => void): void {
  forEachLineFrom(text, 0, 1, fn);
}

/** forEachLine from offset `from` (a line start), whose line is number `n0`. */
export function forEachLineFrom(
  text: string,
  from: number,
  n0: number,
  fn: (line: string, n: number, start: number, end: number) => void,
): void {
  let start = from;
  for (let n = n0; start <= text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    const s = start;
    start = end + 1;
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    fn(line, n, s, end);
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

/** Above this many hosts added or removed, the host orders are merged, not spliced. */
const SPLICE_HOSTS = 32;

/** `xs` (sorted by cmp) without `gone` and with `come` (a copy; memmoves, no pass of compares). */
function spliced<T>(xs: readonly T[], gone: readonly T[], come: readonly T[], cmp: (a: T, b: T) => number): T[] {
  const out = xs.slice();
  for (const x of gone) {
    const i = bound(out, x, cmp);
    if (i < out.length && cmp(out[i] as T, x) === 0) out.splice(i, 1);
  }
  for (const x of come) out.splice(bound(out, x, cmp), 0, x);
  return out;
}

/** What hostOrders found: both orders, and the hosts that came and went (when it knows them). */
export interface HostOrders {
  order: KeyedHost[];
  asc: string[];
  /** Hosts added and removed since the previous build (undefined: not counted, see hostOrders). */
  added?: readonly string[] | undefined;
  removed?: readonly string[] | undefined;
}

/**
 * The host keys of a build in both orders the table needs. With a previous build, its sorted lists
 * are filtered to the hosts still present and merged with the sorted new hosts: the same result as
 * sorting everything (both are total orders over distinct keys), in linear time (O(candidates)
 * when the host set is unchanged: the previous lists are returned as they are). With `candidates`
 * (the only hosts that can have come or gone: the incremental build's visited hosts) and a few
 * hosts come or gone, the previous lists are copied and spliced (binary searches, memmoves), and
 * the hosts are returned (compile-hosts.ts then patches the previous indexes).
 */
export function hostOrders(
  hosts: ReadonlyMap<string, unknown>,
  prev: BuildMemo | undefined,
  candidates?: Iterable<string>,
): HostOrders {
  if (prev === undefined) {
    const order = [...hosts.keys()].map((h) => ({ h, k: reverseHostPort(h) })).sort(bySpecificity);
    return { order, asc: [...hosts.keys()].sort() };
  }
  const added: string[] = [];
  const removed: string[] = [];
  for (const h of candidates ?? hosts.keys()) {
    if (hosts.has(h) && !prev.byKey.has(h)) added.push(h);
    else if (candidates !== undefined && !hosts.has(h) && prev.byKey.has(h)) removed.push(h);
  }
  if (candidates !== undefined && prev.order.length === hosts.size - added.length + removed.length) {
    if (added.length + removed.length === 0)
      return { order: prev.order as KeyedHost[], asc: prev.asc as string[], added, removed };
    if (added.length + removed.length <= SPLICE_HOSTS) {
      const keyed = (h: string) => ({ h, k: reverseHostPort(h) });
      return {
        order: spliced(prev.order, removed.map(keyed), added.map(keyed), bySpecificity),
        asc: spliced(prev.asc, removed, added, ascending),
        added,
        removed,
      };
    }
  }
  const keptOrder =
    prev.order.length === hosts.size - added.length ? prev.order : prev.order.filter((x) => hosts.has(x.h));
  const keptAsc = prev.asc.length === hosts.size - added.length ? prev.asc : prev.asc.filter((h) => hosts.has(h));
  const addedOrder = added.map((h) => ({ h, k: reverseHostPort(h) })).sort(bySpecificity);
  return {
    order: merge(keptOrder, addedOrder, bySpecificity),
    asc: merge(keptAsc, added.sort(ascending), ascending),
  };
}
