import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { freePort as deadPort } from '../../helpers/proc.ts';
import { backend, get, pathTest, proxy } from '../http/harness.ts';

/** Three backends answering their name; the second is stopped (connection refused). */
async function threeOneDead(t: TestContext): Promise<{ urls: string[]; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const urls: string[] = [];
  for (const name of ['a', 'c']) {
    const b = await backend(t, (_req, res) => {
      hits.set(name, (hits.get(name) ?? 0) + 1);
      res.end(name);
    });
    urls.push(b.url);
  }
  urls.splice(1, 0, `http://127.0.0.1:${await deadPort()}`);
  return { urls, hits };
}

const routesOf = (urls: string[], opts = '') => urls.map((u) => `route add svc / ${u}${opts}`).join('\n');

pathTest('one of three backends refusing connections: every GET under load succeeds (defaults)', async (t) => {
  const { urls, hits } = await threeOneDead(t);
  const p = await proxy(t, routesOf(urls), { 'proxy.strategy': 'rr' });
  let failed = 0;
  // 16 concurrent clients, 300 requests in all.
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; i < 300; i += 16) {
        const r = await get(p.port, '/x');
        if (r.status !== 200) failed++;
      }
    }),
  );
  assert.equal(failed, 0);
  assert.equal((hits.get('a') ?? 0) + (hits.get('c') ?? 0), 300);
  // The dead target was ejected after the default 5 consecutive failures.
  assert.ok(p.log.lines.some((l) => l.includes('Ejecting target') && l.includes(urls[1] as string)));
});

pathTest(
  'proxy.retry.attempts=0 and proxy.outlier.failures=0: fabio behaviour, the dead target answers 502',
  async (t) => {
    const { urls } = await threeOneDead(t);
    const p = await proxy(t, routesOf(urls), {
      'proxy.strategy': 'rr',
      'proxy.retry.attempts': 0,
      'proxy.outlier.failures': 0,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await get(p.port, '/x')).status);
    assert.equal(statuses.filter((s) => s === 502).length, 10);
  },
);

pathTest('route option retries=0 is honoured', async (t) => {
  const { urls } = await threeOneDead(t);
  const p = await proxy(t, routesOf(urls, ' opts "retries=0"'), {
    'proxy.strategy': 'rr',
    'proxy.outlier.failures': 0,
  });
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) statuses.push((await get(p.port, '/x')).status);
  assert.equal(statuses.filter((s) => s === 502).length, 10);
});

pathTest('a body-less POST is retried when the connection was refused', async (t) => {
  const { urls, hits } = await threeOneDead(t);
  const p = await proxy(t, routesOf(urls), { 'proxy.strategy': 'rr', 'proxy.outlier.failures': 0 });
  const statuses: number[] = [];
  for (let i = 0; i < 9; i++) statuses.push((await get(p.port, '/x', {}, 'POST')).status);
  assert.deepEqual(new Set(statuses), new Set([200]));
  assert.equal((hits.get('a') ?? 0) + (hits.get('c') ?? 0), 9);
});

pathTest('a POST whose body reached a backend that then resets: one delivery and a 502', async (t) => {
  let deliveries = 0;
  const resetter = await backend(t, (req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      deliveries++;
      res.socket?.resetAndDestroy();
    });
  });
  const other = await backend(t, (req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      deliveries++;
      res.end('other');
    });
  });
  const p = await proxy(t, `route add svc / ${resetter.url}\nroute add svc / ${other.url}`, {
    'proxy.strategy': 'rr',
    'proxy.outlier.failures': 0,
  });
  const r = await get(p.port, '/x', { 'content-type': 'text/plain' }, 'POST', 'hello body');
  assert.equal(r.status, 502);
  assert.equal(deliveries, 1);
});

pathTest('a GET reset before any response byte is retried on another target; Trace says so', async (t) => {
  const resetter = await backend(t, (_req, res) => res.socket?.resetAndDestroy());
  const other = await backend(t, (_req, res) => res.end('other'));
  const p = await proxy(t, `route add svc / ${resetter.url}\nroute add svc / ${other.url}`, {
    'proxy.strategy': 'rr',
    'proxy.header.trace': 'Trace',
    'proxy.outlier.failures': 0,
  });
  const r = await get(p.port, '/x', { trace: 'abc' });
  assert.equal(r.status, 200);
  assert.equal(r.text, 'other');
  assert.ok(
    p.log.lines.some((l) => l.includes(`abc Retrying GET on ${other.url} after`)),
    p.log.lines.join('\n'),
  );
});

pathTest('a POST with a body is retried when the connection was refused: the whole body arrives once', async (t) => {
  const dead = await deadPort();
  const bodies: string[] = [];
  const alive = await backend(t, (req, res) => {
    let b = '';
    req.on('data', (d: Buffer) => {
      b += d.toString();
    });
    req.on('end', () => {
      bodies.push(b);
      res.end('ok');
    });
  });
  const p = await proxy(t, `route add svc / http://127.0.0.1:${dead}\nroute add svc / ${alive.url}`, {
    'proxy.strategy': 'rr',
    'proxy.outlier.failures': 0,
  });
  const big = 'x'.repeat(200_000);
  for (let i = 0; i < 4; i++) {
    const r = await get(p.port, '/x', { 'content-type': 'text/plain' }, 'POST', `${i}:${big}`);
    assert.equal(r.status, 200);
  }
  assert.deepEqual(
    bodies.map((b) => b.slice(0, 2)),
    ['0:', '1:', '2:', '3:'],
  );
  assert.ok(bodies.every((b) => b.length === big.length + 2));
});
