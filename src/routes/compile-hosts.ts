import type { BuildMemo, LineIndex, LineInts, MemoParts } from './build-memo.ts';
import { type HostOrders, hostOrders } from './build-memo.ts';
import type { CRoute, HostEntry } from './compiled.ts';
import type { GlobMatcher } from './glob.ts';
import { GlobCache, GlobSyntaxError, isGlob } from './glob.ts';
import { bySpecificity, type KeyedHost, normalizeKey, reverseHostPort } from './host-order.ts';
import { withChanges } from './layered-map.ts';
import type { ApplyState, Model, MRoute } from './model.ts';
import { buildPathIndex } from './path-index.ts';
import { ascending, bound } from './sorted.ts';
import type { TargetDraft } from './target.ts';
import type { ParsedURL } from './target-url.ts';
import { parseTargetURL } from './target-url.ts';
import type { BuildOptions, LookupResult, Route, Target } from './types.ts';
import { buildRing, effectiveWeights, identityRing } from './weights.ts';

/**
 * The last step of a table build (build.ts): the applied model's hosts become compiled host
 * entries (routes with their rings and precomputed results, path indexes, host globs), reusing
 * the previous build's where nothing changed.
 */

/** What compileHosts reads of a build (build.ts's BuildRun). */
export interface HostInputs {
  readonly opts: BuildOptions;
  /** The previous build's memo, undefined for a fresh build. */
  readonly memo: BuildMemo | undefined;
  /** The applied commands: routes by host and path. */
  readonly model: Model;
  readonly st: ApplyState;
  /** Incremental: the previous build's routes kept for the unchanged paths of a changed host. */
  readonly kept?: ReadonlyMap<string, readonly CRoute[]>;
  /** Incremental: the only hosts that can differ from the previous build's (undefined: any). */
  readonly visited?: ReadonlySet<string> | undefined;
}

/** Option problems of the route's surviving targets become warnings (in target order). */
function reportProblems(drafts: readonly TargetDraft[], st: ApplyState): void {
  if (st.problems.size === 0) return;
  for (const t of drafts) {
    const p = st.problems.get(t);
    if (p !== undefined)
      for (const message of p.messages) st.warnings.push({ line: p.line, service: t.service, message });
  }
}

function sameOpts(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || a[k] !== b[k]) return false;
  }
  return true;
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether a previous build's compiled route is what compileRoute would make of `m` now: same host
 * and path (the caller's), and the same targets in the same order with the same service, URL,
 * tags, options and fixed weight. Everything else in a CRoute (effective weights, ring, redirect
 * codes, access rules, host and port) is derived from these and the matcher.
 */
function sameRoute(c: CRoute, m: MRoute): boolean {
  const a = c.targets;
  const b = m.targets;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Target;
    const y = b[i] as TargetDraft;
    if (
      x.url !== y.url ||
      x.service !== y.service ||
      !Object.is(x.fixedWeight, y.fixedWeight) ||
      !sameTags(x.tags, y.tags) ||
      !sameOpts(x.opts, y.opts)
    )
      return false;
  }
  return true;
}

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
  for (let i = 0; i < n; i++) Object.freeze(drafts[i]);
  reportProblems(drafts, st);
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

const byPathDesc = (a: { path: string }, b: { path: string }): number =>
  a.path < b.path ? 1 : a.path > b.path ? -1 : 0;

/** The compiled routes of one host (path descending), reusing the previous build's where unchanged. */
function compileHost(
  rs: Map<string, MRoute>,
  prev: HostEntry | undefined,
  opts: BuildOptions,
  st: ApplyState,
): CRoute[] {
  if (prev === undefined && rs.size === 1) return [compileRoute(rs.values().next().value as MRoute, opts, st)];
  const sorted = [...rs.values()].sort(byPathDesc);
  if (prev === undefined) return sorted.map((m) => compileRoute(m, opts, st));
  const old = prev.routes;
  const out: CRoute[] = new Array(sorted.length);
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    const m = sorted[i] as MRoute;
    // both lists are path-descending: walk the old one alongside
    while (j < old.length && (old[j] as CRoute).path > m.path) j++;
    const c = old[j];
    if (c !== undefined && c.path === m.path && sameRoute(c, m)) {
      reportProblems(m.targets, st);
      out[i] = c;
    } else out[i] = compileRoute(m, opts, st);
  }
  return out;
}

