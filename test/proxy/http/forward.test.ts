import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backend, echo, get, pathTest, proxy, until } from './harness.ts';

pathTest('forwards a request with fabio headers, normalised path and merged query', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add svc a.com/ ${be.url}/ignored?t=1`, { 'proxy.header.requestid': 'X-Request-Id' });
  const r = await get(p.port, '/x%2F..%2Fy//z/?q=2', { host: 'a.com', 'x-forwarded-for': '9.9.9.9' });
  assert.equal(r.status, 200);
  const j = r.json();
  assert.equal(j.url, '/y/z/?t=1&q=2');
  assert.equal(j.headers.host, 'a.com');
  assert.equal(j.headers['x-forwarded-for'], '9.9.9.9, 127.0.0.1');
  assert.equal(j.headers['x-real-ip'], '127.0.0.1');
  assert.equal(j.headers['x-forwarded-proto'], 'http');
  assert.equal(j.headers['x-forwarded-port'], '80');
  assert.equal(j.headers['x-forwarded-host'], 'a.com');
  assert.equal(j.headers.forwarded, 'for=127.0.0.1; proto=http; by=10.0.0.9; httpproto=http/1.1');
  assert.match(j.headers['x-request-id'] ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(j.headers['user-agent'], undefined);
  assert.equal(p.metrics.requests.length, 1);
  assert.deepEqual(p.metrics.requests[0], { service: 'svc', status: 200 });
  await until(() => p.access.length === 1);
  assert.match(
    p.access[0] ?? '',
    /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/x%2F\.\.%2Fy\/\/z\/\?q=2 HTTP\/1\.1" 200 \d+\n$/,
  );
});

const rows: {
  name: string;
  route: (u: string) => string;
  path: string;
  headers?: Record<string, string>;
  want: (j: { url: string; headers: Record<string, string> }) => void;
}[] = [
  {
    name: 'strip sets X-Forwarded-Prefix',
    route: (u) => `route add s /foo ${u}/ opts "strip=/foo"`,
    path: '/foo/bar',
    want: (j) => {
      assert.equal(j.url, '/bar');
      assert.equal(j.headers['x-forwarded-prefix'], '/foo');
    },
  },
  {
    name: 'prepend',
    route: (u) => `route add s /foo ${u}/ opts "prepend=/v1"`,
    path: '/foo/bar',
    want: (j) => assert.equal(j.url, '/v1/foo/bar'),
  },
  {
    name: 'strip then prepend',
    route: (u) => `route add s /foo ${u}/ opts "strip=/foo prepend=/v1"`,
    path: '/foo/bar',
    want: (j) => assert.equal(j.url, '/v1/bar'),
  },
  {
    name: 'host=dst',
    route: (u) => `route add s /h ${u}/ opts "host=dst"`,
    path: '/h',
    want: (j) => assert.match(j.headers.host ?? '', /^127\.0\.0\.1:\d+$/),
  },
  {
    name: 'host=name',
    route: (u) => `route add s /h ${u}/ opts "host=example.org"`,
    path: '/h',
    want: (j) => assert.equal(j.headers.host, 'example.org'),
  },
  {
    name: 'client host forwarded',
    route: (u) => `route add s /h ${u}/`,
    path: '/h',
    headers: { host: 'x.y:8080' },
    want: (j) => {
      assert.equal(j.headers.host, 'x.y:8080');
      assert.equal(j.headers['x-forwarded-port'], '8080');
    },
  },
  {
    name: 'client XFP and X-Real-Ip trusted',
    route: (u) => `route add s /h ${u}/`,
    path: '/h',
    headers: { 'x-forwarded-proto': 'https', 'x-real-ip': '7.7.7.7' },
    want: (j) => {
      assert.equal(j.headers['x-forwarded-proto'], 'https');
      assert.equal(j.headers['x-real-ip'], '7.7.7.7');
      assert.equal(j.headers.forwarded, 'for=127.0.0.1; proto=https; by=10.0.0.9; httpproto=http/1.1');
    },
  },
  {
    name: 'Connection-named header dropped, protected kept',
    route: (u) => `route add s /h ${u}/`,
    path: '/h',
    headers: { connection: 'x-drop, x-real-ip', 'x-drop': '1', 'x-real-ip': '5.5.5.5' },
    want: (j) => {
      assert.equal(j.headers['x-drop'], undefined);
      assert.equal(j.headers['x-real-ip'], '5.5.5.5');
    },
  },
  {
    name: 'User-Agent passed through',
    route: (u) => `route add s /h ${u}/`,
    path: '/h',
    headers: { 'user-agent': 'curl/8.0' },
    want: (j) => assert.equal(j.headers['user-agent'], 'curl/8.0'),
  },
];
for (const row of rows) {
  test(`socket: ${row.name}`, async (t) => {
    const be = await backend(t, echo);
    const p = await proxy(t, row.route(be.url));
    const r = await get(p.port, row.path, row.headers ?? {});
    assert.equal(r.status, 200);
    row.want(r.json());
  });
}

pathTest('socket: clientip, tls header removal and request id on real sockets', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, {
    'proxy.header.clientip': 'X-Client-Ip',
    'proxy.header.tls': 'X-Tls',
    'proxy.header.tls.value': 'on',
    'proxy.header.requestid': 'X-Rid',
  });
  const j = (await get(p.port, '/', { 'x-tls': 'spoof', 'x-rid': 'mine', 'x-client-ip': '6.6.6.6' })).json();
  assert.equal(j.headers['x-client-ip'], '127.0.0.1');
  assert.equal(j.headers['x-tls'], undefined);
  assert.notEqual(j.headers['x-rid'], 'mine');
  assert.equal(j.headers['x-rid']?.length, 36);
});

pathTest('POST body streamed upstream', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`);
  const r = await get(p.port, '/', { 'content-type': 'text/plain' }, 'POST', 'x'.repeat(100_000));
  assert.equal(r.json().bodyLength, 100_000);
});

