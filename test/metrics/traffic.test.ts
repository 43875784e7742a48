import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrafficStats } from '../../src/metrics/traffic.ts';
import type { Route, Table, Target } from '../../src/routes/types.ts';

const t = (url: string) => ({ service: 's', url, key: `s\u0000${url}` }) as unknown as Target;
const r = (path: string, targets: Target[]): Route => ({ host: 'h', path, targets });

test('slots roll over, figures per route and target', () => {
  let now = 1_000_000;
  const ts = new TrafficStats({ slotMs: 1000, slots: 5, now: () => now });
  const a = t('http://a/');
  const b = t('http://b/');
  const route = r('/', [a, b]);
  for (let i = 0; i < 99; i++) ts.record(route, a, 200, 0.001);
  ts.record(route, a, 503, 3);
  now += 1000;
  ts.record(route, b, 0, 0.2);
  let rep = ts.report();
  assert.equal(rep.routes.length, 1);
  const x = rep.routes[0]!;
  assert.deepEqual(x.requests, [0, 0, 0, 100, 1]);
  assert.deepEqual(x.errors, [0, 0, 0, 1, 1]);
  assert.equal(x.total, 101);
  assert.equal(x.rps, 101 / 5);
  assert.ok(x.p99[3]! >= 0.001 && x.p99[3]! < 0.002, String(x.p99[3]));
  assert.ok(x.p99[4]! >= 0.2 && x.p99[4]! < 0.3, String(x.p99[4]));
  assert.deepEqual(
    x.targets.map((y) => y.total),
    [100, 1],
  );
  // Five slots later the old data is gone, even though the ring still holds it.
  now += 5000;
  rep = ts.report();
  assert.equal(rep.routes[0]!.total, 0);
  ts.record(route, a, 200, 0.001);
  assert.equal(ts.report().routes[0]!.total, 1);
});

test('prune drops targets that left; snapshot/absorb merges processes', () => {
  const now = 5_000_000;
  const a = t('http://a/');
  const b = t('http://b/');
  const route = r('/', [a, b]);
  const w1 = new TrafficStats({ now: () => now });
  const w2 = new TrafficStats({ now: () => now });
  w1.record(route, a, 200, 0.01);
  w2.record(route, a, 200, 0.01);
  w2.record(route, b, 200, 0.01);
  const primary = new TrafficStats({ now: () => now });
  primary.absorb(w1.snapshot());
  primary.absorb(JSON.parse(JSON.stringify(w2.snapshot())));
  assert.deepEqual(
    primary.report().routes[0]!.targets.map((x) => [x.url, x.total]),
    [
      ['http://a/', 2],
      ['http://b/', 1],
    ],
  );
  primary.prune({ routes: [r('/', [a])] } as unknown as Table);
  assert.deepEqual(
    primary.report().routes[0]!.targets.map((x) => x.url),
    ['http://a/'],
  );
});
