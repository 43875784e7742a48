import { withChanges } from '../../routes/index.ts';
import {
  checkProblem,
  type HealthCheck,
  type HealthFilterOptions,
  type HealthyService,
  healthyServices,
  sameStrings,
} from './health-filter.ts';

/**
 * Incremental reading of /v1/health/state/any, on the bytes of the answer. At 150,000 checks
 * (50,000 services × 3) the body is 44 MB and a health change alters one check in it; decoding it
 * into a string, JSON.parse (~20 ms per 15,000 checks) and a full filter pass per change would be
 * most of the registry's cost. Consul prints the list compactly, one object per check, each starting
 * with its "Node" key, so the body splits on the bytes `},{"Node":` into one piece per check (that
 * text cannot occur inside a JSON string, where `"` is escaped).
 *
 * A new body is lined up against the previous one by its longest common prefix and suffix (found by
 * a binary search of native memcmp over the buffers, no per-piece work): pieces wholly inside them
 * are the previous pieces, at the same offsets or shifted by the length difference, and keep their
 * parsed objects. Only the bytes in between are searched for piece boundaries, decoded and parsed.
 * When only service checks of some services changed, the health filter runs for those services
 * alone and the other services keep their previous result.
 *
 * Anything unexpected (pretty-printed JSON, a piece that does not parse on its own, a key order
 * other than Consul's, more than MAX_FRESH changed pieces) falls back to a full read and a full
 * filter pass, so the result is always that of healthyServices(JSON.parse(body)). A full read of a
 * compact body parses it in batches of pieces (parseLean), else the whole body at once. Only a lean
 * copy of each check is kept (Leaner).
 *
 * prepare() does not change the state: the caller applies the result (catalog reads, route text) and
 * calls commit() only when the whole answer was accepted. An answer that fails half-way therefore
 * leaves the previous body as the base, and the retry sees the same changes as fresh again.
 * Entries of the wrong shape are left out by the filter and listed in `rejected`.
 */

const HEAD = Buffer.from('[{"Node":');
const SEP = Buffer.from('},{"Node":');
const TAIL = Buffer.from('}]');
/** Beyond this many changed pieces one JSON.parse of the whole body is cheaper (first read, resync). */
const MAX_FRESH = 2000;

export interface HealthStateResult {
  readonly checks: readonly HealthCheck[];
  readonly healthy: ReadonlyMap<string, HealthyService>;
  /** How the body was read (tests and the benchmark). */
  readonly mode: 'full' | 'incremental';
  /** Pieces parsed this time (all of them on a full read). */
  readonly parsed: number;
  /** Malformed entries, one description each (ignored by the filter). */
  readonly rejected: readonly string[];
  /**
   * The services whose entry in `healthy` may differ from the base's (the last committed answer):
   * their checks appeared, changed or went away. Undefined: any may (a full read, or a node or
   * maintenance check changed).
   */
  readonly changed?: ReadonlySet<string> | undefined;
  /** Makes this answer the base of the next incremental read. */
  commit(): void;
}

/**
 * The pieces of one body: piece k is the bytes [starts[k], ends[k]) of `bytes`, the text between
 * `{"Node":` and the `}` that closes the check (both excluded), its parsed object objs[k].
 */
interface Base {
  readonly bytes: Buffer;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly objs: readonly HealthCheck[];
  readonly healthy: ReadonlyMap<string, HealthyService>;
  readonly rejected: readonly string[];
}

const EMPTY = Buffer.alloc(0);
const NONE: Base = {
  bytes: EMPTY,
  starts: new Int32Array(0),
  ends: new Int32Array(0),
  objs: [],
  healthy: new Map(),
  rejected: [],
};

function rejectedOf(checks: readonly HealthCheck[]): string[] {
  const out: string[] = [];
  for (const c of checks) {
    const p = checkProblem(c);
    if (p !== undefined) out.push(p);
  }
  return out;
}

const toBytes = (body: string | Uint8Array): Buffer =>
  typeof body === 'string'
    ? Buffer.from(body)
    : Buffer.isBuffer(body)
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength);

/** Whether a body has Consul's compact shape `[{"Node":…}]` (the only one read incrementally). */
const compact = (b: Buffer): boolean =>
  b.length >= HEAD.length + TAIL.length &&
  b.compare(HEAD, 0, HEAD.length, 0, HEAD.length) === 0 &&
  b.compare(TAIL, 0, TAIL.length, b.length - TAIL.length) === 0;