test('no route: noroutestatus, HTML body, WARN line, metric, no access log', async (t) => {
  const p = await proxy(
    t,
    'route add s a.com/ http://127.0.0.1:1/',
    { 'proxy.noroutestatus': 503 },
    { noRouteHtml: () => '<h1>none</h1>' },
  );
  const r = await get(p.port, '/nope?x=1', { host: 'b.com' });
  assert.equal(r.status, 503);
  assert.equal(r.text, '<h1>none</h1>');
  assert.ok(p.log.lines.includes('[WARN] No route for b.com/nope?x=1'), p.log.lines.join('\n'));
  assert.equal(p.metrics.notFounds, 1);
  assert.equal(p.access.length, 0);
});

test('no route: a huge Host and path give one bounded WARN line (issue #12: logs an operator can read)', async (t) => {
  const p = await proxy(t, 'route add s a.com/ http://127.0.0.1:1/');
  const host = `${'h'.repeat(8000)}.com`;
  const path = `/${'p'.repeat(8000)}`;
  const r = await get(p.port, path, { host });
  assert.equal(r.status, 404);
  const lines = p.log.lines.filter((l) => l.startsWith('[WARN] No route for '));
  assert.equal(lines.length, 1, p.log.lines.join('\n').slice(0, 2000));
  assert.ok((lines[0] ?? '').length < 700, `line of ${lines[0]?.length} bytes`);
  assert.match(lines[0] ?? '', /more bytes\)/);
});

pathTest('redirect: Location, Go body, metric, no access log', async (t) => {
  const p = await proxy(t, 'route add s a.com/ https://b.com$path opts "redirect=301"');
  const r = await get(p.port, '/x?y=1', { host: 'a.com' });
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://b.com/x?y=1');
  assert.equal(r.text, '<a href="https://b.com/x?y=1">Moved Permanently</a>.\n\n');
  assert.deepEqual(p.metrics.redirects, [301]);
  assert.equal(p.access.length, 0);
});

test('access rules: 403 for denied peer and for a denied X-Forwarded-For element', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(
    t,
    `route add s /deny ${be.url}/ opts "deny=ip:127.0.0.0/8"\nroute add s /allow ${be.url}/ opts "allow=ip:127.0.0.1"`,
  );
  const d = await get(p.port, '/deny');
  assert.equal(d.status, 403);
  assert.equal(d.text, 'access denied\n');
  assert.equal((await get(p.port, '/allow')).status, 200);
  assert.equal((await get(p.port, '/allow', { 'x-forwarded-for': '10.1.1.1' })).status, 403);
  assert.equal(p.access.length, 1);
});

test('upstream errors: 502 refused, 504 header timeout, 500 TLS verification, 499 client gone', async (t) => {
  const slow = await backend(t, (_req, res) => {
    setTimeout(() => res.end('late'), 2000).unref();
  });
  const p = await proxy(
    t,
    [
      'route add s /refused http://127.0.0.1:1/',
      `route add s /slow ${slow.url}/`,
      `route add s /tls https://127.0.0.1:${slow.port}/`,
    ].join('\n'),
    { 'proxy.responseheadertimeout': '200ms' },
  );
  const r1 = await get(p.port, '/refused');
  assert.equal(r1.status, 502);
  assert.equal(r1.text, '');
  assert.ok(p.log.lines.some((l) => l.startsWith('[ERROR] ')));
  assert.equal((await get(p.port, '/slow')).status, 504);
  // A plain HTTP backend spoken to with TLS: handshake failure (not a verification failure) -> 502 class.
  const r3 = await get(p.port, '/tls');
  assert.ok(r3.status === 502 || r3.status === 500, String(r3.status));
  await until(() => p.access.length === 3);
});

