import assert from 'node:assert/strict';
import { test } from 'node:test';
import { table } from './helpers.ts';

test('print: order, effective weights, tags and sorted opts, zero weight omitted', () => {
  const t = table(
    [
      'route add b /x http://b:1/',
      'route add a /x http://a:1/ weight 1.5',
      'route add c abc.com/foo http://c:1/ tags "t1,t2" opts "z=1 a=2 bare"',
      'route add c abc.com/foo/ http://c:1/',
      'route add d xyz.com/ http://d:1/',
      'route add e / http://e:1',
    ].join('\n'),
  );
  assert.equal(
    t.print(),
    [
      'route add d xyz.com/ http://d:1/ weight 1.0000',
      'route add c abc.com/foo/ http://c:1/ weight 1.0000',
      'route add c abc.com/foo http://c:1/ weight 1.0000 tags "t1,t2" opts "a=2 bare= z=1"',
      'route add a /x http://a:1/ weight 1.0000',
      'route add e / http://e:1 weight 1.0000',
    ].join('\n'),
  );
});

test('print: empty table prints nothing', () => {
  assert.equal(table('# nothing\n').print(), '');
  assert.equal(table('route add a /x http://a/\nroute del a').print(), '');
});

test('dump: fabio detail format', () => {
  const t = table(
    'route add svc /foo http://foo.com:900\nroute add svc / http://foo.com:800\nroute add svc abc.com/ http://foo.com:1000',
  );
  assert.equal(
    t.dump(),
    [
      '+-- host=',
      '|   |-- path=/foo',
      '|   |    +-- addr=foo.com:900 weight 1.00 slots 1/1',
      '|   +-- path=/',
      '|       +-- addr=foo.com:800 weight 1.00 slots 1/1',
      '+-- host=abc.com',
      '    +-- path=/',
      '        +-- addr=foo.com:1000 weight 1.00 slots 1/1',
      '',
    ].join('\n'),
  );
});

test('routes: hosts ascending (host-less first), paths descending', () => {
  const t = table(
    'route add a b.com/ http://a/\nroute add a a.com/x http://a/\nroute add a a.com/y http://a/\nroute add a / http://a/',
  );
  assert.deepEqual(
    t.routes.map((r) => r.host + r.path),
    ['/', 'a.com/y', 'a.com/x', 'b.com/'],
  );
});

const weightCases: { name: string; text: string; want: Record<string, number> }[] = [
  {
    name: 'no fixed weights: equal',
    text: 'route add a /x http://a/\nroute add b /x http://b/\nroute add c /x http://c/\nroute add d /x http://d/',
    want: { a: 0.25, b: 0.25, c: 0.25, d: 0.25 },
  },
  {
    name: 'fixed + dynamic share the rest',
    text: 'route add a /x http://a/ weight 0.2\nroute add b /x http://b/\nroute add c /x http://c/',
    want: { a: 0.2, b: 0.4, c: 0.4 },
  },
  {
    name: 'fixed sum > 1 normalised, dynamic get 0',
    text: 'route add a /x http://a/ weight 1.5\nroute add b /x http://b/ weight 0.5\nroute add c /x http://c/',
    want: { a: 0.75, b: 0.25, c: 0 },
  },
  {
    name: 'all fixed sum < 1 normalised up',
    text: 'route add a /x http://a/ weight 0.1\nroute add b /x http://b/ weight 0.3',
    want: { a: 0.25, b: 0.75 },
  },
  {
    name: 'negative weight is dynamic',
    text: 'route add a /x http://a/ weight -1\nroute add b /x http://b/ weight 0.5',
    want: { a: 0.5, b: 0.5 },
  },
  {
    name: 'route weight splits over matching targets',
    text: 'route add a /x http://a1/ tags "v2"\nroute add a /x http://a2/ tags "v2"\nroute add b /x http://b/\nroute weight a /x weight 0.2 tags "v2"',
    want: { a1: 0.1, a2: 0.1, b: 0.8 },
  },
  {
    name: 'svc-less route weight with tags',
    text: 'route add a /x http://a/ tags "c"\nroute add b /x http://b/\nroute weight /x weight 0.1 tags "c"',
    want: { a: 0.1, b: 0.9 },
  },
];
for (const c of weightCases) {
  test(`weights: ${c.name}`, () => {
    const t = table(c.text);
    const got: Record<string, number> = {};
    for (const tg of t.routes[0]!.targets)
      got[tg.url.replace(/^http:\/\/|\/$/g, '')] = Math.round(tg.weight * 1e6) / 1e6;
    assert.deepEqual(got, c.want);
  });
}

