import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import type { Logger } from '../../log/logger.ts';
import { type AgentDeps, agentApi } from './api-agent.ts';
import { type KvDeps, kvApi } from './api-kv.ts';
import { type ReadDeps, readApi } from './api-read.ts';
import { CatalogState } from './catalog-state.ts';
import { CheckRunner } from './check-runner.ts';
import { type BlockingPolicy, type Ctx, HttpError, type Reply, send } from './http-util.ts';
import { KvStore } from './kv-store.ts';
import type { CheckStatus } from './model.ts';
import { decodeService } from './register-body.ts';

/**
 * The embedded Consul-compatible catalog behind `fabio-ts -dev`: one in-process node:http server,
 * one node, in memory only. It is a development and test tool, not a Consul replacement: no
 * raft, no ACLs (token headers are accepted and ignored), no sessions, no persistence.
 */

export interface DevCatalogOptions {
  readonly host: string;
  /** 0 = any free port. */
  readonly port: number;
  readonly log?: Logger;
  readonly datacenter?: string;
  readonly nodeName?: string;
  /** Add Consul's wait/16 jitter to blocking queries (default true; tests turn it off). */
  readonly jitter?: boolean;
  /**
   * Keep blocking while the index is lower than the requested one, as Consul does (default false:
   * answer at once, so clients recover immediately from a dev-catalog restart).
   */
  readonly lowerIndexBlocks?: boolean;
  /** First index (default 1); restart with a lower one to simulate an index reset. */
  readonly initialIndex?: number;
  /** Reaper period and lower bound for DeregisterCriticalServiceAfter (Consul: 30 s, 1 m). */
  readonly reapIntervalMs?: number;
  readonly reapMinMs?: number;
}

export interface DevCatalog {
  readonly port: number;
  /** e.g. http://127.0.0.1:8500 */
  readonly url: string;
  /** Releases the port, ends blocked requests and stops every check. */
  close(): Promise<void>;
  /** Current global index. */
  index(): number;
  /** Moves every index down to at most n and wakes all blocked requests (index reset). */
  setIndexForTest(n: number): void;
  /** setIndexForTest(1). */
  resetIndexForTest(): void;
  /** Number of requests currently parked in a blocking query. */
  waiting(): number;
  /** Requests served, by `METHOD /path` (no query), or the total for a path prefix. */
  requestCount(prefix?: string): number;
  /** Sets any check's status directly (flap simulation without a backend). */
  setCheckStatusForTest(checkId: string, status: CheckStatus, output?: string): boolean;
  /**
   * Registers a service in-process with the same decoder and semantics as
   * PUT /v1/agent/service/register (bulk set-up for benchmarks: no HTTP round trip).
   * Throws on an invalid body.
   */
  registerServiceForTest(body: unknown): void;
}

/**
 * The DNS-rebinding guard: whether a request's Host header names this catalog. A page on
 * attacker.example whose name is re-pointed at 127.0.0.1 reaches the catalog from the victim's
 * browser, but its requests carry `Host: attacker.example:<port>`; refusing names other than ours
 * stops it from registering routes. Allowed: `localhost`, the bound address, and IP literals (a
 * rebinding page always has a DNS name; a wildcard bind is reached through any of the machine's
 * addresses), each with or without a port. A request without Host (HTTP/1.0; Node already answers
 * 400 to HTTP/1.1 without one) is allowed: browsers always send it.
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (hostHeader === undefined) return true;
  let name = hostHeader.trim().toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end < 0) return false;
    const rest = name.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return false;
    name = name.slice(1, end);
    return isIP(name) === 6;
  }
  const colon = name.lastIndexOf(':');
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(name.slice(colon + 1))) return false;
    name = name.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === 'localhost' || isIP(name) === 4) return true;
  return name !== '' && name === boundHost.toLowerCase();
}

/** Version reported in /v1/agent/self (a Consul version clients accept). */
export const DEV_CATALOG_CONSUL_VERSION = '1.17.0';

/** The request context of the API modules; the abort signal (only blocking queries need it) is made on first use. */
function requestCtx(req: http.IncomingMessage, res: http.ServerResponse, query: string): Ctx {
  let ac: AbortController | undefined;
  return {
    req,
    res,
    query: new URLSearchParams(query),
    get signal() {
      if (!ac) {
        const c = new AbortController();
        ac = c;
        if (res.closed) c.abort('closed');
        // A plain reason: abort() without one builds a DOMException (stack capture).
        else res.once('close', () => c.abort('closed'));
      }
      return ac.signal;
    },
  };
}

