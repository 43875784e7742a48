import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INDEX_MIN_ROUTES } from '../../src/routes/path-index.ts';
import { dst, req, table } from './helpers.ts';

const T1 = `
route add svc / http://root/
route add svc /foo http://foo/
route add svc /foo/bar http://foobar/
route add svc abc.com/ http://abc/
route add svc abc.com/foo http://abcfoo/
route add svc *.abc.com/ http://star-abc/
route add svc *.aaa.abc.com/ http://star-aaa/
route add svc z.abc.com/ http://z-abc/
route add svc www.bar.com:80/ http://bar80/
route add svc secure.com:443/ http://sec443/
route add svc port.com:8080/ http://port8080/
`;

const cases: [string, string, string, boolean, string | undefined][] = [
  // name, host, path, tls, want
  ['host-less fallback', 'unknown.com', '/x', false, 'http://root/'],
  ['longest path wins', 'unknown.com', '/foo/bar/baz', false, 'http://foobar/'],
  ['prefix, not segment', 'unknown.com', '/food', false, 'http://foo/'],
  ['exact host', 'abc.com', '/foo/x', false, 'http://abcfoo/'],
  ['host is case-insensitive', 'ABC.Com', '/', false, 'http://abc/'],
  ['host route before host-less', 'abc.com', '/foo/bar', false, 'http://abcfoo/'],
  ['glob host', 'x.abc.com', '/', false, 'http://star-abc/'],
  ['glob * matches dots', 'x.y.abc.com', '/', false, 'http://star-abc/'],
  ['exact before glob (z.abc.com)', 'z.abc.com', '/', false, 'http://z-abc/'],
  ['more specific glob first', 'q.aaa.abc.com', '/', false, 'http://star-aaa/'],
  [':80 stripped from request on plain', 'abc.com:80', '/', false, 'http://abc/'],
  [':80 kept on TLS', 'abc.com:80', '/', true, 'http://root/'],
  [':443 stripped on TLS', 'abc.com:443', '/', true, 'http://abc/'],
  [':443 kept on plain', 'abc.com:443', '/', false, 'http://root/'],
  ['route :80 pattern matches plain host', 'www.bar.com', '/', false, 'http://bar80/'],
  ['route :80 pattern on TLS needs the port', 'www.bar.com:80', '/', true, 'http://bar80/'],
  ['route :443 pattern matches TLS host', 'secure.com', '/', true, 'http://sec443/'],
  ['other port must match', 'port.com:8080', '/', false, 'http://port8080/'],
  ['other port absent', 'port.com', '/', false, 'http://root/'],
];
const t1 = table(T1);
for (const [name, host, path, tls, want] of cases) {
  test(`lookup: ${name}`, () => assert.equal(dst(t1, host, path, { tls }), want));
}

test('lookup: no host-less route → no route', () => {
  const t = table('route add svc abc.com/ http://abc/');
  assert.equal(dst(t, 'x.com', '/'), undefined);
  assert.equal(dst(t, 'abc.com', '/anything'), 'http://abc/');
});

test('lookup: a host whose routes do not match falls through to the next host', () => {
  const t = table('route add a *.com/api http://glob/\nroute add b x.com/other http://x/\nroute add c / http://root/');
  assert.equal(dst(t, 'x.com', '/api/1'), 'http://glob/');
  assert.equal(dst(t, 'x.com', '/zzz'), 'http://root/');
});

test('lookup: deleting every target of a route falls through (route removed)', () => {
  const t = table(
    'route add a abc.com/foo http://foo/\nroute add b abc.com/ http://abc/\nroute add c / http://root/\nroute del a',
  );
  assert.equal(dst(t, 'abc.com', '/foo'), 'http://abc/');
  assert.equal(t.routes.length, 2);
});

test('lookup: iprefix matcher', () => {
  const t = table('route add a /Foo http://foo/\nroute add b / http://root/', { matcher: 'iprefix' });
  assert.equal(dst(t, 'h', '/fOO/x'), 'http://foo/');
  const p = table('route add a /Foo http://foo/\nroute add b / http://root/');
  assert.equal(dst(p, 'h', '/fOO/x'), 'http://root/');
});

