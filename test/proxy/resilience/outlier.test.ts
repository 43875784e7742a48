import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backend, get, pathTest, proxy } from '../http/harness.ts';

pathTest('a backend answering 503 is ejected after 5 failures and returns after the ejection time', async (t) => {
  let sick = true;
  const hits = { a: 0, b: 0, c: 0 };
  const mk = (name: keyof typeof hits) =>
    backend(t, (_req, res) => {
      hits[name]++;
      res.statusCode = name === 'b' && sick ? 503 : 200;
      res.end(name);
    });
  const [a, b, c] = [await mk('a'), await mk('b'), await mk('c')];
  const p = await proxy(t, `route add svc / ${a.url}\nroute add svc / ${b.url}\nroute add svc / ${c.url}`, {
    'proxy.strategy': 'rnd',
    'proxy.outlier.ejecttime': '1s',
  });
  // Until b has failed 5 times in a row: it answers 503 to the client (a 5xx answer is not retried).
  while (hits.b < 5) await get(p.port, '/');
  const before = hits.b;
  let n = 0;
  let s503 = 0;
  // The ejection lasts 1 s; count while it certainly holds (requests in the bounded loop check it).
  const ejectedAt = performance.now();
  while (n < 200 && performance.now() - ejectedAt < 900) {
    if ((await get(p.port, '/')).status === 503) s503++;
    n++;
  }
  assert.ok(n > 0);
  assert.ok(hits.b - before < Math.max(1, 0.02 * n), `b got ${hits.b - before} of ${n}`);
  assert.equal(s503, hits.b - before);
  assert.ok(p.log.lines.some((l) => l.includes(`Ejecting target ${b.url}`)));
  // Healthy again: after the ejection time one trial request brings it back.
  sick = false;
  const back = hits.b;
  const end = Date.now() + 10_000;
  while (hits.b <= back + 3 && Date.now() < end) await get(p.port, '/');
  assert.ok(hits.b > back + 3, 'the healed target gets requests again');
});

pathTest('every target answering 503: clients get the backends 503s, at most half the targets ejected', async (t) => {
  const urls: string[] = [];
  for (let i = 0; i < 4; i++) {
    const b = await backend(t, (_req, res) => {
      res.statusCode = 503;
      res.end(`backend-${i}`);
    });
    urls.push(b.url);
  }
  const p = await proxy(t, urls.map((u) => `route add svc / ${u}`).join('\n'), {
    'proxy.strategy': 'rr',
    'proxy.outlier.failures': 2,
    'proxy.outlier.ejecttime': '1h',
  });
  const seen = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const r = await get(p.port, '/');
    assert.equal(r.status, 503);
    assert.match(r.text, /^backend-\d$/);
    seen.add(r.text);
  }
  const ejections = p.log.lines.filter((l) => l.includes('Ejecting target'));
  assert.equal(ejections.length, 2, ejections.join('\n'));
  assert.equal(seen.size, 4); // the two ejected before ejection, the others throughout
});

test('proxy.outlier.failures=0 never ejects', async (t) => {
  let bHits = 0;
  const a = await backend(t, (_req, res) => res.end('a'));
  const b = await backend(t, (_req, res) => {
    bHits++;
    res.statusCode = 503;
    res.end('b');
  });
  const p = await proxy(t, `route add svc / ${a.url}\nroute add svc / ${b.url}`, {
    'proxy.strategy': 'rr',
    'proxy.outlier.failures': 0,
  });
  for (let i = 0; i < 40; i++) await get(p.port, '/');
  assert.equal(bHits, 20);
});

test('Trace lines name an ejected target that was skipped', async (t) => {
  const a = await backend(t, (_req, res) => res.end('a'));
  const b = await backend(t, (_req, res) => {
    res.statusCode = 500;
    res.end('b');
  });
  const c = await backend(t, (_req, res) => res.end('c'));
  const p = await proxy(t, `route add svc / ${a.url}\nroute add svc / ${b.url}\nroute add svc / ${c.url}`, {
    'proxy.strategy': 'rr',
    'proxy.header.trace': 'Trace',
    'proxy.outlier.failures': 2,
    'proxy.outlier.ejecttime': '1h',
  });
  for (let i = 0; i < 6; i++) await get(p.port, '/');
  assert.ok(p.log.lines.some((l) => l.includes(`Ejecting target ${b.url}`)));
  const answers: string[] = [];
  for (let i = 0; i < 3; i++) answers.push((await get(p.port, '/', { trace: 'tr1' })).text);
  assert.ok(!answers.includes('b'));
  const skip = p.log.lines.findIndex((l) => l.includes(`tr1 Skipping ejected target ${b.url}`));
  assert.ok(skip >= 0, p.log.lines.join('\n'));
  // The routing line after it names the target actually used.
  assert.match(p.log.lines[skip + 1] ?? '', /tr1 Routing to service svc on http:\/\/127\.0\.0\.1:\d+/);
  assert.ok(!(p.log.lines[skip + 1] ?? '').includes(b.url));
});
