import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend, type ConsulBackendOptions } from '../../src/registry/consul/backend.ts';
import { type DevCatalog, startDevCatalog } from '../../src/registry/dev-catalog/index.ts';
import type { RouteTextUpdate } from '../../src/registry/types.ts';
import { until } from './fake-consul.ts';

/**
 * End to end against the embedded Consul-compatible catalog over real HTTP, through exactly the
 * production client: registration with a real HTTP check, server stop, deregistration, catalog
 * outage and restart with lower indexes.
 */

type T = { after(fn: () => unknown): void };

function options(url: string, over: Partial<ConsulBackendOptions> = {}): ConsulBackendOptions {
  return {
    client: { addr: url, token: '', namespace: '', consistency: 'consistent', connections: 4 },
    retryMs: 20,
    timeoutMs: 2000,
    kvpath: '/fabio/config',
    noroutePath: '/fabio/noroute.html',
    tagPrefix: 'urlprefix-',
    status: ['passing'],
    checksRequired: 'one',
    monitors: 1,
    pollIntervalMs: 0,
    register: undefined,
    blocking: { retryMs: 50, maxRetryMs: 100, waitMs: 60_000 },
    ...over,
  };
}

async function httpServer(t: T): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function put(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'PUT', body: body === undefined ? undefined : JSON.stringify(body) });
  await res.text();
  assert.equal(res.status, 200, `PUT ${url}`);
}

function setup(_t: T, port = 0, initialIndex?: number): Promise<DevCatalog> {
  return startDevCatalog({ host: '127.0.0.1', port, jitter: false, initialIndex });
}

async function watch(t: T, cat: DevCatalog, over: Partial<ConsulBackendOptions> = {}) {
  const log = memoryLogger('DEBUG');
  const backend = new ConsulBackend(options(cat.url, over), log);
  const updates: RouteTextUpdate[] = [];
  t.after(() => backend.stop());
  await backend.connect();
  backend.watch({ routes: (u) => void updates.push(u), noRouteHtml: () => {} });
  const text = () => updates.at(-1)?.text;
  return { backend, log, updates, text };
}

test('register with a real HTTP check → route appears; server stopped → gone; back → appears; deregister → gone', async (t) => {
  const cat = await setup(t);
  t.after(() => cat.close());
  const { server, port } = await httpServer(t);
  const { text } = await watch(t, cat);
  await until(() => text() === '\n' || undefined, 3000, 'empty first table');
  await put(`${cat.url}/v1/agent/service/register`, {
    ID: 'web-1',
    Name: 'web',
    Address: '127.0.0.1',
    Port: port,
    Tags: ['urlprefix-/web'],
    Check: { HTTP: `http://127.0.0.1:${port}/`, Interval: '100ms', Timeout: '1s' },
  });
  const route = `route add web /web http://127.0.0.1:${port}/\n`;
  await until(() => text() === route || undefined, 3000, 'route after the check passes');
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await until(() => text() === '\n' || undefined, 5000, 'route gone after the server stopped');
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  await until(() => text() === route || undefined, 5000, 'route back');
  await put(`${cat.url}/v1/agent/service/deregister/web-1`, undefined);
  await until(() => text() === '\n' || undefined, 3000, 'route gone after deregistration');
});

test('catalog outage keeps the last text; after a restart with lower indexes a change is live without waiting out the blocking query', async (t) => {
  let cat = await setup(t, 0, 5000);
  const port = cat.port;
  t.after(() => cat.close());
  const reg = async (c: DevCatalog, svcPort: number) =>
    put(`${c.url}/v1/agent/service/register`, {
      ID: 'api-1',
      Name: 'api',
      Address: '127.0.0.1',
      Port: svcPort,
      Tags: ['urlprefix-/api'],
      Check: { TTL: '30s', Status: 'passing' },
    });
  await reg(cat, 1111);
  const { text, updates, log } = await watch(t, cat);
  await until(() => text() === 'route add api /api http://127.0.0.1:1111/\n' || undefined, 3000, 'first route');
  await cat.close();
  await until(
    () => log.lines.some((l) => l.startsWith('[WARN] consul: Error fetching health state.')) || undefined,
    3000,
    'outage noticed',
  );
  const n = updates.length;
  // The watch keeps retrying (logged at DEBUG after the first WARN): three more failed fetches,
  // and it emitted nothing for any of them.
  const failed = () => log.lines.filter((l) => l.startsWith('[DEBUG] consul: Still cannot fetch health state.')).length;
  const f0 = failed();
  await until(() => failed() >= f0 + 3 || undefined, 5000, 'three more failed fetches');
  assert.equal(updates.length, n, 'nothing emitted during the outage');
  cat = await setup(t, port, 1);
  await reg(cat, 2222);
  // A watch still blocking on the old (higher) index would wait for blocking.waitMs (60 s) before
  // seeing the change; the poll's deadline is far below that.
  await until(
    () => text() === 'route add api /api http://127.0.0.1:2222/\n' || undefined,
    10_000,
    'change after restart',
  );
  assert.ok(log.lines.some((l) => l.includes('Health state fetched again')));
});

test('index reset by the catalog (setIndexForTest) is handled and later changes still arrive', async (t) => {
  const cat = await setup(t, 0, 100);
  t.after(() => cat.close());
  const { text } = await watch(t, cat);
  await until(() => text() === '\n' || undefined, 3000, 'first table');
  cat.setIndexForTest(2);
  await put(`${cat.url}/v1/agent/service/register`, {
    ID: 'b-1',
    Name: 'b',
    Address: '127.0.0.1',
    Port: 3333,
    Tags: ['urlprefix-/b'],
    Check: { TTL: '30s', Status: 'passing' },
  });
  await until(
    () => text() === 'route add b /b http://127.0.0.1:3333/\n' || undefined,
    3000,
    'change after index reset',
  );
});

test('manual overrides through the catalog KV and self-registration against the catalog', async (t) => {
  const cat = await setup(t);
  t.after(() => cat.close());
  const { text, backend } = await watch(t, cat, {
    register: {
      name: 'fabio',
      addr: '127.0.0.1:9998',
      defaultPort: 9998,
      tags: [],
      namespace: '',
      checkIntervalMs: 1000,
      checkTimeoutMs: 3000,
      checkTLSSkipVerify: false,
      https: false,
      hostname: 'h',
      refreshMs: 50,
    },
  });
  await until(() => text() === '\n' || undefined, 3000, 'first table');
  assert.equal(await backend.manual.put('', 'route del x', '0'), true);
  await until(() => text() === '\n# --- fabio/config\nroute del x' || undefined, 3000, 'override applied');
  await backend.register([]);
  const services = async () => Object.keys((await (await fetch(`${cat.url}/v1/agent/services`)).json()) as object);
  assert.deepEqual(await services(), ['fabio-h-9998']);
  const checks = (await (await fetch(`${cat.url}/v1/agent/checks`)).json()) as Record<string, { Status: string }>;
  assert.equal(checks['fabio-h-9998-ttl']?.Status, 'passing', 'TTL check passing after the update');
  await backend.deregister();
  assert.deepEqual(await services(), []);
});
