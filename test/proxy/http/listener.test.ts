import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeCerts } from '../../helpers/certs.ts';
import { backend, echo, get, pathTest, proxy, until } from './harness.ts';

pathTest('pxyproto: client IP comes from the PROXY v1 header', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.addr': '127.0.0.1:0;pxyproto=true' });
  const s = connect(p.port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.write('PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\nGET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  let out = '';
  s.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await once(s, 'end');
  const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };
  assert.equal(body.headers['x-forwarded-for'], '203.0.113.7');
  assert.equal(body.headers['x-real-ip'], '203.0.113.7');
  await until(() => p.access.length === 1);
  assert.match(p.access[0] ?? '', /^203\.0\.113\.7 /);
});

test('auth: 401 with challenge without credentials, 401 without challenge for bad ones, 200 for good ones', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fabio-auth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // user "u", password "p" (SHA1 htpasswd form).
  const bcrypt = (await import('bcryptjs')).default;
  await writeFile(join(dir, 'h'), `u:{SHA}UWuXg/ylF+7L0dBk2i0WUxCxl1k=\nb:${bcrypt.hashSync('pw', 4)}\n`);
  const be = await backend(t, echo);
  const p = await proxy(
    t,
    `route add s / ${be.url}/ opts "auth=mine"\nroute add s /other ${be.url}/ opts "auth=unknown"`,
    {
      'proxy.auth': `name=mine;type=basic;file=${join(dir, 'h')};realm=R`,
    },
  );
  const none = await get(p.port, '/');
  assert.equal(none.status, 401);
  assert.equal(none.text, 'authorization failed\n');
  assert.equal(none.headers['www-authenticate'], 'Basic realm="R"');
  const bad = await get(p.port, '/', { authorization: `Basic ${Buffer.from('u:x').toString('base64')}` });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers['www-authenticate'], undefined);
  const good = await get(p.port, '/', { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` });
  assert.equal(good.status, 200);
  assert.equal(good.json().headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
  // bcrypt entries are checked off the event loop (checkAsync) and still decide correctly.
  assert.equal(
    (await get(p.port, '/', { authorization: `Basic ${Buffer.from('b:pw').toString('base64')}` })).status,
    200,
  );
  assert.equal(
    (await get(p.port, '/', { authorization: `Basic ${Buffer.from('b:nope').toString('base64')}` })).status,
    401,
  );
  assert.equal(
    (await get(p.port, '/other', { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` })).status,
    401,
  );
});

test('https upstream: tlsskipverify and SNI from host=, 500 on verification failure', async (t) => {
  const set = await makeCerts([['up.test']]);
  t.after(() => set.cleanup());
  const c = set.certs[0];
  if (c === undefined) throw new Error('no cert');
  let sni = '';
  const up = createHttpsServer({ cert: c.pem, key: c.keyPem }, (req, res) => res.end(`ok ${req.headers.host}`));
  up.on('secureConnection', (s) => {
    sni = (s as unknown as { servername: string }).servername;
  });
  up.listen(0, '127.0.0.1');
  await once(up, 'listening');
  t.after(() => {
    up.closeAllConnections();
    up.close();
  });
  const port = (up.address() as AddressInfo).port;
  const p = await proxy(
    t,
    [
      `route add s /skip https://127.0.0.1:${port}/ opts "tlsskipverify=true host=up.test"`,
      `route add s /strict https://127.0.0.1:${port}/`,
    ].join('\n'),
  );
  const ok = await get(p.port, '/skip');
  assert.equal(ok.status, 200);
  assert.equal(ok.text, 'ok up.test');
  assert.equal(sni, 'up.test');
  const strict = await get(p.port, '/strict');
  assert.equal(strict.status, 500);
});

pathTest('graceful close: in-flight request finishes, new connections refused', async (t) => {
  let arrived!: () => void;
  const got = new Promise<void>((r) => {
    arrived = r;
  });
  let held: ServerResponse | undefined;
  const be = await backend(t, (_req, res) => {
    held = res;
    arrived();
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const inflight = get(p.port, '/');
  await got;
  // the answer is released only once close() has begun, so the request is in flight during it
  const closed = p.listener.close(5000);
  held!.end('done');
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.text, 'done');
  await closed;
  await assert.rejects(get(p.port, '/'), /ECONNREFUSED/);
});

pathTest('graceful close: requests still running after grace are cut', async (t) => {
  let arrived!: () => void;
  const got = new Promise<void>((r) => {
    arrived = r;
  });
  const be = await backend(t, () => arrived()); // never answers
  const p = await proxy(t, `route add s / ${be.url}/`);
  const inflight = get(p.port, '/').then(
    (r) => `answered ${r.status}`,
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );
  await got; // the request reached the backend: it is in flight at the proxy
  await p.listener.close(100);
  // the accepted connection was cut (reset or closed without an answer), not refused or answered
  assert.match(await inflight, /^(ECONNRESET|socket hang up)$/);
});

pathTest('prometheus listener serves the exposition and redirects other paths with 308', async (t) => {
  const p = await proxy(t, '', { 'proxy.addr': '127.0.0.1:0;proto=prometheus' }, {
    prometheus: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'x 1\n' }),
  } as never);
  const m = await get(p.port, '/metrics');
  assert.equal(m.status, 200);
  assert.equal(m.text, 'x 1\n');
  const other = await get(p.port, '/foo');
  assert.equal(other.status, 308);
  assert.equal(other.headers.location, '/metrics');
  assert.ok(p.log.lines.includes(`[INFO] PROMETHEUS proxy listening on 127.0.0.1:0`), p.log.lines.join('\n'));
});

pathTest('write timeout wt cuts a response that takes too long', async (t) => {
  const be = await backend(t, (_req, res) => {
    res.write('start');
    setTimeout(() => res.end('end'), 1500).unref();
  });
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.addr': '127.0.0.1:0;wt=200ms' });
  const r = await new Promise<string>((resolve) => {
    const req = request({ host: '127.0.0.1', port: p.port, path: '/', agent: false }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve('end'));
      res.on('error', () => resolve('cut'));
      res.on('aborted', () => resolve('cut'));
    });
    req.on('error', () => resolve('cut'));
    req.end();
  });
  assert.equal(r, 'cut');
});
