import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineSource, serviceOf } from '../../src/routes/bad-lines.ts';
import { buildTable, serviceRouteCommands } from '../../src/routes/index.ts';
import { OPTS, req } from './helpers.ts';

/**
 * Issue #12 item 5: one bad line must not freeze the table. With skipBadLines (the proxy's
 * tables) every line that fails to parse or apply is left out with a warning naming its line and
 * source; without it (fabio) the build fails. Hostile lines first.
 */

const GOOD = 'route add good /good http://10.0.0.1:80/';

const BAD: [name: string, line: string, reason: RegExp][] = [
  ['port that is not a number', 'route add k1 /k1 http://127.0.0.1:abc/', /route: invalid target/],
  ['syntax error', 'route add broken', /syntax error: 'route add' invalid/],
  ['junk', 'hello world', /syntax error: 'route' expected/],
  ['bad weight', 'route add w /w http://10.0.0.2/ weight x', /weight value invalid/],
  ['unknown proto=', 'route add p /p http://10.0.0.3/ opts "proto=htttp"', /unknown proto="htttp"/],
  ['unknown target scheme', 'route add s /s htttp://10.0.0.4/', /unknown target scheme "htttp"/],
  ['redirect code 999', 'route add r /r https://x/ opts "redirect=999"', /invalid redirect="999"/],
  ['redirect code 304', 'route add r /r https://x/ opts "redirect=304"', /invalid redirect="304"/],
  ['route del with a bad target', 'route del d /d http://127.0.0.1:abc/', /route: invalid target/],
];

for (const [name, line, reason] of BAD) {
  test(`bad line (${name}): fabio fails the build; skipBadLines skips it and builds the rest`, () => {
    const text = `${GOOD}\n${line}\nroute add after /after http://10.0.0.9:80/`;
    assert.throws(() => buildTable(text, OPTS), reason);
    const t = buildTable(text, { ...OPTS, skipBadLines: true });
    assert.equal(t.lookup(req('h', '/good'))?.target.service, 'good');
    assert.equal(t.lookup(req('h', '/after'))?.target.service, 'after');
    assert.equal(t.warnings.length, 1, JSON.stringify(t.warnings));
    const w = t.warnings[0];
    assert.equal(w?.line, 2);
    assert.match(w?.message ?? '', reason);
    assert.match(w?.message ?? '', /^line 2: .*; line skipped \((service \S+|route text)\)$/);
  });
}

test('a glob path that does not compile (matcher=glob) is skipped', () => {
  const t = buildTable(`${GOOD}\nroute add g /p*[ http://10.0.0.1/`, { ...OPTS, matcher: 'glob', skipBadLines: true });
  assert.equal(t.routes.length, 1);
  assert.match(t.warnings[0]?.message ?? '', /^line 2: .*invalid glob.*; line skipped \(service g\)$/);
});

test('a line from a KV key names the key and its line within the key', () => {
  const text = [
    'route add svc /svc http://10.0.0.1:80/',
    '# --- fabio/config',
    'route add k0 /k0 http://10.0.0.2:80/',
    '',
    '# --- fabio/config/extra',
    '# a comment',
    'route add k1 /k1 http://127.0.0.1:abc/',
  ].join('\n');
  const t = buildTable(text, { ...OPTS, skipBadLines: true });
  assert.deepEqual(
    t.routes.map((r) => r.path),
    ['/svc', '/k0'],
  );
  assert.deepEqual(
    t.warnings.map((w) => [w.line, w.service]),
    [[7, 'k1']],
  );
  assert.match(
    t.warnings[0]?.message ?? '',
    /^line 7: route: invalid target\. .*; line skipped \(KV key fabio\/config\/extra line 2\)$/,
  );
});

test('lineSource and serviceOf', () => {
  assert.equal(serviceOf('route add s1 /p http://x/'), 's1');
  assert.equal(serviceOf('route   del\ts2'), 's2');
  assert.equal(serviceOf('junk'), '');
  assert.equal(lineSource('x', 0, 1, 's'), 'service s');
  assert.equal(lineSource('x', 0, 1, ''), 'route text');
  assert.equal(lineSource('# --- k\nbad', 8, 2, 's'), 'KV key k line 1');
});

test('a host whose every line is bad has no routes, and comes back when fixed (incremental)', () => {
  const o = { ...OPTS, skipBadLines: true };
  const t1 = buildTable(`${GOOD}\nroute add z z.com/ http://10.0.0.1:abc/`, o);
  assert.equal(t1.lookup(req('z.com', '/')), undefined);
  const t2 = buildTable(`${GOOD}\nroute add z z.com/ http://10.0.0.1:abc/\nroute add n n.com/ http://10.0.0.5/`, o, t1);
  assert.equal(t2.lookup(req('n.com', '/'))?.target.service, 'n');
  assert.equal(t2.warnings.length, 1);
  const t3 = buildTable(`${GOOD}\nroute add z z.com/ http://10.0.0.1:81/`, o, t2);
  assert.equal(t3.lookup(req('z.com', '/'))?.target.url, 'http://10.0.0.1:81/');
  assert.deepEqual(t3.warnings, []);
});

test('tags: unknown proto= and a redirect code that does not redirect are skipped with a warning', () => {
  const out = serviceRouteCommands({
    service: 'svc',
    addr: '10.0.0.1',
    port: 8080,
    tags: ['urlprefix-/a proto=htttp', 'urlprefix-/b redirect=999,https://x/', 'urlprefix-/c redirect=308,https://x/'],
    tagPrefix: 'urlprefix-',
    env: {},
  });
  assert.deepEqual(out.lines, ['route add svc /c https://x/ opts "redirect=308"']);
  assert.deepEqual(
    out.warnings.map((w) => [w.tag, w.message]),
    [
      [
        'urlprefix-/a proto=htttp',
        `unknown proto="htttp" (known: http, https, ws, wss, grpc, grpcs, tcp, tcp+sni, tcp-dynamic); tag skipped`,
      ],
      ['urlprefix-/b redirect=999,https://x/', 'invalid redirect="999" (known: 301, 302, 303, 307, 308); tag skipped'],
    ],
  );
});
