import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeTable, startTestAdmin } from './helpers.ts';

/** /api/explain shows the whole decision: every candidate with why it lost, every target's share. */

const CANARY = `
route add web example.com/ http://10.0.0.2:8080/
route add web-canary example.com/ http://10.0.0.3:8080/ weight 0.1
route add api example.com/api http://10.0.0.4:8080/
route add empty example.com/empty http://10.0.0.9:8080/ weight 0
route add fallback / http://10.0.0.5:8080/
route add other /other http://10.0.0.6:8080/
`;

async function explain(url: string, target: string) {
  const r = await fetch(`${url}/api/explain?url=${encodeURIComponent(target)}`);
  assert.equal(r.status, 200);
  return (await r.json()) as {
    result: { route: { host: string; path: string } } | null;
    steps: unknown[];
    candidates: { host: string; path: string; outcome: string; reason: string }[];
    targets: { service: string; url: string; weight: number; share: number; picked: boolean }[];
  };
}

describe('/api/explain: whole decision', () => {
  test('a 10 % canary shows both targets with 90 % / 10 % shares', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable(CANARY) });
    const j = await explain(a.url, 'http://example.com/index.html');
    assert.equal(j.result?.route.path, '/');
    const shares = j.targets.map((x) => [x.service, x.url, Math.round(x.share * 100), Math.round(x.weight * 100)]);
    assert.deepEqual(shares, [
      ['web', 'http://10.0.0.2:8080/', 90, 90],
      ['web-canary', 'http://10.0.0.3:8080/', 10, 10],
    ]);
    assert.equal(j.targets.filter((x) => x.picked).length, 1);
  });

  test('candidates in matching order: lost ones with reasons, the chosen one, shadowed host-less routes', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable(CANARY) });
    const j = await explain(a.url, 'http://example.com/api/users');
    assert.equal(j.result?.route.path, '/api');
    const c = j.candidates.map((x) => `${x.host}${x.path} ${x.outcome}`);
    // example.com routes by path descending, then the host-less routes; /other does not match and
    // comes after the answer, so it is not listed
    assert.deepEqual(c, ['example.com/empty nomatch', 'example.com/api chosen', 'example.com/ shadowed', '/ shadowed']);
    assert.match(j.candidates[0]!.reason, /does not match/);
    assert.match(j.candidates[2]!.reason, /example\.com\/api comes first/);
    assert.deepEqual(
      j.targets.map((x) => [x.service, x.share, x.picked]),
      [['api', 1, true]],
    );
    // the existing fields are still there
    assert.ok(j.steps.length >= 2);
  });

  test('no route: candidates all lost, no targets; no table: empty lists', async (t) => {
    const a = await startTestAdmin(t, {
      table: await makeTable('route add api example.com/api http://10.0.0.4:8080/'),
    });
    const j = await explain(a.url, 'http://example.com/zzz');
    assert.equal(j.result, null);
    assert.deepEqual(
      j.candidates.map((x) => x.outcome),
      ['nomatch'],
    );
    assert.deepEqual(j.targets, []);
    const b = await startTestAdmin(t, {});
    const k = await explain(b.url, 'http://example.com/');
    assert.deepEqual([k.candidates, k.targets], [[], []]);
  });
});
