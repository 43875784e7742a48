import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeTrafficSnapshots, TrafficStats, WINDOWS } from '../../src/metrics/traffic.ts';
import type { Route, Target } from '../../src/routes/types.ts';

/** Traffic for every protocol and window: status classes, p50/p99, TCP connections, bytes, dial failures, active. */

const t = (svc: string, url: string) => ({ service: svc, url, key: `${svc}\u0000${url}` }) as unknown as Target;
const r = (host: string, path: string, targets: Target[]): Route => ({ host, path, targets }) as unknown as Route;

test('HTTP: requests by status class, p50 and p99 per slot, in the 5m, 1h and 24h windows', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 5);
  const ts = new TrafficStats({ now: () => now });
  const a = t('web', 'http://a/');
  const route = r('h', '/', [a]);
  for (let i = 0; i < 90; i++) ts.record(route, a, 200, 0.001);
  for (let i = 0; i < 5; i++) ts.record(route, a, 404, 0.001);
  for (let i = 0; i < 4; i++) ts.record(route, a, 302, 0.001);
  ts.record(route, a, 502, 2);
  for (const w of WINDOWS) {
    const rep = ts.report(w.name);
    assert.equal(rep.window, w.name);
    assert.equal(rep.slots, w.slots);
    assert.equal(rep.slotSeconds * 1000, w.slotMs);
    const x = rep.routes[0]!;
    assert.equal(x.proto, 'http');
    assert.equal(x.total, 100);
    assert.equal(x.totalErrors, 1);
    assert.deepEqual(x.classes.at(-1), [0, 90, 4, 5, 1], w.name);
    assert.ok(x.p50All <= 0.0015 && x.p50All > 0, `p50 ${x.p50All}`);
    assert.ok(x.p99All >= 0.001 && x.p99All < 2, `p99 ${x.p99All}`);
    // the time axis: the last slot holds now
    assert.ok(rep.start + (rep.slots - 1) * w.slotMs <= now && now < rep.start + rep.slots * w.slotMs);
  }
  assert.deepEqual(ts.report().windows, ['5m', '1h', '24h']);
});

test('coarse windows keep what the 5-minute window has forgotten; memory is fixed per target', () => {
  let now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const ts = new TrafficStats({ now: () => now });
  const a = t('web', 'http://a/');
  const route = r('h', '/', [a]);
  ts.record(route, a, 200, 0.01);
  now += 20 * 60_000; // 20 minutes later
  ts.record(route, a, 200, 0.01);
  assert.equal(ts.report('5m').routes[0]!.total, 1);
  assert.equal(ts.report('1h').routes[0]!.total, 2);
  assert.equal(ts.report('24h').routes[0]!.total, 2);
  now += 25 * 3600_000; // a day later: every window forgot
  ts.record(route, a, 200, 0.01);
  for (const w of WINDOWS) assert.equal(ts.report(w.name).routes[0]!.total, 1, w.name);
  // the ring sizes do not grow with time or traffic
  const snap = ts.snapshot('24h');
  assert.equal(snap.entries[0]!.epoch.length, 48);
});

test('TCP/SNI: connections, bytes in/out, dial failures, active connections; merged over workers', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 5);
  const w1 = new TrafficStats({ now: () => now });
  const w2 = new TrafficStats({ now: () => now });
  const db = t('db', 'tcp://10.0.0.7:3306');
  const route = r('', ':3306', [db]);
  w1.tcpOpen(route, db);
  w1.tcpOpen(route, db);
  w1.tcpClose(route, db, 100, 2000);
  w1.tcpDialFail(route, db);
  w2.tcpOpen(route, db);
  w2.tcpClose(route, db, 50, 10);
  w2.tcpOpen(route, db);
  const one = w1.report().routes[0]!;
  assert.equal(one.proto, 'tcp');
  assert.deepEqual([one.total, one.totalErrors, one.active], [1, 1, 1]);
  assert.deepEqual([one.bytesIn.at(-1), one.bytesOut.at(-1)], [100, 2000]);
  assert.equal(one.errorRate, 0.5);
  assert.equal(one.p99All, 0);
  const m = mergeTrafficSnapshots([JSON.parse(JSON.stringify(w1.snapshot())), w2.snapshot()], () => now);
  const x = m.routes[0]!;
  assert.deepEqual([x.total, x.totalErrors, x.active, x.bytesIn.at(-1), x.bytesOut.at(-1)], [2, 1, 2, 150, 2010]);
  assert.deepEqual(m.windows, ['5m', '1h', '24h']);
  const h = mergeTrafficSnapshots([w1.snapshot('1h'), w2.snapshot('1h')], () => now, '1h');
  assert.equal(h.window, '1h');
  assert.equal(h.routes[0]!.total, 2);
});