pathTest('client going away is 499 in metrics and access log', async (t) => {
  const { request } = await import('node:http');
  let arrived!: () => void;
  const got = new Promise<void>((r) => {
    arrived = r;
  });
  const be = await backend(t, (_req, res) => {
    arrived();
    setTimeout(() => res.end('late'), 3000).unref();
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const req = request({ host: '127.0.0.1', port: p.port, path: '/', agent: false });
  req.on('error', () => {});
  req.end();
  await got;
  req.destroy();
  await until(() => p.metrics.requests.length === 1);
  assert.equal(p.metrics.requests[0]?.status, 499);
  await until(() => p.access.length === 1);
  assert.match(p.access[0] ?? '', /" 499 0\n$/);
});

pathTest('Trace header logs fabio TRACE lines; requests without it log none', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s a.com/bang ${be.url}/\nroute add s a.com/ ${be.url}/`);
  await get(p.port, '/bar/baz', { host: 'a.com' });
  assert.equal(p.log.lines.filter((l) => l.startsWith('[TRACE]')).length, 0);
  await get(p.port, '/bar/baz', { host: 'a.com', trace: 'abc' });
  const tr = p.log.lines.filter((l) => l.startsWith('[TRACE]'));
  assert.ok(tr.includes('[TRACE] abc Tracing a.com/bar/baz'), tr.join('\n'));
  assert.ok(tr.includes('[TRACE] abc No match a.com/bang'), tr.join('\n'));
  assert.ok(tr.includes('[TRACE] abc Match a.com/'), tr.join('\n'));
  assert.ok(
    tr.some((l) => l.startsWith('[TRACE] abc Routing to service s on ')),
    tr.join('\n'),
  );
});

pathTest('response hop-by-hop headers removed, others passed, status kept', async (t) => {
  const be = await backend(t, (_req, res) => {
    res.writeHead(201, { 'x-up': '1', 'keep-alive': 'timeout=5', 'set-cookie': ['a=1', 'b=2'] });
    res.end('made');
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const r = await get(p.port, '/');
  assert.equal(r.status, 201);
  assert.equal(r.headers['x-up'], '1');
  assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(r.headers['keep-alive'], undefined);
  assert.equal(r.text, 'made');
});

pathTest('a throwing table costs one request (500), not the process', async (t) => {
  const p = await proxy(t, '');
  const boom = () => {
    throw new Error('boom');
  };
  p.store.swap({
    source: 'x',
    warnings: [],
    routes: [],
    lookup: boom,
    lookupTcp: boom,
    explain: boom,
    print: () => '',
    dump: () => '',
  });
  const r = await get(p.port, '/');
  assert.equal(r.status, 500);
  assert.ok(p.log.lines.includes('[ERROR] http: boom'), p.log.lines.join('\n'));
});

pathTest('two targets are balanced (rr) and each keeps its own pool', async (t) => {
  const a = await backend(t, (_q, s) => s.end('a'));
  const b = await backend(t, (_q, s) => s.end('b'));
  const p = await proxy(t, `route add svc mysite.com:9999/ ${a.url}/\nroute add svc mysite.com:9999/ ${b.url}/`, {
    'proxy.strategy': 'rr',
  });
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) seen.push((await get(p.port, '/', { host: 'mysite.com:9999' })).text);
  assert.deepEqual([...seen].sort(), ['a', 'a', 'a', 'b', 'b', 'b']);
});

pathTest('announced response trailers are forwarded', async (t) => {
  const be = await backend(t, (_q, s) => {
    s.writeHead(200, { trailer: 'x-checksum' });
    s.write('body');
    s.addTrailers({ 'x-checksum': 'abc' });
    s.end();
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const { request } = await import('node:http');
  const trailers = await new Promise<Record<string, string | undefined>>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: p.port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.trailers));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(trailers['x-checksum'], 'abc');
});

pathTest('pipelined client requests are answered in order', async (t) => {
  const be = await backend(t, (q, s) => {
    // The first request is the slowest: order must still hold.
    setTimeout(() => s.end(q.url), q.url === '/1' ? 100 : 0);
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const { connect } = await import('node:net');
  const s = connect(p.port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  s.write(
    'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  );
  let out = '';
  s.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((r) => s.once('close', r));
  const bodies = out
    .split('HTTP/1.1 200 OK')
    .slice(1)
    .map((chunk) => chunk.slice(chunk.indexOf('\r\n\r\n') + 4));
  assert.deepEqual(bodies, ['/1', '/2', '/3']);
});
