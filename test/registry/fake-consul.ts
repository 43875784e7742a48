import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small programmable Consul agent for the registry tests: blocking reads on one global index,
 * health state, catalog rows, KV (recurse, keys, cas), agent service registration and TTL updates.
 * It serves whatever JSON the test puts in, so recorded Consul responses can be replayed verbatim.
 */

export interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export class FakeConsul {
  index = 10;
  /** When set, X-Consul-Index is this raw value instead of `index`. */
  indexHeader: string | undefined;
  dc = 'dc1';
  checks: unknown[] = [];
  catalog = new Map<string, unknown[]>();
  kv = new Map<string, { value: string; modify: number }>();
  agentServices = new Map<string, unknown>();
  healthHeaders: Record<string, string> = {};
  /** Every request answers with this status (outage simulation) when set. */
  failStatus: number | undefined;
  /** Requests to paths starting with one of these answer 403 (ACL denial of a part of the API). */
  failPaths: string[] = [];
  /** Raw bodies of /v1/health/service/<name> (per-service watch), served verbatim. */
  healthService = new Map<string, string>();
  /** Body of /v1/catalog/services (name → tags). */
  catalogServices: Record<string, string[]> = {};
  /** Raw body for /v1/health/state/any instead of JSON of `checks`. */
  healthBody: string | undefined;
  /** Raw bodies of GET /v1/kv/<key> (any query), served verbatim instead of answers built from `kv`. */
  kvBodies = new Map<string, string>();
  readonly requests: Recorded[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #server = createServer((req, res) => this.#handle(req, res));
  url = '';

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    const { port: p } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${p}`;
    return this.url;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Raises the index and wakes every blocked read. */
  bump(): void {
    this.index++;
    this.wake();
  }

  wake(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  /** Blocked reads currently parked. */
  get waiting(): number {
    return this.#waiters.size;
  }

  count(pathPrefix: string): number {
    return this.requests.filter((r) => r.path.startsWith(pathPrefix)).length;
  }

  async close(): Promise<void> {
    this.wake();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    let body = '';
    for await (const chunk of req) body += chunk;
    this.requests.push({
      method: req.method ?? '',
      path: u.pathname,
      query: u.searchParams,
      headers: req.headers,
      body,
    });
    res.on('error', () => {});
    if (this.failStatus !== undefined) {
      res.writeHead(this.failStatus, { 'content-type': 'text/plain' }).end('fake failure');
      return;
    }
    if (this.failPaths.some((p) => u.pathname.startsWith(p))) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Permission denied');
      return;
    }
    const q = u.searchParams;
    if (
      req.method === 'GET' &&
      q.has('index') &&
      (u.pathname.startsWith('/v1/health/') ||
        u.pathname.startsWith('/v1/kv/') ||
        u.pathname === '/v1/catalog/services')
    ) {
      const want = Number(q.get('index'));
      const waitMs = parseWait(q.get('wait') ?? '5m');
      if (want >= this.index) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, waitMs);
          this.#waiters.add(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      if (this.failStatus !== undefined) {
        res.writeHead(this.failStatus).end('fake failure');
        return;
      }
    }
    const idx = this.indexHeader ?? String(this.index);
    const json = (status: number, value: unknown, extra: Record<string, string> = {}) => {
      res
        .writeHead(status, { 'content-type': 'application/json', 'x-consul-index': idx, ...extra })
        .end(JSON.stringify(value));
    };
    const p = u.pathname;
    if (p === '/v1/agent/self') return json(200, { Config: { Datacenter: this.dc, NodeName: 'node1' } });
    if (p === '/v1/health/state/any') {
      if (this.healthBody !== undefined) {
        res
          .writeHead(200, { 'content-type': 'application/json', 'x-consul-index': idx, ...this.healthHeaders })
          .end(this.healthBody);
        return;
      }
      return json(200, this.checks, this.healthHeaders);
    }
    if (p.startsWith('/v1/health/service/')) {
      const raw = this.healthService.get(decodeURIComponent(p.slice(19))) ?? '[]';
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': idx, ...this.healthHeaders }).end(raw);
      return;
    }
    if (p === '/v1/catalog/services') return json(200, this.catalogServices, this.healthHeaders);
    if (p.startsWith('/v1/catalog/service/')) return json(200, this.catalog.get(decodeURIComponent(p.slice(20))) ?? []);
    const rawKv =
      req.method === 'GET' && p.startsWith('/v1/kv/') ? this.kvBodies.get(decodeURIComponent(p.slice(7))) : undefined;
    if (rawKv !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': idx }).end(rawKv);
      return;
    }
    if (p.startsWith('/v1/kv/')) return this.#kv(req.method ?? 'GET', decodeURIComponent(p.slice(7)), q, body, json);
    if (p === '/v1/agent/service/register' && req.method === 'PUT') {
      const s = JSON.parse(body) as { ID?: string; Name: string };
      this.agentServices.set(s.ID ?? s.Name, s);
      return json(200, null);
    }
    if (p.startsWith('/v1/agent/service/deregister/')) {
      this.agentServices.delete(decodeURIComponent(p.slice(29)));
      return json(200, null);
    }
    if (p.startsWith('/v1/agent/check/update/')) return json(200, null);
    if (p === '/v1/agent/services') return json(200, Object.fromEntries(this.agentServices));
    json(404, 'not found');
  }

  #kv(method: string, key: string, q: URLSearchParams, body: string, json: (s: number, v: unknown) => void): void {
    if (method === 'PUT') {
      const cur = this.kv.get(key);
      const cas = q.get('cas');
      if (cas !== null && Number(cas) !== (cur?.modify ?? 0)) {
        json(200, false);
        return;
      }
      this.index++;
      this.kv.set(key, { value: body, modify: this.index });
      this.wake();
      json(200, true);
      return;
    }
    const keys = [...this.kv.keys()].sort();
    const match =
      q.has('recurse') || q.has('keys') ? keys.filter((k) => k.startsWith(key)) : keys.filter((k) => k === key);
    if (match.length === 0) {
      json(404, null);
      return;
    }
    if (q.has('keys')) {
      json(200, match);
      return;
    }
    json(
      200,
      match.map((k) => {
        const e = this.kv.get(k) as { value: string; modify: number };
        return {
          Key: k,
          Value: Buffer.from(e.value).toString('base64'),
          ModifyIndex: e.modify,
          CreateIndex: e.modify,
          LockIndex: 0,
          Flags: 0,
        };
      }),
    );
  }
}

function parseWait(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(s);
  if (!m) return 300_000;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** A health check row as /v1/health/state/any returns it (with the live-only fields). */
export function check(
  node: string,
  serviceID: string,
  name: string,
  tags: string[],
  status: string,
  checkID = `service:${serviceID}`,
) {
  return {
    Node: node,
    CheckID: checkID,
    Name: `Service '${name}' check`,
    Status: status,
    Notes: '',
    Output: '',
    ServiceID: serviceID,
    ServiceName: name,
    ServiceTags: tags,
    Type: 'http',
    Namespace: 'default',
    Definition: {},
    CreateIndex: 5,
    ModifyIndex: 5,
  };
}

export const serf = (node: string, status = 'passing') => ({
  ...check(node, '', '', [], status, 'serfHealth'),
  Name: 'Serf Health Status',
  Type: '',
});

/** A /v1/catalog/service row. */
export function row(
  node: string,
  serviceID: string,
  name: string,
  tags: string[],
  addr: string,
  port: number,
  nodeAddr = '10.0.0.1',
) {
  return {
    ID: 'd23b9495-4caa-9ef2-a1d5-7f20aa39fd15',
    Node: node,
    Address: nodeAddr,
    Datacenter: 'dc1',
    TaggedAddresses: { lan: nodeAddr, wan: nodeAddr },
    NodeMeta: {},
    ServiceID: serviceID,
    ServiceName: name,
    ServiceTags: tags,
    ServiceAddress: addr,
    ServiceMeta: {},
    ServicePort: port,
    ServiceEnableTagOverride: false,
    CreateIndex: 5,
    ModifyIndex: 5,
  };
}

/** Polls fn until it returns a value other than undefined, or fails after ms. */
export async function until<T>(fn: () => T | undefined, ms = 3000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
