import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { test } from 'node:test';
import { turns } from '../../helpers/clock.ts';
import { backend, catalog, until } from './helpers.ts';

async function statusOf(
  c: Awaited<ReturnType<typeof catalog>>,
  id: string,
): Promise<{ Status: string; Output: string } | undefined> {
  return (await c.get('/v1/agent/checks')).json[id];
}

const httpCases = [
  { code: 200, status: 'passing' },
  { code: 204, status: 'passing' },
  { code: 299, status: 'passing' },
  { code: 429, status: 'warning' },
  { code: 301, status: 'critical' },
  { code: 404, status: 'critical' },
  { code: 500, status: 'critical' },
  { code: 503, status: 'critical' },
];
for (const hc of httpCases) {
  test(`HTTP check: ${hc.code} -> ${hc.status}`, async (t) => {
    const c = await catalog(t);
    const b = await backend(t);
    b.setStatus(hc.code);
    await c.put('/v1/agent/service/register', {
      ID: 'w',
      Name: 'web',
      Port: b.port,
      Check: {
        CheckID: 'h',
        HTTP: `http://127.0.0.1:${b.port}/health`,
        Interval: '50ms',
        Status: hc.status === 'critical' ? 'passing' : 'critical',
      },
    });
    const s = await until(
      async () => {
        const x = await statusOf(c, 'h');
        return x?.Status === hc.status ? x : undefined;
      },
      3000,
      `status ${hc.status}`,
    );
    assert.match(s.Output, new RegExp(`^HTTP GET http://127\\.0\\.0\\.1:${b.port}/health: ${hc.code} `));
  });
}

test('HTTP check flips with the backend: passing -> critical when it stops -> passing again', async (t) => {
  const c = await catalog(t);
  const b = await backend(t);
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Port: b.port,
    Tags: ['urlprefix-/w'],
    Check: { CheckID: 'h', HTTP: `http://127.0.0.1:${b.port}/`, Interval: '50ms' },
  });
  assert.equal((await statusOf(c, 'h'))?.Status !== undefined, true);
  await until(async () => (await c.get('/v1/health/service/web?passing')).json.length === 1, 3000, 'passing');
  b.setStatus(500);
  await until(async () => (await c.get('/v1/health/service/web?passing')).json.length === 0, 3000, 'critical');
  b.setStatus(200);
  await until(async () => (await c.get('/v1/health/service/web?passing')).json.length === 1, 3000, 'passing again');
  await b.close();
  // a probe in flight when the server went away may fail otherwise (its connection was cut);
  // the next one finds the port closed
  const s = await until(
    async () => {
      const x = await statusOf(c, 'h');
      return x?.Status === 'critical' && /ECONNREFUSED|refused/.test(x.Output) ? x : undefined;
    },
    3000,
    'critical (connection refused) after stop',
  );
  assert.equal(s.Status, 'critical');
});

test('HTTP check: Method, Header and the timeout are honoured', async (t) => {
  const c = await catalog(t);
  let seen: { method?: string; header?: string | string[] } = {};
  let slow = false;
  const srv = http.createServer((req, res) => {
    seen = { method: req.method, header: req.headers['x-probe'] };
    if (slow) return; // never answers
    res.end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const port = (srv.address() as AddressInfo).port;
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Check: {
      CheckID: 'h',
      HTTP: `http://127.0.0.1:${port}/`,
      Method: 'HEAD',
      Header: { 'X-Probe': ['yes'] },
      Interval: '50ms',
      Timeout: '100ms',
    },
  });
  await until(async () => (await statusOf(c, 'h'))?.Status === 'passing', 3000, 'passing');
  assert.equal(seen.method, 'HEAD');
  assert.equal(seen.header, 'yes');
  slow = true;
  const s = await until(
    async () => {
      const x = await statusOf(c, 'h');
      return x?.Status === 'critical' ? x : undefined;
    },
    3000,
    'timeout -> critical',
  );
  assert.match(s.Output, /deadline exceeded/);
});

test('TCP check: connect = passing, refused = critical', async (t) => {
  const c = await catalog(t);
  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  t.after(() => new Promise<void>((r) => (srv.listening ? srv.close(() => r()) : r())));
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Check: { CheckID: 'tcp', TCP: `127.0.0.1:${port}`, Interval: '50ms' },
  });
  const ok = await until(
    async () => {
      const x = await statusOf(c, 'tcp');
      return x?.Status === 'passing' ? x : undefined;
    },
    3000,
    'passing',
  );
  assert.equal(ok.Output, `TCP connect 127.0.0.1:${port}: Success`);
  await new Promise<void>((r) => srv.close(() => r()));
  const bad = await until(
    async () => {
      const x = await statusOf(c, 'tcp');
      return x?.Status === 'critical' ? x : undefined;
    },
    3000,
    'critical',
  );
  assert.match(bad.Output, /^dial tcp 127\.0\.0\.1:\d+: connect: connection refused$/);
});

