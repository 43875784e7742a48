import { byLine, mayBeGeneralCommand, skippedLine } from './bad-lines.ts';
import type { BuildMemo, Chain, LineEntry, LineIndex } from './build-memo.ts';
import { addLine, addSource, ChainComparer, forEachLine, hostOrders, newLineIndex, parseEntry } from './build-memo.ts';
import type { CRoute, HostEntry } from './compiled.ts';
import type { GlobMatcher } from './glob.ts';
import { GlobSyntaxError, isGlob, sharedGlobCache } from './glob.ts';
import { normalizeHost } from './host-order.ts';
import type { ApplyState, Model, MRoute } from './model.ts';
import { applyDef, hostPath, Names } from './model.ts';
import { buildPathIndex } from './path-index.ts';
import { RouteTable } from './table.ts';
import type { TargetDraft } from './target.ts';
import type { ParsedURL } from './target-url.ts';
import { parseTargetURL } from './target-url.ts';
import type { BuildOptions, LookupResult, Route, Table, Target, Warning } from './types.ts';
import { buildRing, effectiveWeights, identityRing } from './weights.ts';

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

/** The previous table's memo when it was built with the same matcher and glob setting. */
function usableMemo(prev: Table | undefined, opts: BuildOptions): BuildMemo | undefined {
  if (!(prev instanceof RouteTable)) return undefined;
  const m = prev.buildMemo;
  return m !== undefined && m.matcher === opts.matcher && m.globDisabled === opts.globDisabled ? m : undefined;
}

