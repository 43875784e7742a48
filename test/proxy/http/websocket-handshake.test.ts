import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { backend, proxy, until } from './harness.ts';

const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: a.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
const SMUGGLED = 'GET /smuggled-after-upgrade HTTP/1.1\r\nHost: a.com\r\n\r\n';

/** A raw client that sends `bytes` in ONE write and collects everything until the proxy closes. */
async function rawExchange(port: number, bytes: string): Promise<string> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.write(bytes);
  let out = '';
  s.on('data', (d: Buffer) => {
    out += d.toString('latin1');
  });
  await once(s, 'close');
  return out;
}

test('issue #13: bytes after the upgrade head never reach a backend that answers without 101', {
  timeout: 20_000,
}, async (t) => {
  // A naive keep-alive backend (as many are): it answers the first request without 101 and would
  // parse whatever follows on the connection as the next request. It records every byte it gets.
  let received = '';
  const be = createServer((s) => {
    s.on('error', () => {});
    let answered = false;
    s.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (!answered && received.includes('\r\n\r\n')) {
        answered = true;
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain');
      }
    });
  });
  be.listen(0, '127.0.0.1');
  await once(be, 'listening');
  t.after(() => be.close());
  const port = (be.address() as AddressInfo).port;
  const p = await proxy(t, `route add s / http://127.0.0.1:${port}/`);
  const out = await rawExchange(p.port, UPGRADE + SMUGGLED);
  assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(out, /plain$/, 'the non-101 answer is relayed');
  assert.ok(received.startsWith('GET /ws HTTP/1.1\r\n'));
  assert.ok(!received.includes('smuggled'), `the backend got only the upgrade request: ${JSON.stringify(received)}`);
  assert.equal(p.metrics.ws, 0);
});

test('issue #13: bytes after the upgrade head are held until the backend answered 101, then forwarded', {
  timeout: 20_000,
}, async (t) => {
  const be = await backend(t, () => {});
  let headAtUpgrade = -1;
  let tunnelled = '';
  const got = new Promise<void>((resolve) => {
    be.server.on('upgrade', (_req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on('error', () => {});
      // With the bug the proxy wrote the client's extra bytes right behind the request head, so they
      // arrive here as `head` before any 101 was sent.
      headAtUpgrade = head.length;
      tunnelled += head.toString('latin1');
      if (tunnelled.length >= SMUGGLED.length) resolve();
      socket.on('data', (d: Buffer) => {
        tunnelled += d.toString('latin1');
        if (tunnelled.length >= SMUGGLED.length) resolve();
      });
      setImmediate(() =>
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      );
    });
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const s = connect(p.port, '127.0.0.1');
  s.on('error', () => {});
  t.after(() => s.destroy());
  await once(s, 'connect');
  s.write(UPGRADE + SMUGGLED);
  await got;
  assert.equal(headAtUpgrade, 0, 'no client byte went upstream before the 101');
  assert.equal(tunnelled, SMUGGLED, 'held bytes are tunnel data after the 101');
  await until(() => p.metrics.ws === 1);
});

test('issue #13: a backend answer split before the status line is complete is still checked', {
  timeout: 20_000,
}, async (t) => {
  const be = await backend(t, () => {});
  be.server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => {});
    socket.write('HTTP/1.1 10');
    setImmediate(() => socket.end('0 Nope\r\nContent-Length: 0\r\n\r\n'));
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const out = await rawExchange(p.port, UPGRADE + SMUGGLED);
  assert.match(out, /^HTTP\/1\.1 100 Nope\r\n/);
  assert.equal(p.metrics.ws, 0);
});

test('websocket answers from the proxy have valid status lines (reason from http.STATUS_CODES)', {
  timeout: 20_000,
}, async (t) => {
  const p = await proxy(t, 'route add s a.com/ http://127.0.0.1:1/', { 'proxy.noroutestatus': 500 });
  const out = await rawExchange(p.port, UPGRADE.replace('a.com', 'b.com'));
  assert.match(out, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
  const p2 = await proxy(t, 'route add s a.com/ http://127.0.0.1:1/', { 'proxy.noroutestatus': 429 });
  const out2 = await rawExchange(p2.port, UPGRADE.replace('a.com', 'b.com'));
  assert.match(out2, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
});

test('websocket: an unreachable target is answered 502, no upgrade', { timeout: 20_000 }, async (t) => {
  const p = await proxy(t, 'route add s / http://127.0.0.1:1/');
  const out = await rawExchange(p.port, UPGRADE);
  assert.match(out, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  assert.equal(p.metrics.ws, 0);
});

test('websocket: a 101 split across reads still upgrades', { timeout: 20_000 }, async (t) => {
  const be = await backend(t, () => {});
  be.server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => {});
    socket.write('HTTP/1.1 1');
    setImmediate(() => {
      socket.write('01 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket);
    });
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const s = connect(p.port, '127.0.0.1');
  s.on('error', () => {});
  t.after(() => s.destroy());
  await once(s, 'connect');
  s.write(`${UPGRADE}ping`);
  let out = '';
  s.on('data', (d: Buffer) => {
    out += d.toString('latin1');
  });
  await until(() => out.endsWith('ping'));
  assert.match(out, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.equal(p.metrics.ws, 1);
});

test('websocket: a TLS target that never completes the handshake is answered 504 after proxy.dialtimeout', {
  timeout: 20_000,
}, async (t) => {
  const silent = createServer((s) => s.on('error', () => {}));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => silent.close());
  const port = (silent.address() as AddressInfo).port;
  const p = await proxy(t, `route add s / https://127.0.0.1:${port}/`, { 'proxy.dialtimeout': '200ms' });
  const out = await rawExchange(p.port, UPGRADE);
  assert.match(out, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
  assert.equal(p.metrics.ws, 0);
});
