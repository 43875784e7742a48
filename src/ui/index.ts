import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { type ApiContext, handleApi } from './api.ts';
import { EventHub } from './events.ts';
import { sendError, sendHtml, sendText } from './http-util.ts';
import { manualPage, type PageOptions, routesPage } from './pages.ts';
import { serveAsset } from './static-assets.ts';
import type { AdminDeps, RunningAdmin } from './types.ts';

export type { AdminDeps, RunningAdmin, UpdaterView, UpdaterWarning } from './types.ts';

/** Normalises ui.path: '' or '/x/y' (leading slash, no trailing slash). */
export function basePath(p: string): string {
  let s = p.trim();
  if (s === '' || s === '/') return '';
  if (!s.startsWith('/')) s = `/${s}`;
  return s.replace(/\/+$/, '');
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

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
  const ctx: ApiContext = { deps, ro, tls, events };
  const page: PageOptions = { base, access: ro ? 'ro' : 'rw', version: deps.version };
  const unsubscribe = [deps.store.onSwap(() => events.changed()), deps.updater.onChange(() => events.changed())];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const qi = raw.indexOf('?');
    const path = decodePath(qi < 0 ? raw : raw.slice(0, qi));
    const q = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
    if (path === '/health') {
      const why = deps.health?.();
      return why === undefined ? sendText(res, 200, 'OK\n') : sendText(res, 503, `${why}\n`);
    }
    if (path === '/metrics' || path === `${base}/metrics`) {
      if (!deps.metricsText) return sendError(res, 404, '404 page not found');
      const m = await deps.metricsText();
      return sendText(res, 200, m.body, m.contentType);
    }
    const inBase = base === '' || path === base || path.startsWith(`${base}/`);
    const rest = inBase ? path.slice(base.length) : '';
    if (inBase && (rest === '/api' || rest.startsWith('/api/'))) {
      if (await handleApi(ctx, req, res, rest.slice(4), q)) return;
    }
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
      log.error(`ui: ${req.method} ${req.url}: ${String(e)}`);
      if (!res.headersSent) sendError(res, 500, 'internal error');
      else res.destroy();
    });
  };
  const server: Server = tls ? createHttpsServer(deps.tls!, onRequest) : createServer(onRequest);
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
  const port = typeof addr === 'object' && addr ? addr.port : spec.port;
  log.info(`Admin server listening on "${spec.addr}"`);

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
