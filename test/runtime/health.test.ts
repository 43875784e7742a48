import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Health } from '../../src/runtime/health.ts';

test('/health reasons: no table, then listeners not accepting, then OK', () => {
  const h = new Health([':9999', ':9997']);
  assert.equal(h.reason(), 'no routing table yet');
  h.serving(0, [':9999', ':9997']);
  assert.equal(h.reason(), 'no routing table yet', 'listeners without a table are not enough');
  h.tableReady();
  assert.equal(h.reason(), undefined);
  h.stoppedAll();
  assert.equal(h.reason(), 'listeners :9999, :9997 not accepting');
});

test('with workers: a listener accepts while at least one live worker serves it', () => {
  const h = new Health([':9999', ':9997']);
  h.tableReady();
  assert.equal(h.reason(), 'listeners :9999, :9997 not accepting');
  h.serving(101, [':9999']);
  assert.equal(h.reason(), 'listener :9997 not accepting');
  h.serving(102, [':9999', ':9997']);
  assert.equal(h.reason(), undefined);
  h.stopped(101);
  assert.equal(h.reason(), undefined, 'worker 102 still serves both');
  h.stopped(102);
  assert.equal(h.reason(), 'listeners :9999, :9997 not accepting');
});

test('no listener configured: healthy once there is a table', () => {
  const h = new Health([]);
  assert.equal(h.reason(), 'no routing table yet');
  h.tableReady();
  assert.equal(h.reason(), undefined);
});
