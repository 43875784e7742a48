import assert from 'node:assert/strict';
import http from 'node:http';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { startDevCatalog } from '../../../src/registry/dev-catalog/index.ts';
import { turns } from '../../helpers/clock.ts';
import { catalog, type Res, until } from './helpers.ts';

const svc = (id: string, tags: string[] = ['urlprefix-/x']) => ({
  ID: id,
  Name: 'web',
  Port: 80,
  Address: '10.0.0.1',
  Tags: tags,
  Check: { TTL: '1h', Status: 'passing' },
});

type Catalog = Awaited<ReturnType<typeof catalog>>;

/**
 * The answer to a request that must not block: it came back and the catalog never parked it (a
 * parked request shows in waiting() long before its wait could elapse). No elapsed-time bound.
 */
async function atOnce(c: Catalog, p: Promise<Res>): Promise<Res> {
  let res: Res | undefined;
  let err: unknown;
  p.then(
    (r) => (res = r),
    (e: unknown) => (err = e ?? new Error('rejected')),
  );
  await turns(() => res !== undefined || err !== undefined || c.waiting() > 0, 'an answer or a parked request');
  if (err !== undefined) throw err;
  assert.equal(c.waiting(), 0, 'the request was parked instead of answered at once');
  return res!;
}

/**
 * GET through node:http. While timers are mocked the tests stay off fetch: undici keeps its own
 * timer wheel on the global setTimeout, and a mocked one left the next test's requests hanging.
 */