/** Two path-descending lists of routes with no path in both, merged. */
function mergeByPath(a: readonly CRoute[], b: readonly CRoute[]): CRoute[] {
  if (a.length === 0) return b.slice();
  const out: CRoute[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length)
    out[k++] = byPathDesc(a[i] as CRoute, b[j] as CRoute) <= 0 ? (a[i++] as CRoute) : (b[j++] as CRoute);
  while (i < a.length) out[k++] = a[i++] as CRoute;
  while (j < b.length) out[k++] = b[j++] as CRoute;
  return out;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What step 3 made: the host entries in every index a lookup uses, and the routes in host order. */
export interface CompiledHosts {
  readonly order: BuildMemo['order'];
  readonly asc: BuildMemo['asc'];
  readonly byKey: ReadonlyMap<string, HostEntry>;
  readonly exactPlain: ReadonlyMap<string, readonly HostEntry[]>;
  readonly exactTls: ReadonlyMap<string, readonly HostEntry[]>;
  readonly globs: HostEntry[];
  readonly tcp: ReadonlyMap<string, CRoute>;
  readonly routes: Route[];
  /** For the next build (BuildMemo.parts). */
  readonly parts: MemoParts;
}

/** The route lookupTcp answers with: the first whose path prefixes '/' ('' or '/'). */
function tcpRouteOf(routes: readonly CRoute[]): CRoute | undefined {
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i] as CRoute;
    if ('/'.startsWith(r.path)) return r;
  }
  return undefined;
}

/**
 * Step 3, compile the hosts in most-specific-first order: each host's routes (reusing the previous
 * build's where unchanged), its host glob, its host entry (the previous one when nothing changed).
 * `nums` are step 1's line numbers (incremental), for the warning of an invalid host glob.
 *
 * When the hosts are those of the previous build (the same order: no host added or removed, the
 * usual health flap), every rank is unchanged, so only the hosts the build touched (changed ones,
 * and host globs for their warning) are compiled, in rank order, and the previous build's indexes
 * are copied and patched where their entries changed (patchHosts).
 */
export function compileHosts(run: HostInputs, ix: LineIndex | undefined, nums: LineInts): CompiledHosts {
  const { opts, memo, model, st } = run;
  const cache = opts.globCache ?? new GlobCache(opts.globCacheSize);
  const orders =
    memo !== undefined && ix !== undefined ? hostOrders(ix.hosts, memo, run.visited) : hostOrders(model, memo);
  const { order, asc } = orders;
  // one host's entry; its TCP route is tcpRouteOf(entry.routes)
  const hostOut = (key: string, rank: number): HostEntry => {
    const rs = model.get(key);
    const prevEntry = memo?.byKey.get(key);
    const kept = run.kept?.get(key);
    let routes =
      rs === undefined ? ((prevEntry as HostEntry).routes as CRoute[]) : compileHost(rs, prevEntry, opts, st);
    if (kept !== undefined && kept.length > 0) routes = mergeByPath(routes, kept);
    let matchPlain: GlobMatcher | undefined;
    let matchTls: GlobMatcher | undefined;
    if (!opts.globDisabled && isGlob(key)) {
      try {
        matchPlain = cache.get(normalizeKey(key, false));
        matchTls = cache.get(normalizeKey(key, true));
      } catch (err) {
        if (!(err instanceof GlobSyntaxError)) throw err;
        // the line of the host's first route (its first line when the lines were grouped). The host
        // is pinned: an override may delete its first route, and only a host applied again knows
        // which route is first now, so every build applies it (as a line that warns)
        const chain = ix?.hosts.get(key);
        if (chain !== undefined) chain.pinned = true;
        const head = chain?.head;
        const firstLine = (rs !== undefined ? rs.values().next().value?.line : nums[head as number]) ?? 0;
        st.warnings.push({
          line: firstLine,
          service: routes[0]?.targets[0]?.service ?? '',
          message: `${err.message}; host matched as plain text`,
        });
        matchPlain = matchTls = undefined;
      }
    }
    let entry: HostEntry;
    if (prevEntry !== undefined && sameList(prevEntry.routes, routes)) {
      // unchanged routes: the same frozen list and path index; a new entry only when the rank
      // (position among the hosts) or the host glob changed
      entry =
        prevEntry.rank === rank && prevEntry.matchPlain === matchPlain && prevEntry.matchTls === matchTls
          ? prevEntry
          : Object.freeze({ key, rank, routes: prevEntry.routes, index: prevEntry.index, matchPlain, matchTls });
    } else {
      entry = Object.freeze({
        key,
        rank,
        routes: Object.freeze(routes),
        index: buildPathIndex(routes, opts.matcher),
        matchPlain,
        matchTls,
      });
    }
    return entry;
  };

  if (memo?.parts !== undefined && orders.added !== undefined) {
    const w0 = st.warnings.length;
    const patched = patchHosts(run, memo, memo.parts, orders, hostOut);
    if (patched !== undefined) return patched;
    st.warnings.length = w0; // a host moved between the glob and exact indexes: compile all
  }

  const byKey = new Map<string, HostEntry>();
  const exactPlain = new Map<string, HostEntry[]>();
  const globs: HostEntry[] = [];
  const tcp = new Map<string, CRoute>();
  const globKeys: string[] = [];
  // whether a key normalises differently for TLS requests (a `:80` or `:443` suffix)
  let tlsDiffers = false;

  for (let rank = 0; rank < order.length; rank++) {
    const key = (order[rank] as { h: string }).h;
    const entry = hostOut(key, rank);
    const tcpRoute = tcpRouteOf(entry.routes);
    byKey.set(key, entry);
    if (!opts.globDisabled && isGlob(key)) globKeys.push(key);
    if (entry.matchPlain !== undefined) globs.push(entry);
    else {
      const k = normalizeKey(key, false);
      pushEntry(exactPlain, k, entry);
      if (!tlsDiffers && normalizeKey(key, true) !== k) tlsDiffers = true;
    }
    if (tcpRoute !== undefined) tcp.set(key, tcpRoute);
  }
  const exactTls = tlsDiffers ? tlsIndex(order, byKey) : exactPlain;

  const routes = routesOf(asc, byKey);
  return {
    order,
    asc,
    byKey,
    exactPlain,
    exactTls,
    globs,
    tcp,
    routes,
    parts: { exactPlain, exactTls, globs, tcp, routes, globKeys },
  };
}

