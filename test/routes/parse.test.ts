import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTable, parseRouteText, RouteSyntaxError } from '../../src/routes/index.ts';

const pick = (d: ReturnType<typeof parseRouteText>[number]) => ({
  cmd: d.cmd,
  service: d.service,
  src: d.src,
  dst: d.dst,
  weight: d.weight,
  tags: [...d.tags],
  opts: { ...d.opts },
});

const ok: { name: string; in: string; want: ReturnType<typeof pick> }[] = [
  {
    name: 'add minimal',
    in: 'route add svc /foo http://a:1/',
    want: { cmd: 'route add', service: 'svc', src: '/foo', dst: 'http://a:1/', weight: 0, tags: [], opts: {} },
  },
  {
    name: 'add all clauses',
    in: 'route add svc host/p http://a:1/ weight 0.5 tags "a, b,c" opts "strip=/p bare k=a=b"',
    want: {
      cmd: 'route add',
      service: 'svc',
      src: 'host/p',
      dst: 'http://a:1/',
      weight: 0.5,
      tags: ['a', 'b', 'c'],
      opts: { strip: '/p', bare: '', k: 'a=b' },
    },
  },
  {
    name: 'whitespace tolerance',
    in: '  route \t add   svc\t/foo   http://a:1/   weight\t0.1  ',
    want: { cmd: 'route add', service: 'svc', src: '/foo', dst: 'http://a:1/', weight: 0.1, tags: [], opts: {} },
  },
  {
    name: 'exponent weight',
    in: 'route add svc /foo http://a:1/ weight 5e-2',
    want: { cmd: 'route add', service: 'svc', src: '/foo', dst: 'http://a:1/', weight: 0.05, tags: [], opts: {} },
  },
  {
    name: 'del svc',
    in: 'route del svc',
    want: { cmd: 'route del', service: 'svc', src: '', dst: '', weight: 0, tags: [], opts: {} },
  },
  {
    name: 'del svc src',
    in: 'route del svc /foo',
    want: { cmd: 'route del', service: 'svc', src: '/foo', dst: '', weight: 0, tags: [], opts: {} },
  },
  {
    name: 'del svc src dst',
    in: 'route del svc /foo http://a:1/',
    want: { cmd: 'route del', service: 'svc', src: '/foo', dst: 'http://a:1/', weight: 0, tags: [], opts: {} },
  },
  {
    name: 'del svc tags',
    in: 'route del svc tags "a,b"',
    want: { cmd: 'route del', service: 'svc', src: '', dst: '', weight: 0, tags: ['a', 'b'], opts: {} },
  },
  {
    name: 'del tags',
    in: 'route del tags "a"',
    want: { cmd: 'route del', service: '', src: '', dst: '', weight: 0, tags: ['a'], opts: {} },
  },
  {
    name: 'weight svc',
    in: 'route weight svc /foo weight 0.25',
    want: { cmd: 'route weight', service: 'svc', src: '/foo', dst: '', weight: 0.25, tags: [], opts: {} },
  },
  {
    name: 'weight svc tags',
    in: 'route weight svc /foo weight 0.25 tags "v2"',
    want: { cmd: 'route weight', service: 'svc', src: '/foo', dst: '', weight: 0.25, tags: ['v2'], opts: {} },
  },
  {
    name: 'weight svc-less',
    in: 'route weight /foo weight 0.25 tags "v2"',
    want: { cmd: 'route weight', service: '', src: '/foo', dst: '', weight: 0.25, tags: ['v2'], opts: {} },
  },
];

for (const c of ok) {
  test(`parse: ${c.name}`, () => {
    const defs = parseRouteText(c.in);
    assert.equal(defs.length, 1);
    assert.deepEqual(pick(defs[0]!), c.want);
  });
}

test('parse: comments and blank lines are skipped but counted', () => {
  const defs = parseRouteText('# c\n\n// c2\n   \nroute add a /x http://a/\n');
  assert.equal(defs.length, 1);
  assert.equal(defs[0]!.line, 5);
});

