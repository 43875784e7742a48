/**
 * The route engine: route tags → route text → RouteDef[] → frozen Table → lookup. No I/O, no
 * timers, no logging, no `process`: problems come back as values. Not free of state, though: it
 * keeps process-wide caches that only make work cheaper and never change a result (the shared
 * glob cache, `sharedGlobCache` in glob.ts, and the build memo a table carries for the next
 * incremental build, build-memo.ts). Round-robin counters live outside the table
 * (`BuildOptions.counters`).
 * Everything outside src/routes uses only this module and ./types.ts.
 */

export { goQuote } from '../go/quote.ts';
export { parseIP } from './access-rules.ts';
export { buildTable } from './build.ts';
export { RouteSyntaxError } from './errors.ts';
export { compileGlob, GlobCache, GlobSyntaxError, sharedGlobCache } from './glob.ts';
export { ROUTE_HELP } from './help.ts';
export { normalizeHost, reverseHostPort, sortHostsBySpecificity } from './host-order.ts';
export { parseRouteText } from './parse.ts';
export { targetLine } from './print.ts';
export { TableStore } from './table-store.ts';
export type { ServiceInstance, TagWarning } from './tags.ts';
export { goExpand, parseURLPrefixTag, serviceRouteCommands, sortRouteLines } from './tags.ts';
export { TRACE_ID_MAX, traceId, traceLines } from './trace.ts';
export type * from './types.ts';
export { MAX_SLOTS } from './weights.ts';
