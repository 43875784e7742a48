import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { startAdmin } from '../../src/ui/index.ts';
import { makeTable, startTestAdmin } from './helpers.ts';

/** Real HTTP against startAdmin: every route and status of section (g), ro and rw, with and without ui.path. */

const ROUTES = `
route add svc-a /foo http://10.0.0.1:8080/
route add svc-b example.com/ http://10.0.0.2:8080/ tags "t1,t2" opts "strip=/x proto=https"
route add svc-b example.com/ http://10.0.0.3:8080/
route add svc-c example.com/api http://10.0.0.4:8080/ weight 0.25
`;

async function get(url: string, init: RequestInit = {}) {
  const r = await fetch(url, { redirect: 'manual', ...init });
  return {
    status: r.status,
    type: r.headers.get('content-type') ?? '',
    location: r.headers.get('location'),
    body: await r.text(),
    headers: r.headers,
  };
}

/** GET with the path exactly as given (no URL normalisation). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = request({ host: hostname, port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// The access matrix of fabio's admin/server_test.go, plus the fabio-ts additions.
const MATRIX: [path: string, ro: number, rw: number][] = [
  ['/api/manual', 403, 200],
  ['/api/manual/foo', 403, 200],
  ['/api/paths', 403, 200],
  ['/api/config', 200, 200],
  ['/api/routes', 200, 200],
  ['/api/version', 200, 200],
  ['/manual', 403, 200],
  ['/manual/foo', 403, 200],
  ['/routes', 200, 200],
  ['/assets/logo.svg', 200, 200],
  ['/assets/logo.bw.svg', 200, 200],
  ['/assets/app.js', 200, 200],
  // the chart library, from its package (dist and the executable carry a copy)
  ['/assets/uplot.js', 200, 200],
  ['/assets/uplot.css', 200, 200],
  ['/assets/nope.js', 404, 404],
  ['/favicon.ico', 404, 404],
  ['/', 303, 303],
  ['/anything/else', 303, 303],
  ['/api/routes/history', 200, 200],
  ['/api/warnings', 200, 200],
  ['/api/help', 200, 200],
  ['/api/traffic', 200, 200],
  ['/api/explain?url=http://example.com/', 200, 200],
];

for (const prefix of ['', '/fabio']) {
  for (const access of ['ro', 'rw'] as const) {
    describe(`access matrix ui.access=${access} ui.path=${prefix || '(none)'}`, () => {
      for (const [path, ro, rw] of MATRIX) {
        test(`GET ${prefix}${path} → ${access === 'ro' ? ro : rw}`, async (t) => {
          const a = await startTestAdmin(t, {
            cfg: { 'ui.access': access, 'ui.path': prefix },
            table: await makeTable(ROUTES),
          });
          const r = await get(a.url + prefix + path);
          assert.equal(r.status, access === 'ro' ? ro : rw, r.body);
          if (r.status === 303) assert.equal(r.location, `${prefix}/routes`);
          if (r.status === 403) assert.equal(r.body, 'Forbidden\n');
        });
      }
      test('/health is always at the root', async (t) => {
        const a = await startTestAdmin(t, { cfg: { 'ui.access': access, 'ui.path': prefix } });
        for (const method of ['GET', 'POST', 'HEAD']) {
          const r = await get(`${a.url}/health`, { method });
          assert.equal(r.status, 200);
          if (method !== 'HEAD') assert.equal(r.body, 'OK\n');
          assert.match(r.type, /^text\/plain/);
        }
        if (prefix) assert.equal((await get(`${a.url}${prefix}/health`)).status, 303);
      });
      test('write paths', async (t) => {
        const a = await startTestAdmin(t, { cfg: { 'ui.access': access, 'ui.path': prefix } });
        const put = await get(`${a.url}${prefix}/api/manual`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ value: 'route del x', version: '11' }),
        });
        assert.equal(put.status, access === 'ro' ? 403 : 200, put.body);
      });
    });
  }
}

test('outside ui.path everything redirects to <p>/routes', async (t) => {
  const a = await startTestAdmin(t, { cfg: { 'ui.path': '/fabio/' } });
  for (const p of ['/', '/routes', '/api/routes', '/fabiox']) {
    const r = await get(a.url + p);
    assert.equal(r.status, 303, p);
    assert.equal(r.location, '/fabio/routes');
  }
});

describe('/api/routes', () => {
  test('JSON shape, field order and ordering (hosts asc, host-less first, paths desc)', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
    const r = await get(`${a.url}/api/routes`);
    assert.equal(r.status, 200);
    assert.match(r.type, /^application\/json/);
    const rows = JSON.parse(r.body) as Record<string, unknown>[];
    assert.deepEqual(
      rows.map((x) => `${x.src} ${x.dst}`),
      [
        '/foo http://10.0.0.1:8080/',
        'example.com/api http://10.0.0.4:8080/',
        'example.com/ http://10.0.0.2:8080/',
        'example.com/ http://10.0.0.3:8080/',
      ],
    );
    assert.deepEqual(Object.keys(rows[0]!), [
      'service',
      'host',
      'path',
      'src',
      'dst',
      'opts',
      'cmd',
      'weight',
      'rate1',
      'pct99',
      'ejected', // fabio-ts: passive outlier state, after fabio's fields
    ]);
    assert.deepEqual(Object.keys(rows[2]!), [
      'service',
      'host',
      'path',
      'src',
      'dst',
      'opts',
      'cmd',
      'tags',
      'weight',
      'rate1',
      'pct99',
      'ejected', // fabio-ts: passive outlier state, after fabio's fields
    ]);
    assert.deepEqual(rows[2], {
      service: 'svc-b',
      host: 'example.com',
      path: '/',
      src: 'example.com/',
      dst: 'http://10.0.0.2:8080/',
      opts: 'proto=https strip=/x',
      cmd: 'route add',
      tags: ['t1', 't2'],
      weight: 0.5,
      rate1: 0,
      pct99: 0,
      ejected: false,
    });
    assert.equal(rows[1]!.weight, 1);
  });
  test('null when there is no table or it is empty', async (t) => {
    const a = await startTestAdmin(t);
    assert.equal((await get(`${a.url}/api/routes`)).body, 'null\n');
    a.store.swap(await makeTable(''));
    assert.equal((await get(`${a.url}/api/routes`)).body, 'null\n');
  });
  test('?pretty indents with 4 spaces, ?raw is the table text + newline', async (t) => {
    const table = await makeTable(ROUTES);
    const a = await startTestAdmin(t, { table });
    const p = await get(`${a.url}/api/routes?pretty`);
    assert.match(p.body, /^\[\n {4}\{\n {8}"service": "svc-a",/);
    const raw = await get(`${a.url}/api/routes?raw`);
    assert.match(raw.type, /^text\/plain/);
    assert.equal(raw.body, `${table.print()}\n`);
    assert.match(
      raw.body,
      /route add svc-b example.com\/ http:\/\/10.0.0.2:8080\/ weight 0.5000 tags "t1,t2" opts "proto=https strip=\/x"/,
    );
  });
  test('HTML-significant characters are escaped in JSON like Go does', async (t) => {
    const a = await startTestAdmin(t, {
      table: await makeTable('route add x<y>&z /p http://1.2.3.4:80/ tags "<script>"'),
    });
    const r = await get(`${a.url}/api/routes`);
    assert.ok(!/[<>&]/.test(r.body), r.body);
    assert.match(r.body, /\\u003cscript\\u003e/);
    assert.equal((JSON.parse(r.body) as { tags: string[] }[])[0]!.tags[0], '<script>');
  });
});

test('/api/version is plain text without newline; /api/config is JSON', async (t) => {
  const a = await startTestAdmin(t, { extra: { configJson: () => ({ UI: { Access: 'rw' } }) } });
  const v = await get(`${a.url}/api/version`);
  assert.equal(v.body, '0.1.0-test');
  assert.match(v.type, /^text\/plain/);
  const c = await get(`${a.url}/api/config?pretty`);
  assert.equal(c.body, '{\n    "UI": {\n        "Access": "rw"\n    }\n}\n');
  const a2 = await startTestAdmin(t);
  const c2 = JSON.parse((await get(`${a2.url}/api/config`)).body) as Record<string, unknown>;
  assert.equal(c2['ui.access'], 'rw');
});

describe('/api/paths and /api/manual', () => {
  test('paths lists the keys, other methods are 405', async (t) => {
    const a = await startTestAdmin(t);
    a.manual!.data.set('/foo', { value: 'x', index: 99 });
    assert.equal((await get(`${a.url}/api/paths`)).body, '["","/foo"]\n');
    const r = await get(`${a.url}/api/paths`, { method: 'POST' });
    assert.deepEqual([r.status, r.body], [405, 'not allowed\n']);
  });
  test('GET returns trimmed value and version string; missing key version 0', async (t) => {
    const a = await startTestAdmin(t);
    a.manual!.data.set('', { value: '  route del svc-a\n\n', index: 42 });
    assert.equal((await get(`${a.url}/api/manual`)).body, '{"value":"route del svc-a","version":"42"}\n');
    assert.equal((await get(`${a.url}/api/manual/none`)).body, '{"value":"","version":"0"}\n');
  });
  const J = { 'content-type': 'application/json' };
  const cases: { name: string; init: RequestInit; status: number; body?: string; fail?: boolean }[] = [
    {
      name: 'CAS ok',
      init: { method: 'PUT', headers: J, body: '{"value":"route del a","version":"11"}' },
      status: 200,
      body: '',
    },
    {
      name: 'stale version',
      init: { method: 'PUT', headers: J, body: '{"value":"x","version":"5"}' },
      status: 409,
      body: 'version mismatch\n',
    },
    { name: 'version as number', init: { method: 'PUT', headers: J, body: '{"value":"x","version":11}' }, status: 400 },
    { name: 'bad JSON', init: { method: 'PUT', headers: J, body: '{"value":' }, status: 400 },
    { name: 'value missing', init: { method: 'PUT', headers: J, body: '{"version":"11"}' }, status: 400 },
    {
      name: 'not JSON content type',
      init: { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '{"value":"x","version":"11"}' },
      status: 415,
    },
    {
      name: 'cross-origin (Origin)',
      init: { method: 'PUT', headers: { ...J, origin: 'http://evil.example' }, body: '{"value":"x","version":"11"}' },
      status: 403,
    },
    {
      name: 'cross-site (Sec-Fetch-Site)',
      init: { method: 'PUT', headers: { ...J, 'sec-fetch-site': 'cross-site' }, body: '{"value":"x","version":"11"}' },
      status: 403,
    },
    { name: 'POST not allowed', init: { method: 'POST', headers: J, body: '{}' }, status: 405, body: 'not allowed\n' },
    { name: 'DELETE not allowed', init: { method: 'DELETE' }, status: 405 },
    {
      name: 'store error',
      init: { method: 'PUT', headers: J, body: '{"value":"x","version":"11"}' },
      status: 500,
      fail: true,
    },
  ];
  for (const c of cases) {
    test(`PUT /api/manual: ${c.name} → ${c.status}`, async (t) => {
      const a = await startTestAdmin(t);
      a.manual!.fail = c.fail ?? false;
      const r = await get(`${a.url}/api/manual`, c.init);
      assert.equal(r.status, c.status, r.body);
      if (c.body !== undefined) assert.equal(r.body, c.body);
      if (c.status !== 200 && !c.fail) assert.equal(a.manual!.data.get('')!.index, 11, 'value unchanged');
    });
  }
  test('same-origin browser write is accepted, and the new version is served', async (t) => {
    const a = await startTestAdmin(t);
    const origin = a.url;
    const r = await get(`${a.url}/api/manual/sub`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json; charset=utf-8', origin, 'sec-fetch-site': 'same-origin' },
      body: '{"value":"route del b","version":"0"}',
    });
    assert.equal(r.status, 200);
    const g = JSON.parse((await get(`${a.url}/api/manual/sub`)).body) as { value: string; version: string };
    assert.equal(g.value, 'route del b');
    assert.notEqual(g.version, '0');
  });
  test('non-Consul backend: GET is empty with version 0, PUT is 409, paths [""]', async (t) => {
    const a = await startTestAdmin(t, { manual: false });
    assert.equal((await get(`${a.url}/api/manual`)).body, '{"value":"","version":"0"}\n');
    const r = await get(`${a.url}/api/manual`, { method: 'PUT', headers: J, body: '{"value":"x","version":"0"}' });
    assert.equal(r.status, 409);
    assert.equal((await get(`${a.url}/api/paths`)).body, '[""]\n');
  });
});

describe('pages', () => {
  test('routes page: CSP without inline script, escaped title', async (t) => {
    const a = await startTestAdmin(t, { cfg: { 'ui.title': '<b>"prod"</b>' } });
    const r = await get(`${a.url}/routes`);
    assert.match(r.type, /^text\/html/);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.ok(!csp.includes('unsafe-inline'));
    assert.ok(!r.body.includes('<b>'));
    assert.match(r.body, /<title>fabio-ts - &#60;b&#62;&#34;prod&#34;&#60;\/b&#62;<\/title>/);
    assert.ok(!/<script>/.test(r.body), 'no inline script');
  });
  test('asset types and traversal', async (t) => {
    const a = await startTestAdmin(t);
    assert.match((await get(`${a.url}/assets/app.js`)).type, /^text\/javascript/);
    assert.match((await get(`${a.url}/assets/app.css`)).type, /^text\/css/);
    // sent byte for byte (fetch would resolve the dot segments before sending); each must be a 404
    // from the asset handler, not a 200, a redirect or a 500 that happens to be "not 200"
    for (const p of [
      '/assets/../index.ts',
      '/assets/%2e%2e/index.ts',
      '/assets/..%2findex.ts',
      '/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/assets/',
    ]) {
      const r = await rawGet(a.url, p);
      assert.equal(r.status, 404, `${p}: ${r.status} ${r.body.slice(0, 80)}`);
      assert.ok(!/export |"dependencies"/.test(r.body), `${p} leaked a file`);
    }
  });
});

describe('fabio-ts additions', () => {
  test('/api/explain GET and POST return the steps', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
    const g = JSON.parse(
      (await get(`${a.url}/api/explain?url=${encodeURIComponent('http://example.com/api/x?q=1')}`)).body,
    );
    assert.equal(g.result.route.path, '/api');
    assert.equal(g.result.target.service, 'svc-c');
    assert.ok(g.steps.length >= 2);
    assert.deepEqual(g.request, { host: 'example.com', path: '/api/x', query: 'q=1', tls: false });
    const p = await get(`${a.url}/api/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://other/foo/bar', headers: { Host: 'example.com' } }),
    });
    const pj = JSON.parse(p.body);
    assert.equal(pj.result.target.service, 'svc-b');
    assert.equal(pj.request.host, 'example.com');
    const none = JSON.parse((await get(`${a.url}/api/explain?url=http://nowhere.example/zzz`)).body);
    assert.equal(none.result, null);
    assert.equal((await get(`${a.url}/api/explain?url=ftp://x/`)).status, 400);
    assert.equal(
      (await get(`${a.url}/api/explain`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }))
        .status,
      415,
    );
  });
  test('/api/routes/history and /api/warnings (updater, table and shadowed routes)', async (t) => {
    const a = await startTestAdmin(t, {
      table: await makeTable(`${ROUTES}\nroute add svc-d /api http://10.0.0.9:1/\nroute weight nosuch /x weight 0.5`),
    });
    a.updater.hist.push({
      time: '2026-01-01T00:00:00Z',
      cause: 'consul',
      index: 7,
      added: ['route add a /b http://c:1/'],
      removed: [],
    });
    a.updater.warns.push({ service: 'bad', tag: 'urlprefix-"', message: 'tag contains a quote' });
    assert.deepEqual(JSON.parse((await get(`${a.url}/api/routes/history`)).body), a.updater.hist);
    const w = JSON.parse((await get(`${a.url}/api/warnings`)).body) as {
      kind: string;
      service: string;
      message: string;
    }[];
    assert.deepEqual(w[0], { kind: 'tag', service: 'bad', tag: 'urlprefix-"', message: 'tag contains a quote' });
    const sh = w.filter((x) => x.kind === 'shadowed');
    assert.deepEqual(sh.map((x) => x.service).sort(), ['svc-a', 'svc-d']);
    assert.ok(
      sh.some((x) => x.message.includes('example.com/api') && x.message.includes('svc-c')),
      JSON.stringify(sh),
    );
  });
  test('/api/events sends a routes event after a table swap and after an updater change', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
    const events: string[] = [];
    let gotHello!: () => void;
    const hello = new Promise<void>((r) => (gotHello = r));
    let onEvent!: () => void;
    let waitEvent = new Promise<void>((r) => (onEvent = r));
    const req = request(`${a.url}/api/events`, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        for (const m of chunk.matchAll(/event: (\w+)/g)) {
          events.push(m[1]!);
          if (m[1] === 'hello') gotHello();
          else onEvent();
        }
      });
      res.on('error', () => {});
    });
    req.on('error', () => {});
    req.end();
    t.after(() => req.destroy());
    await hello;
    a.store.swap(await makeTable('route add z /z http://1.1.1.1:1/'));
    await waitEvent;
    waitEvent = new Promise<void>((r) => (onEvent = r));
    a.updater.emit();
    await waitEvent;
    assert.deepEqual(events, ['hello', 'routes', 'routes']);
  });
  test('/metrics on the admin port', async (t) => {
    const a = await startTestAdmin(t, {
      cfg: { 'ui.path': '/fabio' },
      extra: { metricsText: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'x_notfound 0\n' }) },
    });
    for (const p of ['/metrics', '/fabio/metrics']) {
      const r = await get(a.url + p);
      assert.equal(r.body, 'x_notfound 0\n');
      assert.equal(r.type, 'text/plain; version=0.0.4');
    }
    const b = await startTestAdmin(t);
    assert.equal((await get(`${b.url}/metrics`)).status, 404);
  });
  test('logs the listening line', async (t) => {
    const a = await startTestAdmin(t);
    assert.ok(a.log.lines.includes('[INFO] Admin server listening on "127.0.0.1:0"'), a.log.lines.join('\n'));
  });
  test('close ends open event streams and resolves', async (t) => {
    const a = await startTestAdmin(t, { extra: {} });
    const admin = await startAdmin({ ...a.deps });
    const r = await fetch(`http://127.0.0.1:${admin.port}/api/events`);
    const reader = r.body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /event: hello/);
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return true;
    })();
    await admin.close(1000);
    assert.equal(await ended, true);
    await assert.rejects(fetch(`http://127.0.0.1:${admin.port}/health`));
  });
});
