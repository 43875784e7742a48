import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTable } from '../../../src/routes/index.ts';
import { pickP2c, pickWeighted } from '../../../src/routes/pick.ts';
import type { Target } from '../../../src/routes/types.ts';
import { backend, get, pathTest, proxy } from '../http/harness.ts';

/** A seeded random source (mulberry32), so the share checks below are deterministic. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function targetsOf(text: string): readonly Target[] {
  const t = buildTable(text, { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 10 });
  return (t.routes[0] as { targets: readonly Target[] }).targets;
}

test('p2c keeps weights when every target is equally loaded (a canary at weight 0.1 gets about 10 %)', () => {
  const ts = targetsOf(
    'route add svc / http://10.0.0.1:1 weight 0.1\nroute add svc / http://10.0.0.2:1\nroute add svc / http://10.0.0.3:1',
  );
  const rnd = seeded(7);
  const all = () => true;
  const counts = [0, 0, 0];
  for (let i = 0; i < 20_000; i++) {
    const first = pickWeighted(ts, all, rnd);
    const k = pickP2c(ts, first, () => 0, all, rnd);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  const share = (counts[0] as number) / 20_000;
  assert.ok(share > 0.08 && share < 0.12, `canary share ${share}`);
});

test('p2c prefers the target with fewer outstanding requests; pickWeighted honours exclusion', () => {
  const ts = targetsOf('route add svc / http://10.0.0.1:1\nroute add svc / http://10.0.0.2:1');
  const rnd = seeded(3);
  const load = (i: number) => (i === 0 ? 5 : 0);
  let zero = 0;
  for (let i = 0; i < 1000; i++)
    if (
      pickP2c(
        ts,
        pickWeighted(ts, () => true, rnd),
        load,
        () => true,
        rnd,
      ) === 0
    )
      zero++;
  assert.equal(zero, 0); // the second draw is always the other, idle target
  for (let i = 0; i < 100; i++)
    assert.equal(
      pickWeighted(ts, (j) => j === 1, rnd),
      1,
    );
  assert.equal(
    pickWeighted(ts, () => false, rnd),
    -1,
  );
});

pathTest('p2c with one backend 100 ms slower: its share stays under 15 % at concurrency 16, all 200', async (t) => {
  const hits = [0, 0, 0];
  const urls: string[] = [];
  for (let i = 0; i < 3; i++) {
    const b = await backend(t, (_req, res) => {
      hits[i] = (hits[i] ?? 0) + 1;
      if (i === 0) setTimeout(() => res.end('slow'), 100);
      else res.end('fast');
    });
    urls.push(b.url);
  }
  const p = await proxy(t, urls.map((u) => `route add svc / ${u}`).join('\n'), { 'proxy.strategy': 'p2c' });
  const statuses = new Set<number>();
  const total = 480;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; i < total; i += 16) statuses.add((await get(p.port, '/')).status);
    }),
  );
  assert.deepEqual([...statuses], [200]);
  const share = (hits[0] as number) / total;
  t.diagnostic(`slow backend share ${share}`);
  assert.ok(share < 0.15, `slow backend share ${share}`);
});
