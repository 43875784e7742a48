/**
 * The route engine (pure): route tags → route text → RouteDef[] → frozen Table → lookup.
 * Everything outside src/routes uses only this module and ./types.ts.
 */

export { parseIP } from './access-rules.ts';
export { buildTable } from './build.ts';
export { RouteSyntaxError } from './errors.ts';
export { compileGlob, GlobCache, GlobSyntaxError, sharedGlobCache } from './glob.ts';
export { goQuote } from './go-quote.ts';
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
