import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend, type ConsulBackendOptions } from '../../src/registry/consul/backend.ts';
import type { RouteTextUpdate } from '../../src/registry/types.ts';
import { check, FakeConsul, row, serf, until } from './fake-consul.ts';
import { CATALOG_SERVICE_CONSUL, HEALTH_SERVICE_HTTPBACKEND } from './fixtures/consul-recorded.ts';

type T = { after(fn: () => unknown): void };

function options(url: string, over: Partial<ConsulBackendOptions> = {}): ConsulBackendOptions {
  return {
    retryMs: 20,
    timeoutMs: 400,
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
    client: {
      addr: url,
      token: '',
      namespace: '',
      consistency: 'consistent',
      connections: 4,
      ...over.client,
      ...(url ? { addr: url } : {}),
    },
  };
}

async function start(t: T, setup: (f: FakeConsul) => void = () => {}, over: Partial<ConsulBackendOptions> = {}) {
  const fake = new FakeConsul();
  setup(fake);
  await fake.start();
  const log = memoryLogger('DEBUG');
  const backend = new ConsulBackend(options(fake.url, over), log);
  const updates: RouteTextUpdate[] = [];
  const html: string[] = [];
  t.after(async () => {
    await backend.stop();
    await fake.close();
  });
  await backend.connect();
  backend.watch({ routes: (u) => void updates.push(u), noRouteHtml: (h) => void html.push(h) });
  const last = () => updates.at(-1)?.text;
  const waitText = (want: string, what = want) =>
    until(() => (last() === want ? true : undefined), 3000, `text ${JSON.stringify(what)}`);
  return { fake, backend, log, updates, html, last, waitText };
}

const WEB = ['urlprefix-/web'];
function webService(f: FakeConsul, status = 'passing') {
  f.checks = [serf('n1'), check('n1', 'web-1', 'web', WEB, status)];
  f.catalog.set('web', [row('n1', 'web-1', 'web', WEB, '10.0.0.5', 8080)]);
}

test("connect reads the datacenter and logs fabio's line", async (t) => {
  const { log, backend, fake } = await start(t, (f) => (f.dc = 'east'));
  assert.equal(backend.datacenter, 'east');
  assert.ok(
    log.lines.includes(`[INFO] consul: Connecting to "127.0.0.1:${fake.port}" in datacenter "east"`),
    log.lines.join('\n'),
  );
});

test("connect retries until registry.timeout, then fails with fabio's message", async (t) => {
  const fake = new FakeConsul();
  fake.failStatus = 500;
  await fake.start();
  const backend = new ConsulBackend(options(fake.url), memoryLogger());
  t.after(async () => {
    await backend.stop();
    await fake.close();
  });
  const t0 = performance.now();
  await assert.rejects(backend.connect(), { message: 'Timeout registering backend.' });
  const ms = performance.now() - t0;
  assert.ok(ms >= 300, `gave up after ${ms} ms, before registry.timeout`);
  assert.ok(fake.count('/v1/agent/self') >= 5, 'retried every registry.retry');
});

test('service routes from health state and catalog; manual overrides appended', async (t) => {
  const { waitText, updates, fake } = await start(t, (f) => {
    webService(f);
    f.kv.set('fabio/config', { value: 'route weight web /web weight 0.5 tags "x"\n', modify: 3 });
  });
  await waitText(
    'route add web /web http://10.0.0.5:8080/\n# --- fabio/config\nroute weight web /web weight 0.5 tags "x"',
  );
  assert.equal(updates.length, 1, 'first text waits for both parts');
  assert.equal(updates[0]?.cause, 'consul');
  assert.ok(updates[0]?.index === 10);
  // A KV change re-emits with cause kv.
  fake.kv.set('fabio/config/b', { value: 'route del web', modify: 11 });
  fake.bump();
  await waitText(
    'route add web /web http://10.0.0.5:8080/\n# --- fabio/config\nroute weight web /web weight 0.5 tags "x"\n\n# --- fabio/config/b\nroute del web',
    'kv update',
  );
  assert.equal(updates.at(-1)?.cause, 'kv');
});

