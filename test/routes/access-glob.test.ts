import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTable, compileGlob, GlobCache } from '../../src/routes/index.ts';
import { req, table } from './helpers.ts';

const rules = (opts: string) => table(`route add a / http://a/ opts "${opts}"`);

const cases: { opts: string; allowed: string[]; denied: string[] }[] = [
  {
    opts: 'allow=ip:10.0.0.0/8,ip:192.168.1.1',
    allowed: ['10.1.2.3', '192.168.1.1', '::ffff:10.0.0.1'],
    denied: ['11.0.0.1', '192.168.1.2', '::1', 'garbage'],
  },
  { opts: 'deny=ip:10.0.0.0/8', allowed: ['11.0.0.1', '::1'], denied: ['10.9.9.9'] },
  { opts: 'allow=ip:fe80::/10,ip:::1', allowed: ['fe80::1234', '::1', 'FE80::1'], denied: ['fec0::1', '127.0.0.1'] },
  { opts: 'deny=ip:2001:db8::/32', allowed: ['2001:db9::1'], denied: ['2001:db8:1::5', '2001:0db8::'] },
];
for (const c of cases) {
  test(`access rules: ${c.opts}`, () => {
    const ar = rules(c.opts).lookup(req('h', '/'))!.target.accessRules!;
    for (const ip of c.allowed) assert.equal(ar.allowed(ip), true, ip);
    for (const ip of c.denied) assert.equal(ar.allowed(ip), false, ip);
  });
}

test('access rules: allow and deny together → no rules + warning', () => {
  const t = rules('allow=ip:10.0.0.0/8 deny=ip:1.2.3.4');
  assert.equal(t.lookup(req('h', '/'))!.target.accessRules, undefined);
  assert.equal(t.warnings.length, 1);
});

test('access rules: item without ip: prefix → no rules + warning (quirk P15)', () => {
  const t = rules('deny=ip:fe80::1234,100.123.0.0/16');
  assert.equal(t.lookup(req('h', '/'))!.target.accessRules, undefined);
  assert.match(t.warnings[0]!.message, /invalid access item, expected <type>:<data>/);
});

test('glob compile: gobwas semantics without separators', () => {
  const cases: [string, string, boolean][] = [
    ['*', 'a/b.c', true],
    ['/foo/*', '/foo/bar/baz', true],
    ['a?c', 'a/c', true],
    ['[a-c]x', 'bx', true],
    ['[!a-c]x', 'bx', false],
    ['{a,b*}.com', 'bzz.com', true],
    ['\\*.com', '*.com', true],
    ['\\*.com', 'x.com', false],
    ['x-y', 'x-y', true],
    ['a.b', 'axb', false],
    ['(x)|y', '(x)|y', true],
  ];
  for (const [p, s, want] of cases) assert.equal(compileGlob(p)(s), want, `${p} ~ ${s}`);
  for (const p of ['[abc', '{a,b', 'a\\', '[]']) assert.throws(() => compileGlob(p), /invalid glob pattern/, p);
});

test('glob cache: compiled once, bounded', () => {
  const c = new GlobCache(2);
  const m1 = c.get('*.a');
  assert.equal(c.get('*.a'), m1);
  c.get('*.b');
  c.get('*.c');
  assert.notEqual(c.get('*.a'), m1);
});

test('glob cache: a build compiles host globs through the cache it is given, not a shared one', () => {
  class Counting extends GlobCache {
    patterns: string[] = [];
    override get(pattern: string) {
      this.patterns.push(pattern);
      return super.get(pattern);
    }
  }
  const mine = new Counting(10);
  const other = new Counting(10);
  const opts = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 10 } as const;
  const text = 'route add a *.example.com/ http://a/';
  const t = buildTable(text, { ...opts, globCache: mine });
  assert.equal(t.lookup(req('x.example.com', '/'))?.target.url, 'http://a/');
  const first = mine.patterns.length;
  assert.ok(first > 0, 'the build asked the cache it was given');
  buildTable(text, { ...opts, globCache: mine });
  assert.ok(mine.patterns.length > first, 'the next build asks the same cache');
  assert.deepEqual(new Set(mine.patterns), new Set(['*.example.com']));
  assert.deepEqual(other.patterns, [], 'a cache nobody passed in is never used');
});

test('invalid host glob: warning, matched as plain text', () => {
  const t = table('route add a [x.com/ http://a/');
  assert.equal(t.lookup(req('[x.com', '/'))?.target.url, 'http://a/');
  assert.match(t.warnings[0]!.message, /host matched as plain text/);
});
