import type { Table } from './types.ts';

/**
 * Holds the current routing table. A swap replaces one reference, so a reader sees either the old
 * or the new table, never a half-built one. Readers take `current` once per request or connection.
 * Pure: no I/O; listeners subscribe to learn about swaps (tcp-dynamic opens ports from it).
 */
export class TableStore {
  #current: Table | undefined;
  #listeners = new Set<(t: Table, prev: Table | undefined) => void>();

  /** The live table, or undefined before the first table arrived. // hot path */
  get current(): Table | undefined {
    return this.#current;
  }

  swap(table: Table): void {
    const prev = this.#current;
    this.#current = table;
    for (const fn of this.#listeners) fn(table, prev);
  }

  /** Called after every swap; returns an unsubscribe function. */
  onSwap(fn: (t: Table, prev: Table | undefined) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}