/** The compiled routes of one host (path descending), reusing the previous build's where unchanged. */
function compileHost(
  rs: Map<string, MRoute>,
  prev: HostEntry | undefined,
  opts: BuildOptions,
  st: ApplyState,
): CRoute[] {
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

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Builds the frozen routing table from route text (fabio-reference (b) and (n)). Throws
 * RouteSyntaxError (`line N: ...`) when the text is invalid; the caller keeps its previous table.
 * Problems that do not stop the build (unmatched `route weight`, bad access rules or redirect
 * codes, invalid host globs) are in `table.warnings`.
 *
 * With `prev` (the live table, built with the same options) the build is incremental: in a text
 * of `route add` lines only, a host whose lines are those of the previous build is neither parsed
 * nor applied again; new hosts are merged into the previous host order; routes whose targets are
 * unchanged keep their compiled form, and hosts whose routes are all unchanged their path index
 * (see build-memo.ts). The result is the same as without `prev` (test/routes/incremental.test.ts).
 */
export function buildTable(text: string, opts: BuildOptions, prev?: Table): Table {
  const run = new BuildRun(text, opts, usableMemo(prev, opts));
  const grouped = groupLines(run);
  const ix = applyCommands(run, grouped);
  const hosts = compileHosts(run, ix, grouped.nums);
  const counters = opts.counters ?? new Map<string, number>();
  if (counters.size > 0) pruneCounters(counters, hosts.byKey);
  const warnings = run.skipped.length > 0 ? [...run.skipped.sort(byLine), ...run.st.warnings] : run.st.warnings;
  return Object.freeze(
    new RouteTable({
      source: text,
      warnings: Object.freeze(warnings.map((w) => Object.freeze(w))),
      routes: Object.freeze(hosts.routes),
      matcher: opts.matcher,
      strategy: opts.strategy,
      globDisabled: opts.globDisabled,
      random: opts.random ?? Math.random,
      counters,
      byKey: hosts.byKey,
      exactPlain: hosts.exactPlain,
      exactTls: hosts.exactTls,
      globs: Object.freeze(hosts.globs),
      fallback: hosts.byKey.get(''),
      tcp: hosts.tcp,
      memo: {
        matcher: opts.matcher,
        globDisabled: opts.globDisabled,
        order: hosts.order,
        asc: hosts.asc,
        byKey: hosts.byKey,
        pathGlobs: run.st.pathGlobs,
        lines: ix,
      },
    }),
  );
}

/** The state of one build shared by its three steps: the model being applied to and what failed. */
class BuildRun {
  readonly model: Model = new Map();
  readonly st: ApplyState;
  /** skipBadLines: a line that does not parse or apply is left out and reported (bad-lines.ts). */
  readonly skip: boolean;
  readonly skipped: Warning[] = [];
  /**
   * fabio parses the whole text before applying it, so a syntax error anywhere wins over an
   * error applying an earlier command (a bad target URL): remember that one, keep parsing.
   */
  applyError: unknown;

  readonly text: string;
  readonly opts: BuildOptions;
  /** The previous build's memo (same matcher and glob setting), undefined for a fresh build. */
  readonly memo: BuildMemo | undefined;

  constructor(text: string, opts: BuildOptions, memo: BuildMemo | undefined) {
    this.text = text;
    this.opts = opts;
    this.memo = memo;
    this.st = {
      matcher: opts.matcher,
      warnings: [],
      names: new Names(),
      problems: new Map(),
      pathGlobs: new Map(),
      prevPathGlobs: memo?.pathGlobs,
    };
    this.skip = opts.skipBadLines === true;
  }

  apply(e: LineEntry, n: number, line: string, start: number): void {
    if (this.applyError !== undefined) return;
    try {
      applyDef(this.model, e.d, this.st, n, e.pre);
    } catch (err) {
      if (this.skip) this.skipped.push(skippedLine(this.text, line, n, start, err));
      else this.applyError = err;
    }
  }

  /** parseEntry that, with skip, reports a bad line and returns undefined instead of throwing. */
  parse(line: string, n: number, start: number, copy: boolean): LineEntry | undefined {
    if (!this.skip) return parseEntry(line, n, this.opts.matcher, copy);
    try {
      return parseEntry(line, n, this.opts.matcher, copy);
    } catch (err) {
      this.skipped.push(skippedLine(this.text, line, n, start, err));
      return undefined;
    }
  }
}

/** What step 1 found: the lines by host, and for an incremental build each line's text and number. */
interface Grouped {
  /** The lines grouped by host, for the next build (undefined: not only `route add` lines). */
  readonly ix: LineIndex | undefined;
  /** No usable previous build: every line was parsed and applied in this step already. */
  readonly eager: boolean;
  /** Incremental: the text and line number of each grouped line, by its index in `ix`. */
  readonly lineTexts: readonly string[];
  readonly nums: readonly number[];
  /** skip: lines that cannot be commands at all (no `route add` source, not del/weight). */
  readonly junk: readonly [line: string, n: number, start: number][];
  /** A line that is not `route add` was seen: every line must be applied in order. */
  readonly general: boolean;
}

/**
 * Step 1, group the lines by host. Without a usable previous build every line is also parsed and
 * applied in order, as always; with one, this pass only finds each line's host (see build-memo.ts).
 */
function groupLines(run: BuildRun): Grouped {
  const text = run.text;
  let ix: LineIndex | undefined = newLineIndex(text);
  const eager = run.memo === undefined;
  const lineTexts: string[] = [];
  const nums: number[] = [];
  const junk: [line: string, n: number, start: number][] = [];
  let general = false;
  forEachLine(text, (line, n, start, end) => {
    if (eager) {
      const e = run.parse(line, n, start, false);
      if (e === undefined) {
        // a bad line is in no host's routes; its host (if it has one) is rebuilt every time, so
        // the warning always carries the current line number
        if (ix === undefined) return;
        const src = addSource(line);
        if (src !== undefined) addLine(ix, hostPath(src)[0], start, end).pinned = true;
        else if (mayBeGeneralCommand(line)) ix = undefined;
        return;
      }
      run.apply(e, n, line, start);
      if (ix === undefined) return;
      if (e.pre === undefined) ix = undefined;
      else {
        const c = addLine(ix, e.pre.host, start, end);
        if (e.warns || e.fatal) c.pinned = true;
      }
      return;
    }
    if (general) return;
    const src = addSource(line);
    if (src === undefined) {
      if (run.skip && !mayBeGeneralCommand(line)) junk.push([line, n, start]);
      else general = true;
    } else {
      addLine(ix as LineIndex, hostPath(src)[0], start, end);
      lineTexts.push(line);
      nums.push(n);
    }
  });
  return { ix, eager, lineTexts, nums, junk, general };
}

/**
 * Step 2, apply the commands. Incremental: parse and apply only the lines of hosts that changed
 * (or warn); anything else (a syntax error, a failing line, a command other than `route add`)
 * falls back to the general case, every command in order. Throws the first failure (without
 * skipBadLines). Returns the line index for the next build, undefined when it cannot be used.
 */
function applyCommands(run: BuildRun, g: Grouped): LineIndex | undefined {
  let ix = g.ix;
  let general = g.general;
  const memo = run.memo;
  const prevIx = memo?.lines;
  if (!g.eager && !general && memo !== undefined) {
    const cur = ix as LineIndex;
    // the lines of the hosts that changed (or warn): parsed, checked, then applied
    const todo: number[] = [];
    const todoHosts: string[] = [];
    const cmp = prevIx !== undefined ? new ChainComparer(cur, prevIx) : undefined;
    for (const [host, c] of cur.hosts) {
      const p = prevIx?.hosts.get(host);
      if (p !== undefined && !p.pinned && memo.byKey.has(host) && cmp?.same(c, p)) continue;
      for (let i = c.head; i >= 0; i = cur.nexts[i] as number) {
        todo.push(i);
        todoHosts.push(host);
      }
    }
    for (const [line, n, start] of g.junk) {
      // never a command (see mayBeGeneralCommand); parse says why
      if (run.parse(line, n, start, false) !== undefined) general = true;
    }
    const ents: (LineEntry | undefined)[] = [];
    for (let k = 0; k < todo.length && !general; k++) {
      const i = todo[k] as number;
      let e: LineEntry | undefined;
      try {
        e = run.parse(g.lineTexts[i] as string, g.nums[i] as number, cur.starts[i] as number, true);
      } catch {
        general = true; // a syntax error: the general case finds the first one
        break;
      }
      const chain = cur.hosts.get(todoHosts[k] as string) as Chain;
      if (e === undefined) {
        chain.pinned = true; // skip: reported by parse
        ents.push(undefined);
        continue;
      }
      if (e.pre === undefined || (e.fatal && !run.skip)) {
        general = true; // a syntax error or a failing line: the general case finds the first one
        break;
      }
      if (e.warns || e.fatal) chain.pinned = true;
      ents.push(e);
    }
    if (!general) {
      for (let k = 0; k < ents.length; k++) {
        const e = ents[k];
        const i = todo[k] as number;
        if (e !== undefined) run.apply(e, g.nums[i] as number, g.lineTexts[i] as string, cur.starts[i] as number);
      }
      // a host whose lines were all skipped has no routes
      for (const h of todoHosts) if (!run.model.has(h)) cur.hosts.delete(h);
    }
  }
  if (general) {
    // the general case: every command in order; the first syntax error, else the first failure
    ix = undefined;
    run.skipped.length = 0;
    forEachLine(run.text, (line, n, start) => {
      const e = run.parse(line, n, start, true);
      if (e !== undefined) run.apply(e, n, line, start);
    });
  }
  if (run.applyError !== undefined) throw run.applyError;
  return ix;
}

/** What step 3 made: the host entries in every index a lookup uses, and the routes in host order. */
interface CompiledHosts {
  readonly order: BuildMemo['order'];
  readonly asc: BuildMemo['asc'];
  readonly byKey: Map<string, HostEntry>;
  readonly exactPlain: Map<string, HostEntry[]>;
  readonly exactTls: Map<string, HostEntry[]>;
  readonly globs: HostEntry[];
  readonly tcp: Map<string, CRoute>;
  readonly routes: Route[];
}

/**
 * Step 3, compile the hosts in most-specific-first order: each host's routes (reusing the previous
 * build's where unchanged), its host glob, its host entry (the previous one when nothing changed).
 * `nums` are step 1's line numbers (incremental), for the warning of an invalid host glob.
 */
function compileHosts(run: BuildRun, ix: LineIndex | undefined, nums: readonly number[]): CompiledHosts {
  const { opts, memo, model, st } = run;
  const cache = sharedGlobCache(opts.globCacheSize);
  const { order, asc } = hostOrders(memo !== undefined && ix !== undefined ? ix.hosts : model, memo);
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

  for (let rank = 0; rank < order.length; rank++) {
    const key = (order[rank] as { h: string }).h;
    const rs = model.get(key);
    const prevEntry = memo?.byKey.get(key);
    const routes =
      rs === undefined ? ((prevEntry as HostEntry).routes as CRoute[]) : compileHost(rs, prevEntry, opts, st);
    let matchPlain: GlobMatcher | undefined;
    let matchTls: GlobMatcher | undefined;
    if (!opts.globDisabled && isGlob(key)) {
      try {
        matchPlain = cache.get(normalizeHost(key, false));
        matchTls = cache.get(normalizeHost(key, true));
      } catch (err) {
        if (!(err instanceof GlobSyntaxError)) throw err;
        // the line of the host's first route (its first line when the lines were grouped)
        const head = ix?.hosts.get(key)?.head;
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
    byKey.set(key, entry);
    if (matchPlain !== undefined) globs.push(entry);
    else {
      push(exactPlain, normalizeHost(key, false), entry);
      push(exactTls, normalizeHost(key, true), entry);
    }
    const tcpRoute = routes.find((r) => '/'.startsWith(r.path));
    if (tcpRoute !== undefined) tcp.set(key, tcpRoute);
  }

  const routes: Route[] = [];
  for (const h of asc) for (const r of byKey.get(h)?.routes ?? []) routes.push(r.route);
  return { order, asc, byKey, exactPlain, exactTls, globs, tcp, routes };
}
