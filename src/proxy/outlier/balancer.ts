import type { Config } from '../../config/types.ts';
import type { Logger } from '../../log/logger.ts';
import type { Metrics } from '../../metrics/types.ts';
import { pickP2c, pickWeighted, skipEjected } from '../../routes/pick.ts';
import type { LookupResult, Route, Target } from '../../routes/types.ts';

/**
 * The per-target state the frozen table cannot hold (docs/design.md, "Retries, outlier ejection
 * and p2c"): consecutive failures and ejections (passive outlier detection), outstanding requests
 * (p2c) and each route's retry budget. Keyed by Target.key, which is stable across table builds,
 * so a rebuild neither forgives an ejected target nor forgets its load. One instance per process,
 * shared by every listener of that process (`balancerFor`).
 */

export interface BalancerOptions {
  /** Consecutive failures that eject a target (0 = never eject). */
  readonly failures: number;
  /** First ejection time in ms; doubled on each repeated ejection, capped at MAX_EJECT_MS. */
  readonly ejectMs: number;
  /** At most this percentage of a route's targets is ejected at once. */
  readonly maxPercent: number;
  /** Re-pick by outstanding requests (proxy.strategy=p2c). */
  readonly p2c: boolean;
  /** Monotonic milliseconds; injected by tests. */
  readonly now?: () => number;
  readonly random?: () => number;
}

export const MAX_EJECT_MS = 5 * 60_000;
/** Retry budget: retries allowed per route and window, beyond BUDGET_MIN, as a share of requests. */
export const BUDGET_RATIO = 0.2;
export const BUDGET_MIN = 10;
export const BUDGET_WINDOW_MS = 10_000;

interface TargetState {
  fails: number;
  /** Ejected until this time (0 = not ejected). */
  until: number;
  /** Ejections in a row without a success in between (the doubling). */
  ejections: number;
  outstanding: number;
}

interface Budget {
  start: number;
  requests: number;
  retries: number;
}

/** What `report` did. */
export type Verdict = 'ok' | 'failed' | 'ejected';

/** An ejection this balancer decided: `ms` is how long it lasts, `ejections` how many in a row. */
export interface EjectionEvent {
  readonly route: Route;
  readonly target: Target;
  readonly ms: number;
  readonly ejections: number;
}

/** One ejection in force, for a worker that starts later (remaining `ms`). */
export interface EjectionState {
  readonly key: string;
  readonly ms: number;
  readonly ejections: number;
}

/**
 * With proxy.workers > 1 a worker does not eject on its own: it hands the outcomes that matter
 * (every failure, the first success after one) to the primary, which decides for the group and
 * sends the ejection back (`applyEjection`; src/runtime/cluster-outlier.ts).
 */
export type OutcomeSink = (route: Route, t: Target, ok: boolean) => void;

export class Balancer {
  readonly #o: BalancerOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #states = new Map<string, TargetState>();
  /** Keys with until > 0; empty means the hot path skips every check. */
  readonly #ejected = new Set<string>();
  readonly #budgets = new WeakMap<Route, Budget>();
  readonly #onEject = new Set<(e: EjectionEvent) => void>();
  #sink: OutcomeSink | undefined;
  /** Shared mode: keys whose failures the primary has heard of (the next success is sent too). */
  readonly #told = new Set<string>();

  constructor(o: BalancerOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
    this.#random = o.random ?? Math.random;
  }

  get p2c(): boolean {
    return this.#o.p2c;
  }

