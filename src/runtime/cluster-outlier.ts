import type { Worker } from 'node:cluster';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/types.ts';
import { type Balancer, type EjectionState, logEjection } from '../proxy/outlier/balancer.ts';
import type { TableStore } from '../routes/table-store.ts';
import type { Route, Table, Target } from '../routes/types.ts';

/**
 * Passive outlier ejection shared by a group of workers (issue #15, proxy.workers > 1): a dead
 * target is ejected once for the group, not once per worker. Each worker's balancer runs in
 * shared mode (Balancer.share): it sends the outcomes that matter (failures, and the first
 * success after one) to the primary; the primary's balancer counts them for the whole group,
 * decides, logs the one ejection line and sends the ejection to every worker; a worker that
 * starts later receives the ejections in force after its `hello`. The primary's balancer is the
 * one /api/routes reads (`ejected`, `ejectedUntil`) and the one the history listens to.
 *
 * Messages, an addition to cluster.ts's protocol that lives here (own listeners on the same IPC
 * channel, `outlier-` prefix):
 *   worker → primary  {t:'outlier-outcomes', list: [route, key, ok, fails][]}
 *     per target since the last message (at most one per event-loop turn): whether a success came
 *     first (`ok`), then how many failures followed it; `route` is `host NUL path`.
 *   primary → worker  {t:'outlier-eject', key, ms, ejections, by}   `by`: the pid whose failure
 *     ejected it (that worker counts the route.ejection metric, so the group counts it once)
 *   primary → worker  {t:'outlier-state', list: {key, ms, ejections}[]}   answer to a `hello`
 */

type Outcome = [route: string, key: string, ok: boolean, fails: number];
export type OutlierToPrimary = { t: 'outlier-outcomes'; list: Outcome[] };
export type OutlierToWorker =
  | { t: 'outlier-eject'; key: string; ms: number; ejections: number; by: number }
  | { t: 'outlier-state'; list: EjectionState[] };

const routeId = (r: Route) => `${r.host}\u0000${r.path}`;

/** Routes of a table by host and path, built once per table the primary sees outcomes for. */
const byId = new WeakMap<Table, Map<string, Route>>();
function routeOf(t: Table, id: string): Route | undefined {
  let m = byId.get(t);
  if (m === undefined) {
    m = new Map(t.routes.map((r) => [routeId(r), r]));
    byId.set(t, m);
  }
  return m.get(id);
}

export interface PrimaryOutlier {
  /** Listens to a newly forked worker (cluster.ts calls it once per fork). */
  attach(w: Worker): void;
}

/** The primary's side: counts the group's outcomes in its own balancer and tells every worker. */
export function primaryOutlier(o: { balancer: Balancer; store: TableStore; log: Logger }): PrimaryOutlier {
  const workers = new Set<Worker>();
  const send = (w: Worker, m: OutlierToWorker) => {
    if (w.isConnected()) w.send(m, undefined, undefined, () => {});
  };
  let from = 0;
  o.balancer.onEject((e) => {
    logEjection(o.log, e.target);
    const m: OutlierToWorker = { t: 'outlier-eject', key: e.target.key, ms: e.ms, ejections: e.ejections, by: from };
    for (const w of workers) send(w, m);
  });
  const outcomes = (w: Worker, list: readonly Outcome[]) => {
    const table = o.store.current;
    if (table === undefined || !Array.isArray(list)) return;
    from = w.process.pid ?? 0;
    for (const item of list) {
      if (!Array.isArray(item)) continue;
      const [id, key, ok, fails] = item;
      const route = routeOf(table, String(id));
      const target = route?.targets.find((x) => x.key === key);
      if (route === undefined || target === undefined) continue; // a table change raced the report
      if (ok === true) o.balancer.report(route, target, true);
      const n = Math.min(Number(fails) || 0, 1000);
      for (let i = 0; i < n; i++) if (o.balancer.report(route, target, false) === 'ejected') break;
    }
    from = 0;
  };
  return {
    attach(w) {
      workers.add(w);
      w.on('exit', () => workers.delete(w));
      w.on('message', (m: { t?: unknown; list?: unknown }) => {
        if (m?.t === 'hello') send(w, { t: 'outlier-state', list: o.balancer.ejections() });
        else if (m?.t === 'outlier-outcomes') outcomes(w, m.list as Outcome[]);
      });
    },
  };
}

/**
 * The worker's side: its balancer sends outcomes to the primary (batched per event-loop turn) and
 * applies the ejections the primary decides.
 */
export function workerOutlier(o: {
  balancer: Balancer;
  metrics: Metrics;
  send: (m: OutlierToPrimary) => void;
  pid?: number;
}): void {
  const pid = o.pid ?? process.pid;
  /** Per target since the last message: [route, target, a success came first, failures after it]. */
  const pending = new Map<string, { route: Route; target: Target; ok: boolean; fails: number }>();
  /** The last route and target object each key failed on (the route.ejection metric's labels). */
  const failedOn = new Map<string, { route: Route; target: Target }>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const list: Outcome[] = [];
    for (const [key, p] of pending) list.push([routeId(p.route), key, p.ok, p.fails]);
    pending.clear();
    if (list.length > 0) o.send({ t: 'outlier-outcomes', list });
  };
  o.balancer.share((route, target, ok) => {
    let p = pending.get(target.key);
    if (p === undefined) {
      p = { route, target, ok: false, fails: 0 };
      pending.set(target.key, p);
    }
    if (ok) {
      // a success wipes the failures before it: the primary hears "ok, then N failures"
      p.ok = true;
      p.fails = 0;
      failedOn.delete(target.key);
    } else {
      p.route = route;
      p.fails++;
      // bounded: keys of targets that left the table would otherwise stay
      if (failedOn.size >= 10_000 && !failedOn.has(target.key)) failedOn.clear();
      failedOn.set(target.key, { route, target });
    }
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  process.on('message', (m: OutlierToWorker) => {
    if (m?.t === 'outlier-eject') {
      o.balancer.applyEjection(m.key, m.ms, m.ejections);
      const f = failedOn.get(m.key);
      failedOn.delete(m.key);
      if (m.by === pid && f !== undefined) o.metrics.ejection?.(f.route, f.target);
    } else if (m?.t === 'outlier-state') {
      for (const e of m.list) o.balancer.applyEjection(e.key, e.ms, e.ejections);
    }
  });
}
