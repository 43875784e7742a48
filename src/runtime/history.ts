import type { HistoryEntry } from '../registry/types.ts';

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
