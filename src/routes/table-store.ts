import type { Table } from './types.ts';

/**
 * Holds the current routing table. A swap replaces one reference, so a reader sees either the old
 * or the new table, never a half-built one. Readers take `current` once per request or connection.
 * No I/O of its own; listeners subscribe to learn about swaps (tcp-dynamic opens ports from it).
 * Subscribers are isolated: one that throws does not stop the others, and what it threw comes back
 * from `swap` as a value for the caller to report (src/routes does not log).
 */
export class TableStore {
  #current: Table | undefined;
  #listeners = new Set<(t: Table, prev: Table | undefined) => void>();
  /** Called before the others (onSwap's `first`). */
  #firsts = new Set<(t: Table, prev: Table | undefined) => void>();

  /** The live table, or undefined before the first table arrived. // hot path */
  get current(): Table | undefined {
    return this.#current;
  }

  /**
   * Makes `table` the live table, then calls every subscriber in subscription order (those that
   * asked to be first before the others). Returns what the subscribers that failed threw (empty
   * when none did); the swap itself has happened either way.
   */
  swap(table: Table): unknown[] {
    const prev = this.#current;
    this.#current = table;
    const failures: unknown[] = [];
    for (const set of [this.#firsts, this.#listeners])
      for (const fn of set) {
        try {
          fn(table, prev);
        } catch (err) {
          failures.push(err);
        }
      }
    return failures;
  }

  /**
   * Called after every swap; returns an unsubscribe function. `first`: before the subscribers
   * without it (the primary's relay to its workers, so that the table versions and history kept
   * for the admin UI do not delay the workers' swap).
   */
  onSwap(fn: (t: Table, prev: Table | undefined) => void, opts: { first?: boolean } = {}): () => void {
    const set = opts.first ? this.#firsts : this.#listeners;
    set.add(fn);
    return () => set.delete(fn);
  }
}
