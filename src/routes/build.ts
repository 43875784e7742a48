import type { CRoute, HostEntry } from './compiled.ts';
import type { GlobMatcher } from './glob.ts';
import { GlobSyntaxError, isGlob, sharedGlobCache } from './glob.ts';
import { normalizeHost, sortHostsBySpecificity } from './host-order.ts';
import type { ApplyState, Model, MRoute } from './model.ts';
import { applyDef, Names } from './model.ts';
import { forEachRouteDef } from './parse.ts';
import { buildPathIndex } from './path-index.ts';
import { RouteTable } from './table.ts';
import type { TargetDraft } from './target.ts';
import type { ParsedURL } from './target-url.ts';
import { parseTargetURL } from './target-url.ts';
import type { BuildOptions, LookupResult, Route, Table, Target } from './types.ts';
import { buildRing, effectiveWeights, identityRing } from './weights.ts';

function compileRoute(m: MRoute, opts: BuildOptions, st: ApplyState): CRoute {
  const drafts = m.targets;
  const n = drafts.length;
  let ring: Uint32Array;
  if (n === 1) {
    (drafts[0] as TargetDraft).weight = 1; // the common case, without the weight arrays
    ring = identityRing(1);
  } else {
    const fixed = drafts.map((t) => t.fixedWeight);
    const weights = effectiveWeights(fixed);
    for (let i = 0; i < n; i++) (drafts[i] as TargetDraft).weight = weights[i] as number;
    ring = buildRing(fixed, weights);
  }
  for (let i = 0; i < n; i++) {
    const t = drafts[i] as TargetDraft;
    Object.freeze(t);
    if (st.problems.size > 0) {
      const p = st.problems.get(t);
      if (p !== undefined)
        for (const message of p.messages) st.warnings.push({ line: p.line, service: t.service, message });
    }
  }
  // exact-size copy: the draft array grew by push and has spare capacity
  const targets: readonly Target[] = Object.freeze(drafts.slice());
  const route: Route = Object.freeze({ host: m.host, path: m.path, targets });
  const results: LookupResult[] = new Array(n);
  let redirects: (ParsedURL | undefined)[] | undefined;
  for (let i = 0; i < n; i++) {
    const target = targets[i] as Target;
    results[i] = Object.freeze({ route, target });
    if (target.redirectCode !== 0) {
      // rare: only redirect targets keep their parsed URL for building the Location at lookup
      redirects ??= new Array<ParsedURL | undefined>(n).fill(undefined);
      redirects[i] = parseTargetURL(target.url);
    }
  }
  return Object.freeze({
    route,
    host: m.host,
    path: m.path,
    lowerPath: opts.matcher === 'iprefix' ? m.path.toLowerCase() : m.path,
    glob: m.glob, // compiled while applying commands; undefined for a literal path
    targets: route.targets,
    ring,
    results: Object.freeze(results),
    redirects: redirects === undefined ? undefined : Object.freeze(redirects),
    // only multi-target routes ever touch a counter
    counterKey: n > 1 ? `${m.host}${m.path}` : '',
  });
}

/**
 * Drops the round-robin counters of routes that are not in the new table (BuildOptions.counters
 * is shared by every build of a process, so without this it would keep one entry per route that
 * ever existed). Counters of routes still present keep their position: a swap does not reset
 * balancing.
 */
function pruneCounters(counters: Map<string, number>, byKey: ReadonlyMap<string, HostEntry>): void {
  const live = new Set<string>();
  for (const e of byKey.values()) for (const r of e.routes) if (r.counterKey !== '') live.add(r.counterKey);
  for (const k of counters.keys()) if (!live.has(k)) counters.delete(k);
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
  const model: Model = new Map();
  const st: ApplyState = {
    matcher: opts.matcher,
    warnings: [],
    names: new Names(),
    problems: new Map(),
    pathGlobs: new Map(),
  };
  const warnings = st.warnings;
  // fabio parses the whole text before applying it, so a syntax error anywhere wins over an
  // error applying an earlier command (a bad target URL): remember that one, keep parsing.
  let applyError: unknown;
  forEachRouteDef(text, (d) => {
    if (applyError !== undefined) return;
    try {
      applyDef(model, d, st);
    } catch (err) {
      applyError = err;
    }
  });
  if (applyError !== undefined) throw applyError;
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
    const routes = [...(model.get(key)?.values() ?? [])].sort(byPathDesc).map((m) => compileRoute(m, opts, st));
    let matchPlain: GlobMatcher | undefined;
    let matchTls: GlobMatcher | undefined;
    if (!opts.globDisabled && isGlob(key)) {
      try {
        matchPlain = cache.get(normalizeHost(key, false));
        matchTls = cache.get(normalizeHost(key, true));
      } catch (err) {
        if (!(err instanceof GlobSyntaxError)) throw err;
        const firstLine = model.get(key)?.values().next().value?.line ?? 0;
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

  const counters = opts.counters ?? new Map<string, number>();
  if (counters.size > 0) pruneCounters(counters, byKey);

  return Object.freeze(
    new RouteTable({
      source: text,
      warnings: Object.freeze(warnings.map((w) => Object.freeze(w))),
      routes: Object.freeze(routes),
      matcher: opts.matcher,
      strategy: opts.strategy,
      globDisabled: opts.globDisabled,
      random: opts.random ?? Math.random,
      counters,
      byKey,
      exactPlain,
      exactTls,
      globs: Object.freeze(globs),
      fallback: byKey.get(''),
      tcp,
    }),
  );
}
