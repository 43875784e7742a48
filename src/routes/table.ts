import type { BuildMemo } from './build-memo.ts';
import type { CRoute, HostEntry } from './compiled.ts';
import { SKIP } from './compiled.ts';
import { explainLookup } from './explain.ts';
import { HostCandidates } from './host-candidates.ts';
import { normalizeHost } from './host-order.ts';
import { probePath } from './path-index.ts';
import { dumpTable, printTable } from './print.ts';
import { buildRedirect, formatRedirect } from './redirect.ts';
import { matchRoute, type TableParts, type TableProbe } from './table-parts.ts';
import type { ParsedURL } from './target-url.ts';
import type { ExplainOptions, Explanation, LookupRequest, LookupResult, Route, Table, Warning } from './types.ts';

/** The frozen routing table. */
export class RouteTable implements Table, TableProbe {
  readonly source: string;
  readonly warnings: readonly Warning[];
  readonly routes: readonly Route[];
  readonly #p: TableParts;
  readonly #hosts: HostCandidates;

  constructor(parts: TableParts) {
    this.#p = parts;
    this.source = parts.source;
    this.warnings = parts.warnings;
    this.routes = parts.routes;
    this.#hosts = new HostCandidates(parts.exactPlain, parts.exactTls, parts.globs);
  }

  /** Picks the target index of a matched route (ring for rnd/rr). // hot path */
  pickIndex(r: CRoute, advance = true): number {
    const n = r.ring.length;
    if (r.targets.length === 1 || n === 0) return 0;
    if (this.#p.strategy === 'rr') {
      const c = this.#p.counters.get(r.counterKey) ?? 0;
      if (advance) this.#p.counters.set(r.counterKey, c + 1 >= Number.MAX_SAFE_INTEGER ? 0 : c + 1);
      return r.ring[c % n] as number;
    }
    return r.ring[Math.floor(this.#p.random() * n) % n] as number;
  }

  /** The result for a picked target, or SKIP on a redirect loop. // hot path */
  resultFor(r: CRoute, idx: number, req: LookupRequest): LookupResult {
    const res = r.results[idx] as LookupResult;
    const t = res.target;
    if (t.redirectCode === 0) return res;
    const u = buildRedirect(
      { url: r.redirects?.[idx] as ParsedURL, stripPath: t.stripPath, prependPath: t.prependPath },
      req.host,
      req.path,
      req.query ?? '',
    );
    if (u.scheme === (req.forwardedProto ?? '') && u.host === req.host && u.path === req.path) return SKIP;
    return { route: res.route, target: t, redirectURL: formatRedirect(u) };
  }

  #tryHost(e: HostEntry, req: LookupRequest, lowerPath: string): LookupResult | undefined {
    const m = this.#p.matcher;
    const r =
      e.index !== undefined ? probePath(e.index, m, req.path, lowerPath) : matchRoute(e.routes, m, req.path, lowerPath);
    if (r === undefined || r.targets.length === 0) return undefined;
    return this.resultFor(r, this.pickIndex(r), req);
  }

  lookup(req: LookupRequest): LookupResult | undefined {
    // hot path
    const p = this.#p;
    const tls = req.tls;
    const lowerPath = p.matcher === 'iprefix' ? req.path.toLowerCase() : req.path;
    const cands = this.candidates(normalizeHost(req.host, tls), tls);
    for (let i = 0; i < cands.length; i++) {
      const res = this.#tryHost(cands[i] as HostEntry, req, lowerPath);
      if (res !== undefined && res !== SKIP) return res;
    }
    if (p.fallback !== undefined) {
      const res = this.#tryHost(p.fallback, req, lowerPath);
      if (res !== undefined && res !== SKIP) return res;
    }
    return undefined;
  }

  /** Host keys matching a normalised request host, most specific first (no host-less fallback). */
  candidates(host: string, tls: boolean): readonly HostEntry[] {
    return this.#hosts.get(host, tls);
  }

  /** What the next build with the same options may reuse (build.ts). */
  get buildMemo(): BuildMemo | undefined {
    return this.#p.memo;
  }

  /** Memoised request hosts (tests: the memo stays bounded). */
  get hostMemoSize(): number {
    return this.#hosts.memoSize;
  }

  lookupTcp(key: string): LookupResult | undefined {
    // hot path
    const r = this.#p.tcp.get(key.toLowerCase());
    if (r === undefined || r.targets.length === 0) return undefined;
    return r.results[this.pickIndex(r)];
  }

  explain(req: LookupRequest, opts?: ExplainOptions): Explanation {
    return explainLookup(this, this.#p, req, opts?.advance ?? true, opts?.ejected);
  }

  print(): string {
    return printTable(this.#p.byKey);
  }

  dump(): string {
    return dumpTable(this.#p.byKey);
  }
}