function pushEntry(m: Map<string, HostEntry[]>, k: string, e: HostEntry): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [e]);
  else l.push(e);
}

/**
 * The exact host index for TLS requests, when a host key normalises differently for them (a
 * `:80` or `:443` suffix). Without such a key it is the plain index itself: same keys, same
 * lists, one Map and one list per host fewer (neither is written after the build; patchHosts
 * layers its changes over each separately).
 */
function tlsIndex(order: BuildMemo['order'], byKey: ReadonlyMap<string, HostEntry>): Map<string, HostEntry[]> {
  const out = new Map<string, HostEntry[]>();
  for (let rank = 0; rank < order.length; rank++) {
    const key = (order[rank] as { h: string }).h;
    const e = byKey.get(key) as HostEntry;
    if (e.matchPlain === undefined) pushEntry(out, normalizeKey(key, true), e);
  }
  return out;
}

/** Every route in ascending host order (the table's `routes`). */
function routesOf(asc: readonly string[], byKey: ReadonlyMap<string, HostEntry>): Route[] {
  const routes: Route[] = [];
  for (let i = 0; i < asc.length; i++) {
    const e = byKey.get(asc[i] as string);
    if (e === undefined) continue;
    const rs = e.routes;
    for (let k = 0; k < rs.length; k++) routes.push((rs[k] as CRoute).route);
  }
  return routes;
}

/**
 * The previous table's route list (every route in ascending host order, routesOf) with the routes
 * of the changed hosts replaced: each host's run found by a binary search on the route's host,
 * the runs between copied whole (no pass over the hosts, no map lookup per host).
 */
function splicedRoutes(prev: readonly Route[], changed: ReadonlyMap<string, readonly CRoute[] | undefined>): Route[] {
  const hosts = [...changed.keys()].sort(ascending);
  const parts: (readonly Route[])[] = [];
  let pos = 0;
  for (const h of hosts) {
    const lo = firstHostAt(prev, h, pos, false);
    const hi = firstHostAt(prev, h, lo, true);
    parts.push(
      prev.slice(pos, lo),
      (changed.get(h) ?? []).map((r) => r.route),
    );
    pos = hi;
  }
  parts.push(prev.slice(pos));
  return ([] as Route[]).concat(...parts);
}

/**
 * The route of `host` + `path` in a table's route list (Table.routes: hosts ascending, one route per
 * host and path), by a binary search on the host: what a pruner needs to check a few remembered
 * routes against a table of 150,000 targets without walking it.
 */