/** Length of the longest common prefix of a and b (binary search over memcmp of growing ranges). */
function commonPrefix(a: Buffer, b: Buffer): number {
  let lo = 0;
  let hi = Math.min(a.length, b.length);
  if (a.compare(b, 0, hi, 0, hi) === 0) return hi;
  // invariant: [0, lo) equal, [0, hi) not
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (a.compare(b, lo, mid, lo, mid) === 0) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Length of the longest common suffix of a and b, at most `max`. */
function commonSuffix(a: Buffer, b: Buffer, max: number): number {
  const la = a.length;
  const lb = b.length;
  let lo = 0;
  let hi = max;
  if (a.compare(b, lb - hi, lb, la - hi, la) === 0) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (a.compare(b, lb - mid, lb - lo, la - mid, la - lo) === 0) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Piece boundaries of bytes [from, to) (from = just after a `{"Node":`, to = at a `}` that ends a check). */
function pieces(b: Buffer, from: number, to: number, starts: number[], ends: number[]): void {
  let s = from;
  for (;;) {
    const at = b.indexOf(SEP, s);
    if (at < 0 || at >= to) break;
    starts.push(s);
    ends.push(at);
    s = at + SEP.length;
  }
  starts.push(s);
  ends.push(to);
}

function parsePiece(b: Buffer, s: number, e: number): HealthCheck | undefined {
  try {
    const c = JSON.parse(`{"Node":${b.toString('utf8', s, e)}}`) as HealthCheck;
    return c !== null && typeof c === 'object' && !Array.isArray(c) ? c : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What is kept of a parsed check until the next answer: the six fields the filter reads
 * (HealthCheck), not Name, Notes, Output, Definition, the indexes, ... (at 150,000 checks the whole
 * objects were ~4 times the heap). A value equal to the previous check's (node, status, service
 * name, tags: consecutive checks are mostly of one service on one node) is that check's, so the
 * checks of a service share one frozen tags list. A malformed entry is kept whole: checkProblem
 * sees it again for `rejected` and words it as before.
 */
class Leaner {
  #last: HealthCheck | undefined;

  /** `seed`: the check before the first one given (an already lean check, or nothing). */
  constructor(seed?: HealthCheck) {
    if (seed !== undefined && checkProblem(seed) === undefined) this.#last = seed;
  }

  of(raw: HealthCheck): HealthCheck {
    if (checkProblem(raw) !== undefined) return raw;
    const l = this.#last;
    const tags = raw.ServiceTags;
    const lean: HealthCheck = {
      Node: l !== undefined && l.Node === raw.Node ? l.Node : raw.Node,
      CheckID: raw.CheckID,
      Status: l !== undefined && l.Status === raw.Status ? l.Status : raw.Status,
      ServiceID: raw.ServiceID,
      ServiceName: l !== undefined && l.ServiceName === raw.ServiceName ? l.ServiceName : raw.ServiceName,
      ServiceTags:
        tags == null
          ? tags
          : l?.ServiceTags != null && sameStrings(l.ServiceTags, tags)
            ? l.ServiceTags
            : Object.freeze(tags),
    };
    this.#last = lean;
    return lean;
  }
}

/** Pieces per JSON.parse of a whole compact body: its checks never all exist as whole objects at once. */
const BATCH = 1024;

/**
 * The checks of a compact body, parsed BATCH pieces at a time (one list each: the bytes from a
 * piece's start to a later piece's end, between `[{"Node":` and `}]`) and made lean. When every
 * batch is a list, the lists together are the body's list (the batches are the body's list cut at
 * `,` between two elements). Undefined when a batch does not parse (a cut inside a check, where
 * `},{"Node":` was part of a nested list, or bad JSON: the caller parses the whole body).
 */
function parseLean(b: Buffer, starts: readonly number[], ends: readonly number[]): HealthCheck[] | undefined {
  const out: HealthCheck[] = [];
  const leaner = new Leaner();
  for (let i = 0; i < starts.length; i += BATCH) {
    const last = Math.min(starts.length, i + BATCH) - 1;
    let list: unknown;
    try {
      list = JSON.parse(`[{"Node":${b.toString('utf8', starts[i], ends[last])}}]`);
    } catch {
      return undefined;
    }
    for (const c of list as HealthCheck[]) out.push(leaner.of(c));
  }
  return out;
}

export class HealthState {
  readonly #opts: HealthFilterOptions;
  #base: Base = { ...NONE };

  constructor(opts: HealthFilterOptions) {
    this.#opts = opts;
  }

  /** Forget the previous body (index reset). */
  reset(): void {
    // a new object: a read prepared before the reset cannot commit after it
    this.#base = { ...NONE };
  }

  /** prepare() and commit at once (when nothing can fail between reading and applying). */
  read(body: string | Uint8Array): HealthStateResult {
    const r = this.prepare(body);
    r.commit();
    return r;
  }

  /**
   * Parses a health-state body (its bytes, or text) and filters it without changing the state;
   * throws on a body that is not a JSON list. The result's commit() makes it the base of the next read.
   */
  prepare(body: string | Uint8Array): HealthStateResult {
    const bytes = toBytes(body);
    const prev = this.#base;
    const split = compact(bytes) ? this.#split(bytes, prev) : undefined;
    if (split === undefined) return this.#full(bytes);
    const { checks, fresh, gone, starts, ends } = split;
    // Services whose checks appeared, changed or went away; undefined = recompute everything.
    let touched: Set<string> | undefined = prev.objs.length > 0 ? new Set() : undefined;
    const mark = (c: HealthCheck) => {
      if (touched === undefined) return;
      const sid = typeof c.ServiceID === 'string' ? c.ServiceID : '';
      // Node checks and maintenance checks change the health of other services: full pass.
      if (sid === '' || String(c.CheckID).startsWith('_service_maintenance:') || typeof c.ServiceName !== 'string')
        touched = undefined;
      else touched.add(c.ServiceName);
    };
    for (const c of fresh) mark(c);
    for (const c of gone) mark(c);
    let healthy: ReadonlyMap<string, HealthyService>;
    if (touched === undefined) healthy = healthyServices(checks, this.#opts);
    else if (touched.size === 0) healthy = prev.healthy;
    else {
      const names: Set<string> = touched;
      // The node and maintenance checks still exclude instances of the touched services.
      const subset = checks.filter(
        (c) => names.has(c.ServiceName) || !c.ServiceID || String(c.CheckID).startsWith('_service_maintenance:'),
      );
      const part = healthyServices(subset, this.#opts);
      // the previous map with a layer of the touched services (routes/layered-map.ts), not a copy
      // of 50,000 entries per flap; neither map is written afterwards
      const changes = new Map<string, HealthyService | undefined>();
      for (const n of names) changes.set(n, part.get(n));
      healthy = withChanges(prev.healthy, changes);
    }
    // Malformed entries: unchanged unless a changed piece is (or was) one.
    const odd = (c: HealthCheck) => checkProblem(c) !== undefined;
    const rejected = fresh.some(odd) || gone.some(odd) ? rejectedOf(checks) : prev.rejected;
    const commit = this.#committer({ bytes, starts, ends, objs: checks, healthy, rejected });
    return { checks, healthy, mode: 'incremental', parsed: fresh.length, rejected, changed: touched, commit };
  }

  /** commit() of one read; a stale read (an older or newer one committed since) is ignored. */
  #committer(next: Base): () => void {
    const base = this.#base;
    return () => {
      if (this.#base !== base) return;
      this.#base = next;
    };
  }

  #full(bytes: Buffer): HealthStateResult {
    // The next body is lined up against this one when it splits into as many pieces as it has checks.
    const starts: number[] = [];
    const ends: number[] = [];
    if (compact(bytes)) pieces(bytes, HEAD.length, bytes.length - TAIL.length, starts, ends);
    let checks = starts.length > 0 ? parseLean(bytes, starts, ends) : undefined;
    if (checks === undefined) {
      const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
      if (parsed !== null && !Array.isArray(parsed)) throw new Error('health state response is not a list');
      const leaner = new Leaner();
      checks = ((parsed ?? []) as HealthCheck[]).map((c) => leaner.of(c));
    }
    const aligned = checks.length > 0 && starts.length === checks.length;
    const healthy = healthyServices(checks, this.#opts);
    const rejected = rejectedOf(checks);
    const commit = this.#committer(
      aligned
        ? { bytes, starts: Int32Array.from(starts), ends: Int32Array.from(ends), objs: checks, healthy, rejected }
        : { ...NONE, healthy, rejected },
    );
    return { checks, healthy, mode: 'full', parsed: checks.length, rejected, commit };
  }

  /**
   * Lines the body up with the previous one (common prefix and suffix); the pieces in between are
   * parsed. Undefined when a piece does not parse on its own or too many changed (full read).
   */
  #split(
    b: Buffer,
    prev: Base,
  ):
    | { checks: HealthCheck[]; fresh: HealthCheck[]; gone: HealthCheck[]; starts: Int32Array; ends: Int32Array }
    | undefined {
    const p = prev.bytes;
    const n = prev.starts.length;
    const pre = commonPrefix(p, b);
    // Previous pieces [0, lo) end, with the delimiter after them (`},{"Node":`, or `}]` after the
    // last one), inside the common prefix.
    let lo = 0;
    while (lo < n && (prev.ends[lo] as number) + (lo === n - 1 ? TAIL.length : SEP.length) <= pre) lo++;
    // The common suffix may begin at the delimiter before piece lo (both regions share it): a piece
    // removed after piece lo-1 leaves the next one's delimiter where the removed one's was.
    const cut = lo < n ? (prev.starts[lo] as number) - (lo === 0 ? HEAD.length : SEP.length) : pre;
    const suf = commonSuffix(p, b, Math.max(0, Math.min(p.length, b.length) - cut));
    const delta = b.length - p.length;
    // Previous pieces [hi, n) start, with the delimiter before them, inside the common suffix.
    let hi = n;
    while (hi > lo && (prev.starts[hi - 1] as number) - (hi === 1 ? HEAD.length : SEP.length) >= p.length - suf) hi--;
    // The changed region of the new body: from the start of old piece lo to the end of old piece
    // hi-1, both moved to the new body (start unchanged, end shifted).
    const from = lo < n ? (prev.starts[lo] as number) : b.length - TAIL.length;
    const to = hi > 0 ? (prev.ends[hi - 1] as number) + delta : HEAD.length;
    const midStarts: number[] = [];
    const midEnds: number[] = [];
    if (lo === hi) {
      // nothing changed in the previous pieces; anything in between is inserted pieces (or nothing)
      if (delta !== 0) {
        // inserted after piece lo-1 (or at the front): bytes [from', to') of the new body
        const s = lo > 0 ? (prev.ends[lo - 1] as number) + SEP.length : HEAD.length;
        const e = lo < n ? (prev.starts[lo] as number) + delta - SEP.length : b.length - TAIL.length;
        if (e < s) return undefined;
        pieces(b, s, e, midStarts, midEnds);
      }
    } else if (to + SEP.length !== from) {
      // (to + SEP.length === from: pieces were only removed, nothing new in between)
      if (to < from) return undefined;
      pieces(b, from, to, midStarts, midEnds);
    }
    if (midStarts.length > MAX_FRESH) return undefined;
    const fresh: HealthCheck[] = [];
    const leaner = new Leaner(lo > 0 ? prev.objs[lo - 1] : undefined);
    for (let k = 0; k < midStarts.length; k++) {
      const c = parsePiece(b, midStarts[k] as number, midEnds[k] as number);
      if (c === undefined) return undefined;
      fresh.push(leaner.of(c));
    }
    const gone = prev.objs.slice(lo, hi);
    const total = lo + fresh.length + (n - hi);
    const checks: HealthCheck[] = new Array(total);
    const starts = new Int32Array(total);
    const ends = new Int32Array(total);
    for (let k = 0; k < lo; k++) checks[k] = prev.objs[k] as HealthCheck;
    starts.set(prev.starts.subarray(0, lo), 0);
    ends.set(prev.ends.subarray(0, lo), 0);
    for (let k = 0; k < fresh.length; k++) {
      checks[lo + k] = fresh[k] as HealthCheck;
      starts[lo + k] = midStarts[k] as number;
      ends[lo + k] = midEnds[k] as number;
    }
    const at = lo + fresh.length;
    for (let k = hi; k < n; k++) {
      checks[at + k - hi] = prev.objs[k] as HealthCheck;
      starts[at + k - hi] = (prev.starts[k] as number) + delta;
      ends[at + k - hi] = (prev.ends[k] as number) + delta;
    }
    return { checks, fresh, gone, starts, ends };
  }
}
