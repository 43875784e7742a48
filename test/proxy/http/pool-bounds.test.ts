/**
 * Upstream pool bounds (issue #20 item 2): proxy.maxconn caps the connections per target (busy and
 * idle together; further requests wait), and idle connections close after proxy.idleconntimeout
 * whatever keep-alive the backend announces.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { backend, get, proxy, until } from './harness.ts';

for (const via of ['undici', 'lean'] as const) {
  test(`idle upstream connections close after proxy.idleconntimeout despite a long backend keep-alive (${via})`, {
    timeout: 30_000,
  }, async (t) => {
    const be = await backend(t, (_req, res) => {
      res.setHeader('keep-alive', 'timeout=600');
      res.end('ok');
    });
    be.server.keepAliveTimeout = 600_000;
    let open = 0;
    be.server.on('connection', (s: Socket) => {
      open++;
      s.on('close', () => open--);
    });
    const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.idleconntimeout': '300ms' });
    // POST goes through undici; a body-less GET through the lean path.
    const r = via === 'undici' ? await get(p.port, '/x', {}, 'POST', 'b') : await get(p.port, '/x');
    assert.equal(r.text, 'ok');
    assert.equal(open, 1);
    await until(() => open === 0, 10_000);
  });
}

test('proxy.maxconn caps busy + idle upstream connections per target; extra requests wait (undici)', {
  timeout: 30_000,
}, async (t) => {
  const held: ServerResponse[] = [];
  const be = await backend(t, (_req: IncomingMessage, res: ServerResponse) => {
    held.push(res);
  });
  let open = 0;
  let peak = 0;
  be.server.on('connection', (s: Socket) => {
    open++;
    peak = Math.max(peak, open);
    s.on('close', () => open--);
  });
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.maxconn': 2 });
  const replies = Array.from({ length: 6 }, (_, i) => get(p.port, `/r${i}`, {}, 'POST', 'b'));
  await until(() => held.length === 2, 10_000);
  // Answer one at a time: each answer frees a connection for one waiting request.
  let answered = 0;
  while (answered < 6) {
    await until(() => held.length > answered, 10_000);
    held[answered]?.end('ok');
    answered++;
  }
  for (const r of await Promise.all(replies)) assert.equal(r.text, 'ok');
  assert.equal(peak, 2);
});