test('lookup: iprefix keeps fabio order, not longest match', () => {
  // descending byte order: "/a" (0x61) before "/Ab" (0x41), both match "/ab" case-insensitively
  const lines = ['route add a /a http://a/', 'route add b /Ab http://ab/'];
  for (let i = 0; i < INDEX_MIN_ROUTES; i++) lines.push(`route add f /zz${i} http://f${i}/`); // enough routes for the path index
  const t = table(lines.join('\n'), { matcher: 'iprefix' });
  assert.equal(dst(t, 'h', '/ab'), 'http://a/');
});

test('lookup: glob matcher matches the whole path', () => {
  const t = table('route add a /foo/*/bar http://a/\nroute add b /* http://b/', { matcher: 'glob' });
  assert.equal(dst(t, 'h', '/foo/x/y/bar'), 'http://a/');
  assert.equal(dst(t, 'h', '/foo/x/bar/baz'), 'http://b/');
  assert.equal(dst(t, 'h', '/foo/x/bar'), 'http://a/');
});

test('lookup: invalid path glob fails the build only with the glob matcher (quirk P8 decision)', () => {
  const text = 'route add a /foo[ http://a/';
  assert.equal(dst(table(text), 'h', '/foo['), 'http://a/');
  assert.throws(() => table(text, { matcher: 'glob' }), /line 1: invalid glob pattern/);
});

test('lookup: glob matching disabled compares strings', () => {
  const t = table('route add a *.abc.com/ http://glob/\nroute add b x.abc.com/ http://x/\nroute add c / http://root/', {
    globDisabled: true,
  });
  assert.equal(dst(t, 'y.abc.com', '/'), 'http://root/');
  assert.equal(dst(t, '*.abc.com', '/'), 'http://glob/');
  assert.equal(dst(t, 'X.abc.com:80', '/'), 'http://x/');
});

test('lookup: glob host syntax (?, [..], [!..], {a,b}, escapes)', () => {
  const t = table(
    [
      'route add a ?.q.com/ http://q/',
      'route add b [ab].r.com/ http://r/',
      'route add c [!ab].s.com/ http://s/',
      'route add d {x,y}.t.com/ http://t/',
      'route add e \\*.u.com/ http://u/',
    ].join('\n'),
  );
  assert.equal(dst(t, 'a.q.com', '/'), 'http://q/');
  assert.equal(dst(t, 'ab.q.com', '/'), undefined);
  assert.equal(dst(t, 'b.r.com', '/'), 'http://r/');
  assert.equal(dst(t, 'c.r.com', '/'), undefined);
  assert.equal(dst(t, 'c.s.com', '/'), 'http://s/');
  assert.equal(dst(t, 'a.s.com', '/'), undefined);
  assert.equal(dst(t, 'y.t.com', '/'), 'http://t/');
  assert.equal(dst(t, '*.u.com', '/'), 'http://u/');
  assert.equal(dst(t, 'x.u.com', '/'), undefined);
});

test('lookup: slash-less src is host + "/"', () => {
  const t = table('route add a foo.com http://a/');
  assert.equal(t.routes[0]!.path, '/');
  assert.equal(dst(t, 'foo.com', '/x'), 'http://a/');
});

test('lookupTcp: exact key, lower-cased, no glob, no fallback', () => {
  const t = table(
    'route add db :3306 tcp://1.2.3.4:3306\nroute add s Sni.Example.com tcp://5.6.7.8:443\nroute add g *.x.com tcp://9.9.9.9:1\nroute add r / http://root/\nroute add ip 1.1.1.1:999 tcp://2.2.2.2:1',
  );
  assert.equal(t.lookupTcp(':3306')?.target.url, 'tcp://1.2.3.4:3306');
  assert.equal(t.lookupTcp('SNI.example.COM')?.target.url, 'tcp://5.6.7.8:443');
  assert.equal(t.lookupTcp('a.x.com'), undefined);
  assert.equal(t.lookupTcp('nothing'), undefined);
  assert.equal(t.lookupTcp('1.1.1.1:999')?.target.hostPort, '2.2.2.2:1');
  assert.equal(t.routes.find((r) => r.host === ':3306')?.path, '');
});

