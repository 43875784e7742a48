import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { clip } from '../log/clip.ts';
import { type ApiContext, handleApi } from './api.ts';
import { EventHub } from './events.ts';
import { adminHosts } from './host-guard.ts';
import { sendError, sendHtml, sendMethodNotAllowed, sendText } from './http-util.ts';
import { manualPage, type PageOptions, routesPage } from './pages.ts';
import { serveAsset } from './static-assets.ts';
import type { AdminDeps, RunningAdmin } from './types.ts';
import { TableVersions } from './versions.ts';

export type { AdminDeps, RunningAdmin, UpdaterView, UpdaterWarning } from './types.ts';

/** Normalises ui.path: '' or '/x/y' (leading slash, no trailing slash). */
export function basePath(p: string): string {
  let s = p.trim();
  if (s === '' || s === '/') return '';
  if (!s.startsWith('/')) s = `/${s}`;
  return s.replace(/\/+$/, '');
}

/** The decoded path, or undefined when it has a bad percent-escape (answered 400). */
function decodePath(p: string): string | undefined {
  try {
    return decodeURIComponent(p);
  } catch {
    return undefined;
  }
}

/** Methods that never change anything; every other method must pass the Host check. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The admin server on cfg.ui (section (g)): fabio's API and pages under ui.path, /health at the
 * root, plus the fabio-ts additions (history, warnings, explain, traffic, events, /metrics).
 */
export async function startAdmin(deps: AdminDeps): Promise<RunningAdmin> {
  const { cfg, log } = deps;
  const base = basePath(cfg.str('ui.path'));
  const ro = cfg.str('ui.access').trim().toLowerCase() === 'ro';
  const tls = deps.tls !== undefined;
  const events = new EventHub();
  // table versions for History → "explain against version N"; entries from before the start get none
  const versions = new TableVersions();
  versions.tag(deps.updater.history());
  if (deps.store.current) versions.swapped(deps.store.current, deps.updater.history());
  const ctx: ApiContext = { deps, ro, tls, events, versions };
  const page: PageOptions = { base, access: ro ? 'ro' : 'rw', version: deps.version };
  const hosts = adminHosts({
    boundHost: cfg.ui.host,
    registerAddr: cfg.str('registry.consul.register.addr'),
    allowedHosts: cfg.str('ui.allowedhosts'),
  });
  const refusedHosts = new Set<string>();
  const unsubscribe = [
    deps.store.onSwap((t) => {
      versions.swapped(t, deps.updater.history());
      events.changed();
    }),
    deps.updater.onChange(() => {
      versions.tag(deps.updater.history());
      events.changed();
    }),
  ];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const qi = raw.indexOf('?');
    const path = decodePath(qi < 0 ? raw : raw.slice(0, qi));
    if (path === undefined) return sendError(res, 400, 'bad request: invalid percent-escape in path');
    const q = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
    if (path === '/health') {
      const why = deps.health?.();
      return why === undefined ? sendText(res, 200, 'OK\n') : sendText(res, 503, `${why}\n`);
    }
    // DNS rebinding: a write must name this server in Host, before Origin is even looked at
    // (host-guard.ts).
    if (!SAFE_METHODS.has(req.method ?? '') && !hosts.allows(req.headers.host, req.socket.localAddress)) {
      const name = clip(JSON.stringify(req.headers.host ?? ''));
      // logged once per Host (a bounded set): a rebinding page retries, the log must not flood
      if (refusedHosts.size < 64 && !refusedHosts.has(name)) {
        refusedHosts.add(name);
        log.warn(`ui: ${req.method} refused: Host ${name} is not a name of this server (ui.allowedhosts)`);
      }
      return sendError(res, 403, 'Forbidden: Host is not a name of this admin server (ui.allowedhosts)');
    }
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/metrics' || path === `${base}/metrics`) {
      if (!get) return sendMethodNotAllowed(res, 'GET, HEAD');
      if (!deps.metricsText) return sendError(res, 404, '404 page not found');
      const m = await deps.metricsText();
      return sendText(res, 200, m.body, m.contentType);
    }
    const inBase = base === '' || path === base || path.startsWith(`${base}/`);
    const rest = inBase ? path.slice(base.length) : '';
    if (inBase && (rest === '/api' || rest.startsWith('/api/'))) {
      if (await handleApi(ctx, req, res, rest.slice(4), q)) return;
    }
    // everything below only reads
    if (!get) return sendMethodNotAllowed(res, 'GET, HEAD');
    if (inBase && rest === '/routes') return sendHtml(res, routesPage(cfg, page));
    if (inBase && (rest === '/manual' || rest.startsWith('/manual/'))) {
      if (ro) return sendError(res, 403, 'Forbidden');
      return sendHtml(res, manualPage(cfg, page, rest.slice('/manual'.length)));
    }
    if (inBase && rest === '/favicon.ico') return sendError(res, 404, '404 page not found');
    if (inBase && rest.startsWith('/assets/')) {
      if (await serveAsset(rest.slice('/assets/'.length), res)) return;
      return sendError(res, 404, '404 page not found');
    }
    res.statusCode = 303;
    res.setHeader('Location', `${base}/routes`);
    res.end();
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      log.error(`ui: ${req.method} ${clip(req.url ?? '')}: ${String(e)}`);
      if (!res.headersSent) sendError(res, 500, 'internal error');
      else res.destroy();
    });
  };
  const { server, port } = await listenAdmin(deps, onRequest);
  log.info(`Admin server listening on "${cfg.ui.addr}"`);

  return {
    port,
    async close(graceMs: number) {
      for (const u of unsubscribe) u();
      events.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

/** The admin HTTP(S) server with its timeouts, bound to ui.addr (rejects when it cannot bind). */
async function listenAdmin(
  deps: AdminDeps,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number }> {
  const { cfg, log } = deps;
  const server: Server = deps.tls !== undefined ? createHttpsServer(deps.tls, onRequest) : createServer(onRequest);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  // Idle sockets (including event streams, which get a heartbeat every 15 s) die after 2 minutes.
  server.setTimeout(120_000);
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    socket.destroy();
  });
  const spec = cfg.ui;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: spec.port, host: spec.host === '' ? undefined : spec.host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error(`ui: ${String(e)}`));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : spec.port };
}
