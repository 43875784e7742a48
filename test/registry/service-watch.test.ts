import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend, type ConsulBackendOptions } from '../../src/registry/consul/backend.ts';
import { healthyServices } from '../../src/registry/consul/health-filter.ts';
import { healthEntries } from '../../src/registry/consul/service-watch.ts';
import { type DevCatalog, startDevCatalog } from '../../src/registry/dev-catalog/index.ts';
import type { RouteTextUpdate } from '../../src/registry/types.ts';
import { applyHunks } from '../../src/routes/index.ts';
import { FakeConsul, until } from './fake-consul.ts';
import { HEALTH_SERVICE_HTTPBACKEND } from './fixtures/consul-recorded.ts';

/**
 * registry.consul.watch=service: catalog/services + one health/service long-poll per routed
 * service. Against the embedded catalog over real HTTP it must produce exactly the text of the
 * state watch (same filter, same order), transfer only the changed service, and never read the
 * catalog rows; against the fake agent it replays Consul's recorded JSON and keeps the routes on
 * an answer Consul does not vouch for.
 */

type T = { after(fn: () => unknown): void };

function options(url: string, over: Partial<ConsulBackendOptions> = {}): ConsulBackendOptions {
  return {
    client: { addr: url, token: '', namespace: '', consistency: 'consistent', connections: 0 },
    watchMode: 'service',
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
  };
}

async function watch(t: T, url: string, over: Partial<ConsulBackendOptions> = {}) {
  const log = memoryLogger('DEBUG');
  const backend = new ConsulBackend(options(url, over), log);
  const updates: RouteTextUpdate[] = [];
  t.after(() => backend.stop());
  await backend.connect();
  backend.watch({ routes: (u) => void updates.push(u), noRouteHtml: () => {} });
  return { backend, log, updates, text: () => updates.at(-1)?.text };
}

async function catalog(t: T): Promise<DevCatalog> {
  const cat = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
  t.after(() => cat.close());
  return cat;
}

const svc = (id: string, name: string, port: number, tags: string[], status = 'passing', extra: object = {}) => ({
  ID: id,
  Name: name,
  Address: '10.0.0.1',
  Port: port,
  Tags: tags,
  Checks: [{ CheckID: `${id}-ttl`, TTL: '1h', Status: status }],
  ...extra,
});

test('service and state watches produce the same text over a table of catalog changes', async (t) => {
  const cat = await catalog(t);
  for (const body of [
    svc('a-1', 'a', 1, ['urlprefix-/a']),
    svc('a-2', 'a', 2, ['urlprefix-/a'], 'critical'),
    svc('b-1', 'b', 3, ['urlprefix-b.com/', 'other']),
    svc('b-2', 'b', 4, ['urlprefix-b.com/'], 'warning'),
    svc('c-1', 'c', 5, ['plain']),
    svc('d-1', 'd', 6, ['urlprefix-/d strip=/d']),
  ])
    cat.registerServiceForTest(body);
  const state = await watch(t, cat.url, { watchMode: 'state', client: { ...options(cat.url).client, connections: 4 } });
  const service = await watch(t, cat.url);
  const steps: [string, () => unknown, string[]][] = [
    [
      'initial',
      () => {},
      [
        'route add d /d http://10.0.0.1:6/ opts "strip=/d"',
        'route add b b.com/ http://10.0.0.1:3/ tags "other"',
        'route add a /a http://10.0.0.1:1/',
      ],
    ],
    [
      'second instance passes',
      () => cat.setCheckStatusForTest('a-2-ttl', 'passing'),
      [
        'route add d /d http://10.0.0.1:6/ opts "strip=/d"',
        'route add b b.com/ http://10.0.0.1:3/ tags "other"',
        'route add a /a http://10.0.0.1:2/',
        'route add a /a http://10.0.0.1:1/',
      ],
    ],
    [
      'service maintenance',
      () => fetch(`${cat.url}/v1/agent/service/maintenance/b-1?enable=true`, { method: 'PUT' }),
      [
        'route add d /d http://10.0.0.1:6/ opts "strip=/d"',
        'route add a /a http://10.0.0.1:2/',
        'route add a /a http://10.0.0.1:1/',
      ],
    ],
    [
      'untagged turns tagged',
      () => cat.registerServiceForTest(svc('c-1', 'c', 5, ['urlprefix-/c'])),
      [
        'route add d /d http://10.0.0.1:6/ opts "strip=/d"',
        'route add c /c http://10.0.0.1:5/',
        'route add a /a http://10.0.0.1:2/',
        'route add a /a http://10.0.0.1:1/',
      ],
    ],
    [
      'deregistered',
      () => fetch(`${cat.url}/v1/agent/service/deregister/d-1`, { method: 'PUT' }),
      ['route add c /c http://10.0.0.1:5/', 'route add a /a http://10.0.0.1:2/', 'route add a /a http://10.0.0.1:1/'],
    ],
    ['serfHealth critical', () => cat.setCheckStatusForTest('serfHealth', 'critical'), []],
    [
      'serfHealth passing',
      () => cat.setCheckStatusForTest('serfHealth', 'passing'),
      ['route add c /c http://10.0.0.1:5/', 'route add a /a http://10.0.0.1:2/', 'route add a /a http://10.0.0.1:1/'],
    ],
    ['node maintenance', () => fetch(`${cat.url}/v1/agent/maintenance?enable=true`, { method: 'PUT' }), []],
  ];
  for (const [what, act, lines] of steps) {
    const res = act();
    if (res instanceof Promise) assert.equal((await res).status, 200, what);
    const want = `${lines.join('\n')}\n`;
    for (const [mode, w] of [
      ['state', state],
      ['service', service],
    ] as const) {
      await until(() => w.text() === want || undefined, 3000, `${mode}: ${what}`).catch((err: Error) => {
        throw new Error(`${err.message}; text ${JSON.stringify(w.text())}`);
      });
    }
  }
  // both watches say how each text was made from the one before (the updater and the workers
  // apply the edit instead of diffing and regrouping the whole text)
  for (const [mode, w] of [
    ['state', state],
    ['service', service],
  ] as const) {
    let edits = 0;
    for (let i = 1; i < w.updates.length; i++) {
      const u = w.updates[i] as RouteTextUpdate;
      if (u.edit === undefined) continue;
      edits++;
      assert.equal(u.edit.base, w.updates[i - 1]?.text, `${mode}: update ${i} edits another text`);
      assert.equal(applyHunks(u.edit.base, u.edit.hunks), u.text, `${mode}: update ${i}`);
    }
    assert.ok(edits >= w.updates.length / 2, `${mode}: ${edits} edits in ${w.updates.length} updates`);
  }
});