function httpGet(c: Catalog, path: string): Promise<{ index: number; text: string; hash: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${c.url}${path}`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () =>
        resolve({
          index: Number(res.headers['x-consul-index']),
          text,
          hash: String(res.headers['x-consul-contenthash'] ?? ''),
        }),
      );
    });
    req.on('error', reject);
  });
}

/**
 * Freezes the catalog's clock (setTimeout and Date on node:test's mock timers) and parks `path`:
 * returns the pending answer and whether it has come, for tick()-driven wait checks.
 */
async function parked(t: TestContext, c: Catalog, path: string) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  t.after(() => t.mock.timers.reset()); // before the catalog's close() needs real timers
  let res: unknown;
  const p = httpGet(c, path).then((r) => (res = r));
  await turns(() => c.waiting() === 1, `${path} parked`);
  return { p, answered: () => res !== undefined };
}

const reads = [
  { name: 'health/state/any', path: '/v1/health/state/any' },
  { name: 'health/service', path: '/v1/health/service/web' },
  { name: 'catalog/service', path: '/v1/catalog/service/web' },
  { name: 'catalog/services', path: '/v1/catalog/services' },
  { name: 'agent/services', path: '/v1/agent/services' },
];

for (const r of reads) {
  test(`${r.name}: blocks until a registration, then answers with a higher index`, async (t) => {
    const c = await catalog(t);
    const first = await c.get(r.path);
    assert.equal(first.status, 200);
    assert.ok(first.index >= 1);
    const pending = c.get(`${r.path}${r.path.includes('?') ? '&' : '?'}index=${first.index}&wait=10s`);
    await until(() => c.waiting() === 1, 2000, 'parked watcher');
    await c.put('/v1/agent/service/register', svc('web-1'));
    const woke = await pending;
    assert.equal(woke.status, 200);
    assert.ok(woke.index > first.index, `${woke.index} > ${first.index}`);
    assert.match(woke.text, /web/);
    assert.equal(c.waiting(), 0);
  });
}

test('blocking: wait= elapses with the same index and unchanged body', async (t) => {
  const c = await catalog(t);
  const first = await c.get('/v1/health/state/any');
  const q = await parked(t, c, `/v1/health/state/any?index=${first.index}&wait=300ms`);
  t.mock.timers.tick(299);
  assert.equal(c.waiting(), 1, 'still parked 1 ms before wait');
  t.mock.timers.tick(1);
  const again = await q.p;
  assert.equal(c.waiting(), 0);
  assert.equal(again.index, first.index);
  assert.equal(again.text, first.text);
});

test('blocking: wait=0 means the default wait (still blocks until a change)', async (t) => {
  const c = await catalog(t);
  const first = await c.get('/v1/health/state/any');
  const p = c.get(`/v1/health/state/any?index=${first.index}&wait=0s`);
  await until(() => c.waiting() === 1, 2000, 'parked watcher');
  await c.put('/v1/agent/service/register', svc('web-1'));
  assert.ok((await p).index > first.index);
});

test('blocking: wait given as bare seconds is accepted; bad wait and index are 400', async (t) => {
  const c = await catalog(t);
  const first = await c.get('/v1/health/state/any');
  const q = await parked(t, c, `/v1/health/state/any?index=${first.index}&wait=1`);
  t.mock.timers.tick(999);
  assert.equal(c.waiting(), 1, 'wait=1 is one second: still parked at 999 ms');
  t.mock.timers.tick(1);
  assert.equal((await q.p).index, first.index);
  assert.equal((await c.get('/v1/health/state/any?index=1&wait=abc')).status, 400);
  assert.equal((await c.get('/v1/health/state/any?index=-1')).status, 400);
});

for (const q of ['', '?index=0', '?index=0&wait=5s', '?index=', '?wait=5s']) {
  test(`blocking: ${q || 'no index'} answers at once`, async (t) => {
    const c = await catalog(t);
    const r = await atOnce(c, c.get(`/v1/health/state/any${q}`));
    assert.equal(r.status, 200);
  });
}

test('blocking: an index lower than the current one answers at once', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', svc('web-1'));
  await c.put('/v1/agent/service/register', svc('web-2'));
  const cur = await c.get('/v1/health/state/any');
  const r = await atOnce(c, c.get(`/v1/health/state/any?index=${cur.index - 1}&wait=5s`));
  assert.equal(r.index, cur.index);
});

test('blocking: an index higher than the current one (after a reset) answers at once with the lower index', async (t) => {
  const c = await catalog(t);
  const r = await atOnce(c, c.get('/v1/health/state/any?index=999999&wait=5s'));
  assert.ok(r.index < 999999);
});

test('resetIndexForTest: blocked watchers wake and see the index go backwards', async (t) => {
  const c = await catalog(t);
  for (let i = 0; i < 5; i++) await c.put('/v1/agent/service/register', svc(`web-${i}`));
  await c.put('/v1/kv/a', 'x');
  const h = await c.get('/v1/health/state/any');
  const k = await c.get('/v1/kv/a?recurse');
  assert.ok(h.index >= 6);
  const ph = c.get(`/v1/health/state/any?index=${h.index}&wait=10s`);
  const pk = c.get(`/v1/kv/a?recurse&index=${k.index}&wait=10s`);
  await until(() => c.waiting() === 2, 2000, 'parked watchers');
  c.resetIndexForTest();
  const [rh, rk] = await Promise.all([ph, pk]);
  assert.equal(rh.index, 1);
  assert.equal(rk.index, 1);
  assert.equal(rh.json.length, 6, 'data survives an index reset');
  // Writes continue from the reset index.
  await c.put('/v1/agent/service/register', svc('web-9'));
  assert.equal((await c.get('/v1/health/state/any')).index, 2);
});

test('setIndexForTest: indexes jump forward too', async (t) => {
  const c = await catalog(t);
  c.setIndexForTest(5000);
  await c.put('/v1/agent/service/register', svc('web-1'));
  assert.equal((await c.get('/v1/health/service/web')).index, 5001);
});

test('blocking: a KV write does not wake health watchers; a health write does not wake KV watchers', async (t) => {
  const c = await catalog(t);
  const h = await c.get('/v1/health/state/any');
  const k = await c.get('/v1/kv/fabio/config?recurse');
  const ph = c.get(`/v1/health/state/any?index=${h.index}&wait=10s`);
  let kvDone = false;
  const pk = c.get(`/v1/kv/fabio/config?recurse&index=${k.index}&wait=10s`).then((r) => {
    kvDone = true;
    return r;
  });
  await until(() => c.waiting() === 2, 2000, 'parked watchers');
  await c.put('/v1/kv/other/key', 'v');
  assert.equal(c.waiting(), 2, 'unrelated KV write woke a watcher');
  await c.put('/v1/agent/service/register', svc('web-1'));
  const rh = await ph;
  assert.ok(rh.index > h.index);
  assert.equal(c.waiting(), 1);
  assert.equal(kvDone, false);
  await c.put('/v1/kv/fabio/config/a', 'route add x / http://a/');
  const rk = await pk;
  assert.equal(rk.status, 200);
  assert.equal(rk.json[0].Key, 'fabio/config/a');
});

test('blocking: health/service of one service is not woken by another service', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', svc('web-1'));
  const w = await c.get('/v1/health/service/web');
  const p = c.get(`/v1/health/service/web?index=${w.index}&wait=10s`);
  await until(() => c.waiting() === 1, 2000, 'parked watcher');
  await c.put('/v1/agent/service/register', { Name: 'other', Port: 1 });
  assert.equal(c.waiting(), 1);
  await c.put('/v1/agent/check/fail/service:web-1?note=down');
  const r = await p;
  assert.equal(r.json[0].Checks[1].Status, 'critical');
  assert.equal(r.json[0].Checks[1].Output, 'down');
});

test('blocking: many watchers share one serialisation and all wake', async (t) => {
  const c = await catalog(t);
  const first = await c.get('/v1/health/state/any');
  const n = 200;
  const all = Array.from({ length: n }, () => c.get(`/v1/health/state/any?index=${first.index}&wait=20s`));
  await until(() => c.waiting() === n, 5000, 'parked watchers');
  await c.put('/v1/agent/service/register', svc('web-1'));
  const res = await Promise.all(all);
  assert.ok(res.every((r) => r.index > first.index && r.text === res[0]?.text));
});

test('blocking: jitter adds at most wait/16', async (t) => {
  const c = await catalog(t, { jitter: true });
  const first = await c.get('/v1/health/state/any');
  const q = await parked(t, c, `/v1/health/state/any?index=${first.index}&wait=320ms`);
  t.mock.timers.tick(319);
  assert.equal(c.waiting(), 1, 'jitter never shortens the wait');
  t.mock.timers.tick(20);
  assert.equal(c.waiting(), 0, 'answered by wait + wait/16');
  await q.p;
});

test('close(): ends blocked requests, releases the port; a new catalog starts on the same port with a fresh index', async (t) => {
  const c = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
  t.after(() => c.close());
  for (let i = 0; i < 3; i++) {
    await fetch(`${c.url}/v1/kv/k${i}`, { method: 'PUT', body: 'v' }).then((r) => r.text());
  }
  const idx = c.index();
  const health = await fetch(`${c.url}/v1/health/state/any`);
  await health.text();
  const hIdx = health.headers.get('x-consul-index') ?? '';
  const blocked = fetch(`${c.url}/v1/health/state/any?index=${hIdx}&wait=60s`).then(
    (r) => r.text().then(() => 'answered'),
    () => 'failed',
  );
  await until(() => c.waiting() === 1, 2000, 'parked watcher');
  await c.close(); // resolves once every connection is gone, the 60 s watcher's included
  assert.ok(['answered', 'failed'].includes(await blocked));
  assert.equal(c.waiting(), 0);
  const again = await startDevCatalog({ host: '127.0.0.1', port: c.port, jitter: false });
  t.after(() => again.close());
  assert.equal(again.port, c.port);
  const r = await fetch(`${again.url}/v1/kv/k0`);
  await r.text();
  assert.equal(r.status, 404, 'in memory only: a restart starts empty');
  assert.ok(again.index() < idx);
});

test('requestCount counts by method and path', async (t) => {
  const c = await catalog(t);
  await c.get('/v1/catalog/service/a');
  await c.get('/v1/catalog/service/a?index=0');
  await c.get('/v1/catalog/service/b');
  assert.equal(c.requestCount('GET /v1/catalog/service/a'), 2);
  assert.equal(c.requestCount('GET /v1/catalog/service/'), 3);
  assert.equal(c.requestCount(), 3);
});

test('hash-based blocking on agent/services and agent/checks (X-Consul-ContentHash, ?hash=)', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', svc('web-1'));
  for (const path of ['/v1/agent/services', '/v1/agent/checks', '/v1/agent/service/web-1']) {
    const first = await c.get(path);
    const hash = first.headers.get('x-consul-contenthash');
    assert.match(hash ?? '', /^[0-9a-f]{16}$/, path);
    assert.equal((await c.get(path)).headers.get('x-consul-contenthash'), hash, 'stable while unchanged');
    const same = await parked(t, c, `${path}?hash=${hash}&wait=200ms`);
    t.mock.timers.tick(199);
    assert.equal(c.waiting(), 1, `${path} blocks on its own hash`);
    t.mock.timers.tick(1);
    assert.equal((await same.p).hash, hash);
    t.mock.timers.reset();
    const p = c.get(`${path}?hash=${hash}&wait=10s`);
    await until(() => c.waiting() === 1, 2000, 'parked watcher');
    if (path === '/v1/agent/checks') await c.put('/v1/agent/check/warn/service:web-1');
    else await c.put('/v1/agent/service/register', svc('web-1', ['changed', path]));
    const r = await p;
    assert.notEqual(r.headers.get('x-consul-contenthash'), hash, path);
    assert.equal((await atOnce(c, c.get(`${path}?hash=stale&wait=5s`))).status, 200, 'unknown hash answers at once');
  }
});

test('lowerIndexBlocks (Consul semantics): an index above the current one blocks until wait, even across writes', async (t) => {
  const c = await catalog(t, { lowerIndexBlocks: true });
  const q = await parked(t, c, '/v1/health/state/any?index=999&wait=400ms');
  c.registerServiceForTest(svc('web-1')); // in-process: no client timers while the clock is mocked
  // the write woke the query; it looked, found the index still below 999 and parked again
  await turns(() => c.waiting() === 1, 're-parked after the write');
  t.mock.timers.tick(399);
  assert.equal(c.waiting(), 1, 'kept blocking after a write that left the index below 999');
  assert.equal(q.answered(), false);
  t.mock.timers.tick(1);
  const r = await q.p;
  assert.ok(r.index < 999);
  assert.equal(JSON.parse(r.text).length, 2, 'answers with current data at the timeout');
});

test('lowerIndexBlocks: an index reset still releases every blocked query at once', async (t) => {
  const c = await catalog(t, { lowerIndexBlocks: true });
  await c.put('/v1/agent/service/register', svc('web-1'));
  const cur = await c.get('/v1/health/state/any');
  // a 10-minute wait: within the test's timeout only the reset can release it
  const p = c.get(`/v1/health/state/any?index=${cur.index}&wait=10m`);
  await until(() => c.waiting() === 1, 2000, 'parked');
  c.resetIndexForTest();
  assert.equal((await p).index, 1);
});