export function routeAt(routes: readonly Route[], host: string, path: string): Route | undefined {
  for (let i = firstHostAt(routes, host, 0, false); i < routes.length; i++) {
    const r = routes[i] as Route;
    if (r.host !== host) return undefined;
    if (r.path === path) return r;
  }
  return undefined;
}

/** First index from `from` whose route's host is at or after h (`after`: after h). */
const firstHostAt = (routes: readonly Route[], h: string, from: number, after: boolean): number =>
  bound(routes, h, after ? hostAtOrBefore : hostBefore, from);
const hostBefore = (r: Route, h: string): number => (r.host < h ? -1 : 0);
const hostAtOrBefore = (r: Route, h: string): number => (r.host <= h ? -1 : 0);

/** `list` with `from` replaced by `to` (a copy), or undefined when `from` is not in it. */
function replaced(list: readonly HostEntry[] | undefined, from: HostEntry, to: HostEntry): HostEntry[] | undefined {
  const i = list?.indexOf(from) ?? -1;
  if (list === undefined || i < 0) return undefined;
  const out = list.slice();
  out[i] = to;
  return out;
}

/**
 * Ranks for the hosts that came (see patchHosts): between the ranks of their neighbours in the
 * new order, so that no other host's rank (and entry) changes. Ranks only order the candidates of
 * a lookup (host-candidates.ts); undefined when no number fits between two neighbours any more
 * (the caller compiles every host, ranks 0..n-1 again).
 */
function addedRanks(
  order: readonly KeyedHost[],
  added: ReadonlySet<string>,
  rankOf: (h: string) => number,
): Map<string, number> | undefined {
  const out = new Map<string, number>();
  const todo: number[] = [];
  for (const h of added) todo.push(bound(order, { h, k: reverseHostPort(h) }, bySpecificity));
  todo.sort((a, b) => a - b);
  for (let t = 0; t < todo.length; ) {
    // a run of added hosts at positions i..j-1 between two kept ones
    const i = todo[t] as number;
    let j = i;
    while (t < todo.length && todo[t] === j) {
      t++;
      j++;
    }
    const left = i > 0 ? rankOf((order[i - 1] as KeyedHost).h) : undefined;
    const right = j < order.length ? rankOf((order[j] as KeyedHost).h) : undefined;
    const a = left ?? (right === undefined ? 0 : right - 1);
    const b = right ?? a + 1;
    for (let k = i; k < j; k++) {
      const r = a + ((b - a) * (k - i + 1)) / (j - i + 1);
      if (!(r > a && r < b) || (k > i && !(r > (out.get((order[k - 1] as KeyedHost).h) as number)))) return undefined;
      out.set((order[k] as KeyedHost).h, r);
    }
  }
  return out;
}

/** `list` (rank ascending) with `entry` inserted by its rank (a copy). */
function insertByRank(list: readonly HostEntry[] | undefined, entry: HostEntry): HostEntry[] {
  const out = list === undefined ? [] : list.slice();
  let i = out.length;
  while (i > 0 && (out[i - 1] as HostEntry).rank > entry.rank) i--;
  out.splice(i, 0, entry);
  return out;
}

/**
 * compileHosts when the host order is the previous build's: compiles the touched hosts (rebuilt,
 * with kept paths, or host globs) in rank order and patches copies of the previous indexes.
 * Undefined when an entry would move between the glob and the exact indexes (never expected: the
 * same key compiles the same way); the caller then compiles every host.
 */
