import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Balancer, type EjectionEvent } from '../../../src/proxy/outlier/balancer.ts';
import { buildTable } from '../../../src/routes/index.ts';
import type { Route, Target } from '../../../src/routes/types.ts';

/** The balancer's two roles with proxy.workers > 1 (src/runtime/cluster-outlier.ts): worker and primary. */

function route(n: number): Route {
  const text = Array.from({ length: n }, (_, i) => `route add svc / http://10.0.0.${i + 1}:80`).join('\n');
  const t = buildTable(text, { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 10 });
  return t.routes[0] as Route;
}

function setup() {
  let now = 1000;
  const b = new Balancer({ failures: 3, ejectMs: 100, maxPercent: 50, p2c: false, now: () => now, random: () => 0.5 });
  return { b, r: route(3), advance: (ms: number) => (now += ms) };
}

test('a worker never ejects by itself: it forwards failures and the first success after them', () => {
  const { b, r } = setup();
  const t = r.targets[0] as Target;
  const sent: boolean[] = [];
  b.share((_route, target, ok) => {
    assert.equal(target, t);
    sent.push(ok);
  });
  b.report(r, t, true); // nothing to tell: no failure before it
  for (let i = 0; i < 10; i++) assert.equal(b.report(r, t, false), 'failed');
  assert.equal(b.isEjected(t.key), false);
  b.report(r, t, true);
  b.report(r, t, true); // the primary already knows it recovered
  assert.deepEqual(sent, [...Array(10).fill(false), true]);
});

test('a worker applies the ejection the primary decided; failures in flight meanwhile are not sent', () => {
  const { b, r, advance } = setup();
  const t = r.targets[1] as Target;
  const sent: boolean[] = [];
  b.share((_r, _t, ok) => sent.push(ok));
  b.applyEjection(t.key, 500, 2);
  assert.equal(b.isEjected(t.key), true);
  assert.equal(b.ejectedFor(t.key), 500);
  assert.deepEqual(b.ejections(), [{ key: t.key, ms: 500, ejections: 2 }]);
  b.report(r, t, false);
  assert.deepEqual(sent, []);
  // the choice skips it like a local ejection
  const res = b.choose({ route: r, target: t });
  assert.notEqual(res.target, t);
  advance(500);
  assert.equal(b.isEjected(t.key), false);
  assert.deepEqual(b.ejections(), []);
  // the trial's success reaches the primary (it forgives the doubling there)
  b.report(r, t, true);
  assert.deepEqual(sent, [true]);
});

test('the deciding balancer announces each ejection once, with its time', () => {
  const { b, r, advance } = setup();
  const t = r.targets[2] as Target;
  const events: EjectionEvent[] = [];
  const off = b.onEject((e) => events.push(e));
  for (let i = 0; i < 3; i++) b.report(r, t, false);
  b.report(r, t, false); // already ejected: no second event
  assert.deepEqual(
    events.map((e) => [e.target, e.route, e.ms, e.ejections]),
    [[t, r, 100, 1]],
  );
  // an expired ejection that nobody looked at ends at the next report: the trial failure re-ejects
  advance(100);
  assert.equal(b.report(r, t, false), 'ejected');
  assert.deepEqual(
    events.map((e) => e.ms),
    [100, 200],
  );
  off();
  advance(200);
  b.report(r, t, false);
  assert.equal(events.length, 2);
});

test('applyEjection ignores a non-positive time', () => {
  const { b, r } = setup();
  const t = r.targets[0] as Target;
  b.applyEjection(t.key, 0, 1);
  b.applyEjection(t.key, Number.NaN, 1);
  assert.equal(b.isEjected(t.key), false);
});