/** Binds the server; the bound port. Errors after the bind are logged, not thrown. */
function listen(server: http.Server, port: number, host: string, log: DevCatalogOptions['log']): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => log?.error(`dev catalog: ${err.message}`));
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startDevCatalog(opts: DevCatalogOptions): Promise<DevCatalog> {
  const host = opts.host || '127.0.0.1';
  const state = new CatalogState(
    {
      name: opts.nodeName ?? 'fabio-ts-dev',
      id: randomUUID(),
      address: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host,
      datacenter: opts.datacenter ?? 'dc1',
    },
    opts.initialIndex ?? 1,
  );
  const kv = new KvStore(() => state.next(), state.hub);
  const runner = new CheckRunner(state, { reapIntervalMs: opts.reapIntervalMs, reapMinMs: opts.reapMinMs });
  const policy: BlockingPolicy = {
    jitter: opts.jitter ?? true,
    lowerIndexBlocks: opts.lowerIndexBlocks ?? false,
    epoch: () => state.hub.epoch,
  };
  let port = 0;
  const agentDeps: AgentDeps = { state, runner, version: DEV_CATALOG_CONSUL_VERSION, port: () => port, policy };
  const readDeps: ReadDeps = { state, policy };
  const kvDeps: KvDeps = { kv, hub: state.hub, policy };
  const counts = new Map<string, number>();
  let closed = false;

  const route = async (ctx: Ctx, method: string, path: string): Promise<Reply> => {
    if (path.startsWith('/v1/kv/')) return kvApi(kvDeps, ctx, method, path.slice(7));
    if (path === '/v1/kv') return kvApi(kvDeps, ctx, method, '');
    if (path.startsWith('/v1/agent/')) return agentApi(agentDeps, ctx, method, path.slice(10));
    if (/^\/v1\/(health|catalog|status)\//.test(path)) return readApi(readDeps, ctx, method, path.slice(4));
    throw new HttpError(404, '404 page not found');
  };

  const server = http.createServer((req, res) => {
    const raw = req.url ?? '/';
    const qi = raw.indexOf('?');
    const rawPath = qi < 0 ? raw : raw.slice(0, qi);
    const ctx = requestCtx(req, res, qi < 0 ? '' : raw.slice(qi + 1));
    const method = req.method ?? 'GET';
    const countKey = `${method} ${rawPath}`;
    // Bounded: KV keys and service names make paths unbounded in number.
    const seen = counts.get(countKey);
    if (seen !== undefined || counts.size < 50_000) counts.set(countKey, (seen ?? 0) + 1);
    req.on('error', () => res.destroy());
    res.on('error', () => {});
    if (!hostAllowed(req.headers.host, host)) {
      send(ctx, { status: 403, index: state.index, body: 'Host does not name this catalog (DNS rebinding guard)' });
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      send(ctx, { status: 400, index: state.index, body: 'Invalid URL path encoding' });
      return;
    }
    route(ctx, method === 'HEAD' ? 'GET' : method, path).then(
      (r) => (closed ? res.destroy() : send(ctx, r)),
      (err: unknown) => {
        if (err instanceof HttpError) return send(ctx, { status: err.status, index: state.index, body: err.message });
        opts.log?.error(`dev catalog: ${method} ${rawPath}: ${(err as Error).stack ?? String(err)}`);
        send(ctx, { status: 500, index: state.index, body: String((err as Error).message ?? err) });
      },
    );
  });
  // Blocking queries hold a response for up to 10m + wait/16; the socket timeout sits above that.
  server.timeout = 11 * 60_000;
  server.headersTimeout = 60_000;
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 30_000;
  server.on('clientError', (_err, socket) => socket.destroy());

  try {
    port = await listen(server, opts.port, host, opts.log);
  } catch (err) {
    runner.close();
    throw err;
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  opts.log?.debug(
    `dev catalog: embedded Consul-compatible catalog listening on ${url} (in memory only, for development and tests; production uses Consul)`,
  );

  let closing: Promise<void> | undefined;
  const setIndexForTest = (n: number) => {
    state.setIndex(n);
    kv.clampIndexes(state.index);
    state.hub.wakeAll();
  };
  return {
    port,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        runner.close();
        state.hub.wakeAll();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
    index: () => state.index,
    setIndexForTest,
    resetIndexForTest: () => setIndexForTest(1),
    waiting: () => state.hub.waiting,
    requestCount(prefix?: string) {
      let n = 0;
      for (const [k, v] of counts) if (prefix === undefined || k.startsWith(prefix)) n += v;
      return n;
    },
    setCheckStatusForTest: (id, status, output = '') => state.updateCheck(id, status, output),
    registerServiceForTest(body: unknown) {
      const { service, checks } = decodeService(body);
      state.register(service, checks, false);
    },
  };
}
