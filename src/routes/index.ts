/**
 * The route engine: route tags → route text → RouteDef[] → frozen Table → lookup. No I/O, no
 * timers, no logging, no `process`: problems come back as values. It holds no module state: what
 * lives from one build to the next is handed in by the caller (the glob cache,
 * `BuildOptions.globCache`; the round-robin counters, `BuildOptions.counters`) or carried by the
 * previous table (the build memo of an incremental build, build-memo.ts); the caches only make
 * work cheaper and never change a result.
 * Everything outside src/routes uses only this module and ./types.ts.
 */

export { goQuote } from '../go/quote.ts';
export { parseIP } from './access-rules.ts';
export { buildTable } from './build.ts';
export { routeAt } from './compile-hosts.ts';
export { RouteSyntaxError } from './errors.ts';
export { compileGlob, GlobCache, GlobSyntaxError } from './glob.ts';
export { ROUTE_HELP } from './help.ts';
export { normalizeHost, reverseHostPort, sortHostsBySpecificity } from './host-order.ts';
export { withChanges } from './layered-map.ts';
export { parseRouteText } from './parse.ts';
export { targetLine } from './print.ts';
export { bound } from './sorted.ts';
export { TableStore } from './table-store.ts';
export type { ServiceInstance, TagWarning } from './tags.ts';
export { goExpand, parseURLPrefixTag, serviceRouteCommands, sortRouteLines } from './tags.ts';
export { applyHunks, commonLines, type Hunk, type TextEdit } from './text-edit.ts';
export { TRACE_ID_MAX, traceId, traceLines } from './trace.ts';
export type * from './types.ts';
export { WARM_ROUNDS, warmBuilds } from './warm.ts';
export { MAX_SLOTS } from './weights.ts';
