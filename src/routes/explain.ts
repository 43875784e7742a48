import type { CRoute } from './compiled.ts';
import { SKIP } from './compiled.ts';
import { normalizeHost } from './host-order.ts';
import { skipEjected } from './pick.ts';
import { routeMatches, type TableParts, type TableProbe } from './table-parts.ts';
import type {
  ExplainCandidate,
  ExplainShare,
  ExplainStep,
  Explanation,
  LookupRequest,
  LookupResult,
  Target,
} from './types.ts';

/**
 * The lookup decision with every step recorded, in fabio's order: matching hosts, then for each
 * host (and finally the host-less routes) every route tried until one matches. It makes the same
 * picks as lookup (an rr pick advances the counter unless `advance` is false).
 */
export function explainLookup(
  table: TableProbe,
  p: TableParts,
  req: LookupRequest,
  advance: boolean,
  ejected?: (key: string) => boolean,
): Explanation {
  const steps: ExplainStep[] = [];
  const hosts = table.candidates(normalizeHost(req.host, req.tls), req.tls);
  const names = hosts.map((h) => h.key);
  steps.push({ kind: 'hosts', hosts: names, message: `Matching hosts: [${names.join(' ')}]` });
  const all = p.fallback !== undefined ? [...hosts, p.fallback] : hosts;
  const lowerPath = req.path.toLowerCase();
  const candidates: ExplainCandidate[] = [];
  let result: LookupResult | undefined;
  let chosen: CRoute | undefined;
  let pickedIdx = -1;
  for (const e of all) {
    // set when the lookup gives up on this host (no targets, redirect loop): the rest is not tried
    let skipped: string | undefined;
    for (const r of e.routes as CRoute[]) {
      const at = { host: r.host, path: r.path };
      if (chosen !== undefined) {
        // after the answer only the routes that would also match are worth showing
        if (routeMatches(r, p.matcher, req.path, lowerPath))
          candidates.push({
            ...at,
            outcome: 'shadowed',
            reason: `matches too, but ${chosen.host}${chosen.path} comes first`,
          });
        continue;
      }
      if (skipped !== undefined) {
        candidates.push({ ...at, outcome: 'not-tried', reason: skipped });
        continue;
      }
      if (!routeMatches(r, p.matcher, req.path, lowerPath)) {
        steps.push({ kind: 'nomatch', ...at, message: `No match ${r.host}${r.path}` });
        candidates.push({ ...at, outcome: 'nomatch', reason: `path ${req.path} does not match ${r.path}` });
        continue;
      }
      if (r.targets.length === 0) {
        steps.push({ kind: 'empty', ...at, message: `Route ${r.host}${r.path} has no targets; trying the next host` });
        candidates.push({ ...at, outcome: 'empty', reason: 'matches, but has no targets; the next host is tried' });
        skipped = `not tried: ${r.host}${r.path} matched first without targets`;
        continue;
      }
      steps.push({ kind: 'match', ...at, message: `Match ${r.host}${r.path}` });
      let idx = table.pickIndex(r, advance);
      if (ejected !== undefined) {
        const other = skipEjected(r.targets, idx, ejected, p.random);
        if (other !== idx) {
          const t = r.targets[idx] as Target;
          steps.push({ kind: 'ejected', ...at, target: t, message: `Skipping ejected target ${t.url}` });
          idx = other;
        }
      }
      const res = table.resultFor(r, idx, req);
      if (res === SKIP) {
        const t = r.targets[idx];
        steps.push({
          kind: 'redirect-loop',
          ...at,
          message: 'Skipping redirect with same scheme, host and path',
          ...(t ? { target: t } : {}),
        });
        candidates.push({
          ...at,
          outcome: 'redirect-loop',
          reason: 'matches, but the picked redirect points at the request itself; the next host is tried',
        });
        skipped = `not tried: ${r.host}${r.path} matched first and redirected to itself`;
        continue;
      }
      const why = res.redirectURL !== undefined ? ` (redirect ${res.target.redirectCode} ${res.redirectURL})` : '';
      steps.push({
        kind: 'pick',
        ...at,
        target: res.target,
        message: `Routing to service ${res.target.service} on ${res.target.url}${why}`,
      });
      candidates.push({ ...at, outcome: 'chosen', reason: 'first route whose path matches' });
      result = res;
      chosen = r;
      pickedIdx = idx;
    }
  }
  if (result === undefined) steps.push({ kind: 'noroute', message: `No route for ${req.host}${req.path}` });
  return Object.freeze({
    request: req,
    steps: Object.freeze(steps),
    result,
    candidates: Object.freeze(candidates),
    shares: Object.freeze(chosen ? targetShares(chosen, pickedIdx, ejected) : []),
  });
}

/**
 * Each target's share of the picks: its slots in the weighted ring (what pickIndex draws from).
 * A single target, or a route whose ring is empty, always picks index 0.
 */
export function targetShares(r: CRoute, picked: number, ejected?: (key: string) => boolean): ExplainShare[] {
  const n = r.ring.length;
  const slots = new Array<number>(r.targets.length).fill(0);
  if (r.targets.length === 1 || n === 0) slots[0] = 1;
  else for (const i of r.ring) slots[i] = (slots[i] ?? 0) + 1;
  const total = r.targets.length === 1 || n === 0 ? 1 : n;
  return r.targets.map((t, i) => ({
    target: t,
    weight: t.weight,
    share: (slots[i] ?? 0) / total,
    picked: i === picked,
    ...(ejected !== undefined ? { ejected: ejected(t.key) } : {}),
  }));
}
