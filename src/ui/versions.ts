import type { HistoryEntry } from '../registry/types.ts';
import { ownCopy } from '../routes/build-memo.ts';
import { commonLines } from '../routes/index.ts';
import type { Table } from '../routes/types.ts';

/**
 * Table versions for "explain against version N" (History → Explain). The admin server numbers
 * the tables the store swaps in (1, 2, …), tags each history entry with the version live after it
 * (and, for the entry that swapped a table in, the version before it), and keeps the route text of
 * the versions the history still shows, so an old table can be rebuilt on demand with the live
 * build options and asked what it would have done.
 *
 * Memory: texts are kept as arrays of lines, and a version's lines that are also the previous
 * version's (the whole lines both texts share at the start and at the end: a typical change
 * touches a few lines of thousands) are the previous version's very strings, so a line unchanged
 * between versions is stored once; at most `limit` versions and `maxLines` line references in
 * total are kept, the oldest dropped first.
 *
 * Per swap this costs the texts' common prefix and suffix (memcmp-like) and a copy of the line
 * array; splitting and interning every line through a map cost 55-85 ms per swap at 50,000 × 3,
 * on the primary, between a catalog change and the next one (bench/README.md, "Propagation,
 * second session").
 */

export interface VersionTag {
  /** The table live after this entry. */
  readonly version: number;
  /** The table live before this entry, when the entry swapped a table in. */
  readonly before?: number;
}

export type VersionLookup =
  | { readonly kind: 'table'; readonly table: Table }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'gone' }
  | { readonly kind: 'unavailable' };

export class TableVersions {
  readonly #limit: number;
  readonly #maxLines: number;
  /** Version of the store's current table (0: none yet). */
  #current = 0;
  #swappedSinceTag = false;
  /** version → its text as interned lines, oldest first. */
  readonly #texts = new Map<number, readonly string[]>();
  /** The newest kept version's text and lines (the base of the next version's lines). */
  #last: { source: string; lines: readonly string[] } | undefined;
  #lines = 0;
  readonly #tags = new WeakMap<HistoryEntry, VersionTag>();
  /** One rebuilt table (the last asked for): repeated explains against it build once. */
  #cached: { version: number; table: Table } | undefined;

  constructor(opts: { limit?: number; maxLines?: number } = {}) {
    this.#limit = opts.limit ?? 101;
    this.#maxLines = opts.maxLines ?? 4_000_000;
  }

  get current(): number {
    return this.#current;
  }

  /** Distinct line strings kept over all versions (tests: equal lines are shared). */
  get pooledLines(): number {
    const seen = new Set<string>();
    for (const lines of this.#texts.values()) for (const l of lines) seen.add(l);
    return seen.size;
  }

  /** A table went live (store.onSwap). Entries not tagged yet belong to the table before it. */
  swapped(table: Table, history: readonly HistoryEntry[]): void {
    this.tag(history);
    this.#current++;
    this.#swappedSinceTag = true;
    this.#keep(this.#current, table.source);
  }

  /**
   * Tags the entries that have no version yet (newest first, stopping at the first tagged one):
   * the newest one is the change that swapped the current table in when a swap happened since.
   */
  tag(history: readonly HistoryEntry[]): void {
    for (let i = history.length - 1; i >= 0; i--) {
      const e = history[i]!;
      if (this.#tags.has(e)) break;
      const swappedByThis = this.#swappedSinceTag && i === history.length - 1 && e.error === undefined;
      this.#tags.set(
        e,
        swappedByThis && this.#current > 1
          ? { version: this.#current, before: this.#current - 1 }
          : { version: this.#current },
      );
    }
    if (history.length > 0) this.#swappedSinceTag = false;
    this.#prune(history);
  }

  /** The version tag of a history entry, if it was seen. */
  tagOf(e: HistoryEntry): VersionTag | undefined {
    return this.#tags.get(e);
  }

  /** The text of a kept version. */
  text(version: number): string | undefined {
    return this.#texts.get(version)?.join('\n');
  }

  /** The table of `version`: the live one, a rebuilt one, or why not. */
  lookup(version: number, live: Table | undefined, build: ((text: string) => Table) | undefined): VersionLookup {
    if (!Number.isSafeInteger(version) || version < 1 || version > this.#current) return { kind: 'unknown' };
    if (version === this.#current && live) return { kind: 'table', table: live };
    if (this.#cached?.version === version) return { kind: 'table', table: this.#cached.table };
    const text = this.text(version);
    if (text === undefined) return { kind: 'gone' };
    if (!build) return { kind: 'unavailable' };
    const table = build(text);
    this.#cached = { version, table };
    return { kind: 'table', table };
  }

  #keep(version: number, source: string): void {
    const lines = linesAfter(this.#last, source);
    this.#last = { source, lines };
    this.#texts.set(version, lines);
    this.#lines += lines.length;
    this.#prune([]);
  }

  /** Drops the oldest texts beyond the limits, and those older than what the history still shows. */
  #prune(history: readonly HistoryEntry[]): void {
    let oldest = this.#current;
    for (const e of history) {
      const t = this.#tags.get(e);
      if (t) oldest = Math.min(oldest, t.before ?? t.version);
    }
    for (const [v, lines] of this.#texts) {
      const over = this.#texts.size > this.#limit || this.#lines > this.#maxLines;
      if (v === this.#current || (!over && (history.length === 0 || v >= oldest))) break;
      this.#texts.delete(v);
      this.#lines -= lines.length;
      if (this.#cached?.version === v) this.#cached = undefined;
    }
  }
}

/**
 * `source` as lines (`source.split('\n')`), sharing the strings of `last`'s lines where the two
 * texts share whole lines at the start and the end; the lines in between are copies, so no version
 * keeps a whole text alive through a sliced line (the first version's lines are its own text's).
 */
function linesAfter(last: { source: string; lines: readonly string[] } | undefined, source: string): string[] {
  if (last === undefined) return source.split('\n');
  const { start, end } = commonLines(last.source, source);
  const head = countNewlines(last.source, 0, start);
  // the common end starts with a newline: the lines after each of its newlines are shared
  const tail = end === 0 ? 0 : countNewlines(last.source, last.source.length - end, last.source.length);
  const mid = source.slice(start, source.length - end).split('\n');
  const out = last.lines.slice(0, head);
  for (const l of mid) out.push(ownCopy(l));
  for (let k = last.lines.length - tail; k < last.lines.length; k++) out.push(last.lines[k] as string);
  return out;
}

function countNewlines(t: string, from: number, to: number): number {
  let n = 0;
  for (let i = t.indexOf('\n', from); i >= 0 && i < to; i = t.indexOf('\n', i + 1)) n++;
  return n;
}
