import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend, type ConsulBackendOptions } from '../../src/registry/consul/backend.ts';
import type { RouteTextUpdate } from '../../src/registry/types.ts';
import { FakeConsul, row, until } from './fake-consul.ts';
import { HEALTH_STATE_ANY_DOCUMENTED, KV_RECURSE_DOCUMENTED } from './fixtures/consul-recorded.ts';

/**
 * The backend fed Consul's documented JSON verbatim (fixtures/consul-recorded.ts): a health state
 * with node and service maintenance, every check status and a two-check service, and a recursive
 * KV read with flags, a session, a folder key and a prefix sibling.
 */

type T = { after(fn: () => unknown): void };

function options(url: string, over: Partial<ConsulBackendOptions>): ConsulBackendOptions {
  return {
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
    blocking: { retryMs: 20, maxRetryMs: 40, waitMs: 60_000 },
    ...over,
    client: { addr: url, token: '', namespace: '', consistency: 'consistent', connections: 4 },
  };
}

/** Catalog rows for the services of HEALTH_STATE_ANY_DOCUMENTED (addresses 10.0.1.<node>). */
function documentedCluster(f: FakeConsul): void {
  f.healthBody = HEALTH_STATE_ANY_DOCUMENTED;
  const web = ['urlprefix-/web'];
  const api = ['urlprefix-/api', 'v2'];
  f.catalog.set('web', [
    row('consul-1', 'web-1', 'web', web, '10.0.1.1', 8080),
    row('consul-2', 'web-2', 'web', web, '10.0.1.2', 8080),
    row('consul-3', 'web-3', 'web', web, '10.0.1.3', 8080),
  ]);
  f.catalog.set('api', [
    row('consul-1', 'api-1', 'api', api, '10.0.1.1', 9090),
    row('consul-2', 'api-2', 'api', api, '10.0.1.2', 9090),
  ]);
  f.catalog.set('db', [row('consul-1', 'db-1', 'db', ['primary'], '10.0.1.1', 5432)]);
  f.catalog.set('mail', [row('consul-2', 'mail-1', 'mail', ['urlprefix-/mail'], '10.0.1.2', 25)]);
  f.catalogServices = { web, api, db: ['primary'], mail: ['urlprefix-/mail'], consul: [] };
}

async function start(t: T, setup: (f: FakeConsul) => void, over: Partial<ConsulBackendOptions> = {}) {
  const fake = new FakeConsul();
  setup(fake);
  await fake.start();
  const log = memoryLogger('DEBUG');
  const backend = new ConsulBackend(options(fake.url, over), log);
  const updates: RouteTextUpdate[] = [];
  t.after(async () => {
    await backend.stop();
    await fake.close();
  });
  await backend.connect();
  backend.watch({ routes: (u) => void updates.push(u), noRouteHtml: () => {} });
  const first = await until(() => updates[0], 3000, 'first route text').catch((e: Error) => {
    throw new Error(`${e.message}\n${log.lines.join('\n')}`);
  });
  return { first, log, updates };
}

const cases: { name: string; over: Partial<ConsulBackendOptions>; want: string[] }[] = [
  {
    // web-2 critical, web-3 on a node in maintenance, api-1 in maintenance, api-2 warning,
    // mail-1 has one passing check (checksRequired=one), db-1 has no route tag
    name: 'status=passing, checksRequired=one',
    over: {},
    want: ['route add mail /mail http://10.0.1.2:25/', 'route add web /web http://10.0.1.1:8080/'],
  },
  {
    name: 'status=passing, checksRequired=all: mail-1 has a critical check',
    over: { checksRequired: 'all' },
    want: ['route add web /web http://10.0.1.1:8080/'],
  },
  {
    name: 'status=passing,warning: api-2 (warning) joins, api-1 stays out (maintenance)',
    over: { status: ['passing', 'warning'] },
    want: [
      'route add api /api http://10.0.1.2:9090/ tags "v2"', // the route tag itself is not repeated
      'route add mail /mail http://10.0.1.2:25/',
      'route add web /web http://10.0.1.1:8080/',
    ],
  },
];

for (const c of cases) {
  test(`documented health/state/any with several checks: ${c.name}`, async (t) => {
    const { first } = await start(t, documentedCluster, c.over);
    const lines = first.text.split('\n').filter((l) => l.startsWith('route add'));
    assert.deepEqual(lines.sort(), c.want, first.text);
  });
}

test('documented kv?recurse with flags, session, a folder key and a prefix sibling', async (t) => {
  const { log, updates } = await start(t, (f) => {
    documentedCluster(f);
    f.kvBodies.set('fabio/config', KV_RECURSE_DOCUMENTED);
  });
  const text = await until(
    () => updates.find((u) => u.text.includes('# --- fabio/config'))?.text,
    3000,
    'overrides in the route text',
  );
  // every key at or below fabio/config, sorted, values trimmed; the folder key is empty; the
  // sibling fabio/config-old is not applied
  assert.equal(
    text.slice(text.indexOf('# --- fabio/config')),
    [
      '# --- fabio/config\nroute del web-2',
      '# --- fabio/config/\n',
      '# --- fabio/config/canary\nroute weight api /api weight 0.2 tags "v2"',
    ].join('\n\n'),
  );
  assert.ok(!text.includes('route del x'));
  assert.ok(
    log.lines.some((l) => l.includes('fabio/config-old')),
    `the ignored sibling is reported\n${log.lines.join('\n')}`,
  );
});
