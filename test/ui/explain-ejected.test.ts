import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balancerFor } from '../../src/proxy/outlier/balancer.ts';
import type { Route, Target } from '../../src/routes/types.ts';
import { makeTable, startTestAdmin } from './helpers.ts';

/** /api/explain says which targets passive outlier detection ejected, and its pick skips them (issue #15). */

const ROUTES = `
route add web example.com/ http://10.0.0.1:8080/
route add web example.com/ http://10.0.0.2:8080/
route add web example.com/ http://10.0.0.3:8080/
`;

type Json = {
  result: { target: { url: string } } | null;
  steps: { kind: string; message: string }[];
  targets: { url: string; picked: boolean; ejected: boolean }[];
};

test('/api/explain: ejected targets are marked and never the pick', async (t) => {
  const table = await makeTable(ROUTES, { strategy: 'rr' });
  const a = await startTestAdmin(t, { table, cfg: { 'proxy.outlier.failures': 1 } });
  const r = table.routes[0] as Route;
  const dead = r.targets[0] as Target;
  assert.equal(balancerFor(a.deps.cfg).report(r, dead, false), 'ejected');
  let skips = 0;
  // rr peeks at the same next slot (advance: false), which is the ejected one: every answer skips it
  for (let i = 0; i < 20; i++) {
    const j = (await (
      await fetch(`${a.url}/api/explain?url=${encodeURIComponent('http://example.com/')}`)
    ).json()) as Json;
    assert.deepEqual(
      j.targets.map((x) => [x.url, x.ejected]),
      [
        ['http://10.0.0.1:8080/', true],
        ['http://10.0.0.2:8080/', false],
        ['http://10.0.0.3:8080/', false],
      ],
    );
    assert.notEqual(j.result?.target.url, dead.url);
    assert.equal(j.targets.find((x) => x.picked)?.ejected, false);
    const skip = j.steps.find((s) => s.kind === 'ejected');
    if (skip) {
      skips++;
      assert.equal(skip.message, `Skipping ejected target ${dead.url}`);
    }
  }
  assert.equal(skips, 20);
});

test('/api/explain: nothing ejected, every target ejected: false and no skip step', async (t) => {
  const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
  const j = (await (await fetch(`${a.url}/api/explain?url=http://example.com/`)).json()) as Json;
  assert.deepEqual(
    j.targets.map((x) => x.ejected),
    [false, false, false],
  );
  assert.equal(
    j.steps.some((s) => s.kind === 'ejected'),
    false,
  );
});

test('table.explain: the pick stays when every other target is ejected too, or it is a redirect', async () => {
  const table = await makeTable(
    'route add web example.com/ http://10.0.0.1:8080/\nroute add web example.com/ http://10.0.0.2:8080/',
    { strategy: 'rr' },
  );
  const ex = table.explain({ host: 'example.com', path: '/', tls: false }, { advance: false, ejected: () => true });
  assert.equal(ex.result?.target.url, 'http://10.0.0.1:8080/');
  assert.deepEqual(
    ex.shares?.map((s) => s.ejected),
    [true, true],
  );
  const redirect = await makeTable(
    'route add web example.com/ https://other.example/ opts "redirect=301"\nroute add web example.com/ http://10.0.0.2:8080/',
    { strategy: 'rr' },
  );
  const ey = redirect.explain(
    { host: 'example.com', path: '/', tls: false },
    { advance: false, ejected: (k) => k.endsWith('https://other.example/') },
  );
  assert.equal(ey.result?.target.url, 'https://other.example/');
  // without the option nothing is marked (route explain, Trace)
  assert.equal(table.explain({ host: 'example.com', path: '/', tls: false }).shares?.[0]?.ejected, undefined);
});
