import type { GlobMatcher } from './glob.ts';
import type { ParsedURL } from './target-url.ts';
import type { LookupResult, Route, Target } from './types.ts';

/**
 * Internal, precomputed shapes the frozen Table is made of. Everything a lookup needs is computed
 * at build time so the hot path only compares strings and indexes arrays.
 */

/** Marker result for "redirect loop: try the next host". */
export const SKIP: LookupResult = Object.freeze({}) as LookupResult;

export interface CRoute {
  readonly route: Route;
  readonly host: string;
  readonly path: string;
  readonly lowerPath: string;
  /** Compiled path glob (matcher=glob and a path with glob syntax; a literal path matches by ===). */
  readonly glob: GlobMatcher | undefined;
  readonly targets: readonly Target[];
  /** Weighted ring as target indexes (length 0 when there is no target). */
  readonly ring: Uint32Array;
  /** Precomputed non-redirect results, one per target, so a lookup allocates nothing. */
  readonly results: readonly LookupResult[];
  /** Parsed target URLs of redirect targets (parallel to targets), undefined when the route has none. */
  readonly redirects: readonly (ParsedURL | undefined)[] | undefined;
  /** Key for round-robin counters (host + path). */
  readonly counterKey: string;
}

export interface HostEntry {
  readonly key: string;
  /** Position in the most-specific-first order (smaller = tried first). */
  readonly rank: number;
  /** Routes sorted by path descending (byte-wise). */
  readonly routes: readonly CRoute[];
  /** Probe index for hosts with many routes (prefix/iprefix), undefined = linear scan. */
  readonly index: PathIndex | undefined;
  /** Host-glob matchers against the normalised request host, plain and TLS (glob hosts only). */
  readonly matchPlain: GlobMatcher | undefined;
  readonly matchTls: GlobMatcher | undefined;
}

/** A radix-tree node of a PathIndex (path-index.ts builds and walks it). */
export interface RNode {
  label: string;
  children: Map<number, RNode> | undefined;
  route: CRoute | undefined;
  /** Sort position of `route` in the host's path-descending order. */
  pos: number;
}

export interface PathIndex {
  /** prefix/iprefix: radix tree root. */
  readonly root: RNode;
  /** glob matcher: routes with a literal path (they match only that exact path) by path. */
  readonly literal: ReadonlyMap<string, CRoute> | undefined;
  /** glob matcher: routes whose path has glob syntax, in sort order. */
  readonly globs: readonly CRoute[];
  /** glob matcher: sort position of each route. */
  readonly order: ReadonlyMap<CRoute, number> | undefined;
}
