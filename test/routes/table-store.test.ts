import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TableStore } from '../../src/routes/table-store.ts';
import { table } from './helpers.ts';

test('swap isolates subscribers: a throwing one is reported, every other one still runs, in order', () => {
  const store = new TableStore();
  const seen: string[] = [];
  const boom = new Error('boom');
  store.onSwap((t) => seen.push(`a:${t.source}`));
  store.onSwap(() => {
    throw boom;
  });
  store.onSwap((t, prev) => seen.push(`c:${t.source}:${prev?.source ?? '-'}`));
  store.onSwap(() => {
    throw 'not an Error';
  });
  const t1 = table('route add s / http://a:1/');
  const failures = store.swap(t1);
  assert.equal(store.current, t1);
  assert.deepEqual(seen, ['a:route add s / http://a:1/', 'c:route add s / http://a:1/:-']);
  assert.deepEqual(failures, [boom, 'not an Error']);
});

test('swap without a failing subscriber reports nothing; an unsubscribed one is not called', () => {
  const store = new TableStore();
  let calls = 0;
  const off = store.onSwap(() => calls++);
  assert.deepEqual(store.swap(table('')), []);
  off();
  assert.deepEqual(store.swap(table('')), []);
  assert.equal(calls, 1);
});

test('subscribers that ask to be first run before the others, whenever they subscribed; unsubscribing works for both', () => {
  const store = new TableStore();
  const seen: string[] = [];
  store.onSwap(() => seen.push('ui'));
  const off = store.onSwap(() => seen.push('workers'), { first: true });
  store.onSwap(() => seen.push('health'));
  store.swap(table(''));
  assert.deepEqual(seen, ['workers', 'ui', 'health']);
  off();
  seen.length = 0;
  store.swap(table(''));
  assert.deepEqual(seen, ['ui', 'health']);
});