test('lines of all services are sorted descending; ServiceAddress falls back to the node Address', async (t) => {
  const { waitText } = await start(t, (f) => {
    f.checks = [
      check('n1', 'a-1', 'a', ['urlprefix-/a'], 'passing'),
      check('n2', 'b-1', 'b', ['urlprefix-/b', 'green'], 'passing'),
    ];
    f.catalog.set('a', [row('n1', 'a-1', 'a', ['urlprefix-/a'], '', 1, '10.1.1.1')]);
    f.catalog.set('b', [row('n2', 'b-1', 'b', ['urlprefix-/b', 'green'], '10.2.2.2', 2)]);
  });
  await waitText('route add b /b http://10.2.2.2:2/ tags "green"\nroute add a /a http://10.1.1.1:1/\n');
});

test('$DC in a tag expands to the agent datacenter', async (t) => {
  const tags = ['urlprefix-$DC.example.com/'];
  const { waitText } = await start(t, (f) => {
    f.dc = 'dc7';
    f.checks = [check('n1', 'a-1', 'a', tags, 'passing')];
    f.catalog.set('a', [row('n1', 'a-1', 'a', tags, '10.1.1.1', 1)]);
  });
  await waitText('route add a dc7.example.com/ http://10.1.1.1:1/\n');
});

test('an untranslatable tag is skipped and reported, other services keep their routes', async (t) => {
  const bad = ['urlprefix-/x opt="y"'];
  const { waitText, updates } = await start(t, (f) => {
    f.checks = [check('n1', 'a-1', 'a', ['urlprefix-/a'], 'passing'), check('n1', 'x-1', 'x', bad, 'passing')];
    f.catalog.set('a', [row('n1', 'a-1', 'a', ['urlprefix-/a'], '10.1.1.1', 1)]);
    f.catalog.set('x', [row('n1', 'x-1', 'x', bad, '10.1.1.2', 2)]);
  });
  await until(() => updates.length > 0);
  assert.ok(updates[0]?.text.includes('route add a /a http://10.1.1.1:1/'));
  assert.equal(updates[0]?.tagWarnings?.[0]?.service, 'x');
  assert.equal(updates[0]?.tagWarnings?.[0]?.tag, 'urlprefix-/x opt="y"');
  assert.ok(!updates[0]?.text.includes('/x'));
  void waitText;
});

test('catalog reads: ten flaps of an untagged service cause none; a tagged flap costs at most one', async (t) => {
  const { fake, waitText, updates } = await start(t, (f) => {
    webService(f);
    f.catalog.set('db', [row('n1', 'db-1', 'db', ['primary'], '10.0.0.9', 5432)]);
  });
  await waitText('route add web /web http://10.0.0.5:8080/\n');
  const base = fake.count('/v1/catalog/service/');
  assert.equal(base, 1);
  for (let i = 0; i < 10; i++) {
    const n = fake.count('/v1/health/state/any');
    fake.checks = [
      serf('n1'),
      check('n1', 'web-1', 'web', WEB, 'passing'),
      check('n1', 'db-1', 'db', ['primary'], i % 2 ? 'passing' : 'critical'),
    ];
    fake.bump();
    await until(() => fake.count('/v1/health/state/any') >= n + 1, 3000, 'health read');
  }
  await until(() => fake.count('/v1/health/state/any') >= 12, 3000, 'all reads');
  assert.equal(fake.count('/v1/catalog/service/'), base, 'untagged flaps: no catalog read');
  assert.equal(updates.length, 1, 'nothing emitted for untagged flaps');
  // One flap of the tagged service: down (no read: removal uses the cached rows), up (one read).
  webService(fake, 'critical');
  fake.bump();
  await waitText('\n', 'route gone');
  webService(fake, 'passing');
  fake.bump();
  await waitText('route add web /web http://10.0.0.5:8080/\n', 'route back');
  assert.ok(
    fake.count('/v1/catalog/service/') - base <= 1,
    `tagged flap reads: ${fake.count('/v1/catalog/service/') - base}`,
  );
});

