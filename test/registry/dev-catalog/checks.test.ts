import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { test } from 'node:test';
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
  const s = await until(
    async () => {
      const x = await statusOf(c, 'h');
      return x?.Status === 'critical' ? x : undefined;
    },
    3000,
    'critical after stop',
  );
  assert.match(s.Output, /ECONNREFUSED|refused/);
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
  await c.put('/v1/agent/service/register', { ID: 'w', Name: 'web', Check: { CheckID: 'ttl', TTL: '300ms' } });
  assert.equal((await statusOf(c, 'ttl'))?.Status, 'critical');
  await c.put('/v1/agent/check/pass/ttl');
  const t0 = Date.now();
  // Refresh three times at 150 ms: still passing after 450 ms.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 150));
    await c.put('/v1/agent/check/update/ttl', { Status: 'passing', Output: `beat ${i}` });
  }
  assert.equal((await statusOf(c, 'ttl'))?.Status, 'passing');
  const s = await until(
    async () => {
      const x = await statusOf(c, 'ttl');
      return x?.Status === 'critical' ? x : undefined;
    },
    3000,
    'expired',
  );
  assert.equal(s.Output, 'TTL expired');
  assert.ok(Date.now() - t0 >= 750);
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
  const c = await catalog(t, { reapIntervalMs: 10, reapMinMs: 60_000 });
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Check: { TTL: '1h', DeregisterCriticalServiceAfter: '10ms' },
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.ok('w' in (await c.get('/v1/agent/services')).json);
});

test('deregistering stops the check runner (no further probes)', async (t) => {
  const c = await catalog(t);
  let hits = 0;
  const srv = http.createServer((_q, s) => {
    hits++;
    s.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as AddressInfo).port;
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Check: { HTTP: `http://127.0.0.1:${port}/`, Interval: '20ms' },
  });
  await until(() => hits >= 2, 3000, 'probes');
  await c.put('/v1/agent/service/deregister/w');
  await new Promise((r) => setTimeout(r, 50));
  const after = hits;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(hits, after);
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
