import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { adminHosts, hostName } from '../../src/ui/host-guard.ts';
import { makeTable, startTestAdmin } from './helpers.ts';

/**
 * Issue #12 item 4: the admin port is safe by construction. Writes need a Host that names this
 * server (DNS rebinding), oversized bodies get 413, bad escapes 400, wrong methods 405 with Allow.
 * Everything over real sockets; Host is set by hand, as a rebinding browser would send it.
 */

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_CT = { 'content-type': 'application/json' };
const NEW_ROUTE = JSON.stringify({ value: 'route add evil /evil http://10.9.9.9/', version: '11' });

describe('DNS rebinding: writes need a Host that names this server', () => {
  test('Host evil.example:PORT with the matching Origin → 403, KV unchanged', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable('route add a /a http://10.0.0.1/') });
    const before = a.manual?.data.get('')?.value;
    const r = await send(a.port, 'PUT', '/api/manual', {
      ...JSON_CT,
      host: `evil.example:${a.port}`,
      origin: `http://evil.example:${a.port}`,
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(r.status, 403);
    assert.match(r.body, /Host/);
    assert.equal(a.manual?.data.get('')?.value, before);
    assert.ok(a.log.lines.some((l) => l.includes('"evil.example:') && l.includes('ui.allowedhosts')));
  });

  test('POST /api/explain with a foreign Host → 403', async (t) => {
    const a = await startTestAdmin(t);
    const r = await send(a.port, 'POST', '/api/explain', { ...JSON_CT, host: 'evil.example' }, '{"url":"http://x/"}');
    assert.equal(r.status, 403);
  });

  test('no Host at all (HTTP/1.0) → 403', async (t) => {
    const a = await startTestAdmin(t);
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(a.port, '127.0.0.1', () => {
        s.end(
          `PUT /api/manual HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${NEW_ROUTE.length}\r\n\r\n${NEW_ROUTE}`,
        );
      });
      let out = '';
      s.on('data', (c) => {
        out += c;
      });
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.[01] 403 /);
    assert.equal(a.manual?.data.get('')?.value, '');
  });

  const accepted: [string, Record<string, string | boolean | number>, (port: number) => string][] = [
    ['127.0.0.1:PORT', {}, (p) => `127.0.0.1:${p}`],
    ['localhost on another port (SSH tunnel)', {}, () => 'localhost:8080'],
    ['[::1]:PORT', {}, (p) => `[::1]:${p}`],
    ['a name from ui.allowedhosts', { 'ui.allowedhosts': 'a.example, Fabio.Example' }, (p) => `fabio.example:${p}`],
    ['the registered address', { 'registry.consul.register.addr': '10.1.2.3:9998' }, () => '10.1.2.3:9998'],
  ];
  for (const [name, cfg, host] of accepted) {
    test(`accepted: ${name}`, async (t) => {
      const a = await startTestAdmin(t, { cfg });
      const h = host(a.port);
      const r = await send(a.port, 'PUT', '/api/manual', { ...JSON_CT, host: h, origin: `http://${h}` }, NEW_ROUTE);
      assert.equal(r.status, 200, r.body);
      assert.equal(a.manual?.data.get('')?.value, 'route add evil /evil http://10.9.9.9/');
    });
  }

  test('reads are not affected by the Host check', async (t) => {
    const a = await startTestAdmin(t);
    const r = await send(a.port, 'GET', '/api/routes', { host: 'evil.example' });
    assert.equal(r.status, 200);
  });

  test('hostName and the address the request arrived on', () => {
    assert.equal(hostName('[::1]:9998'), '::1');
    assert.equal(hostName('Example.COM.:80'), 'example.com');
    assert.equal(hostName('10.0.0.1'), '10.0.0.1');
    const h = adminHosts({ boundHost: '0.0.0.0', registerAddr: ':9998', allowedHosts: '' });
    assert.equal(h.allows('10.0.0.7:9998', '::ffff:10.0.0.7'), true);
    assert.equal(h.allows('10.0.0.8:9998', '10.0.0.7'), false);
    assert.equal(h.allows('0.0.0.0:9998', '10.0.0.7'), false);
    assert.equal(h.allows(undefined, '127.0.0.1'), false);
    assert.equal(adminHosts({ boundHost: '', registerAddr: '', allowedHosts: '*' }).allows('x', undefined), true);
    assert.equal(
      adminHosts({ boundHost: 'admin.example', registerAddr: '', allowedHosts: '' }).allows('ADMIN.example:1', ''),
      true,
    );
  });
});