test('a second instance turning healthy is read once; losing it needs no read', async (t) => {
  const { fake, waitText } = await start(t, webService);
  await waitText('route add web /web http://10.0.0.5:8080/\n');
  fake.checks = [serf('n1'), check('n1', 'web-1', 'web', WEB, 'passing'), check('n2', 'web-2', 'web', WEB, 'passing')];
  fake.catalog.set('web', [
    row('n1', 'web-1', 'web', WEB, '10.0.0.5', 8080),
    row('n2', 'web-2', 'web', WEB, '10.0.0.6', 8080),
  ]);
  fake.bump();
  await waitText('route add web /web http://10.0.0.6:8080/\nroute add web /web http://10.0.0.5:8080/\n');
  assert.equal(fake.count('/v1/catalog/service/'), 2);
  fake.checks = [
    serf('n1'),
    check('n1', 'web-1', 'web', WEB, 'passing'),
    serf('n2', 'critical'),
    check('n2', 'web-2', 'web', WEB, 'passing'),
  ];
  fake.bump();
  await waitText('route add web /web http://10.0.0.5:8080/\n', 'node n2 down');
  assert.equal(fake.count('/v1/catalog/service/'), 2);
});

test('zero passing services empties the service routes (fabio), manual part stays', async (t) => {
  const { fake, waitText } = await start(t, (f) => {
    webService(f);
    f.kv.set('fabio/config', { value: 'route del x', modify: 2 });
  });
  await waitText('route add web /web http://10.0.0.5:8080/\n# --- fabio/config\nroute del x');
  fake.checks = [];
  fake.bump();
  await waitText('\n# --- fabio/config\nroute del x');
});

test('flapping leader: an empty answer without a known leader or filtered by ACLs keeps the routes', async (t) => {
  const headers: Record<string, string>[] = [
    { 'x-consul-knownleader': 'false' },
    { 'x-consul-results-filtered-by-acls': 'true' },
  ];
  for (const header of headers) {
    const { fake, waitText, updates, log } = await start(t, webService);
    await waitText('route add web /web http://10.0.0.5:8080/\n');
    fake.checks = [];
    fake.healthHeaders = header;
    fake.bump();
    await until(
      () => log.lines.some((l) => l.includes('consul: Error fetching health state. empty health state')),
      3000,
      'refusal logged',
    );
    assert.equal(updates.length, 1, `no emission with ${JSON.stringify(header)}`);
    fake.healthHeaders = { 'x-consul-knownleader': 'true' };
    fake.bump();
    await waitText('\n', 'leader confirms the empty state');
  }
});

test('outage: errors and 403 keep the last text; logged once per state change; a change after recovery is live', async (t) => {
  const { fake, waitText, updates, log } = await start(t, webService);
  await waitText('route add web /web http://10.0.0.5:8080/\n');
  fake.failStatus = 403;
  fake.wake();
  await until(() => fake.count('/v1/health/state/any') > 6, 3000, 'retries during the outage');
  assert.equal(updates.length, 1);
  const warns = log.lines.filter((l) => l.startsWith('[WARN] consul: Error fetching health state.'));
  assert.equal(warns.length, 1, warns.join('\n'));
  assert.match(warns[0] ?? '', /403/);
  fake.failStatus = undefined;
  fake.catalog.set('web', [row('n1', 'web-1', 'web', [...WEB, 'v2'], '10.0.0.5', 9090)]);
  fake.checks = [serf('n1'), check('n1', 'web-1', 'web', [...WEB, 'v2'], 'passing')];
  fake.bump();
  await waitText('route add web /web http://10.0.0.5:9090/ tags "v2"\n', 'change after recovery');
  assert.ok(log.lines.some((l) => l.startsWith('[INFO] consul: Health state fetched again')));
});

test('index going backwards (restored Consul) re-reads the catalog', async (t) => {
  const { fake, waitText, log } = await start(t, webService);
  await waitText('route add web /web http://10.0.0.5:8080/\n');
  // Same healthy set, new port: only a resync can see it.
  fake.catalog.set('web', [row('n1', 'web-1', 'web', WEB, '10.0.0.5', 7070)]);
  await until(() => fake.waiting >= 3 || undefined, 3000, 'three blocked watches');
  fake.index = 2;
  fake.wake();
  await waitText('route add web /web http://10.0.0.5:7070/\n', 'resync after index reset');
  assert.ok(log.lines.some((l) => l.includes('Index went backwards')));
});

test('poll mode reads without index at the poll interval', async (t) => {
  const { fake, waitText } = await start(t, webService, { pollIntervalMs: 50 });
  await waitText('route add web /web http://10.0.0.5:8080/\n');
  await until(() => fake.count('/v1/health/state/any') >= 3, 3000, 'polls');
  assert.ok(fake.requests.filter((r) => r.path === '/v1/health/state/any').every((r) => !r.query.has('index')));
});

