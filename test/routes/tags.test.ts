// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the tag syntax under test, not a template
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goExpand, goQuote, serviceRouteCommands, sortRouteLines } from '../../src/routes/index.ts';

const inst = (tags: string[], over: Partial<Parameters<typeof serviceRouteCommands>[0]> = {}) =>
  serviceRouteCommands({ service: 'svc', addr: 'a', port: 1, tags, tagPrefix: 'urlprefix-', env: {}, ...over });

const cases: {
  name: string;
  tags: string[];
  over?: Partial<Parameters<typeof serviceRouteCommands>[0]>;
  want: string[];
}[] = [
  {
    name: 'host/path',
    tags: ['p-foo/bar'],
    over: { service: 'svc-1', addr: '1.1.1.1', port: 2222, tagPrefix: 'p-' },
    want: ['route add svc-1 foo/bar http://1.1.1.1:2222/'],
  },
  {
    name: 'tcp port',
    tags: ['p-:1234 proto=tcp'],
    over: { service: 'svc-1', addr: '1.1.1.1', port: 2222, tagPrefix: 'p-' },
    want: ['route add svc-1 :1234 tcp://1.1.1.1:2222'],
  },
  {
    name: 'strip + service tag',
    tags: ['urlprefix-/foo strip=/foo', 'green'],
    want: ['route add svc /foo http://a:1/ tags "green" opts "strip=/foo"'],
  },
  {
    name: 'redirect',
    tags: ['urlprefix-/path redirect=301,https://www.google.com/'],
    want: ['route add svc /path https://www.google.com/ opts "redirect=301"'],
  },
  {
    name: 'weight, https, passthrough',
    tags: ['urlprefix-/x weight=0.2 proto=https tlsskipverify=true'],
    want: ['route add svc /x https://a:1 weight 0.2 opts "tlsskipverify=true"'],
  },
  { name: 'grpc', tags: ['urlprefix-/g proto=grpc'], want: ['route add svc /g grpc://a:1'] },
  { name: 'grpcs', tags: ['urlprefix-/g proto=grpcs'], want: ['route add svc /g grpcs://a:1'] },
  {
    name: 'proto=http stays an opt',
    tags: ['urlprefix-/h proto=http'],
    want: ['route add svc /h http://a:1/ opts "proto=http"'],
  },
  {
    name: 'host lower-cased, path kept',
    tags: ['urlprefix-WWW.BAR.COM/Foo/foo'],
    want: ['route add svc www.bar.com/Foo/foo http://a:1/'],
  },
  { name: 'host:port', tags: ['urlprefix-www.bar.com:80/foo'], want: ['route add svc www.bar.com:80/foo http://a:1/'] },
  { name: 'glob host', tags: ['urlprefix-*.abc.com/'], want: ['route add svc *.abc.com/ http://a:1/'] },
  {
    name: 'slash-less host kept verbatim',
    tags: ['urlprefix-1.1.1.1:999', 'urlprefix-foo.com proto=tcp'],
    want: ['route add svc 1.1.1.1:999 http://a:1/', 'route add svc foo.com tcp://a:1'],
  },
  {
    name: '$x expansion',
    tags: ['urlprefix-$x/$Y'],
    over: { env: { x: 'Xx', Y: 'Yy' } },
    want: ['route add svc xx/Yy http://a:1/'],
  },
  {
    name: '${DC} expansion, unknown var empty',
    tags: ['urlprefix-${DC}.foo/$NOPE/x'],
    over: { env: { DC: 'dc1' } },
    want: ['route add svc dc1.foo//x http://a:1/'],
  },
  {
    name: 'IPv6 bracketed',
    tags: ['urlprefix-/v6'],
    over: { addr: '::1', port: 80 },
    want: ['route add svc /v6 http://[::1]:80/'],
  },
  {
    name: 'tags and opts Go-quoted, tags trimmed',
    tags: ['  urlprefix-/q a=b  c  ', ' t1 ', 'ü\\x'],
    want: ['route add svc /q http://a:1/ tags "t1,ü\\\\x" opts "a=b c"'],
  },
  {
    name: 'other prefix ignored as route',
    tags: ['other-/x', 'urlprefix-/y'],
    want: ['route add svc /y http://a:1/ tags "other-/x"'],
  },
];

for (const c of cases) {
  test(`tags: ${c.name}`, () => {
    const r = inst(c.tags, c.over);
    assert.deepEqual(r.lines, c.want);
    assert.deepEqual(r.warnings, []);
  });
}

test('tags: invalid redirect skips the tag with fabio message', () => {
  const r = inst(['urlprefix-/r redirect=301', 'urlprefix-/ok']);
  assert.deepEqual(r.lines, ['route add svc /ok http://a:1/']);
  assert.deepEqual(r.warnings, [
    {
      tag: 'urlprefix-/r redirect=301',
      message: 'Invalid syntax for redirect: redirect=301. should be redirect=<code>,<url>',
    },
  ]);
});

test('tags: a quote in a service tag drops that tag only', () => {
  const r = inst(['urlprefix-/a', 'bad"tag', 'good']);
  assert.deepEqual(r.lines, ['route add svc /a http://a:1/ tags "good"']);
  assert.equal(r.warnings.length, 1);
  assert.equal(r.warnings[0]!.tag, 'bad"tag');
});

test('tags: a quote or newline in a route tag skips that route', () => {
  const r = inst(['urlprefix-/a x="y"', 'urlprefix-/b\nroute del svc', 'urlprefix-/c']);
  assert.deepEqual(r.lines, ['route add svc /c http://a:1/']);
  assert.equal(r.warnings.length, 2);
});

test('tags: a service name with a space cannot break the table', () => {
  const r = inst(['urlprefix-/a'], { service: 'bad name' });
  assert.deepEqual(r.lines, []);
  assert.equal(r.warnings.length, 1);
});

test('sortRouteLines sorts descending', () => {
  assert.deepEqual(sortRouteLines(['route add a /a x', 'route add c /c x', 'route add b /b x']), [
    'route add c /c x',
    'route add b /b x',
    'route add a /a x',
  ]);
});

test('goExpand follows os.Expand', () => {
  const env = { a: 'A', DC: 'dc1', '1': 'one' };
  const cases: [string, string][] = [
    ['$a', 'A'],
    ['${a}', 'A'],
    ['x$a.y', 'xA.y'],
    ['$', '$'],
    ['a$', 'a$'],
    ['${', ''],
    ['${}x', 'x'],
    ['$1x', 'onex'],
    ['$-', ''],
    ['$/', '$/'],
    ['${DC}-$DC', 'dc1-dc1'],
  ];
  for (const [in_, want] of cases) assert.equal(goExpand(in_, env), want, in_);
});

test('goQuote matches strconv.Quote', () => {
  const cases: [string, string][] = [
    ['a,b', '"a,b"'],
    ['q"x', '"q\\"x"'],
    ['b\\s', '"b\\\\s"'],
    ['\n\t\r', '"\\n\\t\\r"'],
    ['\x01\x7f', '"\\x01\\x7f"'],
    ['üñ€', '"üñ€"'],
    ['\u00a0', '"\\u00a0"'],
    ['\u200b', '"\\u200b"'],
    ['😀', '"😀"'],
  ];
  for (const [in_, want] of cases) assert.equal(goQuote(in_), want, JSON.stringify(in_));
});
