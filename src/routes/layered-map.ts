/**
 * Copy-on-write maps for the incremental build (compile-hosts.ts patchHosts): a table of 50,000
 * hosts has four maps keyed by host, and a flap changes one or two entries. Copying them per build
 * (`new Map(prev)`) cost 6-16 ms each at 50,000 entries on the shared box; a layer of changes over
 * the previous table's map costs what changed. Every table stays immutable: a layer is never
 * written after it is made, and the base it reads is never written either.
 */

/** Marks a key deleted in a layer. */
export const GONE: unique symbol = Symbol('gone');

/** A layer of changes over a base map: new values, and GONE for keys deleted from the base. */
export type Layer<K, V> = Map<K, V | typeof GONE>;

/**
 * A copy of `oldTop` (the layer `prev` already has over `base`; undefined: none) with `changes`
 * applied (a value undefined: the key deleted), and the size of the map the result makes over
 * `base`. The one place layered maps (this file's, moved-chains.ts) add a layer.
 */
export function layerChanges<K, V>(
  prev: ReadonlyMap<K, V>,
  base: ReadonlyMap<K, V>,
  oldTop: ReadonlyMap<K, V | typeof GONE> | undefined,
  changes: ReadonlyMap<K, V | undefined>,
): { top: Layer<K, V>; size: number } {
  const top: Layer<K, V> = new Map(oldTop);
  let size = prev.size;
  for (const [k, v] of changes) {
    const had = prev.has(k);
    if (v === undefined) {
      if (!had) continue;
      size--;
      if (base.has(k)) top.set(k, GONE);
      else top.delete(k);
    } else {
      if (!had) size++;
      top.set(k, v);
    }
  }
  return { top, size };
}

/** The previous map plus a small layer of changes (read-only). Iteration: base order, then new keys. */
class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #top: ReadonlyMap<K, V | typeof GONE>;
  readonly size: number;

  constructor(base: ReadonlyMap<K, V>, top: ReadonlyMap<K, V | typeof GONE>, size: number) {
    this.#base = base;
    this.#top = top;
    this.size = size;
  }

  /** The base and the layer (withChanges stacks a new layer on the same base). */
  get parts(): [base: ReadonlyMap<K, V>, top: ReadonlyMap<K, V | typeof GONE>] {
    return [this.#base, this.#top];
  }

  get(k: K): V | undefined {
    const v = this.#top.get(k);
    if (v !== undefined) return v === GONE ? undefined : v;
    return this.#base.get(k);
  }

  has(k: K): boolean {
    const v = this.#top.get(k);
    if (v !== undefined) return v !== GONE;
    return this.#base.has(k);
  }

  *entries(): MapIterator<[K, V]> {
    const top = this.#top;
    for (const [k, v] of this.#base) {
      const t = top.get(k);
      if (t === undefined) yield [k, v];
      else if (t !== GONE) yield [k, t];
    }
    for (const [k, v] of top) if (v !== GONE && !this.#base.has(k)) yield [k, v];
  }

  *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
}

/**
 * `prev` with `changes` applied (a value undefined: the key deleted), without copying `prev` while
 * the changes layered on its base stay small (at most 1/8 of it, or 64); past that, one plain Map
 * (amortised: a copy every n/8 changed keys). `prev` is not modified.
 */
export function withChanges<K, V>(prev: ReadonlyMap<K, V>, changes: ReadonlyMap<K, V | undefined>): ReadonlyMap<K, V> {
  if (changes.size === 0) return prev;
  const [base, oldTop] = prev instanceof LayeredMap ? (prev as LayeredMap<K, V>).parts : [prev, undefined];
  const { top, size } = layerChanges(prev, base, oldTop, changes);
  if (top.size <= Math.max(64, base.size >>> 3)) return new LayeredMap(base, top, size);
  const flat = new Map<K, V>();
  for (const [k, v] of new LayeredMap(base, top, size)) flat.set(k, v);
  return flat;
}
