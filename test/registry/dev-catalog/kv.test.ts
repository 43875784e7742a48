import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalog, until } from './helpers.ts';

test('KV: put, get (base64 Value and indexes), raw, 404 when missing', async (t) => {
  const c = await catalog(t);
  const miss = await c.get('/v1/kv/fabio/config');
  assert.equal(miss.status, 404);
  assert.equal(miss.text, '');
  assert.ok(miss.index >= 1);
  const put = await c.put('/v1/kv/fabio/config', 'route add a / http://x/');
  assert.equal(put.text, 'true');
  const r = await c.get('/v1/kv/fabio/config');
  assert.equal(r.status, 200);
  assert.equal(r.json.length, 1);
  const e = r.json[0];
  assert.deepEqual(Object.keys(e).sort(), ['CreateIndex', 'Flags', 'Key', 'LockIndex', 'ModifyIndex', 'Value']);
  assert.equal(e.Key, 'fabio/config');
  assert.equal(Buffer.from(e.Value, 'base64').toString(), 'route add a / http://x/');
  assert.equal(e.CreateIndex, e.ModifyIndex);
  assert.equal(r.index, e.ModifyIndex);
  const raw = await c.get('/v1/kv/fabio/config?raw');
  assert.equal(raw.text, 'route add a / http://x/');
  await c.put('/v1/kv/fabio/config', 'v2');
  const r2 = (await c.get('/v1/kv/fabio/config')).json[0];
  assert.equal(r2.CreateIndex, e.CreateIndex);
  assert.ok(r2.ModifyIndex > e.ModifyIndex);
});

test('KV: binary and empty values round-trip; empty Value is null; flags kept', async (t) => {
  const c = await catalog(t);
  const bin = Buffer.from([0, 255, 1, 128, 10]);
  await c.put('/v1/kv/bin?flags=42', bin);
  const e = (await c.get('/v1/kv/bin')).json[0];
  assert.deepEqual(Buffer.from(e.Value, 'base64'), bin);
  assert.equal(e.Flags, 42);
  const raw = await fetch(`${c.url}/v1/kv/bin?raw`);
  assert.deepEqual(Buffer.from(await raw.arrayBuffer()), bin);
  await c.put('/v1/kv/empty', '');
  assert.equal((await c.get('/v1/kv/empty')).json[0].Value, null);
});

const cas = [
  { name: 'cas=0 creates when absent', setup: [] as string[], q: 'cas=0', want: 'true' },
  { name: 'cas=0 fails when present', setup: ['v'], q: 'cas=0', want: 'false' },
  { name: 'cas=<current ModifyIndex> succeeds', setup: ['v'], q: 'cas=CUR', want: 'true' },
  { name: 'cas=<stale index> fails', setup: ['v', 'v2'], q: 'cas=OLD', want: 'false' },
  { name: 'cas=<n> on a missing key fails', setup: [], q: 'cas=5', want: 'false' },
];
for (const k of cas) {
  test(`KV PUT ${k.name}`, async (t) => {
    const c = await catalog(t);
    const idx: number[] = [];
    for (const v of k.setup) {
      await c.put('/v1/kv/k', v);
      idx.push((await c.get('/v1/kv/k')).json[0].ModifyIndex);
    }
    const q = k.q.replace('CUR', String(idx[idx.length - 1])).replace('OLD', String(idx[0]));
    const r = await c.put(`/v1/kv/k?${q}`, 'new');
    assert.equal(r.text, k.want);
    const now = await c.get('/v1/kv/k?raw');
    if (k.want === 'true') assert.equal(now.text, 'new');
    else assert.notEqual(now.text, 'new');
  });
}

test('KV: recurse lists below the prefix sorted by key; keys and separator', async (t) => {
  const c = await catalog(t);
  for (const k of ['fabio/config/b', 'fabio/config', 'fabio/config/a/x', 'fabio/noroute.html', 'other'])
    await c.put(`/v1/kv/${k}`, k);
  const r = await c.get('/v1/kv/fabio/config?recurse');
  assert.deepEqual(
    r.json.map((e: { Key: string }) => e.Key),
    ['fabio/config', 'fabio/config/a/x', 'fabio/config/b'],
  );
  assert.equal(r.index, Math.max(...r.json.map((e: { ModifyIndex: number }) => e.ModifyIndex)));
  assert.deepEqual((await c.get('/v1/kv/fabio/?keys')).json, [
    'fabio/config',
    'fabio/config/a/x',
    'fabio/config/b',
    'fabio/noroute.html',
  ]);
  assert.deepEqual((await c.get('/v1/kv/fabio/?keys&separator=/')).json, [
    'fabio/config',
    'fabio/config/',
    'fabio/noroute.html',
  ]);
  assert.equal((await c.get('/v1/kv/?recurse')).json.length, 5);
  assert.equal((await c.get('/v1/kv/nothing?recurse')).status, 404);
  assert.equal((await c.get('/v1/kv/nothing?keys')).status, 404);
  assert.equal((await c.get('/v1/kv/fabio/config?recurse=false')).json.length, 1, 'recurse=false is a single-key read');
});

