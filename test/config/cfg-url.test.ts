// -cfg http(s)://...: the properties come from a real local HTTP server; every failure is a start-up
// error naming the URL (exit 1), as fabio fails to start.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ConfigError, fetchCfgUrl, loadConfigAsync } from '../../src/config/index.ts';
import { freePort, startFabio } from '../helpers/proc.ts';

async function serveHttp(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const srv = createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

const PROPS = 'proxy.strategy = rr\n# a comment\nmetrics.prefix = from-url\nui.title = caf\u00e9\n';

test('properties are loaded from the URL (file < env < flags still apply)', async (t) => {
  const s = await serveHttp((req, res) => {
    if (req.url !== '/fabio.properties') return res.writeHead(404).end();
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(PROPS);
  });
  t.after(() => s.close());
  let handed = '';
  const cfg = await loadConfigAsync(
    ['-cfg', `${s.url}/fabio.properties`, '-metrics.prefix=flag'],
    {},
    {
      onCfgText: (x) => {
        handed = x;
      },
    },
  );
  assert.equal(cfg.str('proxy.strategy'), 'rr');
  assert.equal(cfg.str('metrics.prefix'), 'flag');
  assert.equal(cfg.str('ui.title'), 'caf\u00e9');
  assert.equal(handed, PROPS);
});

test('Latin-1 body when the Content-Type says so', async (t) => {
  const s = await serveHttp((_req, res) => {
    res.setHeader('Content-Type', 'text/plain; charset=ISO-8859-1');
    res.end(Buffer.from('ui.title = caf\u00e9\n', 'latin1'));
  });
  t.after(() => s.close());
  const cfg = await loadConfigAsync(['-cfg', `${s.url}/p`], {});
  assert.equal(cfg.str('ui.title'), 'caf\u00e9');
});

const failures: [string, (req: IncomingMessage, res: ServerResponse) => void, RegExp, number?][] = [
  ['404', (_q, r) => r.writeHead(404, 'Not Found').end('nope'), /: cannot load the configuration: HTTP 404 Not Found$/],
  ['500', (_q, r) => r.writeHead(500).end(), /HTTP 500/],
  [
    'declared too large',
    (_q, r) => r.writeHead(200, { 'Content-Length': '70000' }).end('x'.repeat(70000)),
    /larger than 65536 bytes/,
  ],
  [
    'streamed too large',
    (_q, r) => {
      r.writeHead(200);
      const chunk = `${'# padding\n'.repeat(1000)}`;
      const push = () => {
        while (r.write(chunk)) {}
        r.once('drain', push);
      };
      push();
    },
    /larger than 65536 bytes/,
  ],
  // headers never come: the deadline ends it (shortened for the test)
  ['no answer', () => {}, /no answer within 300 ms/, 300],
];
for (const [name, handler, re, timeoutMs] of failures) {
  test(`fails with the URL in the message: ${name}`, async (t) => {
    const s = await serveHttp(handler);
    t.after(() => s.close());
    const url = `${s.url}/fabio.properties`;
    await assert.rejects(fetchCfgUrl(url, timeoutMs === undefined ? {} : { timeoutMs }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.message.startsWith(`-cfg ${url}: `), e.message);
      assert.match(e.message, re);
      return true;
    });
  });
}

test('connection refused names the URL', async () => {
  const url = `http://127.0.0.1:${await freePort()}/p`; // nothing listens there
  await assert.rejects(
    loadConfigAsync(['-cfg', url], {}),
    /^ConfigError: -cfg http:\/\/127\.0\.0\.1:\d+\/p: cannot load the configuration: ECONNREFUSED$/,
  );
});

test('fabio-ts exits 1 with a clear message when the URL answers 404', async (t) => {
  const s = await serveHttp((_q, r) => r.writeHead(404, 'Not Found').end());
  t.after(() => s.close());
  const f = startFabio(['-cfg', `${s.url}/missing.properties`]);
  t.after(() => f.stop());
  assert.equal(await f.exited, 1);
  assert.ok(
    f.stderr.includes(`-cfg ${s.url}/missing.properties: cannot load the configuration: HTTP 404 Not Found`),
    f.stderr.join('\n'),
  );
});

test('fabio-ts starts with the fetched properties, workers included', async (t) => {
  let fetched = 0;
  const s = await serveHttp((_q, r) => {
    // only the first fetch succeeds: a worker that fetched again would fail to start
    if (++fetched > 1) return r.writeHead(500).end();
    r.setHeader('Content-Type', 'text/plain');
    r.end(
      'proxy.strategy = rr\nproxy.addr = 127.0.0.1:0\nui.addr = 127.0.0.1:0\nregistry.backend = static\nregistry.static.routes = route add s / http://127.0.0.1:1/\n',
    );
  });
  t.after(() => s.close());
  const f = startFabio(['-cfg', `${s.url}/fabio.properties`, '-proxy.workers=2']);
  t.after(() => f.stop());
  await f.waitFor(/Using routing strategy "rr"/, 30000);
  // workers load the configuration again: they must get the same text without fetching it
  await f.waitFor(/2 worker processes serving/, 30000);
  assert.equal(fetched, 1);
});