test('a flap of a tagged service costs two small health/service reads and no catalog read; an untagged one costs nothing', async (t) => {
  const cat = await catalog(t);
  for (let i = 0; i < 20; i++) cat.registerServiceForTest(svc(`s${i}-1`, `s${i}`, 100 + i, [`urlprefix-/s${i}`]));
  cat.registerServiceForTest(svc('plain-1', 'plain', 9, ['no-route']));
  const { backend, text } = await watch(t, cat.url);
  await until(() => text()?.split('\n').length === 21 || undefined, 5000, 'first table');
  // Settled: catalog/services, the 20 tagged health/service watches and the two KV watches are all
  // parked in blocking queries. A watch woken by a change is unparked until it asks again.
  const settled = (what: string) => until(() => cat.waiting() === 23 || undefined, 5000, what);
  await settled('all 23 watches parked');
  const c = backend.client;
  const count = () => ({
    health: c.count('/v1/health/'),
    catalogRows: c.count('/v1/catalog/service/'),
    all: c.count('/'),
  });
  const before = count();
  for (let i = 0; i < 10; i++) {
    cat.setCheckStatusForTest('plain-1-ttl', i % 2 ? 'passing' : 'critical');
    await new Promise((r) => setImmediate(r)); // each flap its own event-loop turn
  }
  await settled('parked after the untagged flaps');
  assert.equal(cat.requestCount('GET /v1/health/service/plain'), 0, 'untagged service never watched');

  const s7 = c.count('/v1/health/service/s7');
  cat.setCheckStatusForTest('s7-1-ttl', 'critical');
  await until(() => !text()?.includes('/s7 ') || undefined, 3000, 's7 down');
  cat.setCheckStatusForTest('s7-1-ttl', 'passing');
  await until(() => text()?.includes('route add s7 /s7 ') || undefined, 3000, 's7 up');
  await until(() => c.count('/v1/health/service/s7') === s7 + 2 || undefined, 3000, 'two reads of s7');
  // Everything parked again after the tagged flap, so no read is still on its way: the counts
  // below are final for the ten untagged flaps before it and the tagged one.
  await settled('parked after the tagged flap');
  const after = count();
  assert.equal(after.catalogRows, 0, 'no catalog row read, ever');
  assert.equal(after.health - before.health, 2, 'only the flapped service was read, twice');
  assert.equal(after.all - before.all, 2);
});

test('a service that loses its prefixed tag stops being watched; its route goes', async (t) => {
  const cat = await catalog(t);
  cat.registerServiceForTest(svc('x-1', 'x', 1, ['urlprefix-/x']));
  const { text } = await watch(t, cat.url);
  await until(() => text() === 'route add x /x http://10.0.0.1:1/\n' || undefined, 3000, 'route');
  const parked = () => cat.waiting();
  // catalog/services, health/service/x and the two KV watches.
  await until(() => parked() === 4 || undefined, 3000, 'all four watches parked');
  cat.registerServiceForTest(svc('x-1', 'x', 1, ['gone']));
  await until(() => text() === '\n' || undefined, 3000, 'route gone');
  // The health/service watch of x was ended (its parked request aborted).
  await until(() => parked() === 3 || undefined, 3000, 'x no longer parked');
});

