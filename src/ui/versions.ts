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
 * Memory: the newest version's text is the live table's own source (nothing copied); each older
 * version is kept as how to make its text from the next one's: the characters the two texts share
 * at the start and at the end (whole lines, `commonLines`) and a copy of its own middle. A typical
 * change touches a few lines of thousands, so a version costs its few changed lines. At most
 * `limit` versions and `maxChars` characters of kept middles are kept, the oldest dropped first
 * (dropping the oldest needs nothing else: it is the end of the chain).
 *
 * Per swap this costs the texts' common prefix and suffix (memcmp-like) and a copy of the changed
 * middle. Splitting and interning every line through a map cost 55-85 ms per swap at 50,000 × 3;
 * an array of every line per version (sharing the line strings) then still cost 1.2 MB and a scan
 * of every newline per swap, on the primary (bench/README.md, "Propagation, third session").
 * Reading an old version (explain) walks the chain from the newest text as a list of slices and
 * joins them once.
 */

/** An older version: its text = the next version's first `start` characters + `mid` + its last `end`. */
interface Delta {
  readonly start: number;
  readonly end: number;
  readonly mid: string;
}

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
  readonly #maxChars: number;
  /** Version of the store's current table (0: none yet). */
  #current = 0;
  #swappedSinceTag = false;
  /** version → how to make its text from the next version's, oldest first; the newest: #last. */
  readonly #texts = new Map<number, Delta | undefined>();
  /** The newest kept version's text (the live table's source). */
  #last: string | undefined;
  /** Characters of the kept middles. */
  #chars = 0;
  readonly #tags = new WeakMap<HistoryEntry, VersionTag>();
  /** One rebuilt table (the last asked for): repeated explains against it build once. */
  #cached: { version: number; table: Table } | undefined;

  constructor(opts: { limit?: number; maxChars?: number } = {}) {
    this.#limit = opts.limit ?? 101;
    this.#maxChars = opts.maxChars ?? 64 * 2 ** 20;
  }

  get current(): number {
    return this.#current;
  }

  /** Characters of the older versions' kept middles (tests: a version keeps what it changed). */
  get keptChars(): number {
    return this.#chars;
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
    if (!this.#texts.has(version) || this.#last === undefined) return undefined;
    // slices of the newest text and of the middles, one delta after the other back to `version`
    let pieces = [this.#last];
    let len = this.#last.length;
    for (let v = this.#current - 1; v >= version; v--) {
      const d = this.#texts.get(v) as Delta;
      pieces = [...slicePieces(pieces, 0, d.start), d.mid, ...slicePieces(pieces, len - d.end, len)];
      len = d.start + d.mid.length + d.end;
    }
    return pieces.join('');
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
    const last = this.#last;
    if (last !== undefined && this.#texts.has(version - 1)) {
      const { start, end } = commonLines(last, source);
      const mid = ownCopy(last.slice(start, last.length - end));
      this.#texts.set(version - 1, { start, end, mid });
      this.#chars += mid.length;
    }
    this.#last = source;
    this.#texts.set(version, undefined);
    this.#prune([]);
  }

  /** Drops the oldest texts beyond the limits, and those older than what the history still shows. */
  #prune(history: readonly HistoryEntry[]): void {
    let oldest = this.#current;
    for (const e of history) {
      const t = this.#tags.get(e);
      if (t) oldest = Math.min(oldest, t.before ?? t.version);
    }
    for (const [v, d] of this.#texts) {
      const over = this.#texts.size > this.#limit || this.#chars > this.#maxChars;
      if (v === this.#current || (!over && (history.length === 0 || v >= oldest))) break;
      this.#texts.delete(v);
      this.#chars -= d?.mid.length ?? 0;
      if (this.#cached?.version === v) this.#cached = undefined;
    }
  }
}

/** The characters [from, to) of the text the pieces make, as slices of the pieces (no copy). */
function slicePieces(pieces: readonly string[], from: number, to: number): string[] {
  const out: string[] = [];
  let at = 0;
  for (const p of pieces) {
    const s = Math.max(from, at);
    const e = Math.min(to, at + p.length);
    if (s < e) out.push(s === at && e === at + p.length ? p : p.slice(s - at, e - at));
    at += p.length;
    if (at >= to) break;
  }
  return out;
}
