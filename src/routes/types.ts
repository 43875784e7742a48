/**
 * The public shapes of the route engine. Everything outside src/routes depends only on these
 * (and on the functions exported from src/routes/index.ts), so the engine's inside can change freely.
 *
 * Pipeline: route text → RouteDef[] (parse) → Table (build, frozen) → swap → lookup.
 */

import type { GlobCache } from './glob.ts';

/** One parsed route command (`route add`, `route del`, `route weight`). */
export interface RouteDef {
  readonly cmd: 'route add' | 'route del' | 'route weight';
  readonly service: string;
  readonly src: string;
  readonly dst: string;
  readonly weight: number;
  readonly tags: readonly string[];
  readonly opts: Readonly<Record<string, string>>;
  /** 1-based line number in the route text (blank and comment lines counted). */
  readonly line: number;
}

/** allow=/deny= rules of a target, parsed at build time. */
export interface AccessRules {
  readonly mode: 'allow' | 'deny';
  /** Returns true when the client IP (Go form: 127.0.0.1, not ::ffff:127.0.0.1) is allowed. */
  allowed(ip: string): boolean;
}

export interface Target {
  readonly service: string;
  /** Destination exactly as written in the route command. */
  readonly url: string;
  /** Lower-case scheme of the destination: http, https, tcp, grpc, grpcs, ws, wss. */
  readonly scheme: string;
  /** host:port of the destination (authority, IPv6 in brackets); default port filled in. */
  readonly hostPort: string;
  readonly hostname: string;
  readonly port: number;
  /** Path part of the destination URL (only used by redirects; fabio ignores it when proxying). */
  readonly urlPath: string;
  /** Raw query of the destination URL ('' when none); merged before the request query. */
  readonly urlQuery: string;
  readonly tags: readonly string[];
  readonly opts: Readonly<Record<string, string>>;
  readonly stripPath: string;
  readonly prependPath: string;
  /** host= option: '' (forward client Host), 'dst' (target host:port) or a name. */
  readonly host: string;
  readonly authScheme: string;
  /** 0 when the target is not a redirect. */
  readonly redirectCode: number;
  /** Redirect destination template (may contain $host and $path). */
  readonly redirectURL: string;
  readonly fixedWeight: number;
  /** Effective weight fraction in [0,1]. */
  readonly weight: number;
  readonly tlsSkipVerify: boolean;
  /** pxyproto=true: write a PROXY v1 header on the outbound TCP connection. */
  readonly proxyProto: boolean;
  readonly accessRules: AccessRules | undefined;
  /** Stable identity across table builds: `${service}\u0000${url}`; key for pools, counters, metrics. */
  readonly key: string;
}

export interface Route {
  /** Host key as stored (lower-cased; may hold a port and glob characters; '' = host-less). */
  readonly host: string;
  readonly path: string;
  readonly targets: readonly Target[];
}

export type Matcher = 'prefix' | 'iprefix' | 'glob';
/** p2c: the table picks like rnd; the proxy's balancer (src/proxy/outlier) re-picks by load. */
export type Strategy = 'rnd' | 'rr' | 'p2c';

export interface BuildOptions {
  readonly matcher: Matcher;
  readonly strategy: Strategy;
  readonly globDisabled: boolean;
  readonly globCacheSize: number;
  /**
   * Compiled host globs kept across builds (glob.ts), so a rebuild re-uses what an earlier one
   * compiled. Default: a fresh cache of globCacheSize for this build alone.
   */
  readonly globCache?: GlobCache;
  /** Random source in [0,1) for rnd; injected so tests are deterministic. Default Math.random. */
  readonly random?: () => number;
  /**
   * Round-robin counters keyed by route (host+path). They live outside the frozen table so that a
   * table swap does not reset balancing. Default: a fresh map.
   */
  readonly counters?: Map<string, number>;
  /**
   * Leave out every line that does not parse or apply, with a table warning naming its line and
   * source (service or KV key), instead of failing the build (src/routes/bad-lines.ts). The
   * proxy's tables use it; the default is fabio's: the first bad line fails the build.
   */
  readonly skipBadLines?: boolean;
}

/** A problem found while building that did not stop the build (e.g. a route weight with no match). */
export interface Warning {
  readonly line: number;
  readonly service: string;
  readonly message: string;
}

