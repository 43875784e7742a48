import type { HistoryEntry } from '../registry/types.ts';
import { ownCopy } from '../routes/build-memo.ts';

/**
 * The lines of a history entry as strings of their own (ownCopy), unless they are most of `text`,
 * the route text they were cut from. A line cut from a text is a slice that keeps the whole text
 * alive: at 50,000 services × 3 each one-line entry of the history held a route text of 11.4 MB,
 * up to 100 of them. Lines that are most of their text (the first table, a resync) stay slices:
 * the text is then little more than the lines, and copies would cost more.
 */
export function ownLines(lines: readonly string[], text: string): readonly string[] {
  let n = 0;
  for (const l of lines) n += l.length + 1;
  return 2 * n >= text.length ? lines : lines.map(ownCopy);
}

/** The last `limit` table changes, oldest first (for /api/routes/history and the UI). */
export class History {
  readonly #limit: number;
  #entries: HistoryEntry[] = [];

  constructor(limit = 100) {
    this.#limit = limit;
  }

  add(entry: HistoryEntry): void {
    this.#entries.push(
      Object.freeze({
        ...entry,
        added: Object.freeze([...entry.added]),
        removed: Object.freeze([...entry.removed]),
        ...(entry.outlier !== undefined ? { outlier: Object.freeze({ ...entry.outlier }) } : {}),
      }),
    );
    if (this.#entries.length > this.#limit) this.#entries.splice(0, this.#entries.length - this.#limit);
  }

  /** A copy, oldest first. */
  entries(): HistoryEntry[] {
    return [...this.#entries];
  }

  get size(): number {
    return this.#entries.length;
  }
}
