import { byLine, mayBeGeneralCommand, skippedLine } from './bad-lines.ts';
import type {
  BuildMemo,
  Chain,
  GrowingLineIndex,
  LineComparer,
  LineEntry,
  LineIndex,
  LineInts,
  Overrides,
} from './build-memo.ts';
import {
  addLine,
  addSource,
  ChainComparer,
  changedPaths,
  forEachLine,
  forEachLineFrom,
  hostOf,
  lineText,
  newLineIndex,
  parseEntry,
  TextComparer,
} from './build-memo.ts';
import { compileHosts } from './compile-hosts.ts';
import type { CRoute, HostEntry } from './compiled.ts';
import { isGlob } from './glob.ts';
import { editLineIndex } from './line-edit.ts';
import type { ApplyState, Model } from './model.ts';
import { applyDef, hostPath, Names } from './model.ts';
import { RouteTable } from './table.ts';
import type { TextEdit } from './text-edit.ts';
import type { BuildOptions, Table, Warning } from './types.ts';

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

/** The previous table's memo when it was built with the same matcher and glob setting. */
function usableMemo(prev: Table | undefined, opts: BuildOptions): BuildMemo | undefined {
  if (!(prev instanceof RouteTable)) return undefined;
  const m = prev.buildMemo;
  return m !== undefined && m.matcher === opts.matcher && m.globDisabled === opts.globDisabled ? m : undefined;
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
 *
 * Three steps: `groupLines` (each line's host; a fresh build also parses and applies here),
 * `applyCommands` (the changed hosts' lines, or every command in order), `compileHosts`
 * (compile-hosts.ts: host entries and the indexes a lookup uses).
 */
export function buildTable(text: string, opts: BuildOptions, prev?: Table, edits?: readonly TextEdit[]): Table {
  const run = new BuildRun(text, opts, usableMemo(prev, opts));
  const grouped = (edits !== undefined && edits.length > 0 ? editedLines(run, edits) : undefined) ?? groupLines(run);
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
        overrides: ix === undefined ? undefined : run.overrides,
        revisit: revisitHosts(run, ix, hosts.byKey),
        junk: run.junk,
        parts: hosts.parts,
      },
    }),
  );
}

/** BuildMemo.revisit: from the hosts step 2 visited when it did not visit all (see BuildRun.visited). */
function revisitHosts(
  run: BuildRun,
  ix: LineIndex | undefined,
  byKey: ReadonlyMap<string, HostEntry>,
): Set<string> | undefined {
  if (ix === undefined) return undefined;
  const out = new Set(run.dropped);
  const check = (h: string, c: Chain | undefined): void => {
    if (c !== undefined && (c.pinned || !byKey.has(h))) out.add(h);
  };
  if (run.visited !== undefined) for (const h of run.visited) check(h, ix.hosts.get(h));
  else for (const [h, c] of ix.hosts) check(h, c);
  return out;
}

/** The state of one build shared by its three steps: the model being applied to and what failed. */
class BuildRun {
  readonly model: Model = new Map();
  readonly st: ApplyState;
  /** skipBadLines: a line that does not parse or apply is left out and reported (bad-lines.ts). */
  readonly skip: boolean;
  readonly skipped: Warning[] = [];
  /** skip: a line that is no command at all (junk) was seen (see BuildMemo.junk). */
  junk = false;
  /**
   * Incremental: the previous build's compiled routes of a changed host whose paths did not
   * change (path descending), by host; compileHosts merges them with the changed paths' routes.
   */
  readonly kept = new Map<string, CRoute[]>();
  /** The commands after the last `route add` and their warnings (see BuildMemo.overrides). */
  overrides: Overrides | undefined;
  /**
   * Incremental: the hosts step 2 visited (undefined: it visited every host of the text), the
   * only ones whose revisit status (BuildMemo.revisit) can have changed.
   */
  visited: Set<string> | undefined;
  /** Hosts left out of the line index although the text has lines of them (see BuildMemo.revisit). */
  readonly dropped = new Set<string>();
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

