import type { BuildMemo } from './build-memo.ts';
import type { CRoute, HostEntry } from './compiled.ts';
import type { LookupRequest, LookupResult, Matcher, Route, Strategy, Warning } from './types.ts';

/**
 * What a table is made of and how one host's routes are matched: shared by the table (table.ts)
 * and the explain walk (explain.ts) without either importing the other.
 */

/** Everything the frozen table is made of (built by build.ts). */
export interface TableParts {
  readonly source: string;
  readonly warnings: readonly Warning[];
  readonly routes: readonly Route[];
  readonly matcher: Matcher;
  readonly strategy: Strategy;
  readonly globDisabled: boolean;
  readonly random: () => number;
  readonly counters: Map<string, number>;
  /** Every host key, host-less included, by key. */
  readonly byKey: ReadonlyMap<string, HostEntry>;
  /** Exact (non-glob) host keys by normalised host, each list most specific first. */
  readonly exactPlain: ReadonlyMap<string, readonly HostEntry[]>;
  readonly exactTls: ReadonlyMap<string, readonly HostEntry[]>;
  /** Glob host keys, most specific first. */
  readonly globs: readonly HostEntry[];
  /** The host-less routes ('' key), tried last. */
  readonly fallback: HostEntry | undefined;
  /** Per host key: the route lookupTcp answers with (first route whose path prefixes '/'). */
  readonly tcp: ReadonlyMap<string, CRoute>;
  /** What the next build may reuse (incremental builds). */
  readonly memo?: BuildMemo | undefined;
}

/** Whether one route's path matches the request path. */
export function routeMatches(r: CRoute, matcher: Matcher, path: string, lowerPath: string): boolean {
  if (matcher === 'prefix') return path.startsWith(r.path);
  if (matcher === 'iprefix') return lowerPath.startsWith(r.lowerPath);
  return r.glob === undefined ? path === r.path : r.glob(path);
}

/** First route of a host whose path matches, in path-descending order. // hot path */
export function matchRoute(
  routes: readonly CRoute[],
  matcher: Matcher,
  path: string,
  lowerPath: string,
): CRoute | undefined {
  if (matcher === 'prefix') {
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i] as CRoute;
      if (path.startsWith(r.path)) return r;
    }
  } else if (matcher === 'iprefix') {
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i] as CRoute;
      if (lowerPath.startsWith(r.lowerPath)) return r;
    }
  } else {
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i] as CRoute;
      if (r.glob === undefined ? path === r.path : r.glob(path)) return r;
    }
  }
  return undefined;
}

/** The parts of the table the explain walk drives (RouteTable implements it). */
export interface TableProbe {
  /** Host keys matching a normalised request host, most specific first (no host-less fallback). */
  candidates(host: string, tls: boolean): readonly HostEntry[];
  /** Picks the target index of a matched route; `advance` moves the round-robin counter. */
  pickIndex(r: CRoute, advance?: boolean): number;
  /** The result for a picked target, or SKIP on a redirect loop. */
  resultFor(r: CRoute, idx: number, req: LookupRequest): LookupResult;
}
