import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MEMO_MAX_ENTRIES, MEMO_MAX_KEY } from '../../src/routes/host-candidates.ts';
import { lowerCase } from '../../src/routes/host-order.ts';
import type { Table } from '../../src/routes/index.ts';
import {
  buildTable,
  compileGlob,
  normalizeHost,
  reverseHostPort,
  sortHostsBySpecificity,
} from '../../src/routes/index.ts';
import { dst, OPTS, req, table } from './helpers.ts';

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

test('reverseHostPort reverses runes, not UTF-16 units (a surrogate pair stays whole)', () => {
  const ref = (h: string) => Array.from(h).reverse().join('');
  assert.equal(reverseHostPort('a\u{1f600}b.com'), ref('a\u{1f600}b.com'));
  assert.equal(reverseHostPort('a\u{1f600}b.com:8080'), `${ref('a\u{1f600}b.com')}:8080`);
  assert.equal(reverseHostPort('www.example.com'), 'moc.elpmaxe.www');
  // the order of the non-BMP host among the others is the order of its rune-reversed key
  const keys = ['\u{1f600}.com', '\u{1f601}.com', 'z.com', 'a.com'];
  assert.deepEqual(sortHostsBySpecificity(keys), ['\u{1f601}.com', '\u{1f600}.com', 'z.com', 'a.com']);
});

test('lowerCase returns lower-cased host keys, the string itself when nothing changes case', () => {
  for (const [h, want] of [
    ['abc.com', 'abc.com'],
    ['ABC.Com', 'abc.com'],
    ['ÄBC.com', 'äbc.com'],
    ['*.x.com:80', '*.x.com:80'],
  ] as const) {
    assert.equal(lowerCase(h), want);
    assert.equal(normalizeHost(h, false), want.endsWith(':80') ? want.slice(0, -3) : want);
  }
});

test('plain and TLS host indexes: shared while no key ends in :80/:443, patched apart, old tables unchanged', () => {
  const text = (port: number) =>
    `route add a a.com/ http://a:${port}/\nroute add b b.com/ http://b/\nroute add c C.com/ http://c/`;
  const t1 = table(text(1));
  for (const tls of [false, true]) {
    assert.equal(dst(t1, 'a.com', '/', { tls }), 'http://a:1/');
    assert.equal(dst(t1, 'C.COM:443', '/', { tls }), tls ? 'http://c/' : undefined);
    assert.equal(dst(t1, 'c.com:80', '/', { tls }), tls ? undefined : 'http://c/');
  }
  // an incremental build with the same hosts patches the previous indexes: both modes see the
  // new target, the previous table still the old one
  const t2 = buildTable(text(2), OPTS, t1);
  for (const tls of [false, true]) {
    assert.equal(dst(t2, 'a.com', '/', { tls }), 'http://a:2/');
    assert.equal(dst(t1, 'a.com', '/', { tls }), 'http://a:1/');
  }
  // a :443 key: the TLS index differs from the plain one
  const t3 = buildTable(`${text(3)}\nroute add d a.com:443/ http://d/`, OPTS, t2);
  assert.equal(dst(t3, 'a.com', '/', { tls: true }), 'http://d/');
  assert.equal(dst(t3, 'a.com', '/', { tls: false }), 'http://a:3/');
  assert.equal(dst(t2, 'a.com', '/', { tls: true }), 'http://a:2/');
});
