import type { WatchHub } from './watch-hub.ts';

/**
 * Consul's KV semantics in memory: per-entry Create/Modify indexes taken from the shared global
 * index, check-and-set, recursive delete, and tombstones so that the index of a prefix does not go
 * backwards when its newest key is deleted (Consul keeps tombstones for the same reason).
 */

export interface KvEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly flags: number;
  readonly createIndex: number;
  readonly modifyIndex: number;
}

export class KvStore {
  readonly #entries = new Map<string, KvEntry>();
  readonly #tombstones = new Map<string, number>();
  /** Index of the last KV write (the kvs table index). */
  tableIndex = 0;

  readonly #nextIndex: () => number;
  readonly #hub: WatchHub;

  constructor(nextIndex: () => number, hub: WatchHub) {
    this.#nextIndex = nextIndex;
    this.#hub = hub;
  }

  get(key: string): KvEntry | undefined {
    return this.#entries.get(key);
  }

  /** Entries whose key starts with `prefix`, sorted by key. */
  list(prefix: string): KvEntry[] {
    const out: KvEntry[] = [];
    for (const e of this.#entries.values()) if (e.key.startsWith(prefix)) out.push(e);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** X-Consul-Index for a read of `key` (prefix=true: everything below it). Never 0. */
  indexOf(key: string, prefix: boolean): number {
    let idx = 0;
    if (prefix) {
      for (const e of this.#entries.values()) if (e.key.startsWith(key) && e.modifyIndex > idx) idx = e.modifyIndex;
      for (const [k, i] of this.#tombstones) if (k.startsWith(key) && i > idx) idx = i;
    } else {
      idx = this.#entries.get(key)?.modifyIndex ?? this.#tombstones.get(key) ?? 0;
    }
    return idx > 0 ? idx : Math.max(1, this.tableIndex);
  }

  /** PUT; `cas` undefined = unconditional, 0 = only when absent, n = only when ModifyIndex is n. */
  put(key: string, value: Buffer, flags: number, cas: number | undefined): boolean {
    const prev = this.#entries.get(key);
    if (cas !== undefined) {
      if (cas === 0 && prev) return false;
      if (cas !== 0 && prev?.modifyIndex !== cas) return false;
    }
    const idx = this.#nextIndex();
    this.#entries.set(key, { key, value, flags, createIndex: prev?.createIndex ?? idx, modifyIndex: idx });
    this.#tombstones.delete(key);
    this.#wrote(idx, [key]);
    return true;
  }

  /** DELETE; `cas` applies to a single key only (as in Consul). */
  delete(key: string, recurse: boolean, cas: number | undefined): boolean {
    if (!recurse && cas !== undefined) {
      const prev = this.#entries.get(key);
      if (cas !== 0 && prev?.modifyIndex !== cas) return false;
      if (cas === 0 && prev) return false;
    }
    const victims = recurse ? this.list(key).map((e) => e.key) : this.#entries.has(key) ? [key] : [];
    if (victims.length === 0) return true;
    const idx = this.#nextIndex();
    for (const k of victims) {
      this.#entries.delete(k);
      this.#tombstones.set(k, idx);
    }
    this.#wrote(idx, victims);
    return true;
  }

  /** Test hook companion of CatalogState.setIndex. */
  clampIndexes(max: number): void {
    for (const [k, e] of this.#entries) {
      this.#entries.set(k, {
        ...e,
        createIndex: Math.min(e.createIndex, max),
        modifyIndex: Math.min(e.modifyIndex, max),
      });
    }
    this.#tombstones.clear();
    this.tableIndex = Math.min(this.tableIndex, max);
  }

  #wrote(idx: number, keys: readonly string[]): void {
    this.tableIndex = idx;
    for (const k of keys) this.#hub.notifyKv(k);
  }
}
