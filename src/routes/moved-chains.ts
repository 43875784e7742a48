import type { Chain } from './build-memo.ts';
import { GONE, type Layer, layerChanges } from './layered-map.ts';

/**
 * The host chains of a line index carried through text edits (line-edit.ts), without touching the
 * chains of the hosts an edit did not touch. An edit shifts the positions of every line after it,
 * so every host below the edited stretch had a new head and tail: at 50,000 hosts that was a copy
 * of the whole host map and ~25,000 new chain objects per build, 6-30 ms of each process's build
 * per catalog change (docs/design.md, "Propagation at 50,000 services").
 *
 * Here each index's map is the previous one's plus a small layer of the chains the edit made (the
 * touched and revisited hosts), and a chain keeps the generation of the index it was made in. A
 * chain read from an older generation is moved to this one on the way out (`get`), through each
 * later edit's kept runs; an untouched host has only kept lines, so its head and tail always move.
 * Every MAX_GENERATIONS edits, or when the layer outgrows 1/8 of the map, the map is made flat
 * again, every chain moved (the old cost, once in that many builds).
 *
 * Like the tables, nothing here is written after the build that made it, with one exception the
 * build relies on: the build that made the map deletes hosts that lost all their routes, and sets
 * `pinned` on chains of this generation (which are its own objects, never shared with an older map).
 */

/** Edits carried before the map is made flat again. */
const MAX_GENERATIONS = 32;

/**
 * How one edit moved the previous index's lines: triples (from, to, d), ascending, not overlapping:
 * old lines [from, to) are now at from + d .. to + d. A line in no run was removed.
 */
export type Moves = Int32Array;

/** Where old line `pos` is after `moves`; -1 when it was removed. */
function moveLine(moves: Moves, pos: number): number {
  let lo = 0;
  let hi = moves.length / 3;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((moves[mid * 3 + 1] as number) <= pos) lo = mid + 1;
    else hi = mid;
  }
  const k = lo * 3;
  return k < moves.length && (moves[k] as number) <= pos ? pos + (moves[k + 2] as number) : -1;
}

const genOf = (c: Chain): number => c.gen ?? 0;

export class MovedChains implements ReadonlyMap<string, Chain> {
  /** A flat map whose chains are all of generation #baseGen. */
  readonly #base: ReadonlyMap<string, Chain>;
  readonly #baseGen: number;
  /** Chains made after the base (of later generations), and hosts deleted since. */
  readonly #top: Layer<string, Chain>;
  /** The moves of generations #baseGen + 1 .. gen, in order. */
  readonly #moves: readonly Moves[];
  /** This map's generation: its index's. */
  readonly gen: number;
  #size: number;

  private constructor(
    base: ReadonlyMap<string, Chain>,
    baseGen: number,
    top: Layer<string, Chain>,
    moves: readonly Moves[],
    size: number,
  ) {
    this.#base = base;
    this.#baseGen = baseGen;
    this.#top = top;
    this.#moves = moves;
    this.gen = baseGen + moves.length;
    this.#size = size;
  }

  /**
   * The chains of the next generation: `prev` (the previous index's, of generation `prevGen`) with
   * its lines moved by `moves`, and `changes` (chains of the new generation, or undefined for a host
   * that is gone) over it. `prev` is not modified.
   */
  static next(
    prev: ReadonlyMap<string, Chain>,
    prevGen: number,
    moves: Moves,
    changes: ReadonlyMap<string, Chain | undefined>,
  ): ReadonlyMap<string, Chain> & { delete(h: string): boolean } {
    const layered = prev instanceof MovedChains;
    const base = layered ? prev.#base : prev;
    const { top, size } = layerChanges(prev, base, layered ? prev.#top : undefined, changes);
    const next = new MovedChains(
      base,
      layered ? prev.#baseGen : prevGen,
      top,
      layered ? [...prev.#moves, moves] : [moves],
      size,
    );
    if (next.#moves.length < MAX_GENERATIONS && top.size <= Math.max(64, base.size >>> 3)) return next;
    // flat again: a plain map of this generation's chains (the next edit's base)
    const flat = new Map<string, Chain>();
    for (const [h, c] of next) flat.set(h, c);
    return new MovedChains(flat, next.gen, new Map(), [], flat.size);
  }

  get size(): number {
    return this.#size;
  }

  /** Chain `c` (of an older generation) moved to this one. */
  #moved(c: Chain): Chain {
    const from = genOf(c);
    if (from === this.gen) return c;
    let head = c.head;
    let tail = c.tail;
    for (let g = from + 1; g <= this.gen; g++) {
      const m = this.#moves[g - this.#baseGen - 1] as Moves;
      head = moveLine(m, head);
      tail = moveLine(m, tail);
    }
    // never expected: a chain of a host no edit touched has only kept lines
    if (head < 0 || tail < 0) throw new Error('line index: a carried host chain lost a line');
    return { head, tail, count: c.count, pinned: c.pinned, gen: this.gen };
  }

  #raw(h: string): Chain | undefined {
    const t = this.#top.get(h);
    if (t !== undefined) return t === GONE ? undefined : t;
    return this.#base.get(h);
  }

  get(h: string): Chain | undefined {
    const c = this.#raw(h);
    return c === undefined ? undefined : this.#moved(c);
  }

  has(h: string): boolean {
    const t = this.#top.get(h);
    if (t !== undefined) return t !== GONE;
    return this.#base.has(h);
  }

  /** Deletes a host (the build that made this map only: see the comment at the top). */
  delete(h: string): boolean {
    if (!this.has(h)) return false;
    if (this.#base.has(h)) this.#top.set(h, GONE);
    else this.#top.delete(h);
    this.#size--;
    return true;
  }

  *keys(): MapIterator<string> {
    const top = this.#top;
    for (const h of this.#base.keys()) if (top.get(h) !== GONE) yield h;
    for (const [h, t] of top) if (t !== GONE && !this.#base.has(h)) yield h;
  }

  *entries(): MapIterator<[string, Chain]> {
    for (const h of this.keys()) yield [h, this.get(h) as Chain];
  }

  *values(): MapIterator<Chain> {
    for (const h of this.keys()) yield this.get(h) as Chain;
  }

  [Symbol.iterator](): MapIterator<[string, Chain]> {
    return this.entries();
  }

  forEach(fn: (value: Chain, key: string, map: ReadonlyMap<string, Chain>) => void, thisArg?: unknown): void {
    for (const [h, c] of this.entries()) fn.call(thisArg, c, h, this);
  }
}
