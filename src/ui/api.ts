import type { IncomingMessage, ServerResponse } from 'node:http';
import { type TrafficReport, WINDOWS } from '../metrics/traffic.ts';
import { targetEjected, withEjected } from '../proxy/outlier/balancer.ts';
import { ROUTE_HELP } from '../routes/index.ts';
import type { EventHub } from './events.ts';
import { explain, parseHeaderLines } from './explain.ts';
import {
  isJsonContentType,
  isSameOrigin,
  readBody,
  sendBodyError,
  sendError,
  sendJson,
  sendMethodNotAllowed,
  sendText,
} from './http-util.ts';
import { preview } from './preview.ts';
import { routesJson } from './routes-json.ts';
import { shadowedRoutes } from './shadowing.ts';
import type { AdminDeps, UpdaterWarning, UpdaterWarningSet } from './types.ts';
import type { TableVersions } from './versions.ts';

/** The JSON/text API under <p>/api (section (g) plus fabio-ts additions). */

export interface ApiContext {
  readonly deps: AdminDeps;
  readonly ro: boolean;
  readonly tls: boolean;
  readonly events: EventHub;
  readonly versions: TableVersions;
}

/** One list for the warnings view: updater problems, table build warnings and shadowed routes. */
export function allWarnings(deps: AdminDeps) {
  const table = deps.store.current;
  const out: { kind: string; service: string; message: string; line?: number; tag?: string }[] = [];
  const uw = deps.updater.warnings();
  if (Array.isArray(uw)) {
    for (const w of uw as readonly UpdaterWarning[]) out.push({ kind: w.tag !== undefined ? 'tag' : 'route', ...w });
  } else {
    const set = uw as UpdaterWarningSet;
    if (set.buildError) out.push({ kind: 'build', service: '', message: `route table not updated: ${set.buildError}` });
    for (const w of set.tags) out.push({ kind: 'tag', ...w });
  }
  for (const w of table?.warnings ?? [])
    out.push({ kind: 'table', service: w.service, message: w.message, line: w.line });
  for (const s of shadowedRoutes(table)) out.push({ kind: 'shadowed', service: s.service, message: s.message });
  return out;
}

async function manual(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, sub: string): Promise<void> {
  const { deps } = ctx;
  if (ctx.ro) return sendError(res, 403, 'Forbidden');
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (!deps.manual) return sendJson(res, 200, { value: '', version: '0' });
    try {
      const v = await deps.manual.get(sub);
      return sendJson(res, 200, { value: v.value.trim(), version: v.version });
    } catch (e) {
      deps.log.error(`ui: cannot read manual overrides ${sub}. ${String(e)}`);
      return sendError(res, 500, String(e instanceof Error ? e.message : e));
    }
  }
  if (req.method !== 'PUT') return sendMethodNotAllowed(res, 'GET, HEAD, PUT');
  const body = await readJsonWrite(ctx, req, res);
  if (body === NO_BODY) return;
  const b = body as { value?: unknown; version?: unknown } | null;
  if (
    !b ||
    typeof b !== 'object' ||
    typeof b.value !== 'string' ||
    (b.version !== undefined && typeof b.version !== 'string')
  ) {
    return sendError(res, 400, 'bad request: want {"value":"...","version":"<string>"}');
  }
  if (!deps.manual) return sendError(res, 409, 'version mismatch');
  try {
    const ok = await deps.manual.put(sub, b.value, b.version ?? '0');
    if (!ok) return sendError(res, 409, 'version mismatch');
    deps.log.info(`ui: manual overrides ${sub === '' ? '' : `${sub} `}updated`);
    res.statusCode = 200;
    return void res.end();
  } catch (e) {
    deps.log.error(`ui: cannot write manual overrides ${sub}. ${String(e)}`);
    return sendError(res, 500, String(e instanceof Error ? e.message : e));
  }
}

/**
 * POST /api/preview {"path": "<sub>", "value": "..."}: what the edited override would do to the
 * table (line errors, routes added, removed, re-weighted). Builds a table and throws it away;
 * nothing is written or swapped. Same guards as PUT /api/manual (rw, Host, Origin, JSON).
 */
