import { serviceRouteCommands } from '../../routes/index.ts';

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
    if (!row || typeof row !== 'object') continue;
    if (!members.has(key(String(row.Node), String(row.ServiceID)))) continue;
    // Untrusted input: a row whose tags are not a list of strings costs that row only.
    const tags: unknown = row.ServiceTags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
      // reported like an untranslatable tag: the table updater logs it once and shows it in the UI
      warnings.push({
        service: name,
        tag: '',
        message: 'malformed catalog row: ServiceTags is not a list of strings; row ignored',
      });
      continue;
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
  return { lines, warnings };
}

const cmpDesc = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);

/** Sorts route lines in reverse byte order, as fabio does (sort.Reverse(sort.StringSlice)). */
export function sortDescending(lines: string[]): string[] {
  return lines.sort(cmpDesc);
}

/** First index whose line sorts at or after `l` in descending order. */
function lowerBound(arr: readonly string[], l: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpDesc(arr[mid] as string, l) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function insertSorted(arr: string[], l: string): void {
  arr.splice(lowerBound(arr, l), 0, l);
}

export function removeSorted(arr: string[], l: string): void {
  const i = lowerBound(arr, l);
  if (arr[i] === l) arr.splice(i, 1);
}

const sameLines = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((l, i) => l === b[i]);

/** Above this many changed lines since the last publication one sort beats many splices. */
const SPLICE_LIMIT = 64;

export class RouteLineSet {
  readonly #by = new Map<string, ServiceLines>();
  #sorted: string[] = [];
  #gone: (readonly string[])[] = [];
  #came: (readonly string[])[] = [];
  #changedLines = 0;
  #resort = true;
  #text: string | undefined = '';
  #warnings: readonly TagWarning[] | undefined = [];

  get size(): number {
    return this.#by.size;
  }

  has(name: string): boolean {
    return this.#by.has(name);
  }

  /** Sets (or with undefined removes) a service's lines; false when nothing changed. */
  set(name: string, next: ServiceLines | undefined): boolean {
    const prev = this.#by.get(name);
    if (prev === undefined && next === undefined) return false;
    if (prev && next && sameLines(prev.lines, next.lines) && sameWarnings(prev.warnings, next.warnings)) return false;
    if (prev) this.#gone.push(prev.lines);
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
    this.#resort = true;
    this.#text = undefined;
    this.#warnings = undefined;
  }

  /** The route text of every service (joined once per change set). */
  text(): string {
    if (this.#text !== undefined) return this.#text;
    if (this.#resort) {
      const all: string[] = [];
      for (const s of this.#by.values()) for (const l of s.lines) all.push(l);
      this.#sorted = sortDescending(all);
    } else {
      for (const ls of this.#gone) for (const l of ls) removeSorted(this.#sorted, l);
      for (const ls of this.#came) for (const l of ls) insertSorted(this.#sorted, l);
    }
    this.#gone = [];
    this.#came = [];
    this.#changedLines = 0;
    this.#resort = false;
    this.#text = this.#sorted.join('\n');
    return this.#text;
  }

  warnings(): readonly TagWarning[] {
    if (this.#warnings !== undefined) return this.#warnings;
    const out: TagWarning[] = [];
    for (const s of this.#by.values()) for (const w of s.warnings) out.push(w);
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