test('TTL check: critical with "TTL expired" when not refreshed; each update restarts the clock', async (t) => {
  const c = await catalog(t);
  // The TTL runs on node:test's mock clock (the catalog's timers are created after this line).
  t.mock.timers.enable({ apis: ['setTimeout'] });
  await c.put('/v1/agent/service/register', { ID: 'w', Name: 'web', Check: { CheckID: 'ttl', TTL: '300ms' } });
  assert.equal((await statusOf(c, 'ttl'))?.Status, 'critical');
  await c.put('/v1/agent/check/pass/ttl');
  // Refresh three times 150 ms apart: still passing 450 ms later, well past one TTL.
  for (let i = 0; i < 3; i++) {
    t.mock.timers.tick(150);
    await c.put('/v1/agent/check/update/ttl', { Status: 'passing', Output: `beat ${i}` });
  }
  assert.equal((await statusOf(c, 'ttl'))?.Status, 'passing');
  t.mock.timers.tick(299);
  assert.equal((await statusOf(c, 'ttl'))?.Status, 'passing', '1 ms before the TTL of the last update');
  t.mock.timers.tick(1);
  const s = await statusOf(c, 'ttl');
  assert.equal(s?.Status, 'critical', 'expired exactly one TTL after the last update');
  assert.equal(s?.Output, 'TTL expired');
});

test('DeregisterCriticalServiceAfter: the reaper removes a service whose check stays critical', async (t) => {
  const c = await catalog(t, { reapIntervalMs: 20, reapMinMs: 0 });
  await c.put('/v1/agent/service/register', {
    ID: 'gone',
    Name: 'web',
    Check: { TTL: '1h', DeregisterCriticalServiceAfter: '100ms' },
  });
  await c.put('/v1/agent/service/register', {
    ID: 'stays',
    Name: 'web',
    Check: { TTL: '1h', Status: 'passing', DeregisterCriticalServiceAfter: '100ms' },
  });
  await until(async () => !('gone' in (await c.get('/v1/agent/services')).json), 3000, 'reaped');
  assert.ok('stays' in (await c.get('/v1/agent/services')).json);
});

test('DeregisterCriticalServiceAfter is clamped to the minimum (Consul: 1m)', async (t) => {
  // The reaper's interval and its clock are node:test's mock timers: the reaper runs every 10 ms
  // of mock time and the service goes exactly when the clamped minimum has passed, not before.
  t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
  const c = await catalog(t, { reapIntervalMs: 10, reapMinMs: 60_000 });
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Check: { TTL: '1h', DeregisterCriticalServiceAfter: '10ms' },
  });
  assert.equal((await statusOf(c, 'service:w'))?.Status, 'critical');
  t.mock.timers.tick(59_990);
  assert.ok('w' in (await c.get('/v1/agent/services')).json, 'kept for 5,999 reaper passes, under 1m critical');
  t.mock.timers.tick(10);
  assert.ok(!('w' in (await c.get('/v1/agent/services')).json), 'reaped by the pass at 1m');
});

test('deregistering stops the check runner (no further probes)', async (t) => {
  const c = await catalog(t);
  const srv = http.createServer((_q, s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as AddressInfo).port;
  // Probe intervals run on the mock clock; every probe goes through http.request, recorded here
  // when it is issued (synchronously in the timer callback).
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const probes = t.mock.method(http, 'request');
  const count = (path: string) => probes.mock.calls.filter((x) => String(x.arguments[0]).endsWith(path)).length;
  /** Advances the mock clock one interval at a time until `path` has had n probes. */
  const probed = (path: string, n: number) =>
    turns(() => {
      t.mock.timers.tick(20);
      return count(path) >= n;
    }, `${n} probes of ${path}`);
  for (const id of ['w', 'v'])
    await c.put('/v1/agent/service/register', {
      ID: id,
      Name: 'web',
      Check: { HTTP: `http://127.0.0.1:${port}/${id}`, Interval: '20ms' },
    });
  await probed('/w', 2);
  await c.put('/v1/agent/service/deregister/w');
  const after = count('/w');
  // five more rounds of the other check prove the runner kept running and never came back to w
  await probed('/v', count('/v') + 5);
  assert.equal(count('/w'), after, 'no probe of a deregistered check');
});

test('TCP checks leave no abort listener behind (Node 20 net.connect({ signal }) never removes its own)', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => void warnings.push(w.name);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const c = await catalog(t);
  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as AddressInfo).port;
  let probes = 0;
  srv.on('connection', () => probes++);
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Check: { CheckID: 'tcp', TCP: `127.0.0.1:${port}`, Interval: '10ms' },
  });
  // the eleventh listener left on the runner's signal would raise MaxListenersExceededWarning
  await until(async () => probes >= 15 || undefined, 5000, '15 probes');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    warnings.filter((w) => w === 'MaxListenersExceededWarning'),
    [],
  );
});
