import { applyHunks, bound, type Hunk, serviceRouteCommands, type TextEdit } from '../../routes/index.ts';
import { sameStrings } from './health-filter.ts';

/**
 * Route lines per service, kept in fabio's global order (all lines sorted in reverse byte order)
 * and maintained incrementally: one service's change splices its few lines instead of re-sorting
 * 15,000, and the text is joined once per publication, not once per change.
 */

export interface CatalogRow {
  readonly Node: string;
  readonly Address: string;
  readonly ServiceID: string;
  readonly ServiceName: string;
  readonly ServiceAddress: string;
  readonly ServicePort: number;
  readonly ServiceTags: readonly string[] | null;
}

import type { ServiceTagWarning as TagWarning } from '../types.ts';

export type { TagWarning };

export interface ServiceLines {
  readonly lines: readonly string[];
  readonly warnings: readonly TagWarning[];
}

export interface TranslateOptions {
  readonly tagPrefix: string;
  /** Datacenter of the agent ($DC in tags). */
  readonly dc: string;
}

/**
 * Route commands of the catalog rows whose instance key is in `members` (healthy instances).
 * Untranslatable tags are returned, not logged: the table updater logs each once while it persists
 * and shows it at /api/warnings (one owner, so a skipped tag is logged once).
 */
export function translateRows(
  name: string,
  rows: readonly CatalogRow[],
  members: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  key: (node: string, id: string) => string,
  opts: TranslateOptions,
): ServiceLines {
  const lines: string[] = [];
  const warnings: TagWarning[] = [];
  for (const row of rows) {
    const k = rowKey(row, key);
    if (k !== undefined && members.has(k)) rowCommands(name, row, opts, lines, warnings);
  }
  return { lines, warnings };
}

/** The instance key of a catalog row; undefined for an entry that is not an object (never used). */
export const rowKey = (row: CatalogRow, key: (node: string, id: string) => string): string | undefined =>
  row && typeof row === 'object' ? key(String(row.Node), String(row.ServiceID)) : undefined;

/** Appends the route commands and tag warnings of one catalog row (a healthy instance's). */
export function rowCommands(
  name: string,
  row: CatalogRow,
  opts: TranslateOptions,
  lines: string[],
  warnings: TagWarning[],
): void {
  // Untrusted input: a row whose tags are not a list of strings costs that row only.
  const tags: unknown = row.ServiceTags ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
    // reported like an untranslatable tag: the table updater logs it once and shows it in the UI
    warnings.push({
      service: name,
      tag: '',
      message: 'malformed catalog row: ServiceTags is not a list of strings; row ignored',
    });
    return;
  }
  const out = serviceRouteCommands({
    service: String(row.ServiceName ?? name),
    addr: row.ServiceAddress || row.Address,
    port: Number(row.ServicePort) || 0,
    tags,
    tagPrefix: opts.tagPrefix,
    env: { DC: opts.dc },
  });
  for (const l of out.lines) lines.push(l);
  for (const w of out.warnings) warnings.push({ service: name, tag: w.tag, message: w.message });
}

const cmpDesc = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);

/** Sorts route lines in reverse byte order, as fabio does (sort.Reverse(sort.StringSlice)). */
export function sortDescending(lines: string[]): string[] {
  return lines.sort(cmpDesc);
}

/** First index whose line sorts at or after `l` in descending order. */
const lowerBound = (arr: readonly string[], l: string): number => bound(arr, l, cmpDesc);

/**
 * The start of line i in the lines joined by newlines (UTF-16 offsets, as the text's), for
 * ascending i: a cursor that sums the lengths up to each asked line, so that no array of every
 * line's offset is made per change (150,000 entries at 50,000 services × 3).
 */
function lineStarts(sorted: readonly string[]): (i: number) => number {
  let at = 0;
  let off = 0;
  return (i) => {
    for (; at < i; at++) off += (sorted[at] as string).length + 1;
    return off;
  };
}

/**
 * Removes the `gone` lines from `sorted` and inserts the `came` ones (in place), and returns the
 * hunks that turn `text` (= the old `sorted` joined by newlines) into the new one joined: one per
 * run of adjacent changed lines, in order. Undefined (sorted left as it was) when a gone line is
 * not there (never expected; the caller re-sorts).
 */
export function spliceLines(
  sorted: string[],
  text: string,
  gone: readonly (readonly string[])[],
  came: readonly (readonly string[])[],
): Hunk[] | undefined {
  const n = sorted.length;
  // removals by index in the old list (a repeated line takes the next equal one)
  const removed = new Set<number>();
  for (const ls of gone)
    for (const l of ls) {
      let i = lowerBound(sorted, l);
      while (removed.has(i)) i++;
      if (sorted[i] !== l) return undefined;
      removed.add(i);
    }
  // insertions by the old index they go before
  const added: [at: number, line: string][] = [];
  for (const ls of came) for (const l of ls) added.push([lowerBound(sorted, l), l]);
  added.sort((x, y) => x[0] - y[0] || cmpDesc(x[1], y[1]));
  const rm = [...removed].sort((x, y) => x - y);
  // runs: old lines [lo, hi) all removed, with the insertions at lo..hi (between removed lines too)
  const runs: { lo: number; hi: number; ins: string[] }[] = [];
  let r = 0;
  let a = 0;
  while (r < rm.length || a < added.length) {
    const first = Math.min(rm[r] ?? n + 1, (added[a]?.[0] as number | undefined) ?? n + 1);
    const run = { lo: first, hi: first, ins: [] as string[] };
    for (;;) {
      if (r < rm.length && rm[r] === run.hi) {
        run.hi++;
        r++;
      } else if (a < added.length && (added[a] as [number, string])[0] <= run.hi) {
        run.ins.push((added[a] as [number, string])[1]);
        a++;
      } else break;
    }
    runs.push(run);
  }
  const startOf = lineStarts(sorted);
  const hunks: Hunk[] = [];
  for (const { lo, hi, ins } of runs) {
    const at = startOf(lo);
    if (hi < n) hunks.push({ at, del: startOf(hi) - at, ins: ins.map((l) => `${l}\n`).join('') });
    else if (lo > 0) hunks.push({ at: at - 1, del: text.length - at + 1, ins: ins.map((l) => `\n${l}`).join('') });
    else hunks.push({ at: 0, del: text.length, ins: ins.join('\n') });
  }
  for (let k = runs.length - 1; k >= 0; k--) {
    const { lo, hi, ins } = runs[k] as { lo: number; hi: number; ins: string[] };
    sorted.splice(lo, hi - lo, ...ins);
  }
  return hunks;
}

