import type { Route, Table } from '../routes/types.ts';

/** A route that some requests can never reach because a more specific route wins first. */
export interface Shadowed {
  readonly service: string;
  readonly route: string;
  /** The request host for which the route loses. */
  readonly forHost: string;
  readonly by: string;
  readonly byService: string;
  readonly message: string;
}

const cache = new WeakMap<Table, readonly Shadowed[]>();
const GLOB = /[*?[\]{}\\]/;
/** Bounds the work on very large tables (routes × concrete hosts explain calls). */
const MAX_PAIRS = 20_000;

/**
 * Finds host-less and glob-host routes shadowed for a concrete host: fabio tries the request host
 * (exact, then glob matches, most specific first) before the host-less routes, so `/api` without a
 * host never sees requests for `a.com` once `a.com/` exists. Decided with the table's own explain(),
 * so it can never disagree with the real lookup. Computed once per table.
 */
export function shadowedRoutes(table: Table | undefined): readonly Shadowed[] {
  if (!table) return [];
  const hit = cache.get(table);
  if (hit) return hit;
  const concrete = [...new Set(table.routes.map((r) => r.host).filter((h) => h !== '' && !GLOB.test(h)))];
  const out: Shadowed[] = [];
  let pairs = 0;
  outer: for (const r of table.routes) {
    if (r.host !== '' && !GLOB.test(r.host)) continue;
    if (GLOB.test(r.path) || r.targets.length === 0) continue;
    for (const h of concrete) {
      if (++pairs > MAX_PAIRS) break outer;
      const ex = table.explain({ host: h, path: r.path, tls: false });
      const hosts = ex.steps.find((s) => s.kind === 'hosts')?.hosts ?? [];
      if (r.host !== '' && !hosts.includes(r.host)) continue;
      const won: Route | undefined = ex.result?.route;
      if (!won || won === r || (won.host === r.host && won.path === r.path)) continue;
      const service = r.targets[0]!.service;
      const byService = won.targets[0]?.service ?? '';
      out.push({
        service,
        route: r.host + r.path,
        forHost: h,
        by: won.host + won.path,
        byService,
        message: `requests for ${h}${r.path} go to ${won.host}${won.path} (${byService}), not to ${r.host}${r.path}`,
      });
    }
  }
  cache.set(table, out);
  return out;
}