test('lookup: rr walks the ring in order and shares counters across builds', () => {
  const counters = new Map<string, number>();
  const text = 'route add a /x http://a/\nroute add b /x http://b/\nroute add c /x http://c/';
  const t = table(text, { counters });
  const seq = Array.from({ length: 4 }, () => dst(t, 'h', '/x'));
  assert.deepEqual(seq, ['http://a/', 'http://b/', 'http://c/', 'http://a/']);
  const t2 = table(text, { counters });
  assert.equal(dst(t2, 'h', '/x'), 'http://b/');
});

test('lookup: rnd uses the injected random source', () => {
  const vals = [0, 0.5, 0.99];
  let i = 0;
  const t = table('route add a /x http://a/\nroute add b /x http://b/\nroute add c /x http://c/', {
    strategy: 'rnd',
    random: () => vals[i++ % 3]!,
  });
  assert.deepEqual([dst(t, 'h', '/x'), dst(t, 'h', '/x'), dst(t, 'h', '/x')], ['http://a/', 'http://b/', 'http://c/']);
});

test('lookup: result objects are reused (no allocation) and the table is frozen', () => {
  const t = table('route add a /x http://a/');
  const r1 = t.lookup(req('h', '/x'));
  assert.equal(r1, t.lookup(req('h', '/x')));
  assert.ok(
    Object.isFrozen(t) &&
      Object.isFrozen(t.routes) &&
      Object.isFrozen(t.routes[0]) &&
      Object.isFrozen(r1!.target) &&
      Object.isFrozen(r1!.target.tags),
  );
});

test('target fields', () => {
  const t = table(
    'route add s /x https://[::1]/p?q=1 tags "a,b" opts "strip=/x prepend=/y host=dst auth=basic tlsskipverify=true pxyproto=true other"',
  );
  const tg = t.lookup(req('h', '/x'))!.target;
  assert.deepEqual(
    {
      scheme: tg.scheme,
      hostPort: tg.hostPort,
      hostname: tg.hostname,
      port: tg.port,
      urlPath: tg.urlPath,
      urlQuery: tg.urlQuery,
      strip: tg.stripPath,
      prepend: tg.prependPath,
      host: tg.host,
      auth: tg.authScheme,
      skip: tg.tlsSkipVerify,
      pp: tg.proxyProto,
      key: tg.key,
      tags: [...tg.tags],
    },
    {
      scheme: 'https',
      hostPort: '[::1]:443',
      hostname: '::1',
      port: 443,
      urlPath: '/p',
      urlQuery: 'q=1',
      strip: '/x',
      prepend: '/y',
      host: 'dst',
      auth: 'basic',
      skip: true,
      pp: true,
      key: 's\u0000https://[::1]/p?q=1',
      tags: ['a', 'b'],
    },
  );
  assert.equal(tg.opts.other, '');
});

test('build: invalid target URL is a line error', () => {
  assert.throws(
    () => table('\nroute add s /x http://a:bad/'),
    /^RouteSyntaxError: line 2: route: invalid target\. parse "http:\/\/a:bad\/": invalid port/,
  );
  assert.throws(() => table('route add s /x http://a/%zz'), /line 1: route: invalid target/);
});

test('lookup: glob matcher with the path index keeps fabio order between literal and glob paths', () => {
  const filler = Array.from({ length: INDEX_MIN_ROUTES }, (_, i) => `route add f /zz${i} http://f${i}/`);
  const t = table(
    [
      ...filler,
      'route add a /foo/* http://star/',
      'route add b /foo/bar http://lit/',
      'route add c /foo/{bar,baz} http://brace/',
    ].join('\n'),
    { matcher: 'glob' },
  );
  // descending: "/foo/{bar,baz}" > "/foo/bar" > "/foo/*"
  assert.equal(dst(t, 'h', '/foo/bar'), 'http://brace/');
  assert.equal(dst(t, 'h', '/foo/qux'), 'http://star/');
  const t2 = table([...filler, 'route add a /foo/* http://star/', 'route add b /foo/bar http://lit/'].join('\n'), {
    matcher: 'glob',
  });
  assert.equal(dst(t2, 'h', '/foo/bar'), 'http://lit/');
  assert.equal(dst(t2, 'h', '/zz3'), 'http://f3/');
});
