import type { CRoute, HostEntry } from './compiled.ts';
import type { GlobMatcher } from './glob.ts';
import { compileGlob, GlobSyntaxError, isGlob, sharedGlobCache } from './glob.ts';
import { normalizeHost, sortHostsBySpecificity } from './host-order.ts';
import type { MRoute, MTarget } from './model.ts';
import { applyDefs } from './model.ts';
import { parseRouteText } from './parse.ts';
import { buildPathIndex } from './path-index.ts';
import { RouteTable } from './table.ts';
import { makeTarget } from './target.ts';
import type { BuildOptions, LookupResult, Route, Table, Target, Warning } from './types.ts';
import { buildRing, effectiveWeights } from './weights.ts';

/** Shared one-slot ring (read-only by convention: rings are never written after build). */
const ONE_SLOT = Uint32Array.of(0);
const ONE: readonly number[] = Object.freeze([1]);

function compileRoute(m: MRoute, opts: BuildOptions, warnings: Warning[]): CRoute {
  let targets: Target[];
  let ring: Uint32Array;
  let slots: readonly number[];
  if (m.targets.length === 1) {
    // the common case, without the weight arrays
    targets = [makeTarget(m.targets[0] as MTarget, 1, warnings)];
    ring = ONE_SLOT;
    slots = ONE;
  } else {
    const fixed = m.targets.map((t) => t.fixedWeight);
    const weights = effectiveWeights(fixed);
    targets = m.targets.map((t, i) => makeTarget(t, weights[i] as number, warnings));
    ring = buildRing(fixed, weights);
    const counts = targets.map(() => 0);
    for (const i of ring) counts[i] = (counts[i] as number) + 1;
    slots = counts;
  }
  const route: Route = Object.freeze({ host: m.host, path: m.path, targets: Object.freeze(targets) });
  const results: LookupResult[] = targets.map((target) => Object.freeze({ route, target }));
  let glob: GlobMatcher | undefined;
  if (opts.matcher === 'glob') glob = compileGlob(m.path); // validated while applying commands
  return Object.freeze({
    route,
    host: m.host,
    path: m.path,
    lowerPath: opts.matcher === 'iprefix' ? m.path.toLowerCase() : m.path,
    glob,
    targets: route.targets,
    ring,
    results: Object.freeze(results),
    // kept only where a redirect needs it at lookup time (and for the dump's addr=)
    urls: Object.freeze(m.targets.map((t) => t.parsed)),
    // only multi-target routes ever touch a counter
    counterKey: targets.length > 1 ? `${m.host}${m.path}` : '',
    slots: Object.freeze(slots),
  });
}

const byPathDesc = (a: { path: string }, b: { path: string }): number =>
  a.path < b.path ? 1 : a.path > b.path ? -1 : 0;

/**
 * Builds the frozen routing table from route text (fabio-reference (b) and (n)). Throws
 * RouteSyntaxError (`line N: ...`) when the text is invalid; the caller keeps its previous table.
 * Problems that do not stop the build (unmatched `route weight`, bad access rules or redirect
 * codes, invalid host globs) are in `table.warnings`.
 */
export function buildTable(text: string, opts: BuildOptions): Table {
  const warnings: Warning[] = [];
  const model = applyDefs(parseRouteText(text), opts.matcher, warnings);
  const cache = sharedGlobCache(opts.globCacheSize);

  const order = sortHostsBySpecificity([...model.keys()]);
  const byKey = new Map<string, HostEntry>();
  const exactPlain = new Map<string, HostEntry[]>();
  const exactTls = new Map<string, HostEntry[]>();
  const globs: HostEntry[] = [];
  const tcp = new Map<string, CRoute>();
  const push = (m: Map<string, HostEntry[]>, k: string, e: HostEntry): void => {
    const l = m.get(k);
    if (l === undefined) m.set(k, [e]);
    else l.push(e);
  };

  order.forEach((key, rank) => {
    const routes = [...(model.get(key)?.values() ?? [])].sort(byPathDesc).map((m) => compileRoute(m, opts, warnings));
    let matchPlain: GlobMatcher | undefined;
    let matchTls: GlobMatcher | undefined;
    if (!opts.globDisabled && isGlob(key)) {
      try {
        matchPlain = cache.get(normalizeHost(key, false));
        matchTls = cache.get(normalizeHost(key, true));
      } catch (err) {
        if (!(err instanceof GlobSyntaxError)) throw err;
        const firstLine = model.get(key)?.values().next().value?.targets[0]?.line ?? 0;
        warnings.push({
          line: firstLine,
          service: routes[0]?.targets[0]?.service ?? '',
          message: `${err.message}; host matched as plain text`,
        });
        matchPlain = matchTls = undefined;
      }
    }
    const entry: HostEntry = Object.freeze({
      key,
      rank,
      routes: Object.freeze(routes),
      index: buildPathIndex(routes, opts.matcher),
      matchPlain,
      matchTls,
    });
    byKey.set(key, entry);
    if (matchPlain !== undefined) globs.push(entry);
    else {
      push(exactPlain, normalizeHost(key, false), entry);
      push(exactTls, normalizeHost(key, true), entry);
    }
    const tcpRoute = routes.find((r) => '/'.startsWith(r.path));
    if (tcpRoute !== undefined) tcp.set(key, tcpRoute);
  });

  const hostsAsc = [...byKey.keys()].sort();
  const routes: Route[] = [];
  for (const h of hostsAsc) for (const r of byKey.get(h)?.routes ?? []) routes.push(r.route);

  return Object.freeze(
    new RouteTable({
      source: text,
      warnings: Object.freeze(warnings.map((w) => Object.freeze(w))),
      routes: Object.freeze(routes),
      matcher: opts.matcher,
      strategy: opts.strategy,
      globDisabled: opts.globDisabled,
      random: opts.random ?? Math.random,
      counters: opts.counters ?? new Map(),
      byKey,
      exactPlain,
      exactTls,
      globs: Object.freeze(globs),
      fallback: byKey.get(''),
      tcp,
    }),
  );
}
