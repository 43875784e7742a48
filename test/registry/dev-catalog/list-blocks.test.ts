import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalog } from './helpers.ts';

/**
 * health/state is served from cached blocks of 512 checks (views.ts checkListBytes), written in
 * one writev. A block must be rebuilt when any of its checks changes, and blocks shift when a
 * check in front of them goes away: every answer equals the catalog's current checks.
 */
test('health/state over several blocks: every change shows, in any block, with a correct length', async (t) => {
  const c = await catalog(t);
  const N = 1300; // three blocks of checks (+ serfHealth)
  for (let i = 0; i < N; i++)
    c.registerServiceForTest({
      ID: `s${i}`,
      Name: `s${i}`,
      Port: 1000 + i,
      Check: { CheckID: `c${i}`, TTL: '1h', Status: 'passing' },
    });
  const statuses = async () => {
    const r = await c.get('/v1/health/state/any');
    assert.equal(r.status, 200);
    assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(r.text));
    return new Map((r.json as { CheckID: string; Status: string }[]).map((x) => [x.CheckID, x.Status]));
  };
  assert.equal((await statuses()).size, N + 1);
  // a change in the second and in the last block
  for (const i of [700, 1299]) {
    assert.equal((await c.put(`/v1/agent/check/fail/c${i}`)).status, 200);
    const now = await statuses();
    assert.equal(now.get(`c${i}`), 'critical', `c${i}`);
  }
  // the first block loses a check: the blocks behind it shift and still list every other check
  assert.equal((await c.put('/v1/agent/service/deregister/s3')).status, 200);
  const after = await statuses();
  assert.equal(after.size, N);
  assert.equal(after.has('c3'), false);
  assert.equal(after.get('c700'), 'critical');
  assert.equal(after.get('c1299'), 'critical');
  assert.equal(after.get('c1298'), 'passing');
  // ?pretty formats the joined blocks
  const pretty = await c.get('/v1/health/state/any?pretty');
  assert.equal(pretty.status, 200);
  assert.equal(pretty.json.length, N);
  assert.match(pretty.text, /^\[\n {4}\{/);
  // the passing list is cached apart from the any list
  const passing = await c.get('/v1/health/state/passing');
  assert.equal(passing.json.length, N - 2);
});