  /** Applies an override (a command after the last `route add`); returns the warning it gave. */
  applyOverride(e: LineEntry, n: number, line: string, start: number): string | undefined {
    const w = this.st.warnings;
    const before = w.length;
    this.apply(e, n, line, start);
    return w.length > before ? w[w.length - 1]?.message : undefined;
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
  readonly nums: LineInts;
  /** skip: lines that cannot be commands at all (no `route add` source, not del/weight). */
  readonly junk: readonly [line: string, n: number, start: number][];
  /**
   * Incremental, without skipBadLines: the commands after the last `route add` (overrides), which
   * the incremental build applies to the rebuilt routes only; a `route add` after one of them
   * makes the build general.
   */
  readonly over: readonly [line: string, n: number, start: number][];
  /** A line that is not `route add` was seen: every line must be applied in order. */
  readonly general: boolean;
  /**
   * The index was carried through the text's edits (line-edit.ts): the hosts with a line in an
   * edited stretch (the only ones besides BuildMemo.revisit that can have changed).
   */
  readonly touched?: ReadonlySet<string> | undefined;
}

/**
 * Step 1 from the edits of the previous build's text (line-edit.ts): the previous line index with
 * the edited stretches replaced, the overrides after the grouped lines read again. Undefined when
 * the edits cannot be used (no usable index, skipBadLines, an edit outside the `route add` lines).
 */
function editedLines(run: BuildRun, edits: readonly TextEdit[]): Grouped | undefined {
  const memo = run.memo;
  // skip: junk between the grouped lines is in no index; only a text without any is edited
  if (memo?.lines === undefined || memo.revisit === undefined || (run.skip && memo.junk !== false)) return undefined;
  const ed = editLineIndex(memo.lines, run.text, edits, memo.revisit);
  if (ed === undefined) return undefined;
  const { ix } = ed;
  const n = ix.starts.length;
  const over: [line: string, n: number, start: number][] = [];
  const junk: [line: string, n: number, start: number][] = [];
  let general = false;
  forEachLineFrom(
    run.text,
    n === 0 ? 0 : (ix.ends[n - 1] as number) + 1,
    n === 0 ? 1 : (ix.nums[n - 1] as number) + 1,
    (line, num, start) => {
      // as groupLines sorts the lines after the grouped ones
      if (addSource(line) !== undefined) general = true;
      else if (!run.skip || mayBeGeneralCommand(line)) over.push([line, num, start]);
      else {
        junk.push([line, num, start]);
        run.junk = true;
      }
    },
  );
  return { ix, eager: false, lineTexts: ix.texts, nums: ix.nums, junk, over, general, touched: ed.touched };
}

/**
 * skipBadLines, a line that did not parse or apply (parse reported it), in a pass over every line:
 * a bad line is in no host's routes, so its host (if it has one) stays in the index pinned and is
 * rebuilt every time (its warning always carries the current line number); junk is noted
 * (BuildMemo.junk); a bad override, or a bad `route add` after an override, leaves no index.
 */
function keepBadLine(
  run: BuildRun,
  ix: GrowingLineIndex | undefined,
  line: string,
  n: number,
  start: number,
  end: number,
  afterOverrides: boolean,
): GrowingLineIndex | undefined {
  const src = addSource(line);
  if (src === undefined && !mayBeGeneralCommand(line)) run.junk = true;
  if (ix === undefined) return undefined;
  if (src !== undefined && !afterOverrides) {
    addLine(ix, hostPath(src)[0], start, end).pinned = true;
    ix.texts?.push(line);
    ix.nums?.push(n);
  } else if (src !== undefined || mayBeGeneralCommand(line)) return undefined;
  return ix;
}

/**
 * Step 1, group the lines by host. Without a usable previous build every line is also parsed and
 * applied in order, as always; with one, this pass only finds each line's host (see build-memo.ts).
 */
function groupLines(run: BuildRun): Grouped {
  const text = run.text;
  const eager = run.memo === undefined;
  // with the line texts even when eager: the next build (the first change after a start) can then
  // carry this index through the text's edits instead of grouping every line again
  let ix: GrowingLineIndex | undefined = newLineIndex(text, true);
  const lineTexts: string[] = ix.texts ?? [];
  const nums: number[] = ix.nums ?? [];
  const junk: [line: string, n: number, start: number][] = [];
  const over: [line: string, n: number, start: number][] = [];
  const overLines: string[] = [];
  const overWarnings: (string | undefined)[] = [];
  let general = false;
  forEachLine(text, (line, n, start, end) => {
    if (eager) {
      const e = run.parse(line, n, start, false);
      if (e === undefined) {
        ix = keepBadLine(run, ix, line, n, start, end, overLines.length > 0);
        return;
      }
      if (e.pre === undefined) {
        // an override: applied to every route here; the next build applies it to the rebuilt ones
        overWarnings.push(run.applyOverride(e, n, line, start));
        overLines.push(line);
        return;
      }
      run.apply(e, n, line, start);
      if (ix === undefined) return;
      if (e.pre === undefined || overLines.length > 0) ix = undefined;
      else {
        const c = addLine(ix, e.pre.host, start, end);
        if (e.warns || e.fatal) c.pinned = true;
        lineTexts.push(line);
        nums.push(n);
      }
      return;
    }
    if (general) return;
    const src = addSource(line);
    if (src === undefined) {
      if (run.skip && !mayBeGeneralCommand(line)) {
        junk.push([line, n, start]);
        run.junk = true;
      } else over.push([line, n, start]);
    } else if (over.length > 0) general = true;
    else {
      addLine(ix as GrowingLineIndex, hostPath(src)[0], start, end);
      lineTexts.push(line);
      nums.push(n);
    }
  });
  if (eager) run.overrides = { text: overLines.join('\n'), warnings: overWarnings };
  return { ix, eager, lineTexts, nums, junk, over, general };
}

/**
 * The overrides (the commands after the last `route add`) of an incremental build, applied to the
 * routes rebuilt in this build: `route del` and `route weight` change one route at a time, each
 * route's outcome depends on its own targets only, so a route kept from the previous build (whose
 * overrides were these) already has theirs. A `route weight` aimed at a kept route (`same`) gives
 * the warning it gave then, with its line number now. Undefined: a command failed (the general
 * case reports it).
 */
function applyOverrides(
  run: BuildRun,
  over: Grouped['over'],
  prev: readonly (string | undefined)[],
  same: (host: string, path: string) => boolean,
): Overrides | undefined {
  const warnings: (string | undefined)[] = [];
  const lines: string[] = [];
  for (let k = 0; k < over.length; k++) {
    const [line, n, start] = over[k] as Grouped['over'][number];
    let e: LineEntry | undefined;
    try {
      e = run.parse(line, n, start, true);
    } catch {
      return undefined;
    }
    if (e === undefined || e.pre !== undefined) return undefined;
    lines.push(line);
    if (e.d.cmd === 'route weight' && same(...hostPath(e.d.src))) {
      const w = prev[k];
      if (w !== undefined) run.st.warnings.push({ line: n, service: e.d.service, message: w });
      warnings.push(w);
      continue;
    }
    warnings.push(run.applyOverride(e, n, line, start));
    if (run.applyError !== undefined) return undefined;
  }
  return { text: lines.join('\n'), warnings };
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
  const w0 = run.st.warnings.length;
  const overText = g.over.map(([line]) => line).join('\n');
  // overrides apply to the rebuilt routes only: the kept ones had these very overrides applied
  if (!g.eager && !general && memo !== undefined && (memo.overrides?.text ?? '') !== overText) general = true;
  if (!g.eager && !general && memo !== undefined) {
    const cur = ix as LineIndex;
    /** Hosts whose routes are the previous build's, and the changed paths of hosts rebuilt path by path. */
    const sameHosts = new Set<string>();
    const changedOf = new Map<string, Set<string>>();
    // the lines of the hosts that changed (or warn): parsed, checked, then applied
    const todo: number[] = [];
    const todoHosts: string[] = [];
    const cmp = prevIx === undefined ? undefined : comparer(cur, prevIx, g.touched !== undefined);
    // only the hosts with a line in the changed stretch of the text, and those revisited every
    // build, can differ from the previous build: the others are its hosts (O(changed), not O(hosts))
    run.visited = touchedHosts(g, cmp, prevIx, memo.revisit);
    const visit: Iterable<string> = run.visited ?? cur.hosts.keys();
    for (const host of visit) {
      const c = cur.hosts.get(host);
      if (c === undefined) continue; // a host of the previous text only
      const p = prevIx?.hosts.get(host);
      const prevEntry = memo.byKey.get(host);
      const reusable = p !== undefined && !p.pinned && prevEntry !== undefined;
      if (reusable && cmp?.same(c, p)) {
        sameHosts.add(host);
        continue;
      }
      if (reusable && cmp !== undefined && prevIx !== undefined && (run.opts.globDisabled || !isGlob(host))) {
        // one host of many paths (every `urlprefix-/path` tag lands on host ''): only its changed paths
        const changed = new Set<string>();
        const kept = changedPaths(
          cmp,
          cur,
          c,
          g.lineTexts,
          prevIx,
          p,
          prevEntry.routes,
          (i) => {
            todo.push(i);
            todoHosts.push(host);
          },
          changed,
        );
        run.kept.set(host, kept);
        changedOf.set(host, changed);
        continue;
      }
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
      const visited = run.visited;
      const same = (host: string, path: string) =>
        sameHosts.has(host) ||
        (visited !== undefined && !visited.has(host) && cur.hosts.has(host)) ||
        (changedOf.get(host)?.has(path) === false && run.kept.has(host));
      run.overrides = applyOverrides(run, g.over, memo.overrides?.warnings ?? [], same);
      if (run.overrides === undefined) general = true;
    }
    if (!general) {
      // a host whose lines were all skipped (or whose routes the overrides deleted) has no routes;
      // so has one that only lost paths when nothing of it was kept (its other paths' routes were
      // deleted by overrides in the previous build already)
      for (const h of new Set([...todoHosts, ...run.kept.keys()]))
        if (!run.model.has(h) && !(run.kept.get(h)?.length ?? 0) && cur.hosts.delete(h)) run.dropped.add(h);
      // a host that only lost paths is compiled from its kept routes
      for (const h of run.kept.keys())
        if (!run.model.has(h) && (run.kept.get(h)?.length ?? 0) > 0) run.model.set(h, new Map());
    }
  }
  if (general) ix = applyAllCommands(run, w0);
  if (run.applyError !== undefined) throw run.applyError;
  return ix;
}

/**
 * The hosts step 2 visits (BuildRun.visited): the revisited ones and those with a line in the
 * changed stretch of the text (or in an edited stretch); undefined: every host.
 */
function touchedHosts(
  g: Grouped,
  cmp: LineComparer | undefined,
  prevIx: LineIndex | undefined,
  revisit: ReadonlySet<string> | undefined,
): Set<string> | undefined {
  if (cmp === undefined || prevIx === undefined || revisit === undefined) return undefined;
  const touched = new Set(revisit);
  if (g.touched !== undefined) for (const h of g.touched) touched.add(h);
  else
    (cmp as ChainComparer).touchedHosts(
      (i) => hostOf(g.lineTexts[i] as string),
      (j) => hostOf(lineText(prevIx, j)),
      touched,
    );
  return touched;
}

/** Compares by line text when both indexes hold their texts and `edited` (see TextComparer). */
function comparer(cur: LineIndex, prev: LineIndex, edited: boolean): LineComparer {
  return edited && cur.texts !== undefined && prev.texts !== undefined
    ? new TextComparer(cur as LineIndex & { texts: string[] }, prev as LineIndex & { texts: string[] })
    : new ChainComparer(cur, prev);
}

/** The general case of step 2: every command in order; the first syntax error, else the first failure. */
function applyAllCommands(run: BuildRun, w0: number): LineIndex | undefined {
  run.kept.clear();
  run.model.clear();
  run.visited = undefined;
  run.dropped.clear();
  run.skipped.length = 0;
  run.st.warnings.length = w0;
  run.applyError = undefined;
  // the lines grouped by host for the next build while the text is `route add`s, then overrides
  let ix: GrowingLineIndex | undefined = newLineIndex(run.text);
  const lines: string[] = [];
  const warnings: (string | undefined)[] = [];
  forEachLine(run.text, (line, n, start, end) => {
    const e = run.parse(line, n, start, true);
    if (e === undefined) {
      ix = keepBadLine(run, ix, line, n, start, end, lines.length > 0);
      return;
    }
    if (e.pre === undefined) {
      warnings.push(run.applyOverride(e, n, line, start));
      lines.push(line);
      return;
    }
    run.apply(e, n, line, start);
    if (ix === undefined) return;
    if (lines.length > 0) ix = undefined;
    else {
      const c = addLine(ix, e.pre.host, start, end);
      if (e.warns || e.fatal) c.pinned = true;
    }
  });
  run.overrides = { text: lines.join('\n'), warnings };
  // hosts whose routes the overrides deleted are not in the table (compileHosts reads ix's hosts)
  if (ix !== undefined)
    for (const h of [...ix.hosts.keys()])
      if (!run.model.has(h)) {
        ix.hosts.delete(h);
        run.dropped.add(h);
      }
  return ix;
}
