import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { ConsulClient } from '../../../src/registry/consul/client.ts';
import { hostAllowed } from '../../../src/registry/dev-catalog/server.ts';
import { catalog } from './helpers.ts';

/**
 * DNS-rebinding guard of the embedded catalog: a browser page on attacker.example re-pointed at
 * 127.0.0.1 sends `Host: attacker.example:<port>` and must not register a route; Consul clients
 * (the project's own undici client, fetch, curl) keep working.
 */

/** One raw request with exactly the given Host header (or none). */
function request(port: number, method: string, path: string, host: string | undefined, body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(body)) };
    if (host !== undefined) headers.host = host;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const register = JSON.stringify({ Name: 'evil', Port: 80, Address: '10.0.0.66', Tags: ['urlprefix-/'] });

test('a request whose Host names another site is refused with 403 and registers nothing', async (t) => {
  const c = await catalog(t);
  for (const host of [
    `attacker.example:${c.port}`,
    'attacker.example',
    `127.0.0.1.attacker.example:${c.port}`,
    'x:y',
  ]) {
    assert.equal(await request(c.port, 'PUT', '/v1/agent/service/register', host, register), 403, host);
  }
  assert.equal(await request(c.port, 'GET', '/v1/agent/services', `attacker.example:${c.port}`), 403);
  const services = await c.get('/v1/agent/services');
  assert.equal(services.status, 200);
  assert.deepEqual(Object.keys(services.json), []);
});

test('localhost, 127.0.0.1, [::1] and IP literals, with or without port, are served', async (t) => {
  const c = await catalog(t);
  for (const host of [`localhost:${c.port}`, 'localhost', `127.0.0.1:${c.port}`, `[::1]:${c.port}`, 'LOCALHOST.']) {
    assert.equal(await request(c.port, 'GET', '/v1/agent/self', host), 200, host);
  }
  assert.equal(await request(c.port, 'PUT', '/v1/agent/service/register', `127.0.0.1:${c.port}`, register), 200);
});

test('HTTP/1.0 without Host is served (browsers always send Host)', async (t) => {
  const c = await catalog(t);
  const s = net.connect(c.port, '127.0.0.1');
  t.after(() => s.destroy());
  let got = '';
  s.on('data', (d: Buffer) => (got += d));
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write('GET /v1/status/leader HTTP/1.0\r\n\r\n');
  await new Promise<void>((r) => s.once('end', () => r()));
  assert.match(got, /^HTTP\/1\.[01] 200 /);
});

test("the project's own Consul client (undici) and fetch keep working", async (t) => {
  const c = await catalog(t);
  const client = new ConsulClient({ addr: c.url, token: '', namespace: '', consistency: 'default', connections: 4 });
  t.after(() => client.close());
  assert.equal((await client.get('/v1/agent/self', { noConsistency: true })).status, 200);
  const viaName = new ConsulClient({
    addr: `localhost:${c.port}`,
    token: '',
    namespace: '',
    consistency: 'default',
    connections: 4,
  });
  t.after(() => viaName.close());
  // localhost may resolve to ::1 first where the catalog listens on 127.0.0.1 only: accept either
  // a 200 or a connection error, never a 403.
  const r = await viaName.get('/v1/agent/self', { noConsistency: true }).catch(() => undefined);
  if (r) assert.equal(r.status, 200);
  assert.equal((await c.put('/v1/kv/fabio/config', 'route add a / http://10.0.0.1/')).status, 200);
});

test('hostAllowed: names of this catalog only', () => {
  assert.equal(hostAllowed(undefined, '127.0.0.1'), true);
  assert.equal(hostAllowed('devbox:8500', 'devbox'), true);
  assert.equal(hostAllowed('devbox:8500', '127.0.0.1'), false);
  assert.equal(hostAllowed('10.1.2.3:8500', '0.0.0.0'), true);
  assert.equal(hostAllowed('[fe80::1]', '::'), true);
  assert.equal(hostAllowed('[::1', '127.0.0.1'), false);
  assert.equal(hostAllowed('[::1]x', '127.0.0.1'), false);
  assert.equal(hostAllowed('', '127.0.0.1'), false);
  assert.equal(hostAllowed('evil.localhost:8500', '127.0.0.1'), false);
});
