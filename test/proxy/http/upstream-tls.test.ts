import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { makeCerts } from '../../helpers/certs.ts';
import { get, proxy, until } from './harness.ts';

/**
 * Every upstream TLS path verifies the target's certificate unless the route says tlsskipverify=true:
 * the pair of tests per path fails if verification is switched off (rejectUnauthorized: false) or
 * if tlsskipverify stops being honoured. The backend's certificate is signed by a throw-away CA the
 * proxy does not trust. (The lean path carries plain http only, so it has no TLS case.)
 */
async function tlsBackend(t: TestContext): Promise<number> {
  const set = await makeCerts([['127.0.0.1']]);
  t.after(() => set.cleanup());
  const c = set.certs[0];
  if (c === undefined) throw new Error('no cert');
  const server = createHttpsServer({ cert: c.pem, key: c.keyPem }, (req, res) => res.end(`https ${req.url}`));
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** A raw websocket upgrade through the proxy; returns everything read until `stop` or the close. */
async function wsExchange(port: number, stop: (out: string) => boolean): Promise<{ out: string; closed: boolean }> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.write('GET /ws HTTP/1.1\r\nHost: a.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nping');
  let out = '';
  let closed = false;
  s.on('data', (d: Buffer) => {
    out += d.toString('latin1');
  });
  s.on('close', () => {
    closed = true;
  });
  await until(() => closed || stop(out), 10_000);
  s.destroy();
  return { out, closed };
}

test('websocket to a wss/https target with an untrusted certificate is refused, no upgrade', {
  timeout: 30_000,
}, async (t) => {
  const port = await tlsBackend(t);
  for (const scheme of ['https', 'wss']) {
    const p = await proxy(t, `route add s / ${scheme}://127.0.0.1:${port}/`);
    const r = await wsExchange(p.port, () => false);
    assert.ok(r.closed);
    assert.match(r.out, /^HTTP\/1\.1 5\d\d /, scheme);
    assert.ok(!r.out.includes('101'), scheme);
    assert.equal(p.metrics.ws, 0);
    assert.match(p.log.lines.join('\n'), /ws: .*(certificate|self.signed|verify)/i);
  }
});

test('websocket to a wss/https target with tlsskipverify=true upgrades and echoes', { timeout: 30_000 }, async (t) => {
  const port = await tlsBackend(t);
  for (const scheme of ['https', 'wss']) {
    const p = await proxy(t, `route add s / ${scheme}://127.0.0.1:${port}/ opts "tlsskipverify=true"`);
    const r = await wsExchange(p.port, (out) => out.endsWith('ping'));
    assert.match(r.out, /^HTTP\/1\.1 101 /, scheme);
    assert.ok(r.out.endsWith('\r\n\r\nping'), scheme);
  }
});

test('HTTP request to an https target with an untrusted certificate fails (undici path)', {
  timeout: 30_000,
}, async (t) => {
  const port = await tlsBackend(t);
  const p = await proxy(t, `route add s / https://127.0.0.1:${port}/`);
  const r = await get(p.port, '/x');
  assert.equal(r.status, 500);
  assert.ok(!r.text.includes('https /x'));
  const post = await get(p.port, '/y', {}, 'POST', 'body');
  assert.equal(post.status, 500);
});

test('HTTP request to an https target with tlsskipverify=true is proxied (undici path)', {
  timeout: 30_000,
}, async (t) => {
  const port = await tlsBackend(t);
  const p = await proxy(t, `route add s / https://127.0.0.1:${port}/ opts "tlsskipverify=true"`);
  assert.equal((await get(p.port, '/x')).text, 'https /x');
  assert.equal((await get(p.port, '/y', {}, 'POST', 'body')).text, 'https /y');
});
