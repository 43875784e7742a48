import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  blockingLoop,
  consulIndex,
  DEFAULT_BLOCKING,
  TokenBucket,
  waitParam,
} from '../../src/registry/consul/blocking.ts';
import { ConsulClient } from '../../src/registry/consul/client.ts';
import { FakeConsul, until } from './fake-consul.ts';

async function setup(t: { after(fn: () => unknown): void }, tune: Partial<typeof DEFAULT_BLOCKING> = {}) {
  const fake = new FakeConsul();
  await fake.start();
  const client = new ConsulClient({
    addr: fake.url,
    token: 'tok',
    namespace: '',
    consistency: 'consistent',
    connections: 4,
  });
  const ac = new AbortController();
  const seen: number[] = [];
  const events: string[] = [];
  const done = blockingLoop(
    client,
    { ...DEFAULT_BLOCKING, waitMs: 60_000, retryMs: 20, maxRetryMs: 40, ...tune, path: '/v1/health/state/any' },
    {
      onResponse: (_res, index) => void seen.push(index),
      onError: (_e, first) => void events.push(first ? 'error-first' : 'error'),
      onRecover: () => void events.push('recover'),
      onReset: () => void events.push('reset'),
    },
    ac.signal,
  );
  t.after(async () => {
    ac.abort();
    await done;
    await client.close();
    await fake.close();
  });
  return { fake, client, ac, seen, events, done };
}

const healthReqs = (fake: FakeConsul) => fake.requests.filter((r) => r.path === '/v1/health/state/any');

test('first read is non-blocking, then blocks on the returned index and wakes on change', async (t) => {
  const { fake, seen } = await setup(t);
  await until(() => healthReqs(fake).length >= 2, 3000, 'blocking read');
  const [first, second] = healthReqs(fake);
  assert.equal(first?.query.has('index'), false);
  assert.equal(second?.query.get('index'), '10');
  assert.equal(second?.query.get('wait'), '60s');
  assert.equal(second?.query.has('consistent'), true);
  assert.equal(second?.headers['x-consul-token'], 'tok');
  fake.bump();
  // the read blocks with wait=60s: an answer within the poll's deadline is the wake, not the wait
  await until(() => seen.length >= 2, 3000, 'wake');
  assert.deepEqual(seen, [10, 11]);
});

test('a blocking read that times out re-blocks on the same index', async (t) => {
  const { fake, seen } = await setup(t, { waitMs: 100 });
  await until(() => healthReqs(fake).length >= 4, 3000, 'several timeouts');
  assert.deepEqual(
    healthReqs(fake)
      .slice(1, 4)
      .map((r) => r.query.get('index')),
    ['10', '10', '10'],
  );
  assert.ok(seen.every((i) => i === 10));
});

test('an index that goes backwards resets to a fresh read and calls onReset', async (t) => {
  const { fake, seen, events } = await setup(t);
  await until(() => healthReqs(fake).length >= 2);
  fake.index = 3;
  fake.wake();
  await until(() => healthReqs(fake).length >= 4, 3000, 'fresh read after reset');
  const r = healthReqs(fake);
  assert.equal(r[2]?.query.has('index'), false, 'fresh read after going backwards');
  assert.equal(r[3]?.query.get('index'), '3');
  assert.deepEqual(events, ['reset']);
  assert.deepEqual(seen.slice(0, 3), [10, 3, 3]);
});

test('index 0 (or missing) is read as 1 and the loop is rate limited', async (t) => {
  const { fake } = await setup(t, { burst: 3, perSecond: 10 });
  fake.indexHeader = '0';
  await until(() => healthReqs(fake).length >= 2);
  assert.equal(healthReqs(fake)[1]?.query.get('index'), '1');
  // fake index 10 > 1 answers at once: only the token bucket bounds the loop. Over any window the
  // bucket allows at most burst + rate x window reads; a slower machine only makes n smaller.
  const n0 = healthReqs(fake).length;
  const t0 = performance.now();
  await until(() => healthReqs(fake).length - n0 >= 6 || undefined, 5000, 'still polling');
  const n = healthReqs(fake).length - n0;
  const allowed = 3 + (10 * (performance.now() - t0)) / 1000 + 1;
  assert.ok(n <= allowed, `rate limited: ${n} reads, the bucket allows ${allowed.toFixed(1)}`);
});

test('errors are reported once per state change, retried from index 0, then recovered', async (t) => {
  const { fake, events, seen } = await setup(t);
  await until(() => healthReqs(fake).length >= 2);
  fake.failStatus = 500;
  fake.wake();
  await until(() => events.filter((e) => e === 'error').length >= 2, 3000, 'errors');
  fake.failStatus = undefined;
  await until(() => events.includes('recover'), 3000, 'recover');
  assert.equal(events[0], 'error-first');
  assert.equal(events.filter((e) => e === 'error-first').length, 1);
  // Retries after an error are fresh reads (no index): a restarted Consul is read at once.
  assert.ok(
    healthReqs(fake)
      .slice(2)
      .every((r) => !r.query.has('index') || r.query.get('index') === '10'),
  );
  assert.ok(
    healthReqs(fake)
      .slice(2)
      .some((r) => !r.query.has('index')),
  );
  assert.ok(seen.length >= 2);
});

test('abort ends a blocked read at once', async (t) => {
  const { fake, ac, done } = await setup(t);
  await until(() => healthReqs(fake).length >= 2);
  let ended = false;
  void done.then(() => (ended = true));
  ac.abort();
  // the read was blocked with wait=60s; the loop ends long before that
  await until(() => ended || undefined, 5000, 'loop ended by the abort');
});

test('helpers: consulIndex sanity, waitParam, token bucket', (t) => {
  assert.equal(consulIndex({ 'x-consul-index': '0' }), 1);
  assert.equal(consulIndex({}), 1);
  assert.equal(consulIndex({ 'x-consul-index': 'abc' }), 1);
  assert.equal(consulIndex({ 'x-consul-index': '42' }), 42);
  assert.equal(waitParam(300_000), '300s');
  assert.equal(waitParam(250), '250ms');
  let now = 1000; // the bucket's clock (performance.now) held still, then moved by hand
  t.mock.method(performance, 'now', () => now);
  const b = new TokenBucket(2, 10);
  assert.equal(b.reserve(), 0);
  assert.equal(b.reserve(), 0);
  assert.equal(b.reserve(), 100, 'third token waits 1/rate');
  now += 100;
  assert.equal(b.reserve(), 100, 'the token reserved ahead is paid for: the next waits another 1/rate');
});