async function previewRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, pretty: boolean) {
  const { deps } = ctx;
  if (ctx.ro) return sendError(res, 403, 'Forbidden');
  if (req.method !== 'POST') return sendMethodNotAllowed(res, 'POST');
  const body = await readJsonWrite(ctx, req, res);
  if (body === NO_BODY) return;
  const b = body as { path?: unknown; value?: unknown } | null;
  if (
    !b ||
    typeof b !== 'object' ||
    typeof b.value !== 'string' ||
    (b.path !== undefined && typeof b.path !== 'string')
  )
    return sendError(res, 400, 'bad request: want {"path":"<sub>","value":"..."}');
  const sub = b.path ?? '';
  if (sub !== '' && !/^(\/[^/\s]+)+$/.test(sub)) return sendError(res, 400, 'bad request: path must be "" or /a/b');
  if (!deps.build) return sendError(res, 501, 'preview not available');
  const prefix = deps.cfg.str('registry.consul.kvpath').replace(/^\/+/, '').replace(/\/+$/, '');
  try {
    return sendJson(res, 200, preview(deps.store.current, deps.build, prefix, prefix + sub, b.value), pretty);
  } catch (e) {
    // skipBadLines is on in the live build; a build error left is a whole-table problem
    return sendJson(res, 200, { error: String(e instanceof Error ? e.message : e) }, pretty);
  }
}

async function explainRoute(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  q: URLSearchParams,
): Promise<void> {
  let url = q.get('url') ?? '';
  let headers = parseHeaderLines(q.getAll('header'));
  let version: unknown = q.get('version') ?? undefined;
  if (req.method === 'POST') {
    if (!isSameOrigin(req, ctx.tls)) return sendError(res, 403, 'Forbidden');
    if (!isJsonContentType(req)) return sendError(res, 415, 'Content-Type must be application/json');
    try {
      const b = JSON.parse(await readBody(req, 64 << 10)) as {
        url?: unknown;
        headers?: unknown;
        version?: unknown;
      } | null;
      if (b === null || typeof b !== 'object') return sendError(res, 400, 'bad request');
      if (typeof b.url === 'string') url = b.url;
      if (b.version !== undefined && b.version !== null) version = b.version;
      if (b.headers && typeof b.headers === 'object') {
        headers = {};
        for (const [k, v] of Object.entries(b.headers)) if (typeof v === 'string') headers[k] = v;
      }
    } catch (err) {
      return sendBodyError(req, res, err);
    }
  } else if (req.method !== 'GET' && req.method !== 'HEAD') return sendMethodNotAllowed(res, 'GET, HEAD, POST');
  const { versions, deps } = ctx;
  const live = deps.store.current;
  let table = live;
  let asked = versions.current;
  if (version !== undefined && version !== '') {
    asked =
      typeof version === 'number'
        ? version
        : typeof version === 'string' && /^\d{1,15}$/.test(version)
          ? Number(version)
          : -1;
    if (asked < 1 || !Number.isSafeInteger(asked))
      return sendJson(res, 400, { error: 'version must be a positive integer' });
    // rebuilding an old table costs CPU: a cross-site page (an <img> pointed here) may not make us do it
    if (asked !== versions.current && !isSameOrigin(req, ctx.tls))
      return sendJson(res, 403, { error: 'older versions only for same-origin requests' });
    let v: ReturnType<TableVersions['lookup']>;
    try {
      v = versions.lookup(asked, live, deps.build);
    } catch (e) {
      // the text built when it went live; a failure now is the server's problem, not the request's
      const why = e instanceof Error ? e.message : String(e);
      return sendJson(res, 500, { error: `cannot rebuild table version ${asked}: ${why}` });
    }
    if (v.kind === 'unknown')
      return sendJson(res, 404, { error: `no table version ${asked} (current: ${versions.current})` });
    if (v.kind === 'gone')
      return sendJson(res, 410, {
        error: `table version ${asked} is no longer kept (only those the history shows are)`,
      });
    if (v.kind === 'unavailable') return sendJson(res, 501, { error: 'older table versions cannot be rebuilt here' });
    table = v.table;
  }
  // ejections are the live state: an old version is explained without them
  const ejected = table === live ? (key: string) => targetEjected(deps.cfg, key) : undefined;
  const r = explain(table, { url, headers }, ejected);
  const body = r.status === 200 ? { ...(r.body as object), version: asked, current: versions.current } : r.body;
  return sendJson(res, r.status, body, q.has('pretty'));
}

