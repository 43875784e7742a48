import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { testConfig } from '../../../src/config/index.ts';
import { memoryLogger } from '../../../src/log/logger.ts';
import type { Metrics } from '../../../src/metrics/types.ts';
import { startHttpListener } from '../../../src/proxy/http/index.ts';
import type { ProxyDeps, RunningListener } from '../../../src/proxy/types.ts';
import { buildTable } from '../../../src/routes/index.ts';
import { TableStore } from '../../../src/routes/table-store.ts';
import { bareHttpRequired } from '../../helpers/support.ts';

/** A backend on 127.0.0.1:0, closed after the test. */
export async function backend(
  t: TestContext,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, port, url: `http://127.0.0.1:${port}` };
}

/** Echo backend: answers JSON {method, url, headers, body length}. */
export function echo(req: IncomingMessage, res: ServerResponse): void {
  let n = 0;
  req.on('data', (d: Buffer) => {
    n += d.length;
  });
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyLength: n,
      }),
    );
  });
}

export interface RecordedMetrics extends Metrics {
  readonly requests: { service: string; status: number }[];
  notFounds: number;
  readonly redirects: number[];
  ws: number;
}

export function recordingMetrics(): RecordedMetrics {
  const m = {
    requests: [] as { service: string; status: number }[],
    notFounds: 0,
    redirects: [] as number[],
    ws: 0,
    httpRequest(_r: unknown, t: { service: string }, status: number) {
      m.requests.push({ service: t.service, status });
    },
    notFound() {
      m.notFounds++;
    },
    redirect(code: number) {
      m.redirects.push(code);
    },
    wsConn(d: 1 | -1) {
      m.ws += d;
    },
    tcpConn() {},
    tcpConnFail() {},
    tcpNoRoute() {},
    tcpRefused() {},
    routeBytes() {},
    pruneTargets() {},
  };
  return m;
}

export interface Proxy {
  readonly port: number;
  readonly url: string;
  readonly store: TableStore;
  readonly log: ReturnType<typeof memoryLogger>;
  readonly metrics: RecordedMetrics;
  readonly access: string[];
  readonly listener: RunningListener;
  routes(text: string): void;
}

/** Starts an HTTP listener on 127.0.0.1:0 with the given route text and config overrides. */
export async function proxy(
  t: TestContext,
  routes: string,
  cfgOverrides: Record<string, string | number | boolean> = {},
  extra: Partial<ProxyDeps> & { lean?: boolean; bare?: boolean } = {},
): Promise<Proxy> {
  const cfg = testConfig({
    'proxy.addr': '127.0.0.1:0',
    'log.access.target': 'stdout',
    'proxy.localip': '10.0.0.9',
    ...cfgOverrides,
  });
  const store = new TableStore();
  const opts = {
    matcher: (cfg.str('proxy.matcher') || 'prefix') as 'prefix',
    strategy: (cfg.str('proxy.strategy') || 'rr') as 'rr',
    globDisabled: false,
    globCacheSize: 100,
  };
  const set = (text: string) => store.swap(buildTable(text, opts));
  set(routes);
  const log = memoryLogger('TRACE');
  const metrics = recordingMetrics();
  const access: string[] = [];
  const spec = cfg.listeners[0];
  if (spec === undefined) throw new Error('no listener');
  const lean = extra.lean ?? leanOf.get(t);
  const bare = extra.bare ?? bareOf.get(t);
  if (bare === true) bareHttpRequired();
  const listener = await startHttpListener(spec, {
    ...(lean !== undefined ? { lean } : {}),
    ...(bare !== undefined ? { bare } : {}),
    cfg,
    store,
    log,
    metrics,
    noRouteHtml: () => '',
    accessLog: (l) => access.push(l),
    ...extra,
  });
  t.after(() => listener.close(0));
  return {
    port: listener.port,
    url: `http://127.0.0.1:${listener.port}`,
    store,
    log,
    metrics,
    access,
    listener,
    routes: set,
  };
}

export interface Reply {
  status: number;
  statusMessage: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = { method: string; url: string; headers: Record<string, string>; bodyLength: number }>(): T;
}

/** One request with a fresh connection (agent: false). */
export function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string | Buffer,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          headers: res.headers,
          body: b,
          text: b.toString(),
          json: () => JSON.parse(b.toString()),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The paths every HTTP case runs through: two client sides (the bare-handle one of plain HTTP
 * listeners, bare-conn.ts, and node:http) times two upstream paths (the lean raw-socket path for
 * body-less GET/HEAD to http targets, and undici for everything). Use as
 * `for (const up of UPSTREAMS) test(`${up.name}: ...`)` and pass `{ lean: up.lean, bare: up.bare }`
 * to `proxy()`.
 */
export const UPSTREAMS = [
  { name: 'lean', lean: true, bare: true },
  { name: 'undici', lean: false, bare: true },
  { name: 'node:http+lean', lean: true, bare: false },
  { name: 'node:http+undici', lean: false, bare: false },
] as const;

const leanOf = new WeakMap<TestContext, boolean>();
const bareOf = new WeakMap<TestContext, boolean>();

/**
 * Defines one test per path (item: the whole HTTP suite runs through every client side and every
 * upstream path): `proxy(t, ...)` inside it starts its listener with that path unless `extra` says
 * otherwise.
 */
export function pathTest(name: string, fn: (t: TestContext) => Promise<void>): void {
  for (const up of UPSTREAMS)
    test(`${up.name}: ${name}`, (t) => {
      leanOf.set(t, up.lean);
      bareOf.set(t, up.bare);
      return fn(t);
    });
}

/** Polls until `fn` is true or the deadline passes. */
export async function until(fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
