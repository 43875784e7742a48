import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend, type ConsulBackendOptions } from '../../src/registry/consul/backend.ts';
import { ConsulClient } from '../../src/registry/consul/client.ts';
import { ConsulManualStore } from '../../src/registry/consul/kv.ts';
import { type DevCatalog, startDevCatalog } from '../../src/registry/dev-catalog/index.ts';
import type { RouteTextUpdate } from '../../src/registry/types.ts';
import { startTestAdmin } from '../ui/helpers.ts';
import { until } from './fake-consul.ts';

/**
 * Check-and-set of the manual overrides against the embedded catalog (real HTTP, the production
 * client), not the hand-written fake: a stale ModifyIndex is refused, the current one accepted,
 * and the same through the admin API's PUT /api/manual that the UI's override editor calls.
 */

type T = { after(fn: () => unknown): void };

async function catalog(t: T): Promise<DevCatalog> {
  const c = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
  t.after(() => c.close());
  return c;
}

function client(t: T, url: string): ConsulClient {
  const c = new ConsulClient({ addr: url, token: '', namespace: '', consistency: 'consistent', connections: 4 });
  t.after(() => c.close());
  return c;
}

/** The raw KV entry as Consul returns it. */
async function entry(cat: DevCatalog, key: string): Promise<{ ModifyIndex: number; Value: string | null } | undefined> {
  const r = await fetch(`${cat.url}/v1/kv/${key}`);
  const body = await r.text();
  if (r.status === 404) return undefined;
  return (JSON.parse(body) as { ModifyIndex: number; Value: string | null }[])[0];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('ConsulManualStore CAS against the embedded catalog: stale ModifyIndex refused, current accepted', async (t) => {
  const cat = await catalog(t);
  const store = new ConsulManualStore(client(t, cat.url), '/fabio/config');
  assert.deepEqual(await store.get(''), { value: '', version: '0' }, 'missing key: version 0');
  assert.equal(await store.put('', 'route del a', '0'), true, 'cas=0 creates a missing key');
  const v1 = await store.get('');
  assert.equal(v1.value, 'route del a');
  assert.equal(v1.version, String((await entry(cat, 'fabio/config'))?.ModifyIndex), 'version is the ModifyIndex');
  assert.equal(await store.put('', 'route del b', '0'), false, 'cas=0 on an existing key is refused');

  assert.equal(await store.put('', 'route del b', v1.version), true, 'the current version is accepted');
  const v2 = await store.get('');
  assert.ok(Number(v2.version) > Number(v1.version), `${v2.version} > ${v1.version}`);
  // a second editor still holding v1 loses, and the value stays the winner's
  assert.equal(await store.put('', 'route del c', v1.version), false, 'stale version refused');
  assert.equal((await entry(cat, 'fabio/config'))?.Value, b64('route del b'));
  assert.equal((await store.get('')).version, v2.version, 'a refused write does not move the index');

  // sub-paths are separate keys with their own index
  assert.equal(await store.put('/blue', 'route weight x / weight 0.1', '0'), true);
  assert.equal(await store.put('/blue', 'route del z', v2.version), false, "another key's index is stale here");
  assert.deepEqual(await store.paths(), ['', '/blue']);
});

function backendOptions(url: string): ConsulBackendOptions {
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
  };
}

test('UI override save (PUT /api/manual) against the embedded catalog: 409 on a stale version, the route text follows', async (t) => {
  const cat = await catalog(t);
  const backend = new ConsulBackend(backendOptions(cat.url), memoryLogger('DEBUG'));
  t.after(() => backend.stop());
  await backend.connect();
  const updates: RouteTextUpdate[] = [];
  backend.watch({ routes: (u) => void updates.push(u), noRouteHtml: () => {} });
  const text = () => updates.at(-1)?.text;
  await until(() => text() === '\n' || undefined, 3000, 'first table');

  const a = await startTestAdmin(t, { cfg: { 'ui.access': 'rw' }, extra: { manual: backend.manual } });
  const api = async (method: string, value?: string, version?: string) => {
    const r = await fetch(`${a.url}/api/manual`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'PUT' ? JSON.stringify({ value, version }) : undefined,
    });
    return { status: r.status, body: await r.text() };
  };
  const read = async () => JSON.parse((await api('GET')).body) as { value: string; version: string };

  assert.deepEqual(await read(), { value: '', version: '0' });
  assert.equal((await api('PUT', 'route del a', '0')).status, 200);
  const v1 = await read();
  assert.equal(v1.value, 'route del a');
  assert.equal(v1.version, String((await entry(cat, 'fabio/config'))?.ModifyIndex));
  await until(() => text() === '\n# --- fabio/config\nroute del a' || undefined, 3000, 'override in the route text');

  assert.equal((await api('PUT', 'route del b', v1.version)).status, 200, 'saved with the version it read');
  const stale = await api('PUT', 'route del c', v1.version);
  assert.equal(stale.status, 409, stale.body);
  assert.match(stale.body, /version mismatch/);
  assert.equal((await read()).value, 'route del b', 'the stale save changed nothing');
  assert.equal((await entry(cat, 'fabio/config'))?.Value, b64('route del b'));
  await until(() => text() === '\n# --- fabio/config\nroute del b' || undefined, 3000, 'second override applied');
  assert.ok(a.log.lines.some((l) => l.includes('ui: manual overrides updated')));
});
