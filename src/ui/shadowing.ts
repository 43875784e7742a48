import type { Route, Table } from '../routes/types.ts';

/** A route that some requests can never reach because a more specific route wins first. */
export interface Shadowed {
  readonly service: string;
  readonly route: string;
  /** The request hosts for which the route loses (sorted). */
  readonly forHosts: readonly string[];
  /** The winning route (host+path) for each of forHosts, same order. */
  readonly by: readonly string[];
  readonly message: string;
}

const cache = new WeakMap<Table, readonly Shadowed[]>();
const GLOB = /[*?[\]{}\\]/;
/** Bounds the work on very large tables (routes × concrete hosts explain calls). */
const MAX_PAIRS = 20_000;
/** Hosts named in one message; the rest are counted. */
const NAMED = 3;

/** TCP, TCP+SNI and TCP-dynamic routes are matched by port or SNI name, never by an HTTP request. */
function isHttpRoute(r: Route): boolean {
  if (r.host.startsWith(':')) return false;
  return !r.targets.some((t) => t.scheme === 'tcp' || (t.opts.proto ?? '').includes('tcp'));
}

/**
 * Finds host-less and glob-host HTTP routes shadowed for concrete hosts: fabio tries the request
 * host (exact, then glob matches, most specific first) before the host-less routes, so `/api`
 * without a host never sees requests for `a.com` once `a.com/` exists. Decided with the table's own
 * explain() (without moving round-robin counters), so it can never disagree with the real lookup.
 * One entry per shadowed route, naming the hosts it loses for. Computed once per table.
 */
export function shadowedRoutes(table: Table | undefined): readonly Shadowed[] {
  if (!table) return [];
  const hit = cache.get(table);
  if (hit) return hit;
  const http = table.routes.filter(isHttpRoute);
  const concrete = [...new Set(http.map((r) => r.host).filter((h) => h !== '' && !GLOB.test(h)))].sort();
  const out: Shadowed[] = [];
  let pairs = 0;
  outer: for (const r of http) {
    if (r.host !== '' && !GLOB.test(r.host)) continue;
    if (GLOB.test(r.path) || r.targets.length === 0) continue;
    const forHosts: string[] = [];
    const by: Route[] = [];
    for (const h of concrete) {
      if (++pairs > MAX_PAIRS) break outer;
      const ex = table.explain({ host: h, path: r.path, tls: false }, { advance: false });
      const hosts = ex.steps.find((s) => s.kind === 'hosts')?.hosts ?? [];
      if (r.host !== '' && !hosts.includes(r.host)) continue;
      const won: Route | undefined = ex.result?.route;
      if (!won || won === r || (won.host === r.host && won.path === r.path)) continue;
      forHosts.push(h);
      by.push(won);
    }
    if (forHosts.length === 0) continue;
    const name = (w: Route) => `${w.host}${w.path} (${w.targets[0]?.service ?? ''})`;
    const message =
      forHosts.length === 1
        ? `requests for ${forHosts[0]}${r.path} go to ${name(by[0]!)}, not to ${r.host}${r.path}`
        : `requests for ${r.path} on ${forHosts.length} hosts go to those hosts' routes, not to ${r.host}${r.path}: ` +
          by.slice(0, NAMED).map(name).join(', ') +
          (forHosts.length > NAMED ? `, and ${forHosts.length - NAMED} more` : '');
    out.push({
      service: r.targets[0]!.service,
      route: r.host + r.path,
      forHosts,
      by: by.map((w) => w.host + w.path),
      message,
    });
  }
  cache.set(table, out);
  return out;
}