/** A target's traffic without its per-slot series. */
function targetTotals(t: TrafficReport['routes'][number]['targets'][number]) {
  const { requests, errors, classes, bytesIn, bytesOut, p50, p99, ...totals } = t;
  const sum = (a: readonly number[]) => a.reduce((x, y) => x + y, 0);
  return { ...totals, bytesInTotal: sum(bytesIn), bytesOutTotal: sum(bytesOut) };
}

/** Endpoints that only read: any other method than GET and HEAD is 405. */
const READ_ONLY = new Set([
  '/routes',
  '/routes/history',
  '/warnings',
  '/config',
  '/version',
  '/help',
  '/paths',
  '/traffic',
  '/events',
]);

/** Handles `rest` = path after <p>/api (e.g. '/routes'). Returns false when no API route matched. */
export async function handleApi(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  rest: string,
  q: URLSearchParams,
): Promise<boolean> {
  const { deps } = ctx;
  const pretty = q.has('pretty');
  if (rest === '/manual' || rest.startsWith('/manual/')) {
    await manual(ctx, req, res, rest.slice('/manual'.length));
    return true;
  }
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (READ_ONLY.has(rest) && !get) {
    sendMethodNotAllowed(res, 'GET, HEAD');
    return true;
  }
  switch (rest) {
    case '/routes': {
      const t = deps.store.current;
      if (q.has('raw')) sendText(res, 200, `${t ? t.print() : ''}\n`);
      // `ejected`: passive outlier state of this process (with workers the primary serves no traffic: false)
      else sendJson(res, 200, withEjected(routesJson(t), deps.cfg), pretty);
      return true;
    }
    case '/routes/history':
      // each entry with the table version live after it (and before it, for a swap): Explain links
      sendJson(
        res,
        200,
        deps.updater.history().map((e) => {
          const v = ctx.versions.tagOf(e);
          return v && v.version > 0 ? { ...e, ...v } : e;
        }),
        pretty,
      );
      return true;
    case '/warnings':
      sendJson(res, 200, allWarnings(deps), pretty);
      return true;
    case '/config':
      sendJson(res, 200, deps.configJson ? deps.configJson() : deps.cfg.values, pretty);
      return true;
    case '/version':
      sendText(res, 200, deps.version);
      return true;
    case '/help':
      sendText(res, 200, ROUTE_HELP);
      return true;
    case '/paths':
      if (ctx.ro) sendError(res, 403, 'Forbidden');
      else {
        try {
          sendJson(res, 200, deps.manual ? await deps.manual.paths() : [''], pretty);
        } catch (e) {
          sendError(res, 500, String(e instanceof Error ? e.message : e));
        }
      }
      return true;
    case '/preview':
      await previewRoute(ctx, req, res, pretty);
      return true;
    case '/explain':
      await explainRoute(ctx, req, res, q);
      return true;
    case '/traffic': {
      const w = q.get('window') ?? undefined;
      if (w !== undefined && !WINDOWS.some((x) => x.name === w)) {
        sendError(res, 400, `bad request: window must be one of ${WINDOWS.map((x) => x.name).join(', ')}`);
        return true;
      }
      const r = deps.traffic
        ? await deps.traffic.report(w)
        : { window: w ?? '5m', windows: WINDOWS.map((x) => x.name), start: 0, slotSeconds: 0, slots: 0, routes: [] };
      // ?series=routes: per-slot series for routes only, totals for targets (what the UI charts)
      const body =
        q.get('series') === 'routes'
          ? {
              ...r,
              routes: r.routes.map((x) => ({ ...x, targets: x.targets.map(targetTotals) })),
            }
          : r;
      sendJson(res, 200, body, pretty);
      return true;
    }
    case '/events':
      ctx.events.attach(req, res);
      return true;
    default:
      return false;
  }
}

/** Answered already: the request was refused (Origin, Content-Type) or its body was unusable. */
const NO_BODY = Symbol('answered');

/**
 * The common front of the JSON write endpoints (PUT /api/manual, POST /api/preview): same-origin
 * check, JSON content type, body read within its size limit and parsed. Returns NO_BODY once it has
 * answered (403, 415, 400, 413).
 */
async function readJsonWrite(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  if (!isSameOrigin(req, ctx.tls)) {
    sendError(res, 403, 'Forbidden');
    return NO_BODY;
  }
  if (!isJsonContentType(req)) {
    sendError(res, 415, 'Content-Type must be application/json');
    return NO_BODY;
  }
  try {
    return JSON.parse(await readBody(req));
  } catch (err) {
    sendBodyError(req, res, err);
    return NO_BODY;
  }
}
