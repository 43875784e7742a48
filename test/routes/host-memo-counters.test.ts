import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MEMO_MAX_ENTRIES, MEMO_MAX_KEY } from '../../src/routes/host-candidates.ts';
import type { Table } from '../../src/routes/index.ts';
import { compileGlob, normalizeHost, sortHostsBySpecificity } from '../../src/routes/index.ts';
import { dst, req, table } from './helpers.ts';

/** The table's memoised request hosts (RouteTable exposes it for these tests only). */
const memoSize = (t: Table): number => (t as unknown as { hostMemoSize: number }).hostMemoSize;

test('counters: keys of routes missing from the new table are dropped, others keep their position', () => {
  const counters = new Map<string, number>();
  const two = (p: string) => `route add a ${p} http://a${p}/\nroute add b ${p} http://b${p}/`;
  const t1 = table(`${two('/x')}\n${two('/y')}\n${two('h.com/z')}`, { counters });
  for (const p of ['/x', '/y']) dst(t1, 'q', p);
  dst(t1, 'h.com', '/z');
  assert.deepEqual([...counters.keys()].sort(), ['/x', '/y', 'h.com/z']);
  const t2 = table(two('/x'), { counters });
  assert.deepEqual([...counters.keys()], ['/x']);
  assert.equal(dst(t2, 'q', '/x'), 'http://b/x/', 'rr position of /x survives the swap');
  table('route add a /x http://a/', { counters }); // /x now single-target: no counter needed
  assert.equal(counters.size, 0);
});

test('host memo: a flood of distinct Host values stays bounded (glob hosts present)', () => {
  const t = table('route add g *.g.com/ http://g/\nroute add o a*.o.com/ http://o/\nroute add r / http://root/');
  for (let i = 0; i < MEMO_MAX_ENTRIES * 3; i++) {
    assert.equal(dst(t, `r${i}.example.net`, '/'), 'http://root/');
    assert.equal(dst(t, `r${i}.g.com`, '/', { tls: true }), 'http://g/');
  }
  assert.ok(memoSize(t) <= 4 * MEMO_MAX_ENTRIES, `memo size ${memoSize(t)}`);
  assert.ok(memoSize(t) > 0, 'repeated hosts are memoised');
  const before = memoSize(t);
  const long = `${'x'.repeat(MEMO_MAX_KEY)}.g.com`;
  assert.equal(dst(t, long, '/'), 'http://g/');
  assert.equal(dst(t, `a${'y'.repeat(MEMO_MAX_KEY)}.o.com`, '/'), 'http://o/');
  assert.ok(memoSize(t) <= before, 'over-long hosts are answered but not memoised');
});

test('host memo: without glob hosts a request host is one map hit and nothing is memoised', () => {
  const t = table('route add a a.com/ http://a/\nroute add b b.com:8080/ http://b/');
  for (let i = 0; i < 1000; i++) assert.equal(dst(t, `r${i}.example.net`, '/'), undefined);
  assert.equal(dst(t, 'A.com:80', '/'), 'http://a/');
  assert.equal(dst(t, 'b.com:8080', '/', { tls: true }), 'http://b/');
  assert.equal(memoSize(t), 0);
});

// The `*.suffix` index must give exactly what trying every glob would (section (n)).
const KEYS = [
  '*.a.com',
  '**.a.com',
  '*.b.a.com',
  'x*.a.com',
  '*a.com',
  '*.a.com:8080',
  '*.a.com:443',
  '*.a.com:80',
  'b.a.com',
  'a.com',
  '*',
  '*.com',
  '{x,y}.a.com',
];
const label = fc.constantFrom('a', 'b', 'x', 'y', 'com', 'ba', '');
const reqHost = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 5 }), fc.constantFrom('', ':80', ':443', ':8080'))
  .map(([ls, port]) => ls.join('.') + port);

test('host candidates: suffix index equals trying every glob (property)', () => {
  const t = table(KEYS.map((k, i) => `route add s${i} ${k}/ http://t${i}/`).join('\n'));
  const order = sortHostsBySpecificity(KEYS);
  fc.assert(
    fc.property(reqHost, fc.boolean(), (h, tls) => {
      const n = normalizeHost(h, tls);
      const want = order.filter((k) => {
        const p = normalizeHost(k, tls);
        return /[*?[{\\]/.test(k) ? compileGlob(p)(n) : p === n;
      });
      const got = t.explain(req(h, '/', { tls }), { advance: false }).steps[0]?.hosts;
      assert.deepEqual(got, want, `${h} tls=${tls}`);
    }),
    { numRuns: 400 },
  );
});