test('KV: delete single, recurse, cas; deleting the newest key does not move the prefix index backwards', async (t) => {
  const c = await catalog(t);
  for (const k of ['p/a', 'p/b', 'p/c/d', 'q']) await c.put(`/v1/kv/${k}`, 'v');
  const before = (await c.get('/v1/kv/p?recurse')).index;
  assert.equal((await c.del('/v1/kv/p/c/d')).text, 'true');
  const after = (await c.get('/v1/kv/p?recurse')).index;
  assert.ok(after > before, `${after} > ${before}`);
  const b = (await c.get('/v1/kv/p/b')).json[0];
  assert.equal((await c.del(`/v1/kv/p/b?cas=${b.ModifyIndex - 1}`)).text, 'false');
  assert.equal((await c.del(`/v1/kv/p/b?cas=${b.ModifyIndex}`)).text, 'true');
  assert.equal((await c.get('/v1/kv/p/b')).status, 404);
  assert.equal((await c.del('/v1/kv/p?recurse')).text, 'true');
  assert.equal((await c.get('/v1/kv/p?recurse')).status, 404);
  assert.equal((await c.get('/v1/kv/q')).status, 200);
  assert.equal((await c.del('/v1/kv/missing')).text, 'true');
  assert.equal((await c.del('/v1/kv/')).status, 400);
  assert.equal((await c.put('/v1/kv/', 'x')).status, 400);
});

test('KV blocking: wakes on a write below the prefix, on delete, and for a key that did not exist yet', async (t) => {
  const c = await catalog(t);
  const miss = await c.get('/v1/kv/fabio/config?recurse');
  assert.equal(miss.status, 404);
  const p = c.get(`/v1/kv/fabio/config?recurse&index=${miss.index}&wait=10s`);
  await until(() => c.waiting() === 1, 2000, 'parked');
  await c.put('/v1/kv/fabio/config', 'route add a / http://x/');
  const r = await p;
  assert.equal(r.status, 200);
  assert.ok(r.index > miss.index);
  const p2 = c.get(`/v1/kv/fabio/config?recurse&index=${r.index}&wait=10s`);
  await until(() => c.waiting() === 1, 2000, 'parked');
  await c.del('/v1/kv/fabio/config');
  const r2 = await p2;
  assert.equal(r2.status, 404);
  assert.ok(r2.index > r.index);
});

test('KV blocking: a single-key read is not woken by a sibling key', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/kv/a', '1');
  const a = await c.get('/v1/kv/a');
  const p = c.get(`/v1/kv/a?index=${a.index}&wait=10s`);
  await until(() => c.waiting() === 1, 2000, 'parked');
  await c.put('/v1/kv/ab', '2');
  assert.equal(c.waiting(), 1);
  await c.put('/v1/kv/a', '3');
  assert.equal(Buffer.from((await p).json[0].Value, 'base64').toString(), '3');
});

test('KV: values above 512 KiB are refused with 413; sessions are refused', async (t) => {
  const c = await catalog(t);
  const r = await c.put('/v1/kv/big', Buffer.alloc(512 * 1024 + 1, 97));
  assert.equal(r.status, 413);
  assert.equal((await c.get('/v1/kv/big')).status, 404);
  assert.equal((await c.put('/v1/kv/big', Buffer.alloc(512 * 1024, 97))).text, 'true');
  assert.equal((await c.put('/v1/kv/lock?acquire=abc', 'x')).status, 400);
});

test('KV: URL-encoded keys are decoded; bad encoding is 400', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/kv/a%20b%3Fc', 'v');
  assert.equal((await c.get('/v1/kv/a b?c'.replace('?', '%3F').replace(' ', '%20'))).json[0].Key, 'a b?c');
  assert.equal((await c.get('/v1/kv/%zz')).status, 400);
});
