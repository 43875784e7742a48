import assert from 'node:assert/strict';
import { test } from 'node:test';
import { traceId, traceLines } from '../../src/routes/index.ts';
import { req, table } from './helpers.ts';

const redirects: { name: string; dst: string; opts?: string; path: string; query?: string; want: string }[] = [
  { name: 'verbatim without $path', dst: 'https://foo.com/a/b', path: '/x', query: 'q=1', want: 'https://foo.com/a/b' },
  { name: 'empty path becomes /', dst: 'https://foo.com', path: '/x', want: 'https://foo.com/' },
  { name: '/$path', dst: 'https://foo.com/$path', path: '/abc', want: 'https://foo.com/abc' },
  { name: '$path glued to host', dst: 'https://foo.com$path', path: '/abc', want: 'https://foo.com/abc' },
  { name: 'prefix/$path', dst: 'https://foo.com/prefix/$path', path: '/abc', want: 'https://foo.com/prefix/abc' },
  {
    name: 'request query appended',
    dst: 'https://foo.com/$path',
    path: '/abc',
    query: 'x=y',
    want: 'https://foo.com/abc?x=y',
  },
  {
    name: 'target query wins',
    dst: 'https://foo.com/$path?foo=bar',
    path: '/abc',
    query: 'x=y',
    want: 'https://foo.com/abc?foo=bar',
  },
  {
    name: 'strip applied',
    dst: 'https://foo.com/$path',
    opts: ' strip=/stripme',
    path: '/stripme/abc',
    want: 'https://foo.com/abc',
  },
  {
    name: 'prepend applied',
    dst: 'https://foo.com/$path',
    opts: ' prepend=/pre',
    path: '/abc',
    want: 'https://foo.com/pre/abc',
  },
  { name: '$host replaced', dst: 'https://$host/$path', path: '/abc', want: 'https://req.example.com/abc' },
];
for (const c of redirects) {
  test(`redirect: ${c.name}`, () => {
    const t = table(`route add r / ${c.dst} opts "redirect=301${c.opts ?? ''}"`);
    const res = t.lookup(req('req.example.com', c.path, c.query !== undefined ? { query: c.query } : {}));
    assert.equal(res?.target.redirectCode, 301);
    assert.equal(res?.redirectURL, c.want);
  });
}

test('redirect: loop guard skips to the next host candidate', () => {
  const t = table('route add r foo.com/ https://foo.com/$path opts "redirect=301"\nroute add s / http://backend/');
  assert.equal(t.lookup(req('foo.com', '/x'))?.redirectURL, 'https://foo.com/x');
  const looped = t.lookup(req('foo.com', '/x', { forwardedProto: 'https' }));
  assert.equal(looped?.target.url, 'http://backend/');
  const ex = t.explain(req('foo.com', '/x', { forwardedProto: 'https' }));
  assert.deepEqual(
    ex.steps.map((s) => s.kind),
    ['hosts', 'match', 'redirect-loop', 'match', 'pick'],
  );
});

test('redirect: a code that does not redirect makes a bad line (fabio: ignored, then proxied)', () => {
  const text =
    'route add r / https://x/ opts "redirect=200"\nroute add r2 /a https://x/ opts "redirect=abc"\nroute add ok /b https://y/';
  assert.throws(
    () => table(text),
    /^RouteSyntaxError: line 1: invalid redirect="200" \(known: 301, 302, 303, 307, 308\)$/,
  );
  const t = table(text, { skipBadLines: true });
  assert.equal(t.lookup(req('h', '/')), undefined);
  assert.equal(t.lookup(req('h', '/b'))?.target.url, 'https://y/');
  assert.deepEqual(
    t.warnings.map((w) => w.message),
    [
      'line 1: invalid redirect="200" (known: 301, 302, 303, 307, 308); line skipped (service r)',
      'line 2: invalid redirect="abc" (known: 301, 302, 303, 307, 308); line skipped (service r2)',
    ],
  );
  for (const code of ['301', '302', '303', '307', '308'])
    assert.equal(
      table(`route add r / https://x/ opts "redirect=${code}"`).lookup(req('h', '/'))?.target.redirectCode,
      Number(code),
    );
});

test('explain: hosts, tried routes and the pick', () => {
  const t = table(
    'route add a abc.com/foo http://a/\nroute add b abc.com/bar http://b/\nroute add c *.com/ http://c/\nroute add d / http://d/',
  );
  const ex = t.explain(req('abc.com', '/zzz'));
  assert.deepEqual(
    ex.steps.map((s) => s.message),
    [
      'Matching hosts: [abc.com *.com]',
      'No match abc.com/foo',
      'No match abc.com/bar',
      'Match *.com/',
      'Routing to service c on http://c/',
    ],
  );
  assert.equal(ex.result?.target.url, 'http://c/');
  assert.deepEqual(traceLines('abc', ex), [
    'abc Tracing abc.com/zzz',
    'abc Matching hosts: [abc.com *.com]',
    'abc No match abc.com/foo',
    'abc No match abc.com/bar',
    'abc Match *.com/',
    'abc Routing to service c on http://c/',
  ]);
});

test('explain: no route', () => {
  const ex = table('route add a abc.com/ http://a/').explain(req('x.com', '/'));
  assert.equal(ex.result, undefined);
  assert.deepEqual(
    ex.steps.map((s) => s.kind),
    ['hosts', 'noroute'],
  );
  assert.deepEqual(traceLines('t', ex), ['t Tracing x.com/', 't Matching hosts: []']);
});

test('explain agrees with lookup', () => {
  const t = table(
    'route add a abc.com/foo http://a/\nroute add c *.com/ http://c/\nroute add d / http://d/\nroute add e /foo/bar http://e/',
  );
  for (const [h, p] of [
    ['abc.com', '/foo/x'],
    ['x.com', '/'],
    ['y.org', '/foo/bar/1'],
    ['y.org', '/'],
    ['ABC.COM:80', '/foo'],
  ]) {
    assert.equal(t.explain(req(h!, p!)).result?.target, t.lookup(req(h!, p!))?.target, `${h}${p}`);
  }
});

test('trace id: capped at 16 characters (fabio cut >16 to 15)', () => {
  assert.equal(traceId('0123456789abcdef'), '0123456789abcdef');
  assert.equal(traceId('0123456789abcdefXYZ'), '0123456789abcdef');
});

test('explain: advance=false peeks at the rr counter without moving it', () => {
  const t = table('route add a /x http://a/\nroute add b /x http://b/');
  assert.equal(t.explain(req('h', '/x'), { advance: false }).result?.target.url, 'http://a/');
  assert.equal(t.explain(req('h', '/x'), { advance: false }).result?.target.url, 'http://a/');
  assert.equal(t.explain(req('h', '/x')).result?.target.url, 'http://a/');
  assert.equal(t.lookup(req('h', '/x'))?.target.url, 'http://b/');
});
