/**
 * HTTP/2 streams own their upstream work (issue #21): a stream the client resets aborts its
 * upstream request and closes that upstream connection at once; a connection that resets more
 * streams than the proxy.http2.maxresets budget gets GOAWAY (ENHANCE_YOUR_CALM) and is closed; a
 * client cancelling a few streams keeps its connection. HTTP/1.1 clients that abort leak nothing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, mkdir } from 'node:fs/promises';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type ClientHttp2Session, constants, connect as h2connect } from 'node:http2';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { makeCerts } from '../../helpers/certs.ts';
import { rapidResetConnection } from './h2-frames.ts';
import { backend, proxy, until } from './harness.ts';

/** A backend that holds every request until the test answers it, counting its open connections. */
async function holdingBackend(t: TestContext) {
  const held: { req: IncomingMessage; res: ServerResponse }[] = [];
  const be = await backend(t, (req, res) => {
    held.push({ req, res });
  });
  let open = 0;
  be.server.on('connection', (s: Socket) => {
    open++;
    s.on('close', () => open--);
  });
  return { ...be, held, open: () => open };
}

async function httpsProxy(t: TestContext, routes: string, extra: Record<string, string | number> = {}) {
  const set = await makeCerts([['a.test']]);
  t.after(() => set.cleanup());
  const dir = join(set.dir, 'served');
  await mkdir(dir);
  const c = set.certs[0];
  if (c === undefined) throw new Error('no cert');
  await copyFile(c.certFile, join(dir, 'a-cert.pem'));
  await copyFile(c.keyFile, join(dir, 'a-key.pem'));
  const p = await proxy(t, routes, {
    'proxy.cs': `cs=c1;type=path;cert=${dir}`,
    'proxy.addr': '127.0.0.1:0;cs=c1',
    ...extra,
  });
  return { p, ca: set.ca.pem };
}

function session(t: TestContext, port: number, ca: string): ClientHttp2Session {
  const s = h2connect(`https://127.0.0.1:${port}`, { ca, servername: 'a.test' });
  s.on('error', () => {});
  t.after(() => s.destroy());
  return s;
}

test('h2: a stream reset while its request is upstream aborts that request and closes its connection', {
  timeout: 30_000,
}, async (t) => {
  const be = await holdingBackend(t);
  const { p, ca } = await httpsProxy(t, `route add s / ${be.url}/`);
  const s = session(t, p.port, ca);
  const streams = [];
  for (let i = 0; i < 5; i++) {
    const st = s.request({ ':path': `/held${i}`, ':authority': 'a.test' });
    st.on('error', () => {});
    st.end();
    streams.push(st);
  }
  await until(() => be.held.length === 5, 10_000);
  assert.equal(be.open(), 5);
  for (const st of streams) st.close(constants.NGHTTP2_CANCEL);
  // Before the fix the reset stream looked finished (writableFinished), nothing was aborted and the
  // upstream connections stayed until the backend answered.
  await until(() => be.open() === 0, 10_000);
  await until(() => p.metrics.requests.length === 5);
  assert.deepEqual(
    p.metrics.requests.map((r) => r.status),
    [499, 499, 499, 499, 499],
  );
  // The connection itself is fine: the next request is answered.
  const st = s.request({ ':path': '/next', ':authority': 'a.test' });
  st.end();
  await until(() => be.held.length === 6, 10_000);
  be.held[5]?.res.end('ok');
  const [headers] = (await once(st, 'response')) as [Record<string, string>];
  assert.equal(headers[':status'], 200);
});

test('h2: a connection over the reset budget gets GOAWAY ENHANCE_YOUR_CALM and is closed', {
  timeout: 30_000,
}, async (t) => {
  const be = await holdingBackend(t);
  const { p, ca } = await httpsProxy(t, `route add s / ${be.url}/`, { 'proxy.http2.maxresets': 50 });
  const stats = { resets: 0, goaways: 0, goawayCodes: [] as number[] };
  // Ends on its own only when the proxy closes the connection (the deadline is a safety net).
  await rapidResetConnection(p.port, ca, Date.now() + 20_000, stats);
  // The first GOAWAY carries the reason (Node may follow it with its own NO_ERROR one on destroy).
  assert.equal(stats.goawayCodes[0], constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.ok(stats.resets < 5_000, `closed after ${stats.resets} resets`);
  assert.equal(p.log.lines.filter((l) => l.includes('beyond the budget of 50')).length, 1);
});

test('h2: a client cancelling a few streams keeps its connection', { timeout: 30_000 }, async (t) => {
  const be = await holdingBackend(t);
  const { p, ca } = await httpsProxy(t, `route add s / ${be.url}/`, { 'proxy.http2.maxresets': 50 });
  const s = session(t, p.port, ca);
  for (let i = 0; i < 20; i++) {
    const st = s.request({ ':path': `/c${i}`, ':authority': 'a.test' });
    st.on('error', () => {});
    st.end();
    st.close(constants.NGHTTP2_CANCEL);
  }
  const st = s.request({ ':path': '/after', ':authority': 'a.test' });
  st.end();
  await until(() => be.held.some((h) => h.req.url === '/after'), 10_000);
  for (const h of be.held) h.res.end('ok');
  const [headers] = (await once(st, 'response')) as [Record<string, string>];
  assert.equal(headers[':status'], 200);
  assert.ok(!s.closed && !s.destroyed);
  assert.ok(!p.log.lines.some((l) => l.includes('beyond the budget')));
});

test('HTTP/1.1 clients that abort in flight leak no upstream connection', { timeout: 30_000 }, async (t) => {
  const be = await holdingBackend(t);
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.idleconntimeout': '1s' });
  const reqs = [];
  for (let i = 0; i < 20; i++) {
    const r = request({
      host: '127.0.0.1',
      port: p.port,
      path: `/a${i}`,
      method: i % 2 ? 'POST' : 'GET',
      agent: false,
    });
    r.on('error', () => {});
    if (i % 2) r.write('x');
    else r.end();
    reqs.push(r);
  }
  await until(() => be.held.length === 20, 10_000);
  for (const r of reqs) r.destroy();
  await until(() => be.open() === 0, 10_000);
  await until(() => p.metrics.requests.length === 20);
});

test('h2: a client dropping its connection with many open streams aborts them all and is not a reset flood', {
  timeout: 30_000,
}, async (t) => {
  const be = await holdingBackend(t);
  const { p, ca } = await httpsProxy(t, `route add s / ${be.url}/`, { 'proxy.http2.maxresets': 20 });
  const s = session(t, p.port, ca);
  for (let i = 0; i < 60; i++) {
    const st = s.request({ ':path': `/d${i}`, ':authority': 'a.test' });
    st.on('error', () => {});
    st.end();
  }
  await until(() => be.held.length === 60, 10_000);
  s.destroy();
  await until(() => be.open() === 0, 10_000);
  await until(() => p.metrics.requests.length === 60);
  assert.ok(!p.log.lines.some((l) => l.includes('beyond the budget')));
});