test('recorded Consul health/service JSON: serfHealth-only entries route nothing (as fabio); a passing service check routes Service.Address', () => {
  const opts = { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one' as const };
  const recorded = JSON.parse(HEALTH_SERVICE_HTTPBACKEND) as { Service: { Tags: string[] }; Checks: object[] }[];
  assert.equal(healthyServices(healthEntries('httpbackend', recorded).checks, opts).size, 0);
  for (const e of recorded) {
    e.Service.Tags = ['urlprefix-/hb'];
    e.Checks.push({
      Node: 'ignored',
      CheckID: 'service:x',
      Status: 'passing',
      ServiceID: 'x',
      ServiceName: 'httpbackend',
    });
  }
  const { checks, rows } = healthEntries('httpbackend', recorded);
  const healthy = healthyServices(checks, opts).get('httpbackend');
  assert.deepEqual(
    healthy?.instances.map((i) => `${i.node}/${i.id}`).sort(),
    rows.map((r) => `${r.Node}/${r.ServiceID}`).sort(),
  );
  assert.deepEqual(
    rows.map((r) => `${r.ServiceAddress}:${r.ServicePort}`),
    ['172.16.66.102:23578', '172.16.66.103:22819'],
  );
});

test('an empty health/service answer Consul does not vouch for keeps the routes; a vouched one removes them', async (t) => {
  const fake = new FakeConsul();
  const entry = (status: string) =>
    JSON.stringify([
      {
        Node: { Node: 'n1', Address: '10.0.0.1' },
        Service: { ID: 'web-1', Service: 'web', Tags: ['urlprefix-/web'], Address: '10.0.0.5', Port: 8080 },
        Checks: [
          { Node: 'n1', CheckID: 'serfHealth', Status: 'passing', ServiceID: '', ServiceName: '' },
          { Node: 'n1', CheckID: 'service:web-1', Status: status, ServiceID: 'web-1', ServiceName: 'web' },
        ],
      },
    ]);
  fake.catalogServices = { web: ['urlprefix-/web'], other: [] };
  fake.healthService.set('web', entry('passing'));
  await fake.start();
  t.after(() => fake.close());
  const { text, log } = await watch(t, fake.url);
  await until(() => text() === 'route add web /web http://10.0.0.5:8080/\n' || undefined, 3000, 'route');
  assert.equal(fake.count('/v1/health/service/other'), 0);
  fake.healthService.set('web', '[]');
  fake.healthHeaders = { 'X-Consul-KnownLeader': 'false' };
  fake.bump();
  await until(
    () => log.lines.some((l) => l.startsWith('[WARN] consul: Error fetching health state.')) || undefined,
    3000,
    'refused',
  );
  assert.equal(text(), 'route add web /web http://10.0.0.5:8080/\n');
  fake.healthHeaders = {};
  fake.healthService.set('web', entry('critical'));
  fake.bump();
  await until(() => text() === '\n' || undefined, 3000, 'vouched critical answer removes the route');
  assert.ok(log.lines.some((l) => l.includes('Health state fetched again')));
});

test('outage: one WARN, routes kept; after a restart with lower indexes a change is live without waiting out the blocking query', async (t) => {
  let cat = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false, initialIndex: 5000 });
  const port = cat.port;
  t.after(() => cat.close());
  const reg = (c: DevCatalog, p: number) => c.registerServiceForTest(svc('api-1', 'api', p, ['urlprefix-/api']));
  reg(cat, 1111);
  const { text, log, updates } = await watch(t, cat.url);
  await until(() => text() === 'route add api /api http://10.0.0.1:1111/\n' || undefined, 3000, 'first route');
  await cat.close();
  await until(
    () => log.lines.some((l) => l.startsWith('[WARN] consul: Error fetching health state.')) || undefined,
    3000,
    'outage',
  );
  const n = updates.length;
  // the watches keep retrying (DEBUG after the one WARN): three more failed fetches, nothing emitted
  const failed = () => log.lines.filter((l) => l.startsWith('[DEBUG] consul: Still cannot fetch health state.')).length;
  const f0 = failed();
  await until(() => failed() >= f0 + 3 || undefined, 5000, 'three more failed fetches');
  assert.equal(updates.length, n, 'nothing emitted during the outage');
  const warns = log.lines.filter((l) => l.startsWith('[WARN] consul: Error fetching health state.'));
  assert.equal(warns.length, 1, 'one WARN for the catalog/services and every health/service watch');
  cat = await startDevCatalog({ host: '127.0.0.1', port, jitter: false, initialIndex: 1 });
  reg(cat, 2222);
  // a watch blocking on the old, higher index would wait out blocking.waitMs (60 s) first
  await until(
    () => text() === 'route add api /api http://10.0.0.1:2222/\n' || undefined,
    10_000,
    'change after restart',
  );
  await until(
    () => log.lines.some((l) => l.includes('Health state fetched again')) || undefined,
    2000,
    'recovered line',
  );
});
