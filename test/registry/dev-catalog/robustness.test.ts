import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { test } from 'node:test';
import { startDevCatalog } from '../../../src/registry/dev-catalog/index.ts';
import { catalog, until } from './helpers.ts';

/** A misbehaving peer costs one connection, never the catalog. */

async function rawExchange(port: number, bytes: string, endAfterWrite: boolean): Promise<string> {
  return new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.setTimeout(3000, () => s.destroy());
    s.on('data', (b) => {
      out += b.toString();
    });
    s.on('error', () => {});
    s.on('close', () => resolve(out));
    s.write(bytes, () => {
      if (endAfterWrite) s.end();
    });
  });
}

const garbage = [
  { name: 'not HTTP', bytes: 'hello\r\n\r\n' },
  { name: 'bad header', bytes: 'GET /v1/agent/self HTTP/1.1\r\nHost x\r\n\r\n' },
  { name: 'truncated PUT body', bytes: 'PUT /v1/kv/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc' },
  {
    name: 'truncated register body',
    bytes: 'PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Na',
  },
];
for (const g of garbage) {
  test(`robustness: ${g.name} does not break the catalog`, async (t) => {
    const c = await catalog(t);
    await rawExchange(c.port, g.bytes, true);
    const r = await c.get('/v1/agent/self');
    assert.equal(r.status, 200);
    assert.equal((await c.get('/v1/kv/x')).status, 404, 'a truncated PUT stores nothing');
    assert.deepEqual((await c.get('/v1/agent/services')).json, {});
  });
}

test('robustness: a client that disconnects while blocked is released (no leaked watcher)', async (t) => {
  const c = await catalog(t);
  const first = await c.get('/v1/health/state/any');
  const ac = new AbortController();
  const p = fetch(`${c.url}/v1/health/state/any?index=${first.index}&wait=60s`, { signal: ac.signal }).catch(
    () => 'aborted',
  );
  await until(() => c.waiting() === 1, 2000, 'parked');
  ac.abort();
  assert.equal(await p, 'aborted');
  await until(() => c.waiting() === 0, 2000, 'watcher released');
});

test('robustness: close() aborts an HTTP probe to a backend that never answers', async (t) => {
  const c = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
  t.after(() => c.close());
  let probeSocket: net.Socket | undefined;
  const srv = http.createServer((req) => {
    probeSocket = req.socket; // never answers
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const port = (srv.address() as AddressInfo).port;
  const r = await fetch(`${c.url}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify({
      Name: 'slow',
      // a probe timeout longer than the test's own: only close() can end the probe in time
      Check: { HTTP: `http://127.0.0.1:${port}/`, Interval: '1s', Timeout: '10m' },
    }),
  });
  await r.text();
  await until(() => probeSocket, 3000, 'probe connected');
  const closed = new Promise<void>((resolve) => probeSocket?.once('close', () => resolve()));
  await c.close();
  await closed;
});

test('robustness: startDevCatalog rejects when the port is taken', async (t) => {
  const c = await catalog(t);
  await assert.rejects(startDevCatalog({ host: '127.0.0.1', port: c.port }), /EADDRINUSE/);
});