const bad: { name: string; in: string; want: string }[] = [
  { name: 'not a route command', in: '# ok\nfoo bar', want: "line 2: syntax error: 'route' expected" },
  { name: 'bad add', in: 'route add svc /foo', want: "line 1: syntax error: 'route add' invalid" },
  {
    name: 'clauses out of order',
    in: 'route add svc /foo http://a/ tags "a" weight 0.1',
    want: "line 1: syntax error: 'route add' invalid",
  },
  {
    name: 'bad weight value',
    in: '\n\nroute add svc /foo http://a/ weight abc',
    want: 'line 3: syntax error: weight value invalid',
  },
  { name: 'bad del', in: 'route del a b c d', want: "line 1: syntax error: 'route del' invalid" },
  { name: 'bad weight cmd', in: 'route weight svc /foo 0.1', want: "line 1: syntax error: 'route weight' invalid" },
  {
    name: 'svc-less weight needs tags',
    in: 'route weight /foo weight 0.1',
    want: "line 1: syntax error: 'route weight' invalid",
  },
  {
    name: 'bad weight in weight cmd',
    in: 'route weight svc /foo weight x',
    want: 'line 1: syntax error: weight value invalid',
  },
];
for (const c of bad) {
  test(`parse error: ${c.name}`, () => {
    assert.throws(
      () => parseRouteText(c.in),
      (err: unknown) =>
        err instanceof RouteSyntaxError && err.message === c.want && err.line === Number(/line (\d+)/.exec(c.want)![1]),
    );
  });
}

// buildTable streams the text (parse and apply line by line) but must report like fabio, which
// parses everything first: a syntax error anywhere wins over an earlier command that fails to apply.
const buildErrors: { name: string; in: string; want: string }[] = [
  {
    name: 'syntax error after a bad target',
    in: 'route add a /x http://h:bad/\nroute add b /y http://b/\nfoo',
    want: "line 3: syntax error: 'route' expected",
  },
  {
    name: 'bad target alone',
    in: 'route add b /y http://b/\nroute add a /x http://h:bad/\nroute add c /z http://c/',
    want: 'line 2: route: invalid target. parse "http://h:bad/": invalid port ":bad" after host',
  },
];
for (const c of buildErrors) {
  test(`build error precedence: ${c.name}`, () => {
    assert.throws(
      () => buildTable(c.in, { matcher: 'prefix', strategy: 'rr', globDisabled: false, globCacheSize: 10 }),
      (err: unknown) => err instanceof RouteSyntaxError && err.message === c.want,
    );
  });
}

test('parse: consecutive equal tags/opts clauses share one frozen value, a different clause gets its own', () => {
  const d = parseRouteText(
    [
      'route add s a/ http://a:1/ tags "x, y" opts "strip=/a"',
      'route add s b/ http://a:2/ tags "x, y" opts "strip=/a"',
      'route add s c/ http://a:3/ tags "x, z" opts "strip=/c"',
      'route add s d/ http://a:4/',
      'route add s e/ http://a:5/ tags "x, y" opts "strip=/a"',
    ].join('\n'),
  );
  const at = (k: number) => d[k] as (typeof d)[number];
  const [a, b, c, e] = [at(0), at(1), at(2), at(4)];
  assert.equal(a.tags, b.tags);
  assert.equal(a.opts, b.opts);
  // same length as the previous clauses: the memo compares the text, not its size
  assert.deepEqual([...c.tags], ['x', 'z']);
  assert.deepEqual({ ...c.opts }, { strip: '/c' });
  assert.notEqual(c.opts, a.opts);
  assert.deepEqual([...at(3).tags], []);
  assert.deepEqual([...e.tags], ['x', 'y']);
  assert.deepEqual({ ...e.opts }, { strip: '/a' });
  for (const x of d) assert.ok(Object.isFrozen(x.tags) && Object.isFrozen(x.opts));
  assert.throws(() => (a.tags as string[]).push('z'), TypeError);
});
