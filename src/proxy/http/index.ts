/** HTTP/HTTPS data plane (fabio sections (d), (e), (f), (i)). */
export { type AuthChecker, createHttpHandler, type HandlerParts, type HttpHandler } from './handler.ts';
export { type HttpListenerDeps, startHttpListener } from './listener.ts';
export { PoolCache, type PoolSettings } from './pools.ts';
