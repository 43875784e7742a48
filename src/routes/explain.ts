import type { CRoute } from './compiled.ts';
import { SKIP } from './compiled.ts';
import { normalizeHost } from './host-order.ts';
import type { RouteTable, TableParts } from './table.ts';
import { routeMatches } from './table.ts';
import type { ExplainStep, Explanation, LookupRequest, LookupResult } from './types.ts';

/**
 * The lookup decision with every step recorded, in fabio's order: matching hosts, then for each
 * host (and finally the host-less routes) every route tried until one matches. It makes the same
 * picks as lookup (an rr pick advances the counter unless `advance` is false).
 */
export function explainLookup(table: RouteTable, p: TableParts, req: LookupRequest, advance: boolean): Explanation {
  const steps: ExplainStep[] = [];
  const hosts = table.candidates(normalizeHost(req.host, req.tls), req.tls);
  const names = hosts.map((h) => h.key);
  steps.push({ kind: 'hosts', hosts: names, message: `Matching hosts: [${names.join(' ')}]` });
  const all = p.fallback !== undefined ? [...hosts, p.fallback] : hosts;
  const lowerPath = req.path.toLowerCase();
  let result: LookupResult | undefined;
  outer: for (const e of all) {
    for (const r of e.routes as CRoute[]) {
      const at = { host: r.host, path: r.path };
      if (!routeMatches(r, p.matcher, req.path, lowerPath)) {
        steps.push({ kind: 'nomatch', ...at, message: `No match ${r.host}${r.path}` });
        continue;
      }
      if (r.targets.length === 0) {
        steps.push({ kind: 'empty', ...at, message: `Route ${r.host}${r.path} has no targets; trying the next host` });
        continue outer;
      }
      steps.push({ kind: 'match', ...at, message: `Match ${r.host}${r.path}` });
      const idx = table.pickIndex(r, advance);
      const res = table.resultFor(r, idx, req);
      if (res === SKIP) {
        const t = r.targets[idx];
        steps.push({
          kind: 'redirect-loop',
          ...at,
          message: 'Skipping redirect with same scheme, host and path',
          ...(t ? { target: t } : {}),
        });
        continue outer;
      }
      const why = res.redirectURL !== undefined ? ` (redirect ${res.target.redirectCode} ${res.redirectURL})` : '';
      steps.push({
        kind: 'pick',
        ...at,
        target: res.target,
        message: `Routing to service ${res.target.service} on ${res.target.url}${why}`,
      });
      result = res;
      break outer;
    }
  }
  if (result === undefined) steps.push({ kind: 'noroute', message: `No route for ${req.host}${req.path}` });
  return Object.freeze({ request: req, steps: Object.freeze(steps), result });
}
