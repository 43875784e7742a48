import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { type DevCatalog, type DevCatalogOptions, startDevCatalog } from '../../../src/registry/dev-catalog/index.ts';

/** Shared helpers for the dev-catalog tests: a catalog per test, tiny HTTP client, polling. */

export interface Res {
  status: number;
  index: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test helper returns parsed JSON
  json: any;
}

export async function catalog(
  t: TestContext,
  opts: Partial<DevCatalogOptions> = {},
): Promise<
  DevCatalog & {
    get: (p: string) => Promise<Res>;
    put: (p: string, body?: unknown) => Promise<Res>;
    del: (p: string) => Promise<Res>;
  }
> {
  const c = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false, ...opts });
  t.after(() => c.close());
  const call = async (method: string, p: string, body?: unknown): Promise<Res> => {
    const r = await fetch(c.url + p, {
      method,
      body:
        body === undefined
          ? undefined
          : typeof body === 'string' || Buffer.isBuffer(body)
            ? body
            : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, index: Number(r.headers.get('x-consul-index')), headers: r.headers, text, json };
  };
  return Object.assign(c, {
    get: (p: string) => call('GET', p),
    put: (p: string, body?: unknown) => call('PUT', p, body),
    del: (p: string) => call('DELETE', p),
  });
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function until<T>(fn: () => T | Promise<T>, ms = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A backend whose status code can be changed; closed in t.after. */
export async function backend(
  t: TestContext,
): Promise<{ port: number; setStatus(n: number): void; close(): Promise<void> }> {
  let status = 200;
  const srv = http.createServer((_req, res) => {
    res.statusCode = status;
    res.end(`status ${status}`);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const close = () =>
    new Promise<void>((r) => {
      srv.close(() => r());
      srv.closeAllConnections();
    });
  t.after(() => (srv.listening ? close() : undefined));
  return { port: (srv.address() as AddressInfo).port, setStatus: (n) => (status = n), close };
}
