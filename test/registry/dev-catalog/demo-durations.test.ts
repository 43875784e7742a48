import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration, startDemoService } from '../../../src/registry/dev-catalog/index.ts';
import { catalog, until } from './helpers.ts';

const parse = [
  ['10s', 10_000],
  ['1m0s', 60_000],
  ['90m', 5_400_000],
  ['1h30m', 5_400_000],
  ['500ms', 500],
  ['1.5s', 1500],
  ['0', 0],
  ['100us', 0.1],
  ['-1s', -1000],
  ['', undefined],
  ['10', undefined],
  ['s', undefined],
  ['1x', undefined],
  ['1s2', undefined],
] as const;
for (const [text, ms] of parse) {
  test(`parseDuration(${JSON.stringify(text)}) = ${ms}`, () => assert.equal(parseDuration(text), ms));
}

const format = [
  [0, '0s'],
  [500, '500ms'],
  [1000, '1s'],
  [1500, '1.5s'],
  [60_000, '1m0s'],
  [90_000, '1m30s'],
  [5_400_000, '1h30m0s'],
] as const;
for (const [ms, text] of format) {
  test(`formatDuration(${ms}) = ${text}`, () => assert.equal(formatDuration(ms), text));
}

test('demo service: answers "hello from demo", registers with urlprefix-/demo and an HTTP check that passes', async (t) => {
  const c = await catalog(t);
  const demo = await startDemoService({ catalogUrl: c.url });
  t.after(() => demo.close());
  const body = await fetch(`http://127.0.0.1:${demo.port}/`).then((r) => r.text());
  assert.equal(body, 'hello from demo\n');
  const rows = (await c.get('/v1/catalog/service/demo')).json;
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0].ServiceTags, ['urlprefix-/demo']);
  assert.equal(rows[0].ServicePort, demo.port);
  assert.equal(rows[0].ServiceID, demo.id);
  await until(async () => (await c.get('/v1/health/service/demo?passing')).json.length === 1, 3000, 'demo passing');
  await demo.close();
  assert.deepEqual((await c.get('/v1/catalog/service/demo')).json, [], 'close() deregisters');
});

test('demo service: custom name and tags; a catalog that refuses fails the start and frees the port', async (t) => {
  const c = await catalog(t);
  const demo = await startDemoService({
    catalogUrl: `${c.url}/`,
    name: 'hello',
    tags: ['urlprefix-/hello strip=/hello'],
  });
  t.after(() => demo.close());
  assert.equal(await fetch(`http://127.0.0.1:${demo.port}/x`).then((r) => r.text()), 'hello from hello\n');
  assert.deepEqual((await c.get('/v1/catalog/services')).json, { hello: ['urlprefix-/hello strip=/hello'] });
  await assert.rejects(startDemoService({ catalogUrl: `${c.url}/nope` }), /register failed: 404/);
});