describe('hostile requests get a status, never a 500 or a dropped connection', () => {
  test('PUT /api/manual with a body over 1 MiB → 413', async (t) => {
    const a = await startTestAdmin(t);
    const big = Buffer.alloc((1 << 20) + 10, 'a');
    const r = await send(a.port, 'PUT', '/api/manual', { ...JSON_CT, host: `127.0.0.1:${a.port}` }, big);
    assert.equal(r.status, 413);
    assert.equal(a.manual?.data.get('')?.value, '');
  });

  test('POST /api/explain with a body over 64 KiB (chunked) → 413', async (t) => {
    const a = await startTestAdmin(t);
    const r = await new Promise<Reply>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: a.port, method: 'POST', path: '/api/explain', headers: JSON_CT },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(8 << 10, 'b'));
      req.end();
    });
    assert.equal(r.status, 413);
  });

  test('a declared Content-Length far over every limit → 413 at once', async (t) => {
    const a = await startTestAdmin(t);
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(a.port, '127.0.0.1', () => {
        s.write(
          `PUT /api/manual HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{`,
        );
      });
      let out = '';
      s.on('data', (c) => {
        out += c;
        if (out.includes('\r\n\r\n')) s.destroy();
        resolve(out);
      });
      s.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 413 /);
  });

  const cases: [string, string, string, number, string | undefined][] = [
    ['GET', '/api/manual/%zz', 'bad escape in the KV key', 400, undefined],
    ['PUT', '/api/manual/%E0%A4%A', 'truncated escape', 400, undefined],
    ['GET', '/routes%', 'lone percent', 400, undefined],
    ['DELETE', '/api/routes', 'read-only endpoint', 405, 'GET, HEAD'],
    ['POST', '/api/warnings', 'read-only endpoint', 405, 'GET, HEAD'],
    ['PATCH', '/api/explain', 'explain', 405, 'GET, HEAD, POST'],
    ['POST', '/api/manual', 'manual', 405, 'GET, HEAD, PUT'],
    ['DELETE', '/api/manual/x', 'manual key', 405, 'GET, HEAD, PUT'],
    ['PUT', '/routes', 'page', 405, 'GET, HEAD'],
    ['POST', '/metrics', 'metrics', 405, 'GET, HEAD'],
  ];
  for (const [method, path, name, status, allow] of cases) {
    test(`${method} ${path} (${name}) → ${status}`, async (t) => {
      const a = await startTestAdmin(t);
      const r = await send(a.port, method, path, { ...JSON_CT, host: `127.0.0.1:${a.port}` }, '{}');
      assert.equal(r.status, status, r.body);
      assert.equal(r.headers.allow, allow);
    });
  }

  test('explain body that is JSON null → 400', async (t) => {
    const a = await startTestAdmin(t);
    const r = await send(a.port, 'POST', '/api/explain', { ...JSON_CT, host: `127.0.0.1:${a.port}` }, 'null');
    assert.equal(r.status, 400);
  });
});

test('GET /api/explain does not move the round-robin counters of the live table', async (t) => {
  const counters = new Map<string, number>();
  const table = await makeTable('route add s /p http://10.0.0.1:80/\nroute add s /p http://10.0.0.2:80/', {
    strategy: 'rr',
    counters,
  });
  const a = await startTestAdmin(t, { table });
  const first = table.lookup({ host: 'h', path: '/p', tls: false })?.target.url;
  for (let i = 0; i < 3; i++) {
    const r = await send(a.port, 'GET', '/api/explain?url=http://h/p', { host: 'evil.example' });
    assert.equal(r.status, 200);
  }
  // rr alternates: the next lookup is the other target, whatever explain did
  assert.notEqual(table.lookup({ host: 'h', path: '/p', tls: false })?.target.url, first);
});