/** Above this many changed lines since the last publication one sort beats many splices. */
const SPLICE_LIMIT = 64;

/** `T`: what the owner keeps per service with its lines (held here, one map of services). */
export class RouteLineSet<T extends ServiceLines = ServiceLines> {
  readonly #by = new Map<string, T>();
  #sorted: string[] = [];
  #gone: (readonly string[])[] = [];
  #came: (readonly string[])[] = [];
  #changedLines = 0;
  #resort = true;
  #text: string | undefined = '';
  /** The last text returned (the base of the next edit). */
  #text0 = '';
  #edit: TextEdit | undefined;
  #warnings: readonly TagWarning[] | undefined = [];
  /**
   * The services that have tag warnings, and theirs: warnings() joins these, not every service's
   * (none for most; at 50,000 services the walk over all of them was ~3 MB and a few ms per change).
   */
  readonly #warned = new Map<string, readonly TagWarning[]>();

  get size(): number {
    return this.#by.size;
  }

  has(name: string): boolean {
    return this.#by.has(name);
  }

  get(name: string): T | undefined {
    return this.#by.get(name);
  }

  /** The services with lines (a copy: set() may be called while going through them). */
  names(): string[] {
    return [...this.#by.keys()];
  }

  /**
   * Sets (or with undefined removes) a service's lines; false when nothing changed. Equal lines keep
   * their place, but `next` is what is held from now on (the caller's previous object can go).
   */
  set(name: string, next: T | undefined): boolean {
    const prev = this.#by.get(name);
    if (prev === undefined && next === undefined) return false;
    if (prev && next && sameStrings(prev.lines, next.lines) && sameWarnings(prev.warnings, next.warnings)) {
      this.#by.set(name, next);
      return false;
    }
    if (prev) this.#gone.push(prev.lines);
    if (next !== undefined && next.warnings.length > 0) this.#warned.set(name, next.warnings);
    else this.#warned.delete(name);
    if (next) {
      this.#by.set(name, next);
      this.#came.push(next.lines);
    } else this.#by.delete(name);
    this.#changedLines += (prev?.lines.length ?? 0) + (next?.lines.length ?? 0);
    if (this.#changedLines > SPLICE_LIMIT) this.#resort = true;
    this.#text = undefined;
    this.#warnings = undefined;
    return true;
  }

  clear(): void {
    this.#by.clear();
    this.#warned.clear();
    this.#resort = true;
    this.#text = undefined;
    this.#warnings = undefined;
  }

  /** The route text of every service (joined once per change set). */
  text(): string {
    if (this.#text !== undefined) return this.#text;
    const before = this.#text0;
    const hunks = this.#resort ? undefined : spliceLines(this.#sorted, before, this.#gone, this.#came);
    if (hunks === undefined) {
      const all: string[] = [];
      for (const s of this.#by.values()) for (const l of s.lines) all.push(l);
      this.#sorted = sortDescending(all);
    }
    this.#gone = [];
    this.#came = [];
    this.#changedLines = 0;
    this.#resort = false;
    // an edit of the last text (no join of every line): the hunks say what it replaced
    this.#text = hunks === undefined ? this.#sorted.join('\n') : applyHunks(before, hunks);
    this.#edit = hunks === undefined ? undefined : { base: before, hunks };
    this.#text0 = this.#text;
    return this.#text;
  }

  /**
   * Takes `flat` as the current text: the same characters as text() returned, in a string that is
   * already flat (a slice of the whole route text the backend flattened once). The next edit
   * slices it instead of flattening the joined text again: at 150,000 lines that was a second
   * 11 MB copy per change (fresh pages each time). Ignored (false) when the text changed since.
   */
  adopt(flat: string): boolean {
    if (this.#text === undefined || this.#text !== this.#text0 || flat.length !== this.#text.length) return false;
    this.#text = flat;
    this.#text0 = flat;
    return true;
  }

  /** How text() was made from the text before it (undefined: joined anew, after a re-sort). */
  edit(): TextEdit | undefined {
    this.text();
    return this.#edit;
  }

  warnings(): readonly TagWarning[] {
    if (this.#warnings !== undefined) return this.#warnings;
    const out: TagWarning[] = [];
    for (const ws of this.#warned.values()) for (const w of ws) out.push(w);
    this.#warnings = out;
    return out;
  }
}

function sameWarnings(a: readonly TagWarning[], b: readonly TagWarning[]): boolean {
  return (
    a.length === b.length &&
    a.every((w, i) => w.tag === b[i]?.tag && w.message === b[i]?.message && w.service === b[i]?.service)
  );
}
