import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { CustomBackend, routeDefsToText, routeDefToCommand } from '../../src/registry/custom-backend.ts';
import { FileBackend } from '../../src/registry/file-backend.ts';
import { StaticBackend } from '../../src/registry/static-backend.ts';
import type { RouteTextUpdate } from '../../src/registry/types.ts';
import { until } from './fake-consul.ts';

function sink() {
  const updates: RouteTextUpdate[] = [];
  const html: string[] = [];
  return {
    updates,
    html,
    s: { routes: (u: RouteTextUpdate) => void updates.push(u), noRouteHtml: (h: string) => void html.push(h) },
  };
}

test('static backend emits its routes and HTML once', async () => {
  const b = new StaticBackend('route add a /a http://a:1/', '<p>no</p>');
  await b.connect();
  const k = sink();
  b.watch(k.s);
  assert.deepEqual(k.updates, [{ text: 'route add a /a http://a:1/', cause: 'static', index: 0 }]);
  assert.deepEqual(k.html, ['<p>no</p>']);
  assert.equal(b.manual, undefined);
  await b.stop();
});

test('file backend reads once; a missing file fails connect', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'reg-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(
    new FileBackend({ path: join(dir, 'nope'), htmlPath: '', watch: false }, memoryLogger()).connect(),
  );
  writeFileSync(join(dir, 'routes'), 'route add a /a http://a:1/');
  const b = new FileBackend({ path: join(dir, 'routes'), htmlPath: '', watch: false }, memoryLogger());
  await b.connect();
  const k = sink();
  b.watch(k.s);
  assert.deepEqual(
    k.updates.map((u) => [u.text, u.cause]),
    [['route add a /a http://a:1/', 'file']],
  );
  await b.stop();
});

test('file backend with registry.file.watch reloads on write and on rename-replace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'reg-file-'));
  const path = join(dir, 'routes');
  const html = join(dir, 'noroute.html');
  writeFileSync(path, 'route add a /a http://a:1/');
  writeFileSync(html, '<p>1</p>');
  const b = new FileBackend({ path, htmlPath: html, watch: true, pollMs: 100 }, memoryLogger());
  t.after(async () => {
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await b.connect();
  const k = sink();
  b.watch(k.s);
  writeFileSync(path, 'route add b /b http://b:1/');
  await until(() => k.updates.at(-1)?.text === 'route add b /b http://b:1/' || undefined, 5000, 'reload after write');
  writeFileSync(join(dir, 'tmp'), 'route add c /c http://c:1/');
  renameSync(join(dir, 'tmp'), path);
  await until(() => k.updates.at(-1)?.text === 'route add c /c http://c:1/' || undefined, 5000, 'reload after rename');
  writeFileSync(html, '<p>2</p>');
  await until(() => k.html.at(-1) === '<p>2</p>' || undefined, 5000, 'html reload');
});

test('custom route definitions to route commands', () => {
  const cases: [Parameters<typeof routeDefToCommand>[0], string][] = [
    [{ cmd: 'route add', service: 's', src: '/a', dst: 'http://a:1/' }, 'route add s /a http://a:1/'],
    [
      {
        cmd: 'route add',
        service: 's',
        src: 'h/a',
        dst: 'http://a:1/',
        weight: 0.25,
        tags: ['x', 'y'],
        opts: { strip: '/a', auth: 'b' },
      },
      'route add s h/a http://a:1/ weight 0.25 tags "x,y" opts "auth=b strip=/a"',
    ],
    [{ cmd: 'route del', service: 's' }, 'route del s'],
    [{ cmd: 'route del', service: 's', src: '/a' }, 'route del s /a'],
    [{ cmd: 'route del', service: 's', src: '/a', dst: 'http://a:1/' }, 'route del s /a http://a:1/'],
    [{ cmd: 'route del', service: 's', tags: ['v1'] }, 'route del s tags "v1"'],
    [{ cmd: 'route del', tags: ['v1', 'v2'] }, 'route del tags "v1,v2"'],
    [
      { cmd: 'route weight', service: 's', src: '/a', weight: 0.1, tags: ['v2'] },
      'route weight s /a weight 0.1 tags "v2"',
    ],
    [{ cmd: 'route weight', src: '/a', weight: 0.1, tags: ['v2'] }, 'route weight /a weight 0.1 tags "v2"'],
  ];
  for (const [def, want] of cases) assert.equal(routeDefToCommand(def), want);
  const { text, errors } = routeDefsToText([
    { cmd: 'route add', service: 'ok', src: '/a', dst: 'http://a:1/' },
    { cmd: 'route add', service: 'bad', src: '/b', dst: 'http://b:1/', tags: ['a"b'] },
    { cmd: 'route add', service: 'bad svc', src: '/b', dst: 'http://b:1/' },
    { cmd: 'route nope' },
    { cmd: 'route weight', src: '/a', weight: 0.1 },
  ]);
  assert.equal(text, 'route add ok /a http://a:1/');
  assert.equal(errors.length, 4);
});

test('custom backend polls, emits on change, keeps the last table on errors', async (t) => {
  let status = 200;
  let body = JSON.stringify([
    { cmd: 'route add', service: 's', src: '/a', dst: 'http://a:1/', weight: 0, tags: [], opts: {} },
  ]);
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const log = memoryLogger();
  const b = new CustomBackend(
    {
      url: `http://127.0.0.1:${port}/routes?x=1`,
      timeoutMs: 1000,
      pollMs: 30,
      tlsSkipVerify: false,
      noRouteHtml: '<p>x</p>',
    },
    log,
  );
  t.after(async () => {
    await b.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const k = sink();
  b.watch(k.s);
  await until(() => k.updates.length >= 1 || undefined, 3000, 'first poll');
  assert.deepEqual(k.updates[0], { text: 'route add s /a http://a:1/', cause: 'custom', index: 0 });
  assert.equal(seen[0], '/routes?x=1');
  assert.deepEqual(k.html, ['<p>x</p>']);
  status = 500;
  await until(
    () => log.lines.some((l) => l.startsWith('[ERROR] error during update from custom back end - ')) || undefined,
    3000,
    'error log',
  );
  status = 200;
  body = '[]';
  await until(() => k.updates.length >= 2 || undefined, 3000, 'change');
  assert.equal(k.updates[1]?.text, '');
  const n = seen.length;
  await until(() => seen.length >= n + 2 || undefined, 3000, 'more polls');
  assert.equal(k.updates.length, 2, 'identical text is not emitted again');
});