test('weights: ring has 10000 slots, smallest target first and spread', () => {
  const t = table('route add a /x http://a/ weight 0.9\nroute add b /x http://b/ weight 0.1');
  assert.match(t.dump(), /addr=a weight 0\.90 slots 9000\/10000\n.*addr=b weight 0\.10 slots 1000\/10000/s);
  // b is placed first, every 10th slot: rr yields b then nine a's
  const seq = Array.from({ length: 20 }, () => t.lookup({ host: 'h', path: '/x', tls: false })!.target.url);
  assert.deepEqual(seq.slice(0, 11), ['http://b/', ...Array(9).fill('http://a/'), 'http://b/']);
});

test('weights: tiny weight still gets one slot', () => {
  const t = table('route add a /x http://a/ weight 0.99999\nroute add b /x http://b/ weight 0.00001');
  assert.match(t.dump(), /addr=b weight 0\.00 slots 1\/10000/);
});

test('route weight with no match is a warning, not an error (v1.7.3)', () => {
  const t = table('route add a /x http://a/\nroute weight zz /x weight 0.5\nroute weight a /nope weight 0.5');
  assert.deepEqual(
    t.warnings.map((w) => [w.line, w.message]),
    [
      [2, 'weight command for service zz not valid - route: no target match'],
      [3, 'weight command for service a not valid - route: no target match'],
    ],
  );
  assert.equal(t.routes[0]!.targets[0]!.weight, 1);
});

test('de-duplication: same service, URL, weight and tags added once', () => {
  const t = table(
    'route add a /x http://a/\nroute add a /x http://a/\nroute add a /x http://a/ tags "t"\nroute add a /x http://a/ weight 0.5',
  );
  assert.equal(t.routes[0]!.targets.length, 3);
});

const delCases: { name: string; cmd: string; want: string[] }[] = [
  { name: 'del svc', cmd: 'route del a', want: ['b /x http://b/', 'c /y http://c/'] },
  { name: 'del svc src', cmd: 'route del a /x', want: ['b /x http://b/', 'a /y http://a2/', 'c /y http://c/'] },
  {
    name: 'del svc src dst',
    cmd: 'route del a /y http://a2/',
    want: ['a /x http://a/', 'b /x http://b/', 'c /y http://c/'],
  },
  {
    name: 'del svc tags',
    cmd: 'route del a tags "t1,t2"',
    want: ['b /x http://b/', 'a /y http://a2/', 'c /y http://c/'],
  },
  { name: 'del tags (any service)', cmd: 'route del tags "t1"', want: ['b /x http://b/', 'a /y http://a2/'] },
  {
    name: 'del non-existent is a no-op',
    cmd: 'route del zz /nope',
    want: ['a /x http://a/', 'b /x http://b/', 'a /y http://a2/', 'c /y http://c/'],
  },
];
const base =
  'route add a /x http://a/ tags "t1,t2"\nroute add b /x http://b/\nroute add a /y http://a2/\nroute add c /y http://c/ tags "t1"';
for (const c of delCases) {
  test(`route ${c.name}`, () => {
    const t = table(`${base}\n${c.cmd}`);
    assert.deepEqual(
      t.routes.flatMap((r) => r.targets.map((tg) => `${tg.service} ${r.path} ${tg.url}`)).sort(),
      [...c.want].sort(),
    );
  });
}