function patchHosts(
  run: HostInputs,
  memo: BuildMemo,
  parts: MemoParts,
  orders: HostOrders,
  hostOut: (key: string, rank: number) => HostEntry,
): CompiledHosts | undefined {
  const { order, asc } = orders;
  const came = new Set(orders.added);
  const gone = new Set(orders.removed);
  const ranks = came.size === 0 ? new Map<string, number>() : addedRanks(order, came, (h) => rankOf(h, memo));
  if (ranks === undefined) return undefined;
  const touched = new Set<string>(run.model.keys());
  if (run.kept !== undefined) for (const h of run.kept.keys()) touched.add(h);
  for (const h of parts.globKeys) touched.add(h);
  // the touched hosts and the ones that came, in rank order (warnings come out in that order)
  const items: { key: string; rank: number; prev: HostEntry | undefined }[] = [];
  for (const h of touched) {
    if (came.has(h) || gone.has(h)) continue;
    const prev = memo.byKey.get(h) as HostEntry;
    items.push({ key: h, rank: prev.rank, prev });
  }
  for (const h of came) items.push({ key: h, rank: ranks.get(h) as number, prev: undefined });
  items.sort((a, b) => a.rank - b.rank);
  // the changes only: layered over the previous maps (layered-map.ts), never copies of them
  const l: Layers = {
    byKey: new Map(),
    exactPlain: new Map(),
    exactTls: new Map(),
    tcp: new Map(),
    globs: parts.globs,
  };
  /** Hosts whose routes changed (their routes now; undefined: the host went). */
  const changedRoutes = new Map<string, readonly CRoute[] | undefined>();
  for (const h of gone) changedRoutes.set(h, undefined);
  for (const h of gone) if (!removeHost(l, parts, memo.byKey.get(h) as HostEntry)) return undefined;
  for (const { key, rank, prev } of items) {
    const entry = hostOut(key, rank);
    const tcpRoute = tcpRouteOf(entry.routes);
    if (tcpRoute !== parts.tcp.get(key)) l.tcp.set(key, tcpRoute);
    if (entry === prev) continue;
    if (prev !== undefined && (entry.matchPlain === undefined) !== (prev.matchPlain === undefined)) return undefined;
    if (entry.routes !== prev?.routes) changedRoutes.set(key, entry.routes);
    l.byKey.set(key, entry);
    if (entry.matchPlain !== undefined) {
      const g = prev === undefined ? insertByRank(l.globs, entry) : replaced(l.globs, prev, entry);
      if (g === undefined) return undefined;
      l.globs = g;
      continue;
    }
    for (const [changes, from, tls] of [
      [l.exactPlain, parts.exactPlain, false],
      [l.exactTls, parts.exactTls, true],
    ] as const) {
      const k = normalizeKey(key, tls);
      const list = changes.has(k) ? changes.get(k) : from.get(k);
      const next = prev === undefined ? insertByRank(list, entry) : replaced(list, prev, entry);
      if (next === undefined) return undefined;
      changes.set(k, next);
    }
  }
  const { byKey, exactPlain, exactTls, tcp } = l;
  const globs = l.globs as HostEntry[];
  const globKeys =
    came.size + gone.size === 0
      ? parts.globKeys
      : [
          ...parts.globKeys.filter((h) => !gone.has(h)),
          ...[...came].filter((h) => !run.opts.globDisabled && isGlob(h)),
        ];
  const nextByKey = withChanges(memo.byKey, byKey);
  const routes = changedRoutes.size > 0 ? splicedRoutes(parts.routes, changedRoutes) : (parts.routes as Route[]);
  const nextPlain = withChanges(parts.exactPlain, exactPlain);
  const nextTls = withChanges(parts.exactTls, exactTls);
  const nextTcp = withChanges(parts.tcp, tcp);
  return {
    order,
    asc,
    byKey: nextByKey,
    exactPlain: nextPlain,
    exactTls: nextTls,
    globs,
    tcp: nextTcp,
    routes,
    parts: { exactPlain: nextPlain, exactTls: nextTls, globs, tcp: nextTcp, routes, globKeys },
  };
}

const rankOf = (h: string, memo: BuildMemo): number => (memo.byKey.get(h) as HostEntry).rank;

/** The changes patchHosts layers over the previous indexes (a value undefined: key deleted). */
interface Layers {
  readonly byKey: Map<string, HostEntry | undefined>;
  readonly exactPlain: Map<string, readonly HostEntry[] | undefined>;
  readonly exactTls: Map<string, readonly HostEntry[] | undefined>;
  readonly tcp: Map<string, CRoute | undefined>;
  /** The glob entries, rank ascending (a new list when changed). */
  globs: readonly HostEntry[];
}

/** Takes a host that went out of every index (false: an exact list without its entry, never expected). */
function removeHost(l: Layers, parts: MemoParts, prev: HostEntry): boolean {
  l.byKey.set(prev.key, undefined);
  if (parts.tcp.has(prev.key)) l.tcp.set(prev.key, undefined);
  if (prev.matchPlain !== undefined) {
    l.globs = l.globs.filter((e) => e !== prev);
    return true;
  }
  for (const [changes, from, tls] of [
    [l.exactPlain, parts.exactPlain, false],
    [l.exactTls, parts.exactTls, true],
  ] as const) {
    const k = normalizeKey(prev.key, tls);
    const list = changes.has(k) ? changes.get(k) : from.get(k);
    if (list === undefined || !list.includes(prev)) return false;
    const rest = list.filter((e) => e !== prev);
    changes.set(k, rest.length === 0 ? undefined : rest);
  }
  return true;
}
