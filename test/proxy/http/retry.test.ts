import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { type LeanConn, LeanPool } from '../../../src/proxy/http/lean-pool.ts';
import { backend, get, proxy, UPSTREAMS, until } from './harness.ts';

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

/**
 * Every connection answers its first request (once `hold` connections are open, so the proxy's pool
 * fills up with that many) and drops the second without a byte: every idle pooled connection is stale.
 */
async function staleUpstream(t: { after(fn: () => unknown): void }, hold: number) {
  let conns = 0;
  const waiting: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    conns++;
    sockets.add(s);
    s.on('error', () => {});
    let n = 0;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        const i = buf.indexOf('\r\n\r\n');
        const cl = /content-length: *(\d+)/i.exec(buf.slice(0, i));
        buf = buf.slice(i + 4 + (cl ? Number(cl[1]) : 0));
        n++;
        if (n > 1) {
          s.destroy();
          return;
        }
        waiting.push(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok'));
        if (conns > hold || waiting.length >= hold) for (const w of waiting.splice(0)) w();
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

for (const up of UPSTREAMS)
  test(`${up.name}: the retry after a stale pooled connection uses a fresh one, not another stale one`, async (t) => {
    const be = await staleUpstream(t, 4);
    const p = await proxy(t, `route add s / http://127.0.0.1:${be.port}/`, {}, { lean: up.lean, bare: up.bare });
    const warm = await Promise.all([1, 2, 3, 4].map(() => get(p.port, '/')));
    assert.deepEqual(
      warm.map((r) => r.status),
      [200, 200, 200, 200],
    );
    assert.equal(be.conns(), 4);
    const r = await get(p.port, '/');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'ok');
    assert.equal(be.conns(), 5, 'one stale try, then one new connection');
  });

for (const up of UPSTREAMS)
  test(`${up.name}: an upstream that closes right after each answer never costs a 502`, async (t) => {
    const be = await backend(t, (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end('ok');
      // FIN right behind the answer, while the proxy's pool already holds the connection.
      res.on('finish', () => res.socket?.end());
    });
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { lean: up.lean, bare: up.bare });
    const statuses = new Map<number, number>();
    for (let round = 0; round < 50; round++) {
      const rs = await Promise.all([1, 2, 3, 4].map(() => get(p.port, '/')));
      for (const r of rs) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    assert.deepEqual([...statuses], [[200, 200]]);
  });

test('lean pool: a connection that has read the upstream FIN is never handed out again', async (t) => {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const pool = new LeanPool(`127.0.0.1:${(server.address() as AddressInfo).port}`, {
    dialTimeout: 0,
    idleTimeout: 60_000,
    maxIdle: 10,
    tcpKeepAlive: 60_000,
  });
  t.after(() => pool.close());
  const x = { onData() {}, onClose() {} };
  const c = pool.acquire(x);
  const sock = c.socket as Socket; // no `raw` in the settings: a net.Socket
  await once(sock, 'connect');
  pool.release(c);
  assert.equal(pool.idle, 1);
  await until(() => sockets.length === 1);
  sockets[0]?.end(); // FIN from the upstream
  // Between the 'end' event and the socket's 'close' the pooled entry is still there.
  const [again] = await new Promise<LeanConn[]>((resolve) => sock.once('end', () => resolve([pool.acquire(x)])));
  assert.notEqual(again, c, 'EOF seen: a new connection');
  again?.socket.destroy();
});