  /** Whether the target is ejected now (an expired ejection ends here: the next request is its trial). */
  isEjected(key: string): boolean {
    if (this.#ejected.size === 0 || !this.#ejected.has(key)) return false;
    const s = this.#states.get(key) as TargetState;
    if (s.until > this.#now()) return true;
    s.until = 0;
    // The trial: one more failure ejects it again (for twice as long), a success forgives it.
    s.fails = Math.max(0, this.#o.failures - 1);
    this.#ejected.delete(key);
    return false;
  }

  /** Keys of the targets ejected now (UI, tests). */
  ejectedKeys(): string[] {
    return [...this.#ejected].filter((k) => this.isEjected(k));
  }

  /**
   * The table's pick, adjusted: an ejected target is replaced by a weighted pick among the others,
   * and p2c compares it with a second weighted draw by outstanding requests. `skipped` hears the
   * URL of an ejected target that was passed over (Trace lines). // hot path
   */
  choose(res: LookupResult, skipped?: (url: string) => void): LookupResult {
    if (this.#ejected.size === 0 && !this.#o.p2c) return res;
    const ts = res.route.targets;
    const t = res.target;
    if (ts.length < 2 || t.redirectCode !== 0) return res;
    let idx = ts.indexOf(t);
    if (idx < 0) return res;
    const allowed = (i: number) => {
      const x = ts[i] as Target;
      return x.redirectCode === 0 && !this.isEjected(x.key);
    };
    if (this.isEjected(t.key)) {
      const other = skipEjected(ts, idx, (k) => this.isEjected(k), this.#random);
      if (other === idx) return res;
      skipped?.(t.url);
      idx = other;
    }
    if (this.#o.p2c) idx = pickP2c(ts, idx, (i) => this.#load((ts[i] as Target).key), allowed, this.#random);
    const c = ts[idx] as Target;
    return c === t ? res : { route: res.route, target: c };
  }

  /**
   * A target for a retry of `route`: weighted among the targets not tried yet, not ejected, with
   * the same auth scheme and no redirect. undefined when none is left or the budget is spent.
   */
  retryTarget(route: Route, tried: readonly Target[], same: Target): Target | undefined {
    const ts = route.targets;
    const idx = pickWeighted(
      ts,
      (i) => {
        const x = ts[i] as Target;
        return (
          !tried.includes(x) &&
          x.redirectCode === 0 &&
          x.authScheme === same.authScheme &&
          x.accessRules === same.accessRules &&
          !this.isEjected(x.key)
        );
      },
      this.#random,
    );
    if (idx < 0) return undefined;
    const b = this.#budget(route);
    if (b.retries >= BUDGET_MIN + BUDGET_RATIO * b.requests) return undefined;
    b.retries++;
    return ts[idx];
  }

  /** Counts a first attempt of a request on `route` for its retry budget. */
  request(route: Route): void {
    this.#budget(route).requests++;
  }

  /** An attempt on `key` started (p2c load). */
  begin(key: string): void {
    if (this.#o.p2c) this.#state(key).outstanding++;
  }

  /** An attempt on `key` ended (p2c load). */
  end(key: string): void {
    if (!this.#o.p2c) return;
    const s = this.#states.get(key);
    if (s !== undefined && s.outstanding > 0) s.outstanding--;
  }

  /** The outcome of one attempt on a target of `route`; a failure may eject it. */
  report(route: Route, t: Target, ok: boolean): Verdict {
    const o = this.#o;
    if (o.failures <= 0) return ok ? 'ok' : 'failed';
    if (this.#sink !== undefined) return this.#forward(route, t, ok);
    if (ok) {
      const s = this.#states.get(t.key);
      if (s !== undefined && !this.isEjected(t.key)) {
        s.fails = 0;
        s.ejections = 0;
        if (s.outstanding === 0) this.#states.delete(t.key);
      }
      return 'ok';
    }
    const s = this.#state(t.key);
    // an ejection that has run out ends here (the failure is then the trial's)
    if (s.until !== 0 && this.isEjected(t.key)) return 'failed';
    s.fails++;
    if (s.fails < o.failures || !this.#roomToEject(route)) return 'failed';
    s.ejections++;
    s.fails = 0;
    const ms = Math.min(o.ejectMs * 2 ** Math.min(s.ejections - 1, 20), MAX_EJECT_MS);
    s.until = this.#now() + ms;
    this.#ejected.add(t.key);
    const e: EjectionEvent = { route, target: t, ms, ejections: s.ejections };
    for (const fn of this.#onEject) fn(e);
    return 'ejected';
  }

  /** Shared mode: the primary decides; failures while ejected (requests in flight) are not news. */
  #forward(route: Route, t: Target, ok: boolean): Verdict {
    const sink = this.#sink as OutcomeSink;
    if (ok) {
      if (this.#told.delete(t.key)) sink(route, t, true);
      return 'ok';
    }
    if (this.isEjected(t.key)) return 'failed';
    this.#told.add(t.key);
    sink(route, t, false);
    return 'failed';
  }

  /** Hears every ejection this balancer decides (log line, history, the workers); returns an unsubscribe. */
  onEject(fn: (e: EjectionEvent) => void): () => void {
    this.#onEject.add(fn);
    return () => this.#onEject.delete(fn);
  }

  /** Worker mode (proxy.workers > 1): outcomes go to `sink`, ejections come from `applyEjection`. */
  share(sink: OutcomeSink): void {
    this.#sink = sink;
  }

  /** An ejection the primary decided for the group: `key` is left out for `ms` from now. */
  applyEjection(key: string, ms: number, ejections: number): void {
    if (!(ms > 0)) return;
    const s = this.#state(key);
    s.until = this.#now() + ms;
    s.ejections = ejections;
    s.fails = 0;
    this.#ejected.add(key);
    // the trial's success must reach the primary, which forgives the doubling
    if (this.#sink !== undefined) this.#told.add(key);
  }

  /** Milliseconds until `key` returns (0 when it is not ejected). */
  ejectedFor(key: string): number {
    if (!this.isEjected(key)) return 0;
    return (this.#states.get(key) as TargetState).until - this.#now();
  }

  /** The ejections in force, for a worker that starts later. */
  ejections(): EjectionState[] {
    return this.ejectedKeys().map((key) => ({
      key,
      ms: this.ejectedFor(key),
      ejections: (this.#states.get(key) as TargetState).ejections,
    }));
  }

  #roomToEject(route: Route): boolean {
    const ts = route.targets;
    let n = 1;
    for (const x of ts) if (this.isEjected(x.key)) n++;
    return n * 100 <= ts.length * this.#o.maxPercent;
  }

  #load(key: string): number {
    return this.#states.get(key)?.outstanding ?? 0;
  }

  #state(key: string): TargetState {
    let s = this.#states.get(key);
    if (s === undefined) {
      s = { fails: 0, until: 0, ejections: 0, outstanding: 0 };
      this.#states.set(key, s);
    }
    return s;
  }

  #budget(route: Route): Budget {
    const now = this.#now();
    let b = this.#budgets.get(route);
    if (b === undefined || now - b.start >= BUDGET_WINDOW_MS) {
      b = { start: now, requests: 0, retries: 0 };
      this.#budgets.set(route, b);
    }
    return b;
  }
}

/**
 * One attempt's outcome, with the ejection it may cause logged and counted: the one place the
 * HTTP handler and the TCP dial report to.
 */
export function recordOutcome(
  b: Balancer,
  deps: { readonly log: Logger; readonly metrics: Metrics },
  route: Route,
  t: Target,
  ok: boolean,
): void {
  if (b.report(route, t, ok) !== 'ejected') return;
  deps.metrics.ejection?.(route, t);
  logEjection(deps.log, t);
}

/** The one ejection log line (single process, or the primary for a group of workers). */
export function logEjection(log: Logger, t: Target): void {
  log.warn(`Ejecting target ${t.url} of service ${t.service} after consecutive failures`);
}

const byConfig = new WeakMap<Config, Balancer>();

/** The process's balancer for a configuration (one per process: every listener shares it). */
export function balancerFor(cfg: Config): Balancer {
  let b = byConfig.get(cfg);
  if (b === undefined) {
    b = new Balancer({
      failures: cfg.num('proxy.outlier.failures'),
      ejectMs: cfg.num('proxy.outlier.ejecttime'),
      maxPercent: cfg.num('proxy.outlier.maxpercent'),
      p2c: cfg.str('proxy.strategy') === 'p2c',
    });
    byConfig.set(cfg, b);
  }
  return b;
}

/** Whether a target is ejected in this process (the primary's view is the group's: src/runtime/cluster-outlier.ts). */
export function targetEjected(cfg: Config, key: string): boolean {
  return byConfig.get(cfg)?.isEjected(key) ?? false;
}

/**
 * Milliseconds until a target returns from ejection in this process (0 = not ejected). With
 * `proxy.workers` > 1 the admin server runs in the primary, whose balancer holds the group's
 * ejections (src/runtime/cluster-outlier.ts).
 */
export function targetEjectedFor(cfg: Config, key: string): number {
  return byConfig.get(cfg)?.ejectedFor(key) ?? 0;
}

/**
 * /api/routes rows with `ejected` added (true while passive outlier detection leaves the target
 * out) and, only while it is, `ejectedUntil` (RFC 3339 UTC, when it returns for its trial). The
 * admin API applies it to routesJson's rows: `sendJson(res, 200, withEjected(routesJson(t), deps.cfg), pretty)`.
 */
export function withEjected<R extends { readonly service: string; readonly dst: string }>(
  rows: R[] | null,
  cfg: Config,
  now: () => number = Date.now,
): (R & { ejected: boolean; ejectedUntil?: string })[] | null {
  if (rows === null) return null;
  return rows.map((r) => {
    const ms = targetEjectedFor(cfg, `${r.service}\u0000${r.dst}`);
    return ms > 0
      ? { ...r, ejected: true, ejectedUntil: new Date(now() + ms).toISOString() }
      : { ...r, ejected: false };
  });
}
