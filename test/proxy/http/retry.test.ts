import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { get, proxy } from './harness.ts';

/**
 * The keep-alive race of architecture rule 9: an upstream that closes a pooled connection just as
 * the proxy reuses it. This raw server answers the first request of every connection and drops the
 * connection (no answer) on the second one.
 */
async function racyUpstream(t: { after(fn: () => unknown): void }): Promise<{ port: number; conns: () => number }> {
  let conns = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    conns++;
    sockets.add(s);
    s.on('error', () => {});
    let n = 0;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        n++;
        if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
        else s.destroy();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, conns: () => conns };
}

test('idempotent request on a connection the upstream dropped is retried once', async (t) => {
  const up = await racyUpstream(t);
  const p = await proxy(t, `route add s / http://127.0.0.1:${up.port}/`);
  for (let i = 0; i < 3; i++) {
    const r = await get(p.port, '/');
    assert.equal(r.status, 200, `request ${i}`);
    assert.equal(r.text, 'ok');
  }
  assert.ok(up.conns() >= 3);
});

test('a POST with a body is not retried: 502', async (t) => {
  const up = await racyUpstream(t);
  const p = await proxy(t, `route add s / http://127.0.0.1:${up.port}/`);
  // Warm the pool of requests with bodies (body-less GETs take the lean path and its own pool).
  assert.equal((await get(p.port, '/', { 'content-type': 'text/plain' }, 'POST', 'warm')).status, 200);
  const r = await get(p.port, '/', { 'content-type': 'text/plain' }, 'POST', 'body');
  assert.equal(r.status, 502);
});
