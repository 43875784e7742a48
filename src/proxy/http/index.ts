/** HTTP/HTTPS data plane (fabio sections (d), (e), (f), (i)). */
export { createHttpHandler, type AuthChecker, type HandlerParts, type HttpHandler } from './handler.ts';
export { startHttpListener, type HttpListenerDeps } from './listener.ts';
export { PoolCache, type PoolSettings } from './pools.ts';
