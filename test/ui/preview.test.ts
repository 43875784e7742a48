import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTable } from '../../src/routes/index.ts';
import { withOverride } from '../../src/ui/preview.ts';
import { BUILD, startTestAdmin } from './helpers.ts';

/** POST /api/preview: the Overrides editor's what-if; builds a table, swaps nothing, writes nothing. */

const build = (text: string) => buildTable(text, { ...BUILD, skipBadLines: true });
const LIVE = `route add web example.com/ http://10.0.0.2:8080/
route add web example.com/ http://10.0.0.3:8080/ tags "canary"
route add legacy /old http://10.0.0.5:8080/
route add api example.com/api http://10.0.0.4:8080/
# --- fabio/config
route del api

# --- fabio/config/zz
route add zz zz.example/ http://10.0.0.8:80/`;

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(`${url}/api/preview`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: r.status, text: await r.text() };
}

describe('POST /api/preview', () => {
  test('added, removed, re-weighted routes and line errors numbered in the edited text; nothing swapped', async (t) => {
    const live = build(LIVE);
    const a = await startTestAdmin(t, { table: live, extra: { build } });
    a.manual!.data.set('', { value: 'route del api', index: 20 });
    const value = [
      'route add new new.example/ http://10.0.0.9:80/',
      'route del legacy',
      'route bogus',
      'route weight web example.com/ weight 0.1 tags "nosuch"',
      'route add <script>x</script> /x ftp://nope',
    ].join('\n');
    const r = await post(a.url, { path: '', value });
    assert.equal(r.status, 200, r.text);
    const j = JSON.parse(r.text);
    assert.deepEqual(
      j.errors.map((e: { line: number }) => e.line),
      [3, 4, 5],
    );
    assert.match(j.errors[0].message, /syntax error/);
    assert.doesNotMatch(j.errors[0].message, /^line \d+:/);
    // the live override deleted api; the edit no longer does, so api comes back
    assert.deepEqual(j.added, [
      { service: 'api', src: 'example.com/api', dst: 'http://10.0.0.4:8080/', weight: 1 },
      { service: 'new', src: 'new.example/', dst: 'http://10.0.0.9:80/', weight: 1 },
    ]);
    const removed = j.removed.map((x: { service: string }) => x.service).sort();
    assert.deepEqual(removed, ['legacy']);
    assert.equal(j.reweighted.length, 0);
    assert.equal(j.added.length + j.unchanged + j.reweighted.length, j.total);
    assert.equal(a.store.current, live, 'the live table is not swapped');
    assert.equal(a.manual!.data.get('')!.value, 'route del api', 'nothing written');
  });

  test('a weight change shows as re-weighted (canary 10 %)', async (t) => {
    const a = await startTestAdmin(t, { table: build(LIVE), extra: { build } });
    const r2 = await post(a.url, {
      path: '',
      value: 'route del api\nroute weight web example.com/ weight 0.1 tags "canary"',
    });
    assert.equal(r2.status, 200, r2.text);
    const j2 = JSON.parse(r2.text);
    const w = j2.reweighted.map((x: { dst: string; from: number; weight: number }) => [
      x.dst,
      x.from,
      Math.round(x.weight * 100) / 100,
    ]);
    assert.deepEqual(w, [
      ['http://10.0.0.2:8080/', 0.5, 0.9],
      ['http://10.0.0.3:8080/', 0.5, 0.1],
    ]);
    assert.deepEqual([j2.added, j2.removed, j2.errors], [[], [], []]);
  });

  test('a sub-key override replaces only its own section', () => {
    const { text, firstLine } = withOverride(LIVE, 'fabio/config', 'fabio/config/zz', 'route del zz');
    assert.equal(text.split('\n')[firstLine - 1], 'route del zz');
    assert.match(text, /# --- fabio\/config\nroute del api\n\n# --- fabio\/config\/zz\nroute del zz$/);
    const added = withOverride('route add a /a http://h:1/', 'fabio/config', 'fabio/config/new', 'route del a');
    assert.equal(added.text, 'route add a /a http://h:1/\n# --- fabio/config/new\nroute del a');
    assert.equal(added.firstLine, 3);
  });

  test('guards: ro 403, foreign Host 403, cross-site 403, GET 405, text/plain 415, no build 501', async (t) => {
    const ro = await startTestAdmin(t, { cfg: { 'ui.access': 'ro' }, table: build(LIVE), extra: { build } });
    assert.equal((await post(ro.url, { value: '' })).status, 403);
    const a = await startTestAdmin(t, { table: build(LIVE), extra: { build } });
    const { request } = await import('node:http');
    const foreign = await new Promise<number>((resolve, reject) => {
      const q = request(
        `${a.url}/api/preview`,
        { method: 'POST', headers: { host: 'evil.example:9998', 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      q.on('error', reject);
      q.end('{"value":""}');
    });
    assert.equal(foreign, 403);
    assert.equal((await post(a.url, { value: '' }, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await fetch(`${a.url}/api/preview`)).status, 405);
    assert.equal(
      (await fetch(`${a.url}/api/preview`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }))
        .status,
      415,
    );
    assert.equal((await post(a.url, { value: 1 })).status, 400);
    assert.equal((await post(a.url, { path: '../x', value: '' })).status, 400);
    const nob = await startTestAdmin(t, { table: build(LIVE) });
    assert.equal((await post(nob.url, { value: '' })).status, 501);
  });
});
