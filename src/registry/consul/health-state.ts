import {
  checkProblem,
  type HealthCheck,
  type HealthFilterOptions,
  type HealthyService,
  healthyServices,
} from './health-filter.ts';

/**
 * Incremental reading of /v1/health/state/any. At 15,000 checks the body is 4.4 MB and a health
 * change alters one check in it; a full JSON.parse (~20 ms) and a full filter pass (~20 ms) per
 * change are most of the registry's cost. Consul prints the list compactly, one object per check,
 * each starting with its "Node" key, so the body splits on the text `},{"Node":` into one piece per
 * check (that text cannot occur inside a JSON string, where `"` is escaped). A piece seen in the
 * previous body keeps its parsed object; only new pieces are parsed. When only service checks of
 * some services changed, the health filter runs for those services alone and the other services
 * keep their previous result.
 *
 * Anything unexpected (pretty-printed JSON, a piece that does not parse on its own, a key order
 * other than Consul's) falls back to JSON.parse of the whole body and a full filter pass, so the
 * result is always that of healthyServices(JSON.parse(body)).
 *
 * prepare() does not change the state: the caller applies the result (catalog reads, route text) and
 * calls commit() only when the whole answer was accepted. An answer that fails half-way therefore
 * leaves the previous body as the base, and the retry sees the same changes as fresh again.
 * Entries of the wrong shape are left out by the filter and listed in `rejected`.
 */

const HEAD = '[{"Node":';
const SEP = '},{"Node":';
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
  /** Makes this answer the base of the next incremental read. */
  commit(): void;
}

interface Base {
  readonly parts: readonly string[];
  readonly objs: readonly HealthCheck[];
  readonly healthy: ReadonlyMap<string, HealthyService>;
}

function rejectedOf(checks: readonly HealthCheck[]): string[] {
  const out: string[] = [];
  for (const c of checks) {
    const p = checkProblem(c);
    if (p !== undefined) out.push(p);
  }
  return out;
}

export class HealthState {
  readonly #opts: HealthFilterOptions;
  /** Pieces of the last body and their parsed checks, position by position. */
  #parts: readonly string[] = [];
  #objs: readonly HealthCheck[] = [];
  #healthy: ReadonlyMap<string, HealthyService> | undefined;

  constructor(opts: HealthFilterOptions) {
    this.#opts = opts;
  }

  /** Forget the previous body (index reset). */
  reset(): void {
    this.#parts = [];
    this.#objs = [];
    this.#healthy = undefined;
  }

  /** prepare() and commit at once (when nothing can fail between reading and applying). */
  read(body: string): HealthStateResult {
    const r = this.prepare(body);
    r.commit();
    return r;
  }

  /**
   * Parses a health-state body and filters it without changing the state; throws on a body that
   * is not a JSON list. The result's commit() makes it the base of the next read.
   */
  prepare(body: string): HealthStateResult {
    const split = this.#split(body);
    if (split === undefined) return this.#full(body);
    const { checks, fresh, gone, parts } = split;
    const prev = this.#healthy;
    // Services whose checks appeared, changed or went away; undefined = recompute everything.
    let touched: Set<string> | undefined = prev ? new Set() : undefined;
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
    let healthy: Map<string, HealthyService>;
    if (touched === undefined || prev === undefined) healthy = healthyServices(checks, this.#opts);
    else if (touched.size === 0) healthy = new Map(prev);
    else {
      const names = touched;
      // The node and maintenance checks still exclude instances of the touched services.
      const subset = checks.filter(
        (c) => names.has(c.ServiceName) || !c.ServiceID || String(c.CheckID).startsWith('_service_maintenance:'),
      );
      const part = healthyServices(subset, this.#opts);
      healthy = new Map(prev);
      for (const n of names) {
        const h = part.get(n);
        if (h) healthy.set(n, h);
        else healthy.delete(n);
      }
    }
    const commit = this.#committer({ parts, objs: checks, healthy });
    return { checks, healthy, mode: 'incremental', parsed: fresh.length, rejected: rejectedOf(checks), commit };
  }

  /** commit() of one read; a stale read (an older or newer one committed since) is ignored. */
  #committer(next: Base): () => void {
    const base = this.#parts;
    return () => {
      if (this.#parts !== base) return;
      this.#parts = next.parts;
      this.#objs = next.objs;
      this.#healthy = next.healthy;
    };
  }

  #full(body: string): HealthStateResult {
    const parsed = JSON.parse(body) as unknown;
    if (parsed !== null && !Array.isArray(parsed)) throw new Error('health state response is not a list');
    const checks = (parsed ?? []) as HealthCheck[];
    // The next body is lined up against this one when it splits.
    const parts = body.startsWith(HEAD) && body.endsWith('}]') ? body.slice(HEAD.length, -2).split(SEP) : [];
    const aligned = parts.length === checks.length;
    const healthy = healthyServices(checks, this.#opts);
    const commit = this.#committer({ parts: aligned ? parts : [], objs: aligned ? checks : [], healthy });
    return { checks, healthy, mode: 'full', parsed: checks.length, rejected: rejectedOf(checks), commit };
  }

  /**
   * Splits the body into check pieces and lines them up with the previous body's pieces (same
   * position, or one inserted / one removed next to it): equal pieces keep their parsed object,
   * the rest is parsed. Comparing in order costs a memcmp per piece; hashing 4.4 MB of pieces into
   * a map would cost more than the parse it saves.
   */
  #split(
    body: string,
  ): { checks: HealthCheck[]; fresh: HealthCheck[]; gone: HealthCheck[]; parts: string[] } | undefined {
    if (!body.startsWith(HEAD) || !body.endsWith('}]')) return undefined;
    const parts = body.slice(HEAD.length, -2).split(SEP);
    const prev = this.#parts;
    const objs = this.#objs;
    const checks: HealthCheck[] = new Array(parts.length);
    const fresh: HealthCheck[] = [];
    const gone: HealthCheck[] = [];
    const parse = (p: string): HealthCheck | undefined => {
      try {
        const c = JSON.parse(`{"Node":${p}}`) as HealthCheck;
        return c !== null && typeof c === 'object' ? c : undefined;
      } catch {
        return undefined;
      }
    };
    let i = 0;
    let j = 0;
    while (i < parts.length) {
      const p = parts[i] as string;
      if (j < prev.length && p === prev[j]) {
        checks[i++] = objs[j++] as HealthCheck;
        continue;
      }
      if (j + 1 < prev.length && p === prev[j + 1]) {
        gone.push(objs[j++] as HealthCheck); // prev[j] went away
        continue;
      }
      // Inserted before prev[j], or prev[j] changed into p.
      if (!(i + 1 < parts.length && parts[i + 1] === prev[j]) && j < prev.length) gone.push(objs[j++] as HealthCheck);
      const c = parse(p);
      if (c === undefined || fresh.length > MAX_FRESH) return undefined;
      fresh.push(c);
      checks[i++] = c;
    }
    while (j < prev.length) gone.push(objs[j++] as HealthCheck);
    return { checks, fresh, gone, parts };
  }
}