test('token, namespace and ?stale are sent on reads', async (t) => {
  const { fake, waitText } = await start(t, webService, {
    client: { addr: '', token: 'secret', namespace: 'team-a', consistency: 'stale', connections: 4 },
  });
  void waitText;
  await until(() => fake.count('/v1/health/state/any') >= 1);
  const r = fake.requests.find((x) => x.path === '/v1/health/state/any');
  assert.equal(r?.headers['x-consul-token'], 'secret');
  assert.equal(r?.query.get('ns'), 'team-a');
  assert.equal(r?.query.has('stale'), true);
  assert.equal(r?.query.has('consistent'), false);
});

test('no-route HTML from KV: set and unset are logged and pushed', async (t) => {
  const { fake, html, log } = await start(t, (f) => {
    webService(f);
    f.kv.set('fabio/noroute.html', { value: ' <h1>none</h1> ', modify: 4 });
  });
  await until(() => (html.length === 1 ? true : undefined), 3000, 'html');
  assert.equal(html[0], '<h1>none</h1>');
  assert.ok(log.lines.includes('[INFO] Set noroute HTML (13 bytes)'));
  fake.kv.set('fabio/noroute.html', { value: '', modify: 12 });
  fake.bump();
  await until(() => (html.length === 2 ? true : undefined), 3000, 'unset');
  assert.equal(html[1], '');
  assert.ok(log.lines.includes('[INFO] Unset noroute HTML'));
});

test('manual store: paths, get, put with cas', async (t) => {
  const { backend, fake } = await start(t, (f) => {
    f.kv.set('fabio/config', { value: 'a', modify: 5 });
    f.kv.set('fabio/config/foo', { value: 'b', modify: 6 });
    f.kv.set('fabio/config-old', { value: 'c', modify: 7 });
  });
  const m = backend.manual;
  assert.deepEqual(await m.paths(), ['', '/foo']);
  assert.deepEqual(await m.get('/foo'), { value: 'b', version: '6' });
  assert.deepEqual(await m.get('/missing'), { value: '', version: '0' });
  assert.equal(await m.put('/foo', 'new', '5'), false, 'stale version');
  assert.equal(await m.put('/foo', 'new', '6'), true);
  assert.equal(fake.kv.get('fabio/config/foo')?.value, 'new');
  assert.equal(await m.put('/bar', 'x', '0'), true, 'create');
  assert.equal(await m.put('/bar', 'y', '0'), false, 'create conflicts with an existing key');
});

test('recorded Consul JSON: a catalog row with empty ServiceAddress uses the node Address', async (t) => {
  const tags = ['urlprefix-/consul'];
  const recorded = (JSON.parse(CATALOG_SERVICE_CONSUL) as Record<string, unknown>[]).map((r) => ({
    ...r,
    ServiceTags: tags,
  }));
  const { waitText } = await start(t, (f) => {
    f.checks = [check('consul-1', 'consul', 'consul', tags, 'passing')];
    f.catalog.set('consul', recorded);
  });
  await waitText('route add consul /consul http://192.168.0.129:8300/\n');
});

test('recorded Consul JSON: serfHealth-only checks (Nomad 0.8 services) route nothing, as in fabio', async (t) => {
  const entries = JSON.parse(HEALTH_SERVICE_HTTPBACKEND) as { Checks: unknown[] }[];
  const { waitText, updates } = await start(t, (f) => {
    f.checks = entries.flatMap((e) => e.Checks);
  });
  await waitText('\n');
  assert.equal(updates.length, 1);
});

test('unreadable overrides do not hold back the first table', async (t) => {
  const fake = new FakeConsul();
  webService(fake);
  await fake.start();
  const backend = new ConsulBackend(options(fake.url), memoryLogger());
  const updates: RouteTextUpdate[] = [];
  t.after(async () => {
    await backend.stop();
    await fake.close();
  });
  await backend.connect();
  // Every KV read fails: the fake answers 403 only for /v1/kv/.
  fake.failPaths = ['/v1/kv/'];
  backend.watch({ routes: (u) => void updates.push(u), noRouteHtml: () => {} });
  await until(
    () => updates.at(-1)?.text === 'route add web /web http://10.0.0.5:8080/\n' || undefined,
    3000,
    'first table',
  );
});