/** What a request looks like to the route engine. */
export interface LookupRequest {
  /** Host header as received (may carry a port). */
  readonly host: string;
  /** Normalised request path (no query). */
  readonly path: string;
  /** Raw query without '?' ('' if none); used for redirect URLs. */
  readonly query?: string;
  /** true when the request arrived on a TLS listener. */
  readonly tls: boolean;
  /** X-Forwarded-Proto header value, for the redirect loop guard. */
  readonly forwardedProto?: string;
}

export interface LookupResult {
  readonly route: Route;
  readonly target: Target;
  /** For redirect targets: the built redirect URL. */
  readonly redirectURL?: string;
}

/** One step of an explanation, in order. */
export interface ExplainStep {
  /** ejected (fabio-ts): the table's pick is ejected by passive outlier detection and skipped, as the proxy does. */
  readonly kind: 'hosts' | 'nomatch' | 'match' | 'empty' | 'redirect-loop' | 'ejected' | 'pick' | 'noroute';
  readonly host?: string;
  readonly path?: string;
  readonly hosts?: readonly string[];
  readonly target?: Target;
  readonly message: string;
}

/** One route the lookup looked at (or would have), in matching order, with its outcome. */
export interface ExplainCandidate {
  readonly host: string;
  readonly path: string;
  /**
   * chosen: this route answered. nomatch: the path does not match. empty: no targets, next host
   * tried. redirect-loop: the pick redirects to the same URL, next host tried. shadowed: it matches
   * too, but an earlier route answered. not-tried: after the answer, and its path does not match.
   */
  readonly outcome: 'chosen' | 'nomatch' | 'empty' | 'redirect-loop' | 'shadowed' | 'not-tried';
  readonly reason: string;
}

/** A target of the chosen route with its effective weight and share of the picks. */
export interface ExplainShare {
  readonly target: Target;
  /** Effective weight fraction (as /api/routes shows it). */
  readonly weight: number;
  /** Fraction of picks this target gets: its slots in the weighted ring / ring size. */
  readonly share: number;
  readonly picked: boolean;
  /** Ejected by passive outlier detection (when the caller passed `ejected`): the proxy skips it. */
  readonly ejected?: boolean;
}

/** Options of Table.explain. */
export interface ExplainOptions {
  /** false: an rr pick peeks at the next slot instead of advancing the shared counter. */
  readonly advance?: boolean;
  /**
   * Which targets passive outlier detection has ejected (src/proxy/outlier), by Target.key: the
   * explanation marks them and its pick skips them as the proxy does. Absent: none is.
   */
  readonly ejected?: (key: string) => boolean;
}

export interface Explanation {
  readonly request: LookupRequest;
  readonly steps: readonly ExplainStep[];
  readonly result: LookupResult | undefined;
  /** Every route of the matching hosts (then the host-less ones), in matching order. */
  readonly candidates?: readonly ExplainCandidate[];
  /** Every target of the chosen route (empty when no route answered). */
  readonly shares?: readonly ExplainShare[];
}

/** The immutable routing table. */
export interface Table {
  /** The route text this table was built from (identical text never rebuilds). */
  readonly source: string;
  readonly warnings: readonly Warning[];
  /** All routes: hosts ascending (host-less first), paths descending, as /api/routes orders them. */
  readonly routes: readonly Route[];
  /** HTTP lookup (section (n)). // hot path */
  lookup(req: LookupRequest): LookupResult | undefined;
  /** Exact lookup by key for tcp / tcp+sni / tcp-dynamic (no glob, no host-less fallback). // hot path */
  lookupTcp(key: string): LookupResult | undefined;
  /**
   * The same decision as lookup, with every step recorded (Trace header, UI explain, route explain).
   * An rr pick advances the shared counter like a real request, unless `opts.advance` is false
   * (analysis that must not disturb balancing, e.g. the UI): then it peeks at the next slot.
   */
  explain(req: LookupRequest, opts?: ExplainOptions): Explanation;
  /** Table text: one `route add` line per target with effective weights (section (b)). */
  print(): string;
  /** fabio's ASCII tree dump (log.routes.format=detail). */
  dump(): string;
}
