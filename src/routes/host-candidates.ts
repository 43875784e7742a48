import type { HostEntry } from './compiled.ts';
import { isGlob } from './glob.ts';
import { normalizeHost } from './host-order.ts';

/**
 * The host keys a normalised request host matches, most specific first (section (n): exact key,
 * then every glob key that matches, ordered by specificity rank; host-less routes are not here).
 *
 * Cost per request host:
 * - no glob hosts in the table: one Map hit, nothing cached (a flood of random Host values
 *   costs O(1) each and no memory).
 * - glob hosts: `*.suffix` patterns (the usual form) are found by a Map lookup per `.` in the
 *   request host; only other globs (`a*.b.com`, `{x,y}.com`, `[ab].com`, ...) are tried one by
 *   one. The answer is memoised per host in two bounded generations (entries and key bytes), so
 *   repeated hosts are one Map hit and a flood of distinct hosts cannot grow memory without
 *   bound; the worst case for a first-seen host is O(dots) suffix probes + O(other globs) regex
 *   tests.
 */

const NONE: readonly HostEntry[] = Object.freeze([]);

/** Bounds of one memo generation; two generations are kept (see #remember). */
export const MEMO_MAX_ENTRIES = 4096;
const MEMO_MAX_BYTES = 256 * 1024;
/** Hosts longer than this (DNS names are at most 253 characters, plus a port) are not memoised. */
export const MEMO_MAX_KEY = 300;

class GlobIndex {
  /** `*.suffix` patterns by their literal suffix (with the leading dot). */
  readonly bySuffix = new Map<string, HostEntry[]>();
  /** Every other glob, most specific first. */
  readonly other: HostEntry[] = [];

  constructor(globs: readonly HostEntry[], tls: boolean) {
    for (const g of globs) {
      const p = normalizeHost(g.key, tls);
      let i = 0;
      while (p.charCodeAt(i) === 42) i++; // '*' (a run of stars is one star in gobwas)
      const rest = p.slice(i);
      if (i > 0 && rest.startsWith('.') && !isGlob(rest)) {
        const l = this.bySuffix.get(rest);
        if (l === undefined) this.bySuffix.set(rest, [g]);
        else l.push(g);
      } else this.other.push(g);
    }
  }
}

/** Host → candidates memo in two bounded generations (entries and key bytes). */
class Memo {
  // lookups hit #young, then #old (promoting); when #young is full it becomes #old and the
  // previous #old is dropped, so memory stays within two generations and hot hosts survive
  #young = new Map<string, readonly HostEntry[]>();
  #old = new Map<string, readonly HostEntry[]>();
  #youngBytes = 0;

  get(host: string): readonly HostEntry[] | undefined {
    const c = this.#young.get(host);
    if (c !== undefined) return c;
    const o = this.#old.get(host);
    if (o !== undefined) this.set(host, o);
    return o;
  }

  set(host: string, c: readonly HostEntry[]): void {
    if (host.length > MEMO_MAX_KEY) return;
    if (this.#young.size >= MEMO_MAX_ENTRIES || this.#youngBytes >= MEMO_MAX_BYTES) {
      this.#old = this.#young;
      this.#young = new Map();
      this.#youngBytes = 0;
    }
    this.#young.set(host, c);
    this.#youngBytes += host.length;
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }
}

export class HostCandidates {
  readonly #exactPlain: ReadonlyMap<string, readonly HostEntry[]>;
  readonly #exactTls: ReadonlyMap<string, readonly HostEntry[]>;
  readonly #hasGlobs: boolean;
  readonly #plain: GlobIndex | undefined;
  readonly #tls: GlobIndex | undefined;
  readonly #memoPlain = new Memo();
  readonly #memoTls = new Memo();

  constructor(
    exactPlain: ReadonlyMap<string, readonly HostEntry[]>,
    exactTls: ReadonlyMap<string, readonly HostEntry[]>,
    globs: readonly HostEntry[],
  ) {
    this.#exactPlain = exactPlain;
    this.#exactTls = exactTls;
    this.#hasGlobs = globs.length > 0;
    if (this.#hasGlobs) {
      this.#plain = new GlobIndex(globs, false);
      this.#tls = new GlobIndex(globs, true);
    }
  }

  /** Matching host keys for a normalised (lower-case, port-stripped) host. // hot path */
  get(host: string, tls: boolean): readonly HostEntry[] {
    if (!this.#hasGlobs) return (tls ? this.#exactTls : this.#exactPlain).get(host) ?? NONE;
    const memo = tls ? this.#memoTls : this.#memoPlain;
    let c = memo.get(host);
    if (c === undefined) {
      c = this.#compute(host, tls);
      memo.set(host, c);
    }
    return c;
  }

  /** Number of memoised hosts (plain and TLS, both generations), for tests. */
  get memoSize(): number {
    return this.#memoPlain.size + this.#memoTls.size;
  }

  #compute(host: string, tls: boolean): readonly HostEntry[] {
    const exact = (tls ? this.#exactTls : this.#exactPlain).get(host) ?? NONE;
    const ix = (tls ? this.#tls : this.#plain) as GlobIndex;
    let out: HostEntry[] | undefined;
    if (ix.bySuffix.size > 0) {
      for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) {
        const hit = ix.bySuffix.get(host.slice(i));
        if (hit !== undefined) {
          out ??= [...exact];
          for (const g of hit) out.push(g);
        }
      }
    }
    for (const g of ix.other) {
      const m = tls ? g.matchTls : g.matchPlain;
      if (m?.(host)) {
        out ??= [...exact];
        out.push(g);
      }
    }
    if (out === undefined) return exact;
    return Object.freeze(out.sort((a, b) => a.rank - b.rank));
  }
}
